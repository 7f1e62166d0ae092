"""Epoch-level resume of ``model.fit``: a killed training restarts at its last finished epoch.

`deepbio.core.run_folder.RunFolder.checkpointed` runs each unit of work (a
fold, a model) once; inside a unit, `resumable_fit` checkpoints every epoch
into the unit's folder (``checkpoints/<unit>.steps/fit<n>/``, the folder
`deepbio.core.distribute.checkpoint_directory` names for the unit's
n-th training), so a run killed mid-unit loses at most one epoch. The resumed training is the same
computation as an uninterrupted one:

- `EpochShuffled` feeds the training data in an order drawn from
  ``(seed, epoch)`` alone (not from how many epochs this process has run);
- `ResumableTraining` (a `keras.callbacks.BackupAndRestore`) saves, in one
  atomically written file, every model variable (the dropout seed-generator
  states too, which ``save_weights`` leaves out), the optimizer's variables,
  the state of the stateful callbacks (early stopping, learning-rate
  schedules, best-weight selectors) and the history so far.

Epoch states are ``state.zip`` archives of JSON and NumPy arrays
(`deepbio.core.safe_files.write_tree`), read back with ``allow_pickle=False``:
a tampered state cannot run code, and a ``state.pkl`` of an older deepbio is
refused (rerun with ``--restart``).

Outside a unit (no ``checkpoints/`` folder, e.g. library use) `resumable_fit`
is a plain ``model.fit`` on the same `EpochShuffled` data.
"""

import shutil
from pathlib import Path

import keras
import numpy as np

# attributes that make up the state of Keras's stateful callbacks
CALLBACK_STATE = {
    "EarlyStopping": ("wait", "stopped_epoch", "best", "best_weights", "best_epoch"),
    "ReduceLROnPlateau": ("wait", "cooldown_counter", "best"),
}


def callback_states(callbacks, strict=False):
    """The state of callbacks: ``get_state()``, the attributes of `CALLBACK_STATE`, else None.

    Raises:
        ValueError: ``strict`` and a callback whose state is not known.
    """
    states = []
    for callback in callbacks:
        if hasattr(callback, "get_state"):
            states.append(callback.get_state())
            continue
        names = CALLBACK_STATE.get(type(callback).__name__)
        if names is None and strict:
            raise ValueError(f"{type(callback).__name__}: no get_state()/set_state() and not one "
                             f"of {', '.join(CALLBACK_STATE)}; its state cannot be checkpointed")
        states.append(names and {n: getattr(callback, n, None) for n in names})
    return states


def set_callback_states(callbacks, states):
    """Restores what `callback_states` returned."""
    for callback, saved in zip(callbacks, states, strict=True):
        if saved is None:
            continue
        if hasattr(callback, "set_state"):
            callback.set_state(saved)
        else:
            for name, value in saved.items():
                setattr(callback, name, value)


def _nest(value, rows):
    if isinstance(value, dict):
        return {k: _nest(v, rows) for k, v in value.items()}
    if isinstance(value, (list, tuple)):  # tuples: Keras's PyDataset adapter refuses lists
        return tuple(_nest(v, rows) for v in value)
    return value[rows]


def _length(value):
    if isinstance(value, dict):
        return _length(next(iter(value.values())))
    if isinstance(value, (list, tuple)):
        return _length(value[0])
    return len(value)


STATE_FILE = "state.zip"
"""File name of an epoch state in its training folder."""
RESTART = "rerun the same command with --restart to start afresh"


def write_state(state, path):
    """Saves ``state`` to ``path`` atomically (a temporary file fsynced, then renamed).

    Args:
        state: dict of JSON values and NumPy arrays (lists, tuples and
            dicts of them); see `deepbio.core.safe_files.write_tree`.
        path: the file (``.../state.zip``).
    """
    from deepbio.core.safe_files import write_tree

    write_tree(state, path)


def read_state(path, restore_path=None, keys=()):
    """The state `write_state` saved at ``restore_path`` (default ``path``), or None.

    Temporaries of a save cut by a kill, beside ``path``, are removed.

    Args:
        path: where this process saves its state.
        restore_path: where to read it from (default ``path``).
        keys: names the state (a dict) must hold.

    Raises:
        ValueError: the file is not such a state (tampered with, damaged) or
            is the pickled ``state.pkl`` of an older deepbio (not opened).
    """
    from deepbio.core.safe_files import read_tree, refuse_pickle

    path = Path(path)
    if path.parent.is_dir():
        for stray in path.parent.glob(f".{path.stem}.*"):
            if stray.is_file():
                stray.unlink()
    restore_path = Path(restore_path or path)
    legacy = restore_path.with_suffix(".pkl")  # the same state, pickled by an older deepbio
    if not restore_path.is_file():
        if legacy.is_file():
            refuse_pickle(legacy, RESTART)
        return None
    state = read_tree(restore_path, RESTART)
    if keys and (not isinstance(state, dict) or not set(keys) <= set(state)):
        raise ValueError(f"{restore_path} is not an epoch state saved by deepbio; {RESTART}")
    return state


def assign_saved(variables, values, path):
    """Assigns saved arrays to ``variables``, one each, after checking count and shapes.

    Raises:
        ValueError: the saved arrays belong to another model (``path`` named).
    """
    variables, values = list(variables), list(values)
    shapes = [tuple(v.shape) for v in variables]
    saved = [tuple(np.shape(v)) for v in values]
    if shapes != saved:
        raise ValueError(f"{path}: this epoch checkpoint holds another model ({len(saved)} "
                         f"arrays, this model has {len(shapes)} variables or other shapes); "
                         f"{RESTART}")
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)


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
        self.n = _length(x)
        self.epoch, self._order_epoch, self._order = 0, None, None

    def __len__(self):
        return (self.n + self.batch_size - 1) // self.batch_size

    def __getitem__(self, index):
        if self._order_epoch != self.epoch:
            self._order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
            self._order_epoch = self.epoch
        rows = np.sort(self._order[index * self.batch_size:(index + 1) * self.batch_size])
        x = _nest(self.x, rows)
        return x if self.y is None else (x, _nest(self.y, rows))


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
    from deepbio.core.distribute import next_checkpoint_directories

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


class LoopCheckpoint:
    """Epoch-level checkpoint of a custom training loop (masked-LM pre-training, ΔG fine-tuning).

    The loops that stay outside ``model.fit`` (several optimizers, batches
    built per step) save after every epoch, in one atomically written
    ``state.zip`` (`write_state`): every model variable (dropout
    seed-generator states included), every optimizer's variables, the state
    of the NumPy generator that draws their batches, and the history. A
    restored loop therefore continues with exactly the computation an
    uninterrupted one would have made. Inside a run unit the folder is the
    unit's next training folder (`deepbio.core.distribute.
    next_checkpoint_directories`); outside one, nothing is saved.

    Args:
        model: the `keras.Model` trained.
        optimizers: list of Keras optimizers, built.
        rng: the loop's `numpy.random.Generator` (its state is saved and
            restored in place).
    """

    def __init__(self, model, optimizers, rng):
        from deepbio.core.distribute import next_checkpoint_directories

        self.model, self.optimizers, self.rng = model, list(optimizers), rng
        directory, restore = next_checkpoint_directories()
        self.path = directory and Path(directory) / STATE_FILE
        self.restore_path = restore and Path(restore) / STATE_FILE

    def restore(self):
        """Restores the last saved epoch, if any.

        Returns:
            ``(epoch, history)``: epochs already done (0 when nothing was
            saved) and the saved history (None then).
        """
        state = (read_state(self.path, self.restore_path,
                            ("epoch", "history", "variables", "optimizers", "rng"))
                 if self.path else None)
        if state is None:
            return 0, None
        saved = [v for optimizer in self.optimizers for v in optimizer.variables]
        if (len(state["variables"]) != len(self.model.variables)
                or len(state["optimizers"]) != len(saved)):
            raise ValueError(f"{self.restore_path}: this epoch checkpoint holds another model "
                             f"({len(state['variables'])} variables, {len(state['optimizers'])} "
                             f"optimizer variables; this one has {len(self.model.variables)}, "
                             f"{len(saved)}); rerun with --restart")
        assign_saved(self.model.variables, state["variables"], self.restore_path)
        assign_saved(saved, state["optimizers"], self.restore_path)
        self.rng.bit_generator.state = state["rng"]
        return state["epoch"], state["history"]

    def save(self, epoch, history):
        """Saves the state after ``epoch`` finished epochs (no-op outside a run unit)."""
        if not self.path:
            return
        write_state({"epoch": int(epoch), "history": history,
                     "variables": [np.asarray(v.numpy()) for v in self.model.variables],
                     "optimizers": [np.asarray(v.numpy()) for optimizer in self.optimizers
                                    for v in optimizer.variables],
                     "rng": self.rng.bit_generator.state}, self.path)
