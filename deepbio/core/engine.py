"""The training engine: every deepbio training runs through `fit` or `run_loop`.

Two entries, one per kind of training:

- `fit` trains a compiled Keras model (the PTM network, VQ-RNA, the motif
  CNN). On one process it is ``model.fit`` with the resume callbacks
  (`deepbio.core.resume.resumable_fit`); under
  `tf.distribute.MultiWorkerMirroredStrategy`, where Keras 3's ``model.fit``
  fails (keras-team/keras issue 20585), it is `fit_distributed`: the same
  model, optimizer and callbacks on a custom step loop. This is the only
  place that looks at the strategy to choose.
- `run_loop` drives a step function epoch after epoch: the training loops
  that stay outside ``model.fit`` (masked-LM pre-training, ΔG fine-tuning,
  and `fit_distributed` itself) give it their batches and their step, and
  it owns everything else: the epoch loop, resume (`LoopCheckpoint` restored
  before the first epoch, saved after each), Keras callbacks (driven as
  ``model.fit`` drives them, their state checkpointed) and the progress bar.

Steps are built with `compile_step` (one ``tf.function``, XLA-compiled on
request, without a strategy; ``strategy.run`` over one share of the batch per
replica under one) around `minimize` (the gradient update, loss scaling under
mixed precision included), so that each loop's module keeps only what is
specific to it: batches, losses, the replica step.
"""

import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from deepbio.core.checkpoint import LoopCheckpoint, callback_states, set_callback_states
from deepbio.core.distribute import (distributed_batches, is_multi_worker, per_example_loss,
                                     per_replica, strategy_replicas, synchronized_gradients)
from deepbio.core.resume import resumable_fit, row_count


# ---------------------------------------------------------------------------------------------
# Compiled Keras models
# ---------------------------------------------------------------------------------------------
def fit(model, x, y, *, batch_size, epochs, seed, validation_data=None, callbacks=(),
        stateful=(), loss=None, verbose=1):
    """Trains a compiled Keras model, resumable at epoch level, under any strategy.

    Args:
        model: a compiled `keras.Model` (built under the strategy's scope).
        x: array (n, ...) or a list of arrays, the inputs.
        y: array (n, ...) or a dict of arrays (one per output), the targets.
        batch_size: int ≥ 1, the global batch.
        epochs: int ≥ 1, maximum epochs.
        seed: int, the run's seed (data order and per-epoch reseeding).
        validation_data: optional ``(x_val, y_val)``, giving ``val_loss``.
        callbacks: Keras callbacks (early stopping, learning-rate schedules,
            best-weight selectors), driven the same way on both paths.
        stateful: those of ``callbacks`` whose state must survive a resume
            on the ``model.fit`` path (the step loop saves every callback's).
        loss: the loss of the step loop, ``(y_true, y_pred) -> per-example
            loss`` (default: the compiled ``model.loss``); needed when the
            compiled loss is a dict with loss weights (it then takes the
            dicts).
        verbose: int, Keras verbosity (0 silent).

    Returns:
        dict {metric: list of float}, every epoch's logs, those run before a
        resume included.
    """
    if is_multi_worker():  # Keras 3's model.fit cannot run there: the same training, own loop
        return fit_distributed(model, x, y, epochs=epochs, batch_size=batch_size, seed=seed,
                               loss=loss, validation_data=validation_data, callbacks=callbacks,
                               verbose=verbose)
    return resumable_fit(model, x, y, batch_size=batch_size, epochs=epochs, seed=seed,
                         callbacks=callbacks, stateful=stateful, validation_data=validation_data,
                         verbose=verbose)


def _arrays(x):
    return [np.asarray(a) for a in (x if isinstance(x, (list, tuple)) else [x])]


def _float32(y):
    return tf.nest.map_structure(lambda a: np.asarray(a, np.float32), y)


def fit_distributed(model, x, y, *, epochs, batch_size, seed=0, loss=None, optimizer=None,
                    validation_data=None, callbacks=(), shuffle=True, strategy=None,
                    checkpoint_dir=None, restore_dir=None, verbose=0):
    """``model.fit`` as a `run_loop` of ``strategy.run`` steps: for any strategy, multi-worker too.

    After TensorFlow's "Custom training loop with Keras and
    MultiWorkerMirroredStrategy" tutorial: batches from
    ``strategy.distribute_datasets_from_function`` (`deepbio.core.distribute.
    distributed_batches`), the per-example loss averaged over the *global*
    batch (the last one may be smaller), so one replica, a mirrored strategy
    and several workers take the same steps as ``model.fit``, up to reduction
    order. Regularisation losses (``model.losses``) are added.

    Args:
        model: a compiled (or built) Keras model whose variables were created
            under ``strategy.scope()``.
        x: array (n, ...) or list of arrays, the inputs.
        y: array (n, ...), or a dict of arrays (one per output), the targets.
        epochs: int ≥ 1, maximum epochs.
        batch_size: int ≥ 1, the *global* batch (divisible by the replicas).
        seed: int, each epoch's row order is drawn from ``(seed, epoch)``.
        loss: a `keras.losses.Loss`, a loss name, or a function ``(y_true,
            y_pred) -> per-example loss`` (default ``model.loss``).
        optimizer: a Keras optimizer (default ``model.optimizer``; a
            `keras.optimizers.LossScaleOptimizer` under mixed precision).
        validation_data: optional ``(x_val, y_val)``; its loss is ``val_loss``.
        callbacks: Keras callbacks driven as ``model.fit`` drives them
            (``EarlyStopping``, ``ReduceLROnPlateau``, best-weight
            selectors on a validation AUROC they add to the logs); their
            state is checkpointed with the epoch (`run_loop`).
        shuffle: bool, a new row order every epoch (else the given order).
        strategy: a `tf.distribute.Strategy` (default: the current one).
        checkpoint_dir, restore_dir: optional folders to save every epoch in
            and to resume from (default: the run unit's, see `LoopCheckpoint`).
        verbose: int, 0 silent, else a progress bar and one line per epoch.

    Returns:
        dict ``{"loss": [...], "val_loss": [...], "learning_rate": [...]}``,
        float per epoch (``val_loss`` empty without validation data), plus
        what the callbacks logged (``val_auroc``).

    Raises:
        ValueError: ``batch_size`` not divisible by the number of replicas,
            or inputs and targets of different lengths.
    """
    strategy, optimizer = strategy or tf.distribute.get_strategy(), optimizer or model.optimizer
    loss = model.loss if loss is None else loss
    loss = keras.losses.get(loss) if isinstance(loss, str) else loss
    xs, y = _arrays(x), _float32(y)
    _check_batches(xs, y, batch_size, strategy)
    with strategy.scope():
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
    train_step, val_step = _distributed_steps(model, loss, optimizer, strategy)

    def batches(epoch):
        order = (np.random.default_rng([seed, epoch]).permutation(row_count(y)) if shuffle
                 else np.arange(row_count(y)))
        iterator, counts = distributed_batches(strategy, xs, y, order, batch_size)
        return [(iterator, int(count)) for count in counts]

    def step(batch):  # the batch losses weighted by batch size, as Keras's loss tracker
        iterator, count = batch
        return float(train_step(iterator, tf.constant(count, tf.int64))), count

    val = validation_data and (_arrays(validation_data[0]), _float32(validation_data[1]))

    def end_epoch(epoch):
        logs = {"learning_rate": float(keras.ops.convert_to_numpy(optimizer.learning_rate))}
        if val:
            logs["val_loss"] = _validation_loss(val_step, strategy, val, batch_size)
        return logs

    checkpoint = LoopCheckpoint(model, [optimizer], None, checkpoint_dir, restore_dir)
    history = run_loop(step, batches, epochs, checkpoint=checkpoint, model=model,
                       callbacks=callbacks, end_epoch=end_epoch,
                       progress=Progress("training", verbose=verbose))
    return {"loss": history.pop("loss"), "val_loss": history.pop("val_loss", []),
            "learning_rate": history.pop("learning_rate"), **history}


def _check_batches(xs, y, batch_size, strategy):
    """Raises ValueError for inputs and targets of other lengths or a batch the replicas cannot share."""
    if len({len(a) for a in xs} | {row_count(y)}) != 1:
        raise ValueError(f"inputs and targets differ in length: {[len(a) for a in xs]}, "
                         f"{row_count(y)}")
    if batch_size % strategy.num_replicas_in_sync:
        raise ValueError(f"batch_size {batch_size} is not divisible by the "
                         f"{strategy.num_replicas_in_sync} replicas")


def _validation_loss(val_step, strategy, val, batch_size):
    """The mean loss of ``val`` = ``(inputs, targets)``, batch losses weighted by batch size."""
    iterator, counts = distributed_batches(strategy, *val, np.arange(row_count(val[1])),
                                           batch_size)
    return sum(float(val_step(iterator, tf.constant(int(count), tf.int64))) * int(count)
               for count in counts) / row_count(val[1])


def _distributed_steps(model, loss, optimizer, strategy):
    """``(train_step, val_step)``: ``tf.function``s of ``(iterator, count)`` → the batch's mean loss."""

    def replica_loss(inputs, targets, weights, count, training):
        per_example = per_example_loss(loss, targets, model(inputs, training=training))
        value = tf.nn.compute_average_loss(per_example, sample_weight=weights,
                                           global_batch_size=count)
        if model.losses:
            value += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        return value

    def train_replica(inputs, targets, weights, count):
        return minimize(lambda: replica_loss(inputs, targets, weights, count, True),
                        [(optimizer, model.trainable_variables)])

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

    return train_step, val_step


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------
def minimize(compute_loss, optimizers):
    """One update: the gradients of ``compute_loss()`` applied by each optimizer to its variables.

    Under mixed precision (a `keras.optimizers.LossScaleOptimizer` among
    ``optimizers``) each optimizer scales the loss before the gradient and
    unscales the gradient itself, after the replicas agreed on it
    (`deepbio.core.distribute.synchronized_gradients`). Call it inside a
    ``tf.function`` (in a replica's context under a strategy).

    Args:
        compute_loss: callable ``() -> float32 scalar tensor``, calling the
            model (it runs under the gradient tape).
        optimizers: list of ``(optimizer, variables)``; each optimizer
            updates its own variables.

    Returns:
        The (unscaled) loss tensor.
    """
    scaling = any(isinstance(o, keras.optimizers.LossScaleOptimizer) for o, _ in optimizers)
    with tf.GradientTape(persistent=scaling and len(optimizers) > 1) as tape:
        loss = compute_loss()
        scaled = [optimizer.scale_loss(loss) for optimizer, _ in optimizers] if scaling else None
    if scaling:  # each loss-scale optimizer unscales the gradients of its own scaled loss
        for (optimizer, variables), scaled_loss in zip(optimizers, scaled):
            grads = synchronized_gradients(tape.gradient(scaled_loss, variables), optimizer)
            optimizer.apply_gradients(zip(grads, variables))
        return loss
    grads = tape.gradient(loss, [v for _, variables in optimizers for v in variables])
    at = 0
    for optimizer, variables in optimizers:
        optimizer.apply_gradients(zip(grads[at:at + len(variables)], variables))
        at += len(variables)
    return loss


def compile_step(replica_step, share_signature, shared_signature=(), *, jit_compile=False,
                 one_device=None):
    """A training step compiled for the current `tf.distribute` strategy.

    Without a strategy the step is ``replica_step(*share, *shared)`` (or
    ``one_device``) as one ``tf.function``, XLA-compiled when
    ``jit_compile``. Under a strategy (even with one replica: its variables
    are distributed, updating them needs a replica context) it is
    ``step(shares, shared)``: replica ``i`` runs ``replica_step(*shares[i],
    *shared)`` with ``strategy.run`` (`deepbio.core.distribute.per_replica`;
    shares from `deepbio.core.distribute.replica_shares`) and the results
    are summed; that step is not XLA-compiled.

    Args:
        replica_step: the Python function of one replica's step.
        share_signature: list or tuple of `tf.TensorSpec` (nests allowed),
            the arguments that differ between replicas.
        shared_signature: tuple of `tf.TensorSpec`, the arguments every
            replica gets (e.g. the token count of the whole batch).
        jit_compile: bool, XLA (`deepbio.core.task.TrainingConfig.
            function_jit_compile`).
        one_device: optional ``(function, signature)`` replacing
            ``replica_step`` without a strategy.

    Returns:
        The compiled step.
    """
    replicas = strategy_replicas()
    if replicas is None:
        function, signature = one_device or (replica_step,
                                             [*share_signature, *shared_signature])
        return tf.function(function, input_signature=signature, jit_compile=jit_compile)
    strategy = tf.distribute.get_strategy()

    def distributed_step(shares, shared):
        values = per_replica([tuple(share) for share in shares], strategy)
        results = strategy.run(lambda value: replica_step(*value, *shared), args=(values,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, results, axis=None)

    return tf.function(distributed_step,
                       input_signature=[[share_signature] * replicas, tuple(shared_signature)])


# ---------------------------------------------------------------------------------------------
# The step-function driver
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Progress:
    """How `run_loop` reports: a bar over each epoch's steps, one line per finished epoch.

    Attributes:
        description: str, names the training in the bar and the lines.
        unit: str, what a step is called in the bar (``"step"``, ``"batch"``).
        verbose: int, 0 silent; 1 the bar redrawn as it goes; 2 (log files)
            the bar redrawn at most every 5 s.
        lines: bool, one line per epoch with its logs and seconds (on stdout).
        leave: bool, the finished bar stays on screen.
    """

    description: str = "training"
    unit: str = "step"
    verbose: int = 1
    lines: bool = True
    leave: bool = True

    def bar(self, batches, epoch, epochs):
        """A `tqdm` bar over ``batches`` (stderr), disabled when silent."""
        return tqdm(batches, desc=f"{self.description} epoch {epoch + 1}/{epochs}",
                    unit=self.unit, disable=self.verbose == 0, leave=self.leave,
                    mininterval=5 if self.verbose == 2 else 0.1)

    def line(self, epoch, epochs, logs, seconds):
        """Prints the epoch's logs (when ``verbose`` and ``lines``)."""
        if self.verbose and self.lines:
            values = " ".join(f"{key}={value:.4f}" for key, value in logs.items())
            print(f"{self.description} epoch {epoch + 1}/{epochs}: {values} ({seconds:.1f}s)",
                  flush=True)


def _run_epoch(step, bar):
    """The epoch's loss: the mean of the batch losses, row-weighted if ``step`` gives rows."""
    losses, rows = [], []
    for number, batch in enumerate(bar):
        value = step(batch)
        loss, count = value if isinstance(value, tuple) else (value, None)
        losses.append(loss)
        rows.append(count)
        if number % 20 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    if rows and rows[0] is not None:
        return sum(loss * count for loss, count in zip(losses, rows)) / sum(rows)
    return float(np.mean(losses))


def run_loop(step, batches, epochs, *, checkpoint=None, model=None, callbacks=(), end_epoch=None,
             progress=None):
    """Runs ``step`` over every batch of every epoch: resume, callbacks, checkpoints, progress.

    Per epoch: the callbacks' ``on_epoch_begin``, ``batches(epoch)`` drawn,
    ``step`` on each, ``end_epoch(epoch)`` for more logs, the callbacks'
    ``on_epoch_end(epoch, logs)``, the history extended, the checkpoint
    saved, the progress line. A loop restored from its checkpoint continues
    at its first unfinished epoch with the computation an uninterrupted one
    would have made (the batch order must come from the checkpointed
    generator or from the epoch alone).

    Args:
        step: callable ``(batch) -> float``, the batch's mean loss after the
            update, or ``-> (float, rows)``: the epoch's ``loss`` is then the
            row-weighted mean (as Keras's loss tracker), else the plain mean.
        batches: callable ``(epoch) -> sequence`` of what ``step`` takes.
        epochs: int ≥ 1, the number of epochs (a restored loop runs the rest).
        checkpoint: optional `deepbio.core.checkpoint.LoopCheckpoint`,
            restored before the first epoch and saved after each (with the
            callbacks' state).
        model: the `keras.Model` the callbacks see; its ``stop_training``
            ends the loop after the epoch.
        callbacks: Keras callbacks, driven as ``model.fit`` drives them
            (``on_train_begin``, ``on_epoch_begin``, ``on_epoch_end`` with
            the epoch's logs, ``on_train_end``).
        end_epoch: optional callable ``(epoch) -> dict`` of more logs
            (``val_loss``, ``learning_rate``), called after the steps.
        progress: `Progress` (default ``Progress()``).

    Returns:
        dict {name: list of float}: ``loss`` and every other log per epoch,
        those of the epochs before a resume included.
    """
    progress, callbacks = progress or Progress(), list(callbacks)
    if model is not None:
        model.stop_training = False
    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin()
    done, history, state = checkpoint.restore() if checkpoint else (0, None, None)
    history, stopped = history or {"loss": []}, False
    if state:  # after on_train_begin, which resets the callbacks
        set_callback_states(callbacks, state["callbacks"])
        stopped = state["stopped"]
    for epoch in range(done, epochs):
        if stopped:
            break
        start = time.perf_counter()
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        logs = {"loss": _run_epoch(step, progress.bar(batches(epoch), epoch, epochs)),
                **(end_epoch(epoch) if end_epoch else {})}
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        for key, value in logs.items():
            history.setdefault(key, []).append(float(value))
        stopped = bool(model is not None and model.stop_training)
        if checkpoint:
            checkpoint.save(epoch + 1, history, {"callbacks": callback_states(callbacks),
                                                 "stopped": stopped})
        progress.line(epoch, epochs, logs, time.perf_counter() - start)
    for callback in callbacks:
        callback.on_train_end()
    return history
