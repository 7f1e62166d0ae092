"""Files deepbio reads back without running code from them.

Nothing deepbio opens is unpickled. What a run saves and later reads is one
of:

* a scikit-learn-style object (the PTM trees / linear / stack models, their
  calibrators, a fitted PSTAAP encoder) saved with ``skops.io`` and loaded
  with the fixed allow-list `TRUSTED_TYPES` (on top of skops' own default
  list of scikit-learn and NumPy types); any other type in the file is
  refused before anything is built (`dump_object`, `load_object`);
* a tree of plain values (`write_tree`, `read_tree`): one zip archive
  holding ``tree.json`` (dicts, lists, tuples, str, int, float, bool, None),
  NumPy arrays as ``.npy`` members read with ``allow_pickle=False``, Keras
  models as ``.keras`` members loaded with ``safe_mode=True`` (no ``Lambda``
  code), and skops members as above. Run checkpoints (finished units and
  epoch states) are such trees.

Pickles of older deepbio versions are refused by name, unopened
(`refuse_pickle`).
"""

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from deepbio.core.io import atomic_path
from deepbio.core.loading import register_custom_objects

TRUSTED_TYPES = (
    "Feature_extraction_algorithms.pstaap.PSTAAP",
    "deepbio.ptm.predictor.WindowEnsemble",
    "deepbio.ptm.calibration.LabelCalibrator",
    "deepbio.ptm.trees.PowersetClassifier",
    "deepbio.ptm.trees._Columns",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)
"""Types a skops file may hold besides skops' defaults (scikit-learn estimators, NumPy types).

A fixed list: a file naming any other type is refused unread. Each is a
plain data holder whose construction runs no code from the file.
"""

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
TREE_FORMAT = "deepbio-tree-1"


def refuse_pickle(path, remedy):
    """Raises the one-line error for a pickle (a file of an older deepbio), never opening it.

    Args:
        path: the pickle's path.
        remedy: str, how to make a new file (``retrain with 'deepbio train ptm'``).

    Raises:
        ValueError: always.
    """
    raise ValueError(f"{path} is a pickle (.pkl/.joblib, as older deepbio versions saved); "
                     f"deepbio does not open pickles, since loading one can run code: {remedy}")


MOVED_MODULES = {
    "deepbio.models.ptm.predictor": "deepbio.ptm.predictor",
    "deepbio.training.calibration": "deepbio.ptm.calibration",
    "deepbio.training.ptm_trees": "deepbio.ptm.trees",
}
"""Where the trusted types of files saved before deepbio's one-folder-per-method layout live now.

`load_object` renames them in the file's schema (data only) before checking
the allow-list, so PTM models saved by earlier versions still load.
"""


def renamed_modules(blob):
    """Skops bytes ``blob`` with the ``__module__`` names of `MOVED_MODULES` rewritten.

    Returns ``blob`` itself when nothing moved (or it is not a skops zip; the
    caller reports that).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            schema = json.loads(archive.read("schema.json"))
            members = [(info, archive.read(info.filename)) for info in archive.infolist()]
    except (zipfile.BadZipFile, KeyError, ValueError):
        return blob
    moved = []

    def rename(node):
        if isinstance(node, dict):
            if node.get("__module__") in MOVED_MODULES:
                node["__module__"] = MOVED_MODULES[node["__module__"]]
                moved.append(node["__module__"])
            for value in node.values():
                rename(value)
        elif isinstance(node, list):
            for value in node:
                rename(value)

    rename(schema)
    if not moved:
        return blob
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info, data in members:
            if info.filename == "schema.json":
                data = json.dumps(schema).encode("utf-8")
            archive.writestr(info, data)
    return buffer.getvalue()


def _untrusted(blob):
    import skops.io as sio

    return sorted(set(sio.get_untrusted_types(data=blob)) - set(TRUSTED_TYPES))


def dump_object(obj, compression=zipfile.ZIP_STORED):
    """``obj`` as skops bytes; every type in it must be trusted on load.

    Args:
        obj: the object (see `TRUSTED_TYPES`).
        compression: a `zipfile` compression constant for the archive.

    Raises:
        ValueError: ``obj`` holds a type outside `TRUSTED_TYPES` and skops'
            defaults (it could not be read back).
    """
    import skops.io as sio

    blob = sio.dumps(obj, compression=compression)
    untrusted = _untrusted(blob)
    if untrusted:
        raise ValueError(f"a {type(obj).__name__} holds types deepbio does not trust on load "
                         f"({', '.join(untrusted)}); add them to "
                         f"deepbio.core.safe_files.TRUSTED_TYPES if they are plain data")
    return blob


def load_object(blob, name):
    """The object of skops bytes ``blob``, refusing any type outside the allow-list.

    Args:
        blob: bytes of a skops file.
        name: str, the file (for messages).

    Raises:
        ValueError: not a skops file, or one naming an untrusted type (nothing
            of it is built then).
    """
    import skops.io as sio

    blob = renamed_modules(blob)
    try:
        untrusted = _untrusted(blob)
    except Exception as error:  # noqa: BLE001  (zip, JSON and schema errors alike)
        raise ValueError(f"{name} is not a skops file saved by deepbio "
                         f"({type(error).__name__}: {_short(error)})") from None
    if untrusted:
        raise ValueError(f"{name} holds types deepbio does not trust ({', '.join(untrusted[:4])}), "
                         f"so it was not loaded")
    try:
        return sio.loads(blob, trusted=list(TRUSTED_TYPES))
    except Exception as error:  # noqa: BLE001
        raise ValueError(f"{name} could not be read as a skops file saved by deepbio "
                         f"({type(error).__name__}: {_short(error)})") from None


def _short(error, limit=200):
    return " ".join(str(error).split())[:limit]


def unsafe_keras_problem(error):
    """What a failed safe-mode ``keras.models.load_model`` says, in a few words."""
    text = str(error)
    if "Lambda" in text and "safe_mode" in text:
        return ("holds a Lambda layer (Python code stored in the file), which deepbio does not "
                "run: models are loaded in Keras's safe mode")
    return f"does not load in safe mode ({type(error).__name__}: {_short(error)})"


def write_bytes_atomically(data, path):
    """Writes ``data`` to ``path`` through a temporary file fsynced, then renamed."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())


# -- trees of plain values ---------------------------------------------------------------------
def _is_keras_model(value):
    import sys

    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.Model)


def _save_keras(model):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return path.read_bytes()


def _encode(value, members):
    """JSON form of ``value``; arrays, models and objects go to ``members`` {name: bytes}."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise ValueError(f"an object array ({array.shape}) cannot be saved without pickle")
        name = f"arrays/{len(members)}.npy"
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        members[name] = buffer.getvalue()
        return {"$array": name, "scalar": isinstance(value, np.generic)}
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, members) for v in value]}
    if isinstance(value, list):
        return [_encode(v, members) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _encode(v, members) for k, v in value.items()}
        return {"$dict": [[_encode(k, members), _encode(v, members)] for k, v in value.items()]}
    if _is_keras_model(value):
        name = f"models/{len(members)}.keras"
        members[name] = _save_keras(value)
        return {"$keras": name}
    name = f"objects/{len(members)}.skops"
    members[name] = dump_object(value)
    return {"$skops": name}


def tree_bytes(value):
    """``value`` (see the module doc) as the bytes of a zip archive."""
    members = {}
    tree = {"format": TREE_FORMAT, "value": _encode(value, members)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("tree.json", json.dumps(tree))
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def write_tree(value, path):
    """Saves ``value`` atomically to ``path`` (a zip archive, see the module doc).

    Args:
        value: nested dicts / lists / tuples of str, int, float, bool, None,
            NumPy arrays and scalars, Keras models and skops-able objects of
            `TRUSTED_TYPES`.
        path: the file to write.

    Raises:
        ValueError: a value that cannot be saved without pickle.
    """
    write_bytes_atomically(tree_bytes(value), path)


class _Reader:
    """Decodes one archive's ``tree.json``, naming ``path`` in every error."""

    def __init__(self, archive, path):
        self.archive, self.path = archive, path

    def member(self, name):
        if not isinstance(name, str) or name not in self.archive.namelist():
            raise ValueError(f"names a member {name!r} it does not hold")
        return self.archive.read(name)

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "$array" in value:
            array = np.load(io.BytesIO(self.member(value["$array"])), allow_pickle=False)
            return array[()] if value.get("scalar") else array
        if "$tuple" in value:
            return tuple(self.decode(v) for v in value["$tuple"])
        if "$dict" in value:
            return {_hashable(self.decode(k)): self.decode(v) for k, v in value["$dict"]}
        if "$keras" in value:
            return _load_keras(self.member(value["$keras"]))
        if "$skops" in value:
            return load_object(self.member(value["$skops"]), f"member {value['$skops']}")
        if any(k.startswith("$") for k in value):
            raise ValueError(f"unknown entry {sorted(value)}")
        return {k: self.decode(v) for k, v in value.items()}


def _hashable(key):
    return tuple(_hashable(k) for k in key) if isinstance(key, (list, tuple)) else key


def _load_keras(data):
    """A Keras model from ``.keras`` bytes, in safe mode (compiled if its compile config loads)."""
    import keras

    register_custom_objects()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        path.write_bytes(data)
        try:
            return keras.models.load_model(path, safe_mode=True)
        except Exception:  # noqa: BLE001  (e.g. a loss closure: load it uncompiled, as pickle did)
            pass
        try:
            return keras.models.load_model(path, compile=False, safe_mode=True)
        except Exception as error:  # noqa: BLE001  (a Lambda layer, a damaged archive...)
            raise ValueError(f"a Keras model it holds {unsafe_keras_problem(error)}") from None


def read_tree(path, remedy):
    """The value `write_tree` saved at ``path``; nothing in the file runs.

    Args:
        path: the archive.
        remedy: str, what the user can do about a bad file (ends the message).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: a pickle, or a file that is not such an archive or holds
            anything outside it (an object array, an untrusted type, a Keras
            ``Lambda`` layer): one line naming ``path``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    try:
        with zipfile.ZipFile(path) as archive:
            tree = json.loads(archive.read("tree.json"))
            if not isinstance(tree, dict) or tree.get("format") != TREE_FORMAT:
                raise ValueError(f"not a {TREE_FORMAT} archive")
            return _Reader(archive, path).decode(tree["value"])
    except (ValueError, TypeError, KeyError, AttributeError, OSError, EOFError,
            zipfile.BadZipFile, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not a checkpoint saved by deepbio ({_short(error, 400)}); "
                         f"{remedy}") from None
