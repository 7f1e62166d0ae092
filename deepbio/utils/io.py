"""Atomic output: write to a temporary file beside the target, then rename."""

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path; on success it is renamed to ``path``.

    An interrupted or failed write leaves ``path`` untouched (the old file,
    or none), never a truncated one. The temporary file keeps ``path``'s
    suffix, so libraries that dispatch on it (``model.save``, matplotlib)
    work.

    Args:
        path: str or path-like, the final destination.

    Yields:
        `pathlib.Path` of the temporary file to write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    os.unlink(tmp)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _strict_json(obj):
    """``obj`` with NaN / ±inf floats (not valid JSON) replaced by None, NumPy scalars by Python ones."""
    if isinstance(obj, dict):
        return {key: _strict_json(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict_json(value) for value in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(obj, path):
    """Writes ``obj`` as indented, strictly valid JSON (NaN and inf become null), atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(_strict_json(obj), indent=2, sort_keys=False,
                                        allow_nan=False) + "\n")


def write_csv(frame, path):
    """Writes a pandas DataFrame as CSV without its index, atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def save_figure(fig, stem, formats=("svg", "png"), dpi=150):
    """Saves a matplotlib figure once per format, atomically, and closes it.

    Args:
        fig: `matplotlib.figure.Figure`.
        stem: str or path-like, the path without suffix (``out/Am_logo``).
        formats: iterable of str, file suffixes matplotlib understands.
        dpi: int, resolution of raster formats.

    Returns:
        list of `pathlib.Path`, the files written.
    """
    import matplotlib.pyplot as plt

    written = []
    for suffix in formats:
        path = Path(f"{stem}.{suffix}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi)
        written.append(path)
    plt.close(fig)
    return written
