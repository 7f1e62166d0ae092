"""A Basset-style convolutional network over one-hot DNA, as a functional model."""

import keras


def _check_sizes(sequence_length, filters, kernel_sizes, pool_sizes, dense_units, num_outputs,
                 dropout, bn_momentum):
    """Raises ValueError for the arguments `basset_cnn` cannot build (see its Raises)."""
    if not (len(filters) == len(kernel_sizes) == len(pool_sizes)) or not filters:
        raise ValueError(f"filters {filters}, kernel_sizes {kernel_sizes} and pool_sizes "
                         f"{pool_sizes} must be non-empty and of equal length")
    sizes = (sequence_length, num_outputs, *filters, *kernel_sizes, *pool_sizes, *dense_units)
    if min(sizes) < 1:
        raise ValueError(f"all sizes must be >= 1, got sequence_length={sequence_length}, "
                         f"filters={filters}, kernel_sizes={kernel_sizes}, pool_sizes={pool_sizes}, "
                         f"dense_units={tuple(dense_units)}, num_outputs={num_outputs}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if not 0.0 <= bn_momentum < 1.0:
        raise ValueError(f"bn_momentum must be in [0, 1), got {bn_momentum}")
    length = sequence_length
    for pool in pool_sizes:
        length //= pool
    if length < 1:
        raise ValueError(f"pooling {pool_sizes} leaves no positions of a {sequence_length}-bp input")


def basset_cnn(sequence_length=600, filters=(64, 64, 64), kernel_sizes=(19, 11, 7),
               pool_sizes=(3, 4, 4), dense_units=(128,), dropout=0.3, num_outputs=1,
               output_activation="sigmoid", batch_norm=True, synchronized=False,
               bn_momentum=0.99, name="basset_cnn"):
    """Builds a Basset-style CNN (conv → BN → ReLU → max-pool blocks, dense head).

    The architecture of Basset (Kelley, Snoek & Rinn 2016, "Basset: learning
    the regulatory code of the accessible genome with deep convolutional
    neural networks", Genome Res. 26:990; three conv blocks with 19/11/7-wide
    kernels and 3/4/4 max-pooling, two dense layers, one sigmoid per cell
    type), as in fastISM's ``models/basset.py`` and the model of the DeepASMM
    Basset demo, with smaller default widths (Basset: 300/200/200 filters and
    two dense layers of 1000) so that it trains and is perturbed quickly on a
    CPU. Layers are named (``conv1``, ``bn1``, ``relu1``, ``pool1``, ...,
    ``flatten``, ``dense1``, ``output``) so interpretation code can find them.

    Args:
        sequence_length: int. Input length in bp (600 for Basset).
        filters: tuple of int. Filters of each conv block.
        kernel_sizes: tuple of int, same length as ``filters``.
        pool_sizes: tuple of int, same length; 1 skips the pooling of a block.
        dense_units: tuple of int. Hidden dense layers (ReLU, dropout).
        dropout: float in [0, 1). Dropout after each hidden dense layer.
        num_outputs: int. Output units (1: one accessibility score).
        output_activation: str. ``"sigmoid"`` (probabilities) or ``"linear"``.
        batch_norm: bool. BatchNormalization after each convolution.
        synchronized: bool. Batch statistics over all replicas of a
            `tf.distribute` strategy (Keras's ``synchronized=True``), so the
            replicas keep one set of moving statistics; for training under
            a strategy with several replicas.
        bn_momentum: float in [0, 1). Momentum of the BatchNormalization
            moving statistics (Keras's default 0.99; lower values follow the
            weights faster, so that evaluation-mode predictions match the
            training-mode ones early in a short training).
        name: str. Model name.

    Returns:
        `keras.Model` taking float32 (batch, sequence_length, 4) one-hot DNA
        (channels ``A, C, G, T``; ``N`` is an all-zero row) and returning
        float32 (batch, num_outputs).

    Raises:
        ValueError: the per-block tuples differ in length, a size is < 1,
            ``dropout`` or ``bn_momentum`` is outside [0, 1), or the pooling
            leaves no positions.

    Example:
        >>> model = basset_cnn(sequence_length=100, filters=(4,), kernel_sizes=(5,), pool_sizes=(2,))
        >>> model.output_shape
        (None, 1)
    """
    filters, kernel_sizes, pool_sizes = tuple(filters), tuple(kernel_sizes), tuple(pool_sizes)
    _check_sizes(sequence_length, filters, kernel_sizes, pool_sizes, dense_units, num_outputs,
                 dropout, bn_momentum)
    inputs = keras.Input((sequence_length, 4), name="one_hot")
    x = inputs
    for i, (width, kernel, pool) in enumerate(zip(filters, kernel_sizes, pool_sizes), start=1):
        x = keras.layers.Conv1D(width, kernel, padding="same", use_bias=not batch_norm,
                                name=f"conv{i}")(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(momentum=bn_momentum, synchronized=synchronized,
                                                name=f"bn{i}")(x)
        x = keras.layers.Activation("relu", name=f"relu{i}")(x)
        if pool > 1:
            x = keras.layers.MaxPooling1D(pool, name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(dense_units, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"dense{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout{i}")(x)
    outputs = keras.layers.Dense(num_outputs, activation=output_activation, name="output")(x)
    return keras.Model(inputs, outputs, name=name)
