"""Loading a trained model given by a user, with errors that say what is wrong."""

import zipfile
from pathlib import Path
import deepbio

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def model_file(path, task):
    """The model file ``path`` names: the file itself, or a run folder's ``model.keras``.

    Args:
        path: str or path-like, a model file or a run folder holding
            ``model.keras``.
        task: str, the task name used in messages.

    Returns:
        `pathlib.Path` of the file (not checked further, see `load_task_model`).

    Raises:
        FileNotFoundError: no such file or folder.
        ValueError: a folder without ``model.keras`` (the message lists the
            model files it holds).
    """
    path = Path(path)
    if path.is_dir():
        if (path / "model.keras").is_file():
            return path / "model.keras"
        found = sorted(str(p.relative_to(path)) for suffix in MODEL_SUFFIXES
                       for p in path.glob(f"**/*{suffix}"))[:5]
        listed = (f"; it holds {', '.join(found)}" if found else
                  f" nor any {', '.join(MODEL_SUFFIXES)} file")
        raise ValueError(f"model {path} is a folder with no model.keras{listed}; give the model "
                         f"file itself")
    if not path.is_file():
        raise FileNotFoundError(f"model {path} not found; train one with 'deepbio train {task}'")
    return path


def _check_model_bytes(path):
    """A ValueError naming ``path`` when its bytes cannot be a Keras model file."""
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"model {path} is empty (0 bytes); save or copy the model again")
    with open(path, "rb") as handle:
        head = handle.read(8)
    suffix = path.suffix.lower()
    if suffix == ".keras":
        if head[:2] != b"PK":
            raise ValueError(f"model {path} is not a .keras model (a .keras file is a zip "
                             f"archive; this one starts with {head[:8]!r})")
        if not zipfile.is_zipfile(path):
            raise ValueError(f"model {path} is a damaged or truncated .keras archive ({size} bytes); "
                             f"copy or save it again")
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise ValueError(f"model {path} is a damaged .keras archive ({error})") from None
        if "config.json" not in names:
            raise ValueError(f"model {path} is a zip archive but not a .keras model (no "
                             f"config.json inside)")
    elif head != HDF5_SIGNATURE:
        raise ValueError(f"model {path} is not an HDF5 ({suffix}) model file")


def register_custom_objects():
    """Registers deepbio's custom Keras objects (a model of any task then deserializes)."""
    deepbio.register_custom_objects()


def load_task_model(path, task, accepts=None, compile=False):
    """Loads ``path`` as a Keras model of ``task``.

    Args:
        path: str or path-like, a ``.keras`` (or legacy ``.h5``) file, or a
            run folder holding ``model.keras``.
        task: str, the task name used in messages.
        accepts: optional callable ``model -> str | None``: None when the
            model fits the task, else what does not fit.
        compile: bool, passed to ``keras.models.load_model``.

    Returns:
        The `keras.Model`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a folder without ``model.keras``, a file that is not a
            (complete) Keras model, one that needs unsafe deserialization
            (a ``Lambda`` layer: it is loaded in safe mode, so no code in the
            file runs), or a model of another task (the message names the
            file).
    """
    path = model_file(path, task)
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ValueError(f"model {path} is not a Keras model file (expected {', '.join(MODEL_SUFFIXES)})")
    _check_model_bytes(path)
    import keras

    register_custom_objects()
    try:
        model = keras.models.load_model(path, compile=compile, safe_mode=True)
    except Exception as error:  # noqa: BLE001  (zip, HDF5, config and registry errors alike)
        if "Lambda" in str(error) and "safe_mode" in str(error):
            raise ValueError(f"model {path} holds a Keras Lambda layer (Python code stored in the "
                             f"file), which deepbio does not run (models are loaded in safe "
                             f"mode); save the model without Lambda layers") from None
        detail = " ".join(str(error).split())[:200]
        raise ValueError(f"model {path} could not be loaded as a Keras model; is the file complete "
                         f"and saved by deepbio? ({type(error).__name__}: {detail})") from None
    problem = accepts(model) if accepts else None
    if problem:
        raise ValueError(f"model {path} is not a {task} model: {problem}")
    return model
