"""Epoch checkpoints of a training: where they go, what they hold, how they are read back.

`deepbio.core.run_folder.RunFolder.checkpointed` runs each unit of work (a
fold, a model) inside a `checkpoint_directory` block; every training in the
unit asks `next_checkpoint_directories` for its own folder
(``checkpoints/<unit>.steps/fit<n>/``) and saves there, after every epoch,
one ``state.zip`` (`write_state`: JSON and NumPy arrays written atomically by
`deepbio.core.safe_files.write_tree`, read back with ``allow_pickle=False``).
A tampered state cannot run code, and a ``state.pkl`` of an older deepbio is
refused (rerun with ``--restart``).

Two savers use these pieces: `deepbio.core.resume.ResumableTraining` (the
``model.fit`` path) and `LoopCheckpoint` (the step loops of
`deepbio.core.engine.run_loop`). This module imports no other training
module, so the arrows run one way: engine → resume / distribute → checkpoint.
"""

import contextlib
import shutil
from pathlib import Path

import numpy as np

from deepbio.core.safe_files import read_tree, refuse_pickle, write_tree

STATE_FILE = "state.zip"
"""File name of an epoch state in its training folder."""
RESTART = "rerun the same command with --restart to start afresh"

# attributes that make up the state of Keras's stateful callbacks
CALLBACK_STATE = {
    "EarlyStopping": ("wait", "stopped_epoch", "best", "best_weights", "best_epoch"),
    "ReduceLROnPlateau": ("wait", "cooldown_counter", "best"),
}

_DIRECTORIES = []  # stack of [write_dir, restore_dir, calls] set by `checkpoint_directory`


@contextlib.contextmanager
def checkpoint_directory(path, restore_path=None):
    """Makes the trainings in the block checkpoint under ``path``.

    The n-th training in the block (each asks `next_checkpoint_directories`)
    uses ``path / f"fit{n}"``, so two trainings in one unit of work never
    share a checkpoint. A worker that is not the chief writes to its own
    (temporary) ``path`` but resumes from the chief's ``restore_path``, as in
    TensorFlow's multi-worker tutorial; that needs the chief's folder on a
    file system every worker reads.

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


def remove_checkpoints(path):
    """Deletes a unit's folder of epoch checkpoints (after the unit finished); None: nothing."""
    if path is not None and Path(path).exists():
        shutil.rmtree(path, ignore_errors=True)


def write_state(state, path):
    """Saves ``state`` to ``path`` atomically (a temporary file fsynced, then renamed).

    Args:
        state: dict of JSON values and NumPy arrays (lists, tuples and
            dicts of them); see `deepbio.core.safe_files.write_tree`.
        path: the file (``.../state.zip``).
    """
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


class LoopCheckpoint:
    """Epoch-level checkpoint of a step loop (`deepbio.core.engine.run_loop`).

    After every epoch the loop saves one atomically written ``state.zip``
    (`write_state`): every model variable (dropout seed-generator states
    included), every optimizer's variables, the state of the NumPy generator
    that draws its batches (if any), the history and the loop's own state
    (its callbacks'). A restored loop therefore continues with exactly the
    computation an uninterrupted one would have made. Inside a run unit the
    folder is the unit's next training folder (`next_checkpoint_directories`,
    or the ``directory`` given); outside one, nothing is saved.

    Args:
        model: the `keras.Model` trained.
        optimizers: list of Keras optimizers, built.
        rng: optional `numpy.random.Generator` of the loop (its state is
            saved and restored in place).
        directory: optional folder to save in (default: the unit's next one).
        restore_directory: optional folder to resume from (default
            ``directory``; a non-chief worker resumes from the chief's).
    """

    KEYS = ("epoch", "history", "variables", "optimizers", "rng")

    def __init__(self, model, optimizers, rng=None, directory=None, restore_directory=None):
        self.model, self.optimizers, self.rng = model, list(optimizers), rng
        if directory is None:
            directory, restore_directory = next_checkpoint_directories()
        restore_directory = restore_directory or directory
        self.path = directory and Path(directory) / STATE_FILE
        self.restore_path = restore_directory and Path(restore_directory) / STATE_FILE

    def restore(self):
        """Restores the last saved epoch, if any.

        Returns:
            ``(epoch, history, loop_state)``: epochs already done (0 when
            nothing was saved), the saved history (dict {name: list of
            float}; None then) and the loop's own saved state (None then).

        Raises:
            ValueError: the state holds another model, or is not one deepbio
                saved (see `read_state`).
        """
        state = read_state(self.path, self.restore_path, self.KEYS) if self.path else None
        if state is None:
            return 0, None, None
        saved = [v for optimizer in self.optimizers for v in optimizer.variables]
        if (len(state["variables"]) != len(self.model.variables)
                or len(state["optimizers"]) != len(saved)):
            raise ValueError(f"{self.restore_path}: this epoch checkpoint holds another model "
                             f"({len(state['variables'])} variables, {len(state['optimizers'])} "
                             f"optimizer variables; this one has {len(self.model.variables)}, "
                             f"{len(saved)}); {RESTART}")
        assign_saved(self.model.variables, state["variables"], self.restore_path)
        assign_saved(saved, state["optimizers"], self.restore_path)
        if self.rng is not None:
            self.rng.bit_generator.state = state["rng"]
        history = state["history"]
        if isinstance(history, list):  # a state of the loops before `run_loop`: the losses
            history = {"loss": history}
        return state["epoch"], history, state.get("loop")

    def save(self, epoch, history, loop_state=None):
        """Saves the state after ``epoch`` finished epochs (no-op outside a run unit).

        Args:
            epoch: int, finished epochs.
            history: dict {name: list of float}.
            loop_state: optional JSON values and arrays the loop restores
                itself (`restore`'s third value).
        """
        if not self.path:
            return
        write_state({"epoch": int(epoch), "history": history,
                     "variables": [np.asarray(v.numpy()) for v in self.model.variables],
                     "optimizers": [np.asarray(v.numpy()) for optimizer in self.optimizers
                                    for v in optimizer.variables],
                     "rng": None if self.rng is None else self.rng.bit_generator.state,
                     "loop": loop_state}, self.path)
