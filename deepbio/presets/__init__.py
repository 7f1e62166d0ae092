"""Presets: trained models that ship inside deepbio, usable offline right after ``pip install``.

After KerasHub's presets: each preset is a folder of this package named after
it (``deepbio/presets/ptm-trees/``) that is laid out as the run folder of the
task that made it (so it is a valid ``--model`` for ``deepbio predict`` and a
valid run folder for ``deepbio serve``), plus

* ``preset.json``: name, task, version, whether it is the task's default,
  the files with their sha256, the exact command, seed, commit and library
  versions that built it, its headline figure beside the trivial baseline,
  and a pinned input with the predictions it gave (checked by the tests and
  by ``deepbio presets build``);
* ``CARD.md``: the model card (task and question, data and licence,
  command, figures, intended use, limits, sha256 of every file).

Nothing in a preset is unpickled: the PTM trees are a ``skops`` file loaded
with deepbio's allow-list, Keras models load in safe mode.

Example:
    >>> import deepbio.presets
    >>> [p.name for p in deepbio.presets.list_presets()]
    ['binding-dg', 'motif-basset', 'ptm-network', 'ptm-trees', 'rnamod-vqrna']
    >>> predictor = deepbio.presets.load("ptm-trees")
    >>> predictor.predict_proba(["A" * 24 + "K" + "A" * 24]).shape
    (1, 4)
"""

import dataclasses
import hashlib
import json
from pathlib import Path

from deepbio.core.task import get_task

ROOT = Path(__file__).resolve().parent
"""The folder holding one sub-folder per preset."""


@dataclasses.dataclass(frozen=True)
class Preset:
    """One shipped trained model (see the module docstring).

    Attributes:
        name: str, e.g. ``"ptm-trees"``.
        task: str, the task it serves (``ptm``, ``rnamod``, ``motif``, ``binding``).
        version: str.
        default: bool, the task's default model (``deepbio predict TASK``
            without ``--model``).
        path: `pathlib.Path`, its folder (a run folder of ``task``).
        meta: dict, the whole ``preset.json``.
    """

    name: str
    task: str
    version: str
    default: bool
    path: Path
    meta: dict

    @property
    def files(self):
        """dict relative file name → sha256 (hex) of the model files."""
        return dict(self.meta["files"])

    @property
    def size_bytes(self):
        """int, the bytes of the model files."""
        return sum((self.path / name).stat().st_size for name in self.files)

    @property
    def headline(self):
        """str, the headline figure beside its trivial baseline."""
        return self.meta.get("headline", "")

    def card(self):
        """str, the model card (``CARD.md``)."""
        return (self.path / "CARD.md").read_text(encoding="utf-8")

    def verify(self):
        """Checks every file against its sha256 in ``preset.json``.

        Raises:
            ValueError: a missing file or a sha256 that differs (naming it).
        """
        known = {*self.files, "preset.json", "CARD.md", self.meta["pinned"]["input"]}
        stray = sorted(str(p.relative_to(self.path)) for p in self.path.rglob("*")
                       if p.is_file() and str(p.relative_to(self.path)) not in known
                       and "__pycache__" not in p.parts)
        if stray:  # a loader picks files by name: nothing unchecked may sit beside them
            raise ValueError(f"preset {self.name}: {', '.join(stray)} is not listed in its card; "
                             f"remove it or reinstall deepbio")
        for name, expected in self.files.items():
            path = self.path / name
            if not path.is_file():
                raise ValueError(f"preset {self.name}: file {name} is missing")
            found = sha256(path)
            if found != expected:
                raise ValueError(f"preset {self.name}: {name} has sha256 {found}, its card says "
                                 f"{expected}; reinstall deepbio or rebuild it with 'deepbio "
                                 f"presets build {self.name}'")

    def model_path(self):
        """The path to give ``--model`` (the preset's folder, checked first).

        Raises:
            ValueError: see `verify`.
        """
        self.verify()
        return self.path


def sha256(path):
    """Hex sha256 of a file (read in 1 MiB pieces)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for piece in iter(lambda: handle.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


def list_presets(task=None):
    """The shipped presets, by name.

    Args:
        task: optional str, only this task's presets.

    Returns:
        list of `Preset`.
    """
    presets = []
    for meta_path in sorted(ROOT.glob("*/preset.json")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        preset = Preset(meta["name"], meta["task"], str(meta["version"]), bool(meta.get("default")),
                        meta_path.parent, meta)
        if task is None or preset.task == task:
            presets.append(preset)
    return presets


def get(name):
    """The preset called ``name``.

    Raises:
        ValueError: no such preset (the message lists them).
    """
    for preset in list_presets():
        if preset.name == name:
            return preset
    names = ", ".join(p.name for p in list_presets()) or "none"
    raise ValueError(f"no preset named {name!r}; the presets are: {names} (deepbio presets)")


def default_preset(task, mode="predict"):
    """The preset ``deepbio MODE TASK`` uses without ``--model``, or None when there is none.

    Args:
        task: str.
        mode: str, ``predict`` or ``interpret`` (the PTM saliency maps need the
            network preset, prediction defaults to the calibrated trees).
    """
    presets = list_presets(task)
    chosen = [p for p in presets if mode in p.meta.get("default_modes", ())]
    return (chosen or [p for p in presets if p.default] or [None])[0]


def resolve_model(task, model=None, mode="predict"):
    """What ``--model`` means: a preset name, a path, or (None) the task's default preset.

    A value that names an existing file or folder is a path, even if a
    preset has the same name; otherwise a preset name is looked up.

    Args:
        task: str, the task (``ptm``...).
        model: optional str, the ``--model`` value.
        mode: str, ``predict`` or ``interpret`` (see `default_preset`).

    Returns:
        str, a path to load.

    Raises:
        ValueError: ``model`` is None and ``task`` has no preset, or a preset
            of another task is named, or a preset's files fail their sha256.
    """
    if model is None:
        preset = default_preset(task, mode)
        if preset is None:
            raise ValueError(f"task {task} has no preset: give a trained model with --model")
        return str(preset.model_path())
    inside = _preset_containing(model)
    if inside is not None:  # a path into the installed presets is checked like the name
        inside.verify()
        return model
    names = {p.name for p in list_presets()}
    if Path(model).exists():
        if model in names:
            import sys

            print(f"deepbio: note: {model} is a local file or folder and also a preset name; using "
                  f"the local {model} (give ./{model} to silence this)", file=sys.stderr)
        return model
    if model not in names:
        return model
    preset = get(model)
    if preset.task != task:
        raise ValueError(f"preset {model} is a {preset.task} model, not a {task} model; the {task} "
                         f"presets are: {', '.join(p.name for p in list_presets(task)) or 'none'}")
    return str(preset.model_path())


def _preset_containing(path):
    """The preset whose folder holds ``path`` (a file or the folder itself), or None."""
    try:
        resolved = Path(path).resolve()
        relative = resolved.relative_to(ROOT)
    except (OSError, ValueError):
        return None
    if not relative.parts:
        return None
    return next((p for p in list_presets() if p.path.name == relative.parts[0]), None)


def load(name):
    """Loads a preset's model.

    Args:
        name: str, a preset name (`list_presets`).

    Returns:
        The model: a PTM predictor (``predict_proba(windows)``) for the PTM
        presets, a `keras.Model` otherwise (VQ-RNA, the Basset CNN, the ΔG
        regressor), loaded in safe mode with its compiled state.

    Raises:
        ValueError: an unknown name, or a file failing its sha256.
    """
    preset = get(name)
    folder = preset.model_path()
    if preset.task == "ptm":  # the PTM predictor: trees (skops) or the network with thresholds
        return get_task(preset.task).load_model(folder)
    return get_task(preset.task).load_model(folder / preset.meta["keras_model"])


def runs_folder():
    """A temporary folder of run folders over the default presets, for ``deepbio serve``.

    ``<tmp>/<task>`` is a link to the task's default preset (removed when the
    process exits), so the page serves the presets as it serves a ``runs/``
    folder; each tab names the preset and its card's figures.

    Returns:
        str, the folder.

    Raises:
        ValueError: a preset's files fail their sha256.
    """
    import atexit
    import os
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="deepbio-presets-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for task in sorted({p.task for p in list_presets()}):
        preset = default_preset(task)
        os.symlink(preset.model_path(), folder / task, target_is_directory=True)
    return str(folder)


def preset_of(folder):
    """The `Preset` whose folder ``folder`` is (through links), or None."""
    try:
        meta = json.loads((Path(folder) / "preset.json").read_text(encoding="utf-8"))
        return get(meta["name"])
    except (OSError, ValueError, KeyError):
        return None
