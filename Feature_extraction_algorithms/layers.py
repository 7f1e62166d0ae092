"""Keras 3 layers wrapping the NumPy encoders, for use inside other models.

All layers take integer residue tokens as produced by
:func:`Feature_extraction_algorithms.encode_residues` (``PROTEIN_ALPHABET``
order for proteins), use ``keras.ops`` only (backend-agnostic), are registered
as ``deepbio>ClassName`` for ``.keras`` saving, and give exactly the numbers of
the corresponding NumPy encoder.

Lookup tables are non-trainable weights created in ``build()``: they are saved
in the ``.keras`` weights file. ``PhysicochemicalEmbedding`` can rebuild its
table from the scale names in its config; ``PSTAAPEncoding``'s fitted table is
data, so it lives only in the weights (its config holds the geometry).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .physicochemical import physicochemical_table, resolve_scales
from .pstaap import N_TRIPEPTIDES

__all__ = ["OneHotEncoding", "PhysicochemicalEmbedding", "PSTAAPEncoding"]


def _one_hot(tokens, depth, dtype):
    """Equality-based one-hot: tokens outside [0, depth) (e.g. -1 for N) give all-zero rows."""
    tokens = ops.cast(tokens, "int32")
    return ops.cast(ops.equal(ops.expand_dims(tokens, -1), ops.arange(depth, dtype="int32")), dtype)


@keras.saving.register_keras_serializable(package="deepbio")
class OneHotEncoding(keras.layers.Layer):
    """One-hot encode integer tokens, channels last.

    Equivalent to :func:`Feature_extraction_algorithms.one_hot` applied to the
    sequences the tokens came from; a token outside ``[0, alphabet_size)`` (the
    ``-1`` that ``encode_residues`` gives an ``N``) becomes an all-zero row.

    Args:
        alphabet_size: Number of channels (20 for proteins, 4 for DNA/RNA).
        **kwargs: Standard ``keras.layers.Layer`` arguments (``name``,
            ``dtype``...).

    Input shape:
        ``(batch, length)`` integer tokens.

    Output shape:
        ``(batch, length, alphabet_size)`` in the layer's compute dtype
        (float32 by default).
    """

    def __init__(self, alphabet_size: int, **kwargs):
        super().__init__(**kwargs)
        if int(alphabet_size) != alphabet_size or alphabet_size < 1:
            raise ValueError(f"alphabet_size must be a positive integer, got {alphabet_size!r}")
        self.alphabet_size = int(alphabet_size)

    def call(self, tokens):
        return _one_hot(tokens, self.alphabet_size, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.alphabet_size,)

    def get_config(self):
        config = super().get_config()
        config.update({"alphabet_size": self.alphabet_size})
        return config


@keras.saving.register_keras_serializable(package="deepbio")
class PhysicochemicalEmbedding(keras.layers.Layer):
    """Map protein tokens to per-residue physicochemical descriptors.

    Equivalent to ``PhysicochemicalEncoder(scales, standardize).transform``. The
    ``(20, n_scales)`` table is a non-trainable weight filled in ``build()`` from
    the scale names (see
    :mod:`Feature_extraction_algorithms.physicochemical` for IDs, values and
    citations); it is also stored in the ``.keras`` weights.

    Args:
        scales: Scale IDs or aliases; ``None`` for the OmniK-PTM defaults
            (FASG760101, ZIMJ680104, HYDROPHOBIC_CLASS).
        standardize: ``False``, ``True``/``"zscore"`` or ``"minmax"`` (see
            :func:`~Feature_extraction_algorithms.physicochemical.physicochemical_table`).
        **kwargs: Standard ``keras.layers.Layer`` arguments.

    Input shape:
        ``(batch, length)`` integer tokens in ``PROTEIN_ALPHABET`` order (0..19).

    Output shape:
        ``(batch, length, n_scales)``; tokens outside 0..19 give zeros.

    Raises:
        ValueError: For an unknown scale (message lists the available ones).
    """

    def __init__(self, scales=None, standardize=False, **kwargs):
        super().__init__(**kwargs)
        self.scales = list(resolve_scales(scales))
        self.standardize = standardize
        self._values = physicochemical_table(self.scales, standardize)

    def build(self, input_shape):
        self.table = self.add_weight(
            name="table",
            shape=self._values.shape,
            initializer="zeros",
            trainable=False,
        )
        self.table.assign(self._values.astype(self.variable_dtype))
        self.built = True

    def call(self, tokens):
        return ops.matmul(_one_hot(tokens, 20, self.compute_dtype), ops.cast(self.table, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (len(self.scales),)

    def get_config(self):
        config = super().get_config()
        config.update({"scales": list(self.scales), "standardize": self.standardize})
        return config


@keras.saving.register_keras_serializable(package="deepbio")
class PSTAAPEncoding(keras.layers.Layer):
    """Apply a fitted PSTAAP table to tokenised windows.

    Equivalent to ``PSTAAP.transform`` on the sequences the tokens came from:
    drops the centre token, forms the ``window_length - 3`` tripeptide indices
    ``400*a + 20*b + c`` and gathers ``table[t_i, i]``. The ``(8000,
    window_length - 3)`` table is a non-trainable weight, saved in the
    ``.keras`` weights (not the config); create the layer with
    :meth:`from_encoder` or call :meth:`set_table`. Fit the table on training
    data only (see :mod:`Feature_extraction_algorithms.pstaap`).

    Args:
        window_length: Tokens per window (default 49).
        center: 0-based index of the centre token to drop (default 24).
        **kwargs: Standard ``keras.layers.Layer`` arguments.

    Input shape:
        ``(batch, window_length)`` integer tokens in ``PROTEIN_ALPHABET`` order
        (0..19). Any other token (e.g. a padding index 20 at protein ends) makes
        every tripeptide that contains it contribute 0.

    Output shape:
        ``(batch, window_length - 3)``.
    """

    def __init__(self, window_length: int = 49, center: int = 24, **kwargs):
        super().__init__(**kwargs)
        if int(window_length) != window_length or window_length < 4:
            raise ValueError(f"window_length must be an integer >= 4, got {window_length!r}")
        if int(center) != center or not 0 <= center < window_length:
            raise ValueError(f"center must be in [0, {window_length - 1}], got {center!r}")
        self.window_length = int(window_length)
        self.center = int(center)
        self._pending_table = None

    @property
    def n_positions(self) -> int:
        """int: Output features, ``window_length - 3``."""
        return self.window_length - 3

    @classmethod
    def from_encoder(cls, encoder, **kwargs) -> "PSTAAPEncoding":
        """Create a layer holding a fitted :class:`~Feature_extraction_algorithms.pstaap.PSTAAP` table.

        Args:
            encoder: A fitted ``PSTAAP`` (must have ``fr_``).
            **kwargs: Passed to the constructor (``name``...).

        Returns:
            PSTAAPEncoding: Layer with the encoder's ``window_length``/``center``;
            the table is assigned when the layer is built.

        Raises:
            sklearn.exceptions.NotFittedError: If ``encoder`` is not fitted.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(encoder, "fr_")
        layer = cls(window_length=encoder.window_length, center=encoder.center, **kwargs)
        layer.set_table(encoder.fr_)
        return layer

    def set_table(self, table) -> None:
        """Set the ``(8000, window_length - 3)`` propensity table.

        Args:
            table: Array-like of shape ``(8000, window_length - 3)`` (e.g.
                ``PSTAAP.fr_``); cast to the variable dtype.

        Raises:
            ValueError: If the shape is wrong.
        """
        table = np.asarray(table)
        expected = (N_TRIPEPTIDES, self.n_positions)
        if table.shape != expected:
            raise ValueError(f"table must have shape {expected}, got {table.shape}")
        if self.built:
            self.table.assign(table.astype(self.variable_dtype))
        else:
            self._pending_table = table

    def build(self, input_shape):
        self.table = self.add_weight(
            name="table",
            shape=(N_TRIPEPTIDES, self.n_positions),
            initializer="zeros",
            trainable=False,
        )
        if self._pending_table is not None:
            self.table.assign(self._pending_table.astype(self.variable_dtype))
            self._pending_table = None
        self.built = True

    def call(self, tokens):
        tokens = ops.cast(tokens, "int32")
        r = ops.concatenate([tokens[:, : self.center], tokens[:, self.center + 1 :]], axis=1)
        in_range = ops.logical_and(ops.greater_equal(r, 0), ops.less(r, 20))
        # a tripeptide is valid only if its three tokens are standard residues
        valid = ops.logical_and(ops.logical_and(in_range[:, :-2], in_range[:, 1:-1]), in_range[:, 2:])
        trip = 400 * r[:, :-2] + 20 * r[:, 1:-1] + r[:, 2:]
        trip = ops.where(valid, trip, ops.zeros_like(trip))
        flat = trip * self.n_positions + ops.arange(self.n_positions, dtype="int32")
        values = ops.take(ops.reshape(self.table, (-1,)), flat)
        values = ops.where(valid, values, ops.zeros_like(values))
        return ops.cast(values, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_positions)

    def get_config(self):
        config = super().get_config()
        config.update({"window_length": self.window_length, "center": self.center})
        return config
