"""Files in and out: atomic output, stale temporaries, inputs from pipes, writable outputs, safe CSVs."""

import contextlib
import json
import math
import os
import re
import shutil
import socket
import stat
import sys
import tempfile
from pathlib import Path


def _pid_namespace():
    """An id of this process's PID namespace (containers sharing a host name differ), or "0"."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "0"


def _owner_tag():
    """``deepbio-<host>_<pid namespace>-<pid>``: who writes a temporary file.

    The host is reduced to [A-Za-z0-9_]; the PID namespace tells apart
    containers that share a host name (a pid is only meaningful inside its
    namespace).
    """
    host = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"
    return f"deepbio-{host}_{_pid_namespace()}-{os.getpid()}"


def _temporary_stem(path):
    """The stem used in the name of ``path``'s temporary files (cut so long names still fit)."""
    return Path(path).stem[:80]


def _alive(pid):
    """Whether process ``pid`` exists on this host."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(path):
    """Removes the temporary files of ``path`` left by killed writers on this host.

    `atomic_path` names its temporary file
    ``.<stem>.deepbio-<host>_<pid namespace>-<pid>.XXXXXXXX<suffix>``
    beside ``path``; a writer killed with SIGKILL cannot remove it. Such a
    file whose host and PID namespace are this process's and whose process
    no longer exists is removed; files of live processes, of other hosts or
    containers (a shared file system) and of any other name are left alone.

    Args:
        path: str or path-like, an output file.

    Returns:
        list of `pathlib.Path`, the files removed.
    """
    path = Path(path)
    host = _owner_tag().split("-")[1]
    pattern = re.compile(rf"\.{re.escape(_temporary_stem(path))}\.deepbio-(?P<host>[A-Za-z0-9_]+)-"
                         rf"(?P<pid>\d+)\.[A-Za-z0-9_]+{re.escape(path.suffix)}")
    removed = []
    try:
        names = os.listdir(path.parent)
    except OSError:
        return removed
    for name in names:
        match = pattern.fullmatch(name)
        if match and match["host"] == host and not _alive(int(match["pid"])):
            with contextlib.suppress(OSError):
                os.unlink(path.parent / name)
                removed.append(path.parent / name)
    return removed


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path; on success it is renamed to ``path``.

    An interrupted or failed write leaves ``path`` untouched (the old file,
    or none), never a truncated one. The temporary file keeps ``path``'s
    suffix, so libraries that dispatch on it (``model.save``, matplotlib)
    work; its name records the writer's host and process, so the next write
    of ``path`` removes what a killed writer left (`remove_stale_temporaries`).

    Args:
        path: str or path-like, the final destination.

    Yields:
        `pathlib.Path` of the temporary file to write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{_temporary_stem(path)}.{_owner_tag()}.",
                                   suffix=path.suffix)
    os.close(handle)
    os.unlink(tmp)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_output_file(path):
    """Checks, before any work, that a file can be written at ``path``.

    Args:
        path: str or path-like, an output file (its folders may not exist yet).

    Raises:
        ValueError: ``path`` is a folder or another non-regular file (a
            device, a pipe), a parent is a file, or its folder does not
            take a new file (read-only, no permission, a pseudo file system
            such as /sys or /proc); the message names the path and why.
    """
    path = Path(path)
    if len(os.fsencode(path.name)) > 255:
        raise ValueError(f"output {path}: the file name is longer than 255 bytes")
    if path.is_dir():
        raise ValueError(f"output {path} is a folder; give a file path (e.g. {path}/predictions.csv)")
    if path.exists() and not path.is_file():
        raise ValueError(f"output {path} is not a regular file (a device or a pipe); give a file path")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"output {path}: {parent} is a file, not a folder")
    try:  # what the final write will do: a hidden file created (and removed) in the folder
        handle, probe = tempfile.mkstemp(dir=parent, prefix=f".{_temporary_stem(path)}.{_owner_tag()}.",
                                         suffix=path.suffix)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ValueError(f"output {path}: cannot write in folder {parent} ({reason})") from None


MAX_SPOOLED_BYTES = 8 * 1024 ** 3
"""The most bytes copied from standard input or a pipe (8 GiB): larger inputs go in a file."""


def _check_stream_head(head, shown):
    """Refuses a stream whose first bytes are neither gzip nor text (``/dev/zero``, ``/dev/urandom``)."""
    if head[:2] == b"\x1f\x8b":
        return
    try:
        head.decode("utf-8")
        bad = b"\x00" in head
    except UnicodeDecodeError as error:
        bad = error.start < len(head) - 3  # not just a character cut at the end of the piece
    if bad:
        raise ValueError(f"{shown} is not text (binary bytes in its first {len(head):,}); give a "
                         f"plain-text or gzip-compressed file")


def _spool(head, source, local, shown):
    """Copies ``head`` then the rest of ``source`` to ``local``, at most `MAX_SPOOLED_BYTES`."""
    written = len(head)
    with open(local, "wb") as out:
        out.write(head)
        while True:
            piece = source.read(1 << 20)
            if not piece:
                break
            written += len(piece)
            if written > MAX_SPOOLED_BYTES:
                raise ValueError(f"{shown} holds more than {MAX_SPOOLED_BYTES:,} bytes; write it to "
                                 f"a file and give its path")
            out.write(piece)


INPUT_KINDS = {stat.S_ISFIFO: "a named pipe", stat.S_ISCHR: "a character device",
               stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}


@contextlib.contextmanager
def readable_input(path, what="input file"):
    """A regular file holding the input named ``path``: itself, or a copy of a stream.

    ``-`` (standard input), a named pipe or a character device (``/dev/null``,
    ``/dev/stdin``) can be read only once, while ``deepbio predict`` reads its
    input twice (check, then score). Such an input is copied, in bounded
    memory, to a temporary file that is removed on exit; errors raised in the
    block that name the copy are re-raised naming ``path`` instead. A regular
    file, a folder or a missing path is yielded as it is (the readers say
    what is wrong with it).

    Args:
        path: str, ``-`` or a path.
        what: str, what the input is, for messages.

    Yields:
        str, a path to read.

    Raises:
        ValueError: a block device or a socket.
    """
    path = str(path)
    if path == "-":
        if sys.stdin is None or sys.stdin.closed:
            raise ValueError("--input -: standard input is closed; pipe the file in, or give its path")
        source, shown = sys.stdin.buffer, "standard input"
    else:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = None
        if mode is None or stat.S_ISREG(mode) or stat.S_ISDIR(mode):
            yield path
            return
        kind = next(name for test, name in INPUT_KINDS.items() if test(mode))
        if kind in ("a block device", "a socket"):
            raise ValueError(f"{what} {path} is {kind}, not a file")
        source, shown = open(path, "rb"), path  # noqa: SIM115  (closed below)
    head = source.read(1 << 16)
    _check_stream_head(head, shown)
    folder = tempfile.mkdtemp(prefix="deepbio-input-")
    try:
        name = "stdin.csv" if head[:1] not in (b">", b"\x1f", b"") and path == "-" else "stdin.fa"
        local = os.path.join(folder, name if path == "-" else os.path.basename(path) or "input")
        _spool(head, source, local, shown)
        if source is not sys.stdin.buffer:
            source.close()
        try:
            yield local
        except (ValueError, OSError) as error:
            if local not in str(error):
                raise
            raise type(error)(str(error).replace(local, shown)) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV injection")."""

_HARMLESS = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"  # a plain number
                       r"|-+[A-Z*]*-*")  # a sequence window padded with '-' (PTM windows)


def neutralise_cell(value):
    """``value`` made safe to open in a spreadsheet (CSV/formula injection).

    A str that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return gets a leading single quote (``'=HYPERLINK(...)`` shows as text),
    unless it is a plain number (``-1.5``) or a '-'-padded upper-case
    sequence window (``----MKT``), which no spreadsheet runs. Anything else
    (other str, numbers, None) is returned unchanged.

    Args:
        value: a cell.

    Returns:
        The cell, prefixed with ``'`` where needed.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and \
            not _HARMLESS.fullmatch(value):
        return "'" + value
    return value


def neutralise_formulas(frame):
    """A copy of ``frame`` whose text cells and column names pass through `neutralise_cell`.

    Numeric columns are left as they are; only object (text) columns are
    mapped, so plain ids and sequences stay unchanged.

    Args:
        frame: `pandas.DataFrame`.

    Returns:
        `pandas.DataFrame` (``frame`` itself when nothing needed a change).
    """
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    text = [c for c in frame.columns
            if not (is_numeric_dtype(frame[c].dtype) or is_bool_dtype(frame[c].dtype))]
    risky = [c for c in text if frame[c].map(lambda v: neutralise_cell(v) is not v).any()]
    names = [neutralise_cell(c) for c in frame.columns]
    if not risky and names == list(frame.columns):
        return frame
    frame = frame.copy()
    for column in risky:
        frame[column] = frame[column].map(neutralise_cell)
    frame.columns = names
    return frame


def write_csv(frame, path):
    """Writes a pandas DataFrame as CSV without its index, atomically.

    Text cells that a spreadsheet would run as a formula are neutralised
    first (`neutralise_formulas`).
    """
    frame = neutralise_formulas(frame)
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


def terminate_like_interrupt():
    """SIGTERM (timeout, Slurm, Snakemake) ends a command as Ctrl-C does: clean-up code runs, so
    temporary files and copied inputs are removed (only from the main thread)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(*_):
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError, OSError):
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, interrupt)
