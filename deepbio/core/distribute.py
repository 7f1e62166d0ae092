"""A custom distributed training loop, for strategies that ``model.fit`` cannot drive.

Keras 3.15 / TensorFlow 2.21 ``model.fit`` fails under
`tf.distribute.MultiWorkerMirroredStrategy` (``Attempt to convert a value
(PerReplica...) to a Tensor``; keras-team/keras issue 20585), so multi-worker
runs train the same Keras model, loss and optimizer with their own step loop,
after TensorFlow's "Custom training loop with Keras and
MultiWorkerMirroredStrategy" tutorial
(https://www.tensorflow.org/tutorials/distribute/multi_worker_with_ctl):
datasets from ``strategy.distribute_datasets_from_function``, a
``tf.function`` step run with ``strategy.run``, the per-example loss averaged
over the *global* batch with ``tf.nn.compute_average_loss``, and a
`tf.train.CheckpointManager` per worker so that a restarted worker resumes at
its last finished epoch.
"""

import contextlib
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np

from deepbio.core.io import atomic_path, write_json

_DIRECTORIES = []  # stack of [write_dir, restore_dir, calls] set by `checkpoint_directory`


@contextlib.contextmanager
def checkpoint_directory(path, restore_path=None):
    """Makes the trainings in the block checkpoint under ``path``.

    The n-th training in the block (`fit_distributed`, or
    `deepbio.core.resume.resumable_fit`; each asks
    `next_checkpoint_directories`) uses ``path / f"fit{n}"``, so two fits in
    one unit of work never share a checkpoint. A worker that is not the chief
    writes to its own (temporary) ``path`` but resumes from the chief's
    ``restore_path``, as in the TensorFlow tutorial; that needs the chief's
    folder on a file system every worker reads.

    Args:
        path: str or path-like, where this worker writes checkpoints.
        restore_path: optional str or path-like, where it resumes from
            (default ``path``).
    """
    _DIRECTORIES.append([Path(path), Path(restore_path or path), 0])
    try:
        yield
    finally:
        _DIRECTORIES.pop()


def next_checkpoint_directories():
    """``(write_dir, restore_dir)`` of the next training in the current `checkpoint_directory`.

    Returns:
        Two `pathlib.Path`, or ``(None, None)`` outside any block (no
        checkpoints).
    """
    if not _DIRECTORIES:
        return None, None
    entry = _DIRECTORIES[-1]
    entry[2] += 1
    return entry[0] / f"fit{entry[2]}", entry[1] / f"fit{entry[2]}"




def strategy_replicas():
    """Replicas of the current `tf.distribute` strategy; None outside any strategy's scope.

    A custom loop feeds replicas (`replica_shares`, `per_replica`,
    ``strategy.run``) whenever a strategy is in scope, even with one replica
    (its variables are distributed: updating them needs a replica context),
    and calls its plain compiled step only without a strategy.
    """
    import tensorflow as tf

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
    import keras
    import tensorflow as tf

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
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    return strategy.experimental_distribute_values_from_function(
        lambda context: values[context.replica_id_in_sync_group])


def _step_rows(n, global_batch, pipelines, pipeline, order):
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


def _per_example(loss, y_true, y_pred):
    """Unreduced loss, one float32 value per example (trailing axes averaged).

    A model with several outputs (a dict) needs ``loss`` to take the dicts.
    """
    import keras
    import tensorflow as tf

    y_pred = tf.nest.map_structure(lambda t: tf.cast(t, tf.float32), y_pred)
    y_true = tf.nest.map_structure(lambda t: tf.cast(t, tf.float32), y_true)
    call = loss.call if isinstance(loss, keras.losses.Loss) else loss  # call: no reduction
    values = tf.cast(call(y_true, y_pred), tf.float32)
    if values.shape.rank > 1:
        values = tf.reduce_mean(values, axis=list(range(1, values.shape.rank)))
    return values


def fit_distributed(model, loss, optimizer, x, y, *, epochs, batch_size, validation_data=None,
                    patience=None, reduce_lr=None, callbacks=(), shuffle=True, seed=0,
                    strategy=None, checkpoint_dir=None, restore_dir=None, verbose=0):
    """Trains ``model`` with a custom ``strategy.run`` step: ``model.fit`` for any strategy.

    Semantics follow ``model.fit`` with ``EarlyStopping(patience,
    restore_best_weights=True)`` and ``ReduceLROnPlateau(factor, patience,
    min_delta=1e-4)`` on ``val_loss``: the mean loss of each global batch
    (the last one may be smaller) gives the gradient, so one replica, a
    mirrored strategy and several workers take the same steps, up to
    reduction order. Regularisation losses (``model.losses``) are added.

    Args:
        model: a built Keras model whose variables were created under
            ``strategy.scope()``.
        loss: a `keras.losses.Loss`, a loss name, or a function
            ``(y_true, y_pred) -> per-example loss (batch, ...)`` (for a
            model with a dict of outputs: a function of the dicts).
        optimizer: a Keras optimizer (a `keras.optimizers.LossScaleOptimizer`
            under mixed precision: the loss is scaled before the gradient and
            unscaled by the optimizer).
        x: array (n, ...) or list of arrays, the inputs.
        y: array (n, ...), or a dict of arrays (one per output), the targets.
        epochs: int ≥ 1, maximum epochs.
        batch_size: int ≥ 1, the *global* batch (divisible by the number of
            replicas).
        validation_data: optional ``(x_val, y_val)``; its loss is
            ``val_loss``.
        patience: optional int, early stopping on ``val_loss`` with the best
            weights restored (needs ``validation_data``).
        reduce_lr: optional ``(factor, patience)``, learning rate times
            ``factor`` after ``patience`` epochs without improvement.
        callbacks: Keras callbacks driven as ``model.fit`` drives them
            (``on_train_begin``, ``on_epoch_begin``, ``on_epoch_end`` with
            the epoch's logs, ``on_train_end``; ``model.stop_training``
            ends the training), e.g. best-weight selectors on a validation
            AUROC they add to the logs, ``EarlyStopping`` or
            ``ReduceLROnPlateau`` on it. Their state (`deepbio.training.
            resume.callback_states`) is checkpointed with the epoch.
        shuffle: bool, a new row order every epoch (from ``seed`` and the
            epoch, so a resumed run sees the same order).
        seed: int.
        strategy: a `tf.distribute.Strategy` (default: the current one).
        checkpoint_dir: optional folder; each finished epoch is saved there
            (model, optimizer, epoch counter via `tf.train.CheckpointManager`;
            history and early-stopping state as ``state-<epoch>.json``, best
            weights as ``best-<epoch>.npz``, the callbacks' state as
            ``callbacks-<epoch>.zip``). Default: the one given by
            `checkpoint_directory`, else none.
        restore_dir: optional folder to resume from (default
            ``checkpoint_dir``).
        verbose: int, 0 silent, else one line per epoch.

    Returns:
        dict ``{"loss": [...], "val_loss": [...], "learning_rate": [...]}``,
        float per epoch (``val_loss`` empty without validation data), plus
        what the callbacks logged (``val_auroc``).

    Raises:
        ValueError: ``batch_size`` not divisible by the number of replicas,
            inputs of different lengths, or ``patience`` without validation.
    """
    import keras
    import tensorflow as tf

    from deepbio.core.resume import (_length, _nest, callback_states, read_state,
                                         set_callback_states, write_state)

    strategy = strategy or tf.distribute.get_strategy()
    loss = keras.losses.get(loss) if isinstance(loss, str) else loss
    xs = [np.asarray(a) for a in (x if isinstance(x, (list, tuple)) else [x])]
    y = tf.nest.map_structure(lambda a: np.asarray(a, np.float32), y)
    if len({len(a) for a in xs} | {_length(y)}) != 1:
        raise ValueError(f"inputs and targets differ in length: {[len(a) for a in xs]}, "
                         f"{_length(y)}")
    if batch_size % strategy.num_replicas_in_sync:
        raise ValueError(f"batch_size {batch_size} is not divisible by the "
                         f"{strategy.num_replicas_in_sync} replicas")
    if patience is not None and validation_data is None:
        raise ValueError("patience (early stopping) needs validation_data")
    if checkpoint_dir is None:
        checkpoint_dir, default_restore = next_checkpoint_directories()
        restore_dir = restore_dir or default_restore
    restore_dir = restore_dir or checkpoint_dir
    scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    pack = (lambda arrays: tuple(arrays)) if len(xs) > 1 else (lambda arrays: arrays[0])

    def distributed(arrays, targets, order):
        counts = []

        def dataset_fn(context):
            per_replica = context.get_per_replica_batch_size(batch_size)
            rows, weights, step_counts = _step_rows(_length(targets), batch_size,
                                                    context.num_input_pipelines,
                                                    context.input_pipeline_id, order)
            counts[:] = step_counts
            data = (pack([a[rows] for a in arrays]), _nest(targets, rows), weights)
            return tf.data.Dataset.from_tensor_slices(data).batch(per_replica).prefetch(
                tf.data.AUTOTUNE)

        dataset = strategy.distribute_datasets_from_function(dataset_fn)
        return iter(dataset), counts

    def replica_loss(inputs, targets, weights, count, training):
        per_example = _per_example(loss, targets, model(inputs, training=training))
        value = tf.nn.compute_average_loss(per_example, sample_weight=weights,
                                           global_batch_size=count)
        if model.losses:
            value += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        return value

    def train_replica(inputs, targets, weights, count):
        with tf.GradientTape() as tape:
            value = replica_loss(inputs, targets, weights, count, True)
            objective = optimizer.scale_loss(value) if scaled else value
        grads = synchronized_gradients(tape.gradient(objective, model.trainable_variables),
                                       optimizer)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return value

    @tf.function
    def train_step(iterator, count):
        inputs, targets, weights = next(iterator)
        values = strategy.run(train_replica, args=(inputs, targets, weights, count))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None)

    @tf.function
    def val_step(iterator, count):
        inputs, targets, weights = next(iterator)
        values = strategy.run(replica_loss, args=(inputs, targets, weights, count, False))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None)

    def run_epoch(step, arrays, targets, order):
        iterator, counts = distributed(arrays, targets, order)
        total = 0.0
        for count in counts:  # the batch losses weighted by batch size, as Keras's loss tracker
            total += float(step(iterator, tf.constant(int(count), tf.int64))) * int(count)
        return total / _length(targets)

    with strategy.scope():
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        epoch_counter = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    # the variable lists add what the object graph misses (Keras seed-generator states: dropout)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch_counter,
                                     model_variables=list(model.variables),
                                     optimizer_variables=list(optimizer.variables))
    manager = (tf.train.CheckpointManager(checkpoint, str(checkpoint_dir), max_to_keep=1)
               if checkpoint_dir else None)
    state = {"epoch": 0, "history": {"loss": [], "val_loss": [], "learning_rate": []},
             "best": math.inf, "wait": 0, "best_epoch": None, "lr_best": math.inf, "lr_wait": 0,
             "stopped": False}
    callbacks = list(callbacks)
    model.stop_training = False
    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin()
    latest = tf.train.latest_checkpoint(str(restore_dir)) if manager else None
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
        state = json.loads((Path(restore_dir) / f"state-{int(epoch_counter.numpy())}.json")
                           .read_text())
        state["best"], state["lr_best"] = (float(state["best"]), float(state["lr_best"]))
        best = state["best_epoch"] is not None and f"best-{state['best_epoch'] + 1}.npz"
        if best and Path(restore_dir) != Path(checkpoint_dir):  # a worker resuming from the chief
            Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(restore_dir) / best, Path(checkpoint_dir) / best)
        if callbacks:  # after on_train_begin, which resets them
            name = f"callbacks-{int(epoch_counter.numpy())}.zip"
            set_callback_states(callbacks, read_state(Path(checkpoint_dir) / name,
                                                      Path(restore_dir) / name))
    val = None
    if validation_data is not None:
        x_val, y_val = validation_data
        val = ([np.asarray(a) for a in (x_val if isinstance(x_val, (list, tuple)) else [x_val])],
               tf.nest.map_structure(lambda a: np.asarray(a, np.float32), y_val))
    history = state["history"]
    while state["epoch"] < epochs and not state["stopped"]:
        epoch, start = state["epoch"], time.perf_counter()
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        order = (np.random.default_rng([seed, epoch]).permutation(_length(y)) if shuffle
                 else np.arange(_length(y)))
        history["loss"].append(run_epoch(train_step, xs, y, order))
        history["learning_rate"].append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
        logs = {"loss": history["loss"][-1], "learning_rate": history["learning_rate"][-1]}
        if val is not None:
            current = run_epoch(val_step, val[0], val[1], np.arange(_length(val[1])))
            logs["val_loss"] = current
            history["val_loss"].append(current)
            if patience is not None:
                state["wait"] += 1
                if current < state["best"] or state["best_epoch"] is None:
                    state.update(best=min(current, state["best"]), best_epoch=epoch, wait=0)
                    if checkpoint_dir:
                        _save_weights(model, Path(checkpoint_dir) / f"best-{epoch + 1}.npz")
                    else:
                        state["best_weights"] = model.get_weights()
                elif state["wait"] >= patience and epoch > 0:
                    state["stopped"] = True
            if reduce_lr is not None:
                if current < state["lr_best"] - 1e-4:
                    state.update(lr_best=current, lr_wait=0)
                else:
                    state["lr_wait"] += 1
                    if state["lr_wait"] >= reduce_lr[1]:
                        optimizer.learning_rate = float(history["learning_rate"][-1]) * reduce_lr[0]
                        state["lr_wait"] = 0
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        for key, value in logs.items():
            if key not in ("loss", "val_loss", "learning_rate"):
                history.setdefault(key, []).append(float(value))
        if model.stop_training:
            state["stopped"] = True
        state["epoch"] = epoch + 1
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: loss={history['loss'][-1]:.4f}"
                  + (f" val_loss={history['val_loss'][-1]:.4f}" if history["val_loss"] else "")
                  + f" ({time.perf_counter() - start:.1f}s)", flush=True)
        if manager:
            if callbacks:
                write_state(callback_states(callbacks),
                            Path(checkpoint_dir) / f"callbacks-{state['epoch']}.zip")
            _save_state(state, Path(checkpoint_dir))
            epoch_counter.assign(state["epoch"])
            manager.save(checkpoint_number=state["epoch"])  # every worker saves (collectives)
            _prune(Path(checkpoint_dir), state)
    if patience is not None and state["best_epoch"] is not None:
        weights = state.get("best_weights")
        if weights is None:
            with np.load(Path(checkpoint_dir) / f"best-{state['best_epoch'] + 1}.npz",
                         allow_pickle=False) as saved:
                weights = [saved[f"w{i}"] for i in range(len(saved.files))]
        model.set_weights(weights)
    for callback in callbacks:
        callback.on_train_end()
    return {k: [float(v) for v in values] for k, values in history.items()}


def _save_weights(model, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **{f"w{i}": w for i, w in enumerate(model.get_weights())})


def _save_state(state, folder):
    folder.mkdir(parents=True, exist_ok=True)
    saved = {k: v for k, v in state.items() if k != "best_weights"}
    saved.update(best=str(saved["best"]), lr_best=str(saved["lr_best"]))  # strict JSON: inf
    write_json(saved, folder / f"state-{state['epoch']}.json")


def _prune(folder, state):
    """Keeps the state of the last epoch and the best weights it refers to."""
    best = f"best-{state['best_epoch'] + 1}.npz" if state["best_epoch"] is not None else None
    for pattern, keep in (("state-*.json", f"state-{state['epoch']}.json"),
                          ("callbacks-*.zip", f"callbacks-{state['epoch']}.zip")):
        for path in folder.glob(pattern):
            if path.name != keep:
                path.unlink(missing_ok=True)
    for path in folder.glob("best-*.npz"):
        if path.name != best:
            path.unlink(missing_ok=True)


def remove_checkpoints(path):
    """Deletes a folder of `fit_distributed` checkpoints (after its unit finished)."""
    if path is not None and Path(path).exists():
        shutil.rmtree(path, ignore_errors=True)


def is_multi_worker(strategy=None):
    """Whether ``strategy`` (default: the current one) is a `MultiWorkerMirroredStrategy`."""
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
