"""The ``model.fit`` path of the training engine, resumable at epoch level.

`deepbio.core.engine.fit` trains with `resumable_fit` on one process (any
strategy but multi-worker). Inside a run unit (`deepbio.core.run_folder.
RunFolder.checkpointed`) it checkpoints every epoch into the unit's folder
(``checkpoints/<unit>.steps/fit<n>/``, the folder
`deepbio.core.checkpoint.checkpoint_directory` names for the unit's n-th
training), so a run killed mid-unit loses at most one epoch. The resumed
training is the same computation as an uninterrupted one:

- `EpochShuffled` feeds the training data in an order drawn from
  ``(seed, epoch)`` alone (not from how many epochs this process has run);
- `ResumableTraining` (a `keras.callbacks.BackupAndRestore`) saves, in one
  atomically written file, every model variable (the dropout seed-generator
  states too, which ``save_weights`` leaves out), the optimizer's variables,
  the state of the stateful callbacks (early stopping, learning-rate
  schedules, best-weight selectors) and the history so far.

Epoch states are ``state.zip`` archives of JSON and NumPy arrays
(`deepbio.core.checkpoint.write_state`), read back with
``allow_pickle=False``: a tampered state cannot run code, and a
``state.pkl`` of an older deepbio is refused (rerun with ``--restart``).

Outside a unit (no ``checkpoints/`` folder, e.g. library use) `resumable_fit`
is a plain ``model.fit`` on the same `EpochShuffled` data.
"""

import shutil
from pathlib import Path

import keras
import numpy as np

from deepbio.core.checkpoint import (STATE_FILE, assign_saved, callback_states,  # noqa: F401
                                     next_checkpoint_directories, read_state,
                                     set_callback_states, write_state)  # (re-exported)


def take_rows(value, rows):
    """``value[rows]`` of an array, or of every array of a list / tuple / dict of arrays.

    Lists come back as tuples (Keras's PyDataset adapter refuses lists).
    """
    if isinstance(value, dict):
        return {k: take_rows(v, rows) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(take_rows(v, rows) for v in value)
    return value[rows]


def row_count(value):
    """Rows of an array, or of the first array of a list / tuple / dict of arrays."""
    if isinstance(value, dict):
        return row_count(next(iter(value.values())))
    if isinstance(value, (list, tuple)):
        return row_count(value[0])
    return len(value)


class EpochShuffled(keras.utils.PyDataset):
    """In-memory training data in batches, reshuffled each epoch from ``(seed, epoch)`` only.

    Keras's own ``shuffle=True`` draws each epoch's order from a random op
    whose state a restarted process does not have; here epoch ``e``'s order
    is ``numpy.random.default_rng([seed, e]).permutation(n)``, whichever
    process runs it.

    Args:
        x: array (n, ...) or a list / dict of such arrays.
        y: array (n, ...), a list / dict of arrays, or None.
        batch_size: int ≥ 1.
        seed: int ≥ 0.
    """

    def __init__(self, x, y, batch_size, seed, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size, self.seed = x, y, int(batch_size), int(seed)
        self.n = row_count(x)
        self.epoch, self._order_epoch, self._order = 0, None, None

    def __len__(self):
        return (self.n + self.batch_size - 1) // self.batch_size

    def __getitem__(self, index):
        if self._order_epoch != self.epoch:
            self._order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
            self._order_epoch = self.epoch
        rows = np.sort(self._order[index * self.batch_size:(index + 1) * self.batch_size])
        x = take_rows(self.x, rows)
        return x if self.y is None else (x, take_rows(self.y, rows))


class ResumableTraining(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose backup is one atomic file holding the whole training state.

    Keras's callback writes ``latest.weights.h5`` and a JSON file in place
    (a kill during the write truncates them) and leaves out the dropout
    seed-generator states, the other callbacks' state and the history. This
    one saves all of it to ``backup_dir/state.zip`` (JSON and NumPy arrays,
    `write_state`) through a temporary file renamed into place, and reseeds
    Keras at every epoch from ``(seed, epoch)``.

    Args:
        backup_dir: str or path, the unit's epoch folder.
        seed: int, the run's seed.
        data: the `EpochShuffled` training data (its epoch is kept in step).
        stateful: callbacks whose state is saved: Keras's `EarlyStopping`,
            `ReduceLROnPlateau`, or any callback with ``get_state()`` /
            ``set_state(state)``.
        restore_dir: where to resume from (default ``backup_dir``; a
            multi-worker run's non-chief workers resume from the chief's).

    Attributes:
        history: dict {metric: list of float}, every epoch's logs, the ones
            before a resume included (use it instead of ``fit``'s History).
    """

    def __init__(self, backup_dir, seed, data=None, stateful=(), restore_dir=None, **kwargs):
        super().__init__(str(backup_dir), **kwargs)
        self.seed, self.data, self.stateful = int(seed), data, list(stateful)
        self.state_path = Path(backup_dir) / STATE_FILE
        self.restore_path = Path(restore_dir or backup_dir) / STATE_FILE
        self.history = {}

    def _callback_states(self):
        return callback_states(self.stateful, strict=True)

    def _save_model(self):
        model = self.model
        state = {"epoch": self._current_epoch, "history": self.history,
                 "variables": [v.numpy() for v in model.variables],
                 "optimizer": [v.numpy() for v in model.optimizer.variables],
                 "callbacks": self._callback_states()}
        write_state(state, self.state_path)

    def _load_model(self):
        state = read_state(self.state_path, self.restore_path,
                           ("epoch", "history", "variables", "optimizer", "callbacks"))
        if state is None:
            return
        model = self.model
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        assign_saved(model.variables, state["variables"], self.restore_path)
        assign_saved(model.optimizer.variables, state["optimizer"], self.restore_path)
        set_callback_states(self.stateful, state["callbacks"])
        self.history = state["history"]
        self._current_epoch = state["epoch"]
        model._initial_epoch = state["epoch"]

    def on_train_begin(self, logs=None):
        self._load_model()

    def on_epoch_begin(self, epoch, logs=None):
        keras.utils.set_random_seed((self.seed * 1_000_003 + 7919 * (epoch + 1)) % 2**31)
        if self.data is not None:
            self.data.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            shutil.rmtree(self.backup_dir, ignore_errors=True)


def resumable_fit(model, x, y, *, batch_size, epochs, seed, callbacks=(), stateful=(), **fit_kwargs):
    """``model.fit`` on `EpochShuffled` data, resumable at epoch level inside a run unit.

    Args:
        model: a compiled `keras.Model`.
        x, y: training inputs and targets (arrays, or lists / dicts of arrays).
        batch_size: int, the global batch.
        epochs: int, maximum epochs.
        seed: int, the run's seed (data order and per-epoch reseeding).
        callbacks: every callback of the fit.
        stateful: those of ``callbacks`` whose state must survive a resume
            (see `ResumableTraining`).
        **fit_kwargs: passed to ``model.fit`` (``validation_data``, ``verbose``).

    Returns:
        dict {metric: list of float}: every epoch's logs, those run before a
        resume included.
    """
    data = EpochShuffled(x, y, batch_size, seed)
    directory, restore = next_checkpoint_directories()
    if directory is None:
        fitted = model.fit(data, epochs=epochs, shuffle=False, callbacks=list(callbacks),
                           **fit_kwargs)
        return {k: [float(v) for v in values] for k, values in fitted.history.items()}
    backup = ResumableTraining(directory, seed, data, stateful, restore)
    # last: it restores after the others reset (on_train_begin) and saves after they update
    model.fit(data, epochs=epochs, shuffle=False, callbacks=[*callbacks, backup], **fit_kwargs)
    return backup.history
