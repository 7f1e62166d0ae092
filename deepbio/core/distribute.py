"""tf.distribute pieces of the training engine: replicas, their shares, their gradients.

`deepbio.core.engine` trains under any `tf.distribute` strategy with these:
the step loops split each global batch into one share per replica
(`replica_shares`, `per_replica`) and agree on loss-scaled gradients
(`synchronized_gradients`); the multi-worker fit (Keras 3.15 / TensorFlow 2.21
``model.fit`` fails under `tf.distribute.MultiWorkerMirroredStrategy`:
``Attempt to convert a value (PerReplica...) to a Tensor``, keras-team/keras
issue 20585) feeds its replicas from ``strategy.distribute_datasets_from_function``
(`distributed_batches`) and averages the per-example loss
(`per_example_loss`) over the *global* batch, after TensorFlow's "Custom
training loop with Keras and MultiWorkerMirroredStrategy" tutorial
(https://www.tensorflow.org/tutorials/distribute/multi_worker_with_ctl).
"""

import math

import keras
import numpy as np
import tensorflow as tf

from deepbio.core.resume import row_count, take_rows


def strategy_replicas():
    """Replicas of the current `tf.distribute` strategy; None outside any strategy's scope.

    A custom loop feeds replicas (`replica_shares`, `per_replica`,
    ``strategy.run``) whenever a strategy is in scope, even with one replica
    (its variables are distributed: updating them needs a replica context),
    and calls its plain compiled step only without a strategy.
    """
    if not tf.distribute.has_strategy():
        return None
    return tf.distribute.get_strategy().num_replicas_in_sync


def synchronized_gradients(grads, optimizer):
    """Gradients all replicas agree on, for a loss-scale optimizer under a strategy.

    Keras's `keras.optimizers.LossScaleOptimizer` decides whether the
    gradients are finite (apply, else lower the scale) from the first local
    replica's gradients, before Keras's all-reduce; a replica whose scaled
    loss overflowed could then be summed into the weights, and workers could
    take different branches. Here the gradients are all-reduced first and
    divided by the number of replicas, so every replica holds the same mean
    and the optimizer's own sum restores the total. Without loss scaling or
    with one replica they are returned as they are.

    Args:
        grads: list of gradient tensors (None for unconnected variables).
        optimizer: the Keras optimizer that will apply them.
    """
    context = tf.distribute.get_replica_context()
    if (not isinstance(optimizer, keras.optimizers.LossScaleOptimizer) or context is None
            or context.num_replicas_in_sync == 1):
        return grads
    present = [i for i, g in enumerate(grads) if g is not None]
    summed = context.all_reduce(tf.distribute.ReduceOp.SUM,  # embeddings: IndexedSlices made dense
                                [tf.convert_to_tensor(grads[i]) for i in present])
    out = list(grads)
    for i, g in zip(present, summed):
        out[i] = g / context.num_replicas_in_sync
    return out


def replica_shares(n, replicas):
    """Splits the ``n`` rows of a global batch into one contiguous share per replica.

    For the custom loops (`deepbio.multiomic.pretraining`,
    `deepbio.multiomic.fine_tuning`) that build their batches step by step
    and feed them with `per_replica`. A replica left without rows (a last
    batch smaller than the number of replicas) gets row 0 with weight 0, so
    every replica runs the step.

    Returns:
        list of ``(rows, weights)``: int array, float32 array (0 or 1).
    """
    shares = []
    for rows in np.array_split(np.arange(n), replicas):
        if len(rows):
            shares.append((rows, np.ones(len(rows), np.float32)))
        else:
            shares.append((np.zeros(1, int), np.zeros(1, np.float32)))
    return shares


def per_replica(values, strategy=None):
    """Distributed value whose replica ``i`` (global index, any worker) is ``values[i]``.

    Args:
        values: list, one nest of arrays per replica of ``strategy`` (shapes
            may differ between replicas).
        strategy: a `tf.distribute.Strategy` (default: the current one).
    """
    strategy = strategy or tf.distribute.get_strategy()
    return strategy.experimental_distribute_values_from_function(
        lambda context: values[context.replica_id_in_sync_group])


def step_rows(n, global_batch, pipelines, pipeline, order):
    """Rows and weights one input pipeline feeds, step after step.

    Every step takes ``global_batch`` rows of ``order``, the last one padded
    with repeated rows of weight 0, so every worker runs the same number of
    steps (a worker with one step more would wait forever in its all-reduce).
    Pipeline ``p`` reads the p-th contiguous block of each global batch.

    Returns:
        ``(rows, weights, counts)``: int (steps * global_batch / pipelines,),
        float32 of the same shape, and the real rows per step (steps,).
    """
    steps = max(1, math.ceil(n / global_batch))
    padded = np.resize(np.asarray(order), steps * global_batch)
    weights = (np.arange(steps * global_batch) < n).astype(np.float32)
    take = np.arange(steps * global_batch).reshape(steps, pipelines, -1)[:, pipeline].ravel()
    counts = np.minimum(global_batch, n - global_batch * np.arange(steps))
    return padded[take], weights[take], counts


def per_example_loss(loss, y_true, y_pred):
    """Unreduced loss, one float32 value per example (trailing axes averaged).

    A model with several outputs (a dict) needs ``loss`` to take the dicts.
    Targets of one output with one axis fewer than its predictions (labels
    (n,) of a (n, 1) output) get that axis back, as Keras's compiled losses
    do.
    """
    y_pred = tf.nest.map_structure(lambda t: tf.cast(t, tf.float32), y_pred)
    y_true = tf.nest.map_structure(lambda t: tf.cast(t, tf.float32), y_true)
    if (not tf.nest.is_nested(y_true) and not tf.nest.is_nested(y_pred)
            and y_true.shape.rank == y_pred.shape.rank - 1):
        y_true = tf.expand_dims(y_true, -1)
    call = loss.call if isinstance(loss, keras.losses.Loss) else loss  # call: no reduction
    values = tf.cast(call(y_true, y_pred), tf.float32)
    if values.shape.rank > 1:
        values = tf.reduce_mean(values, axis=list(range(1, values.shape.rank)))
    return values


def distributed_batches(strategy, inputs, targets, order, batch_size):
    """An iterator over one epoch's global batches, fed to ``strategy``'s replicas.

    Each input pipeline (one per worker) builds its part of every global
    batch (`step_rows`) inside ``strategy.distribute_datasets_from_function``.

    Args:
        strategy: a `tf.distribute.Strategy`.
        inputs: list of arrays (n, ...), one per model input.
        targets: array (n, ...) or a dict of arrays, float32.
        order: int array (n,), the epoch's row order.
        batch_size: int, the global batch.

    Returns:
        ``(iterator, counts)``: the distributed iterator, whose every
        ``next`` gives ``(inputs, targets, weights)`` per replica, and the
        real rows of each step (a list, filled when the iterator is made).
    """
    counts = []
    pack = (lambda arrays: tuple(arrays)) if len(inputs) > 1 else (lambda arrays: arrays[0])

    def dataset_fn(context):
        replica_batch = context.get_per_replica_batch_size(batch_size)
        rows, weights, step_counts = step_rows(row_count(targets), batch_size,
                                               context.num_input_pipelines,
                                               context.input_pipeline_id, order)
        counts[:] = step_counts
        data = (pack([a[rows] for a in inputs]), take_rows(targets, rows), weights)
        return tf.data.Dataset.from_tensor_slices(data).batch(replica_batch).prefetch(
            tf.data.AUTOTUNE)

    return iter(strategy.distribute_datasets_from_function(dataset_fn)), counts


def is_multi_worker(strategy=None):
    """Whether ``strategy`` (default: the current one) is a `MultiWorkerMirroredStrategy`."""
    strategy = strategy or tf.distribute.get_strategy()
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
