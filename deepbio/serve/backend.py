"""The models behind ``deepbio serve``, without Gradio: inputs, scratch files, the tabs' loading.

The page knows no task by name. `load_services` discovers the tasks
(`deepbio.core.task.discover_tasks`: deepbio's own folders and the
``deepbio.tasks`` entry points), keeps those whose ``web`` names a tab
(``"module:object"``, a `deepbio.serve.tab.WebTab` subclass, imported only
here) and loads each tab over ``<runs>/<task name>/``: a runs folder, or the
presets' folder (`deepbio.presets.runs_folder`) when ``deepbio serve`` has no
``--runs``. This module also holds what every tab shares: the page-wide
`LIMITS`, a scratch folder per tab, `parse_text` (pasted or uploaded FASTA)
and `bounded_upload`. Every user error is a ``ValueError`` whose message is
shown in the page.
"""

import atexit
import importlib
import os
import shutil
import tempfile
from pathlib import Path

from deepbio.core.task import discover_tasks
from deepbio.data.fasta import parse_fasta_text, read_text

#: Page-wide input limits (each tab adds its own, `WebTab.limits`), named in every refusal.
LIMITS = {"characters": 200_000, "upload_bytes": 5_000_000}


def scratch_folder():
    """A scratch folder for a tab's files, removed when the process exits."""
    path = Path(tempfile.mkdtemp(prefix="deepbio-serve-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def bounded_upload(upload):
    """The text of an uploaded file, read as a stream that stops past ``LIMITS["characters"]``.

    A small gzip file that inflates to gigabytes (a decompression bomb) is
    refused after at most the limit plus one piece (1 MiB) was read.

    Args:
        upload: str or Path, the uploaded file (plain or gzip).

    Returns:
        str, its text.

    Raises:
        ValueError: over the limit (naming the file), or not text.
    """
    try:
        return read_text(upload, "uploaded file", max_bytes=LIMITS["characters"])
    except ValueError as error:
        if "holds more than" not in str(error):
            raise
        raise ValueError(f"uploaded file {Path(upload).name} has more than "
                         f"{LIMITS['characters']:,} characters (decompressed); the limit is "
                         f"{LIMITS['characters']:,} (use 'deepbio predict' for larger inputs)") \
            from None


def parse_text(text, what="sequence", upload=None):
    """``(ids, sequences)`` of pasted FASTA or a plain sequence (or an uploaded file).

    Args:
        text: str, FASTA (``>name`` lines) or one bare sequence (whitespace ignored).
        what: str, what is expected, for messages ("protein").
        upload: optional path of an uploaded file, read instead of ``text``.

    Returns:
        ``(ids, sequences)``: two lists of str (a bare sequence is ``"query"``, upper-cased).

    Raises:
        ValueError: empty, too long, not FASTA nor a plain sequence, or bad FASTA.
    """
    source = "input"
    if upload:
        source = f"uploaded file {Path(upload).name}"
        text = bounded_upload(upload)
    text = text or ""
    if len(text) > LIMITS["characters"]:
        raise ValueError(f"{source} has {len(text):,} characters; the limit is "
                         f"{LIMITS['characters']:,} (use 'deepbio predict' for larger inputs)")
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"the input is empty: paste a {what} (FASTA or the bare sequence)")
    if stripped.startswith(">"):
        return parse_fasta_text(stripped, source, unique_ids=True)
    joined = "".join(stripped.split())
    bad = next((i for i, c in enumerate(joined) if not (c.isalpha() or c in "-*")), None)
    if bad is not None:
        raise ValueError(f"{source} is neither FASTA (no '>' header line) nor a plain {what}: "
                         f"character {joined[bad]!r} at position {bad + 1}; paste FASTA or the "
                         f"bare sequence")
    return ["query"], [joined.upper()]


def web_tab_class(name, web):
    """The tab class a task's ``web`` names.

    Args:
        name: str, the task's name (for messages).
        web: a ``"module:object"`` string, or the class itself.

    Returns:
        the class (a `deepbio.serve.tab.WebTab` subclass, or any class with its
        constructor and ``build``).

    Raises:
        ValueError: the string is malformed, its module does not import, or
            the object is missing or not a tab class.
    """
    obj = web
    if isinstance(web, str):
        module, _, attribute = web.partition(":")
        if not module or not attribute:
            raise ValueError(f"task {name}: web = {web!r} is not 'module:object'")
        try:
            obj = importlib.import_module(module)
            for part in attribute.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as error:
            raise ValueError(f"task {name}: web = {web!r} cannot be loaded ({error})") from None
    if not (isinstance(obj, type) and callable(getattr(obj, "build", None))):
        raise ValueError(f"task {name}: web = {web!r} is not a web tab class (a "
                         f"deepbio.serve.tab.WebTab subclass)")
    return obj


def web_tab_classes(tasks=None):
    """``{task name: tab class}`` of the tasks that declare a tab, in the tasks' order.

    Args:
        tasks: optional ``{name: Task}`` (default: `discover_tasks`).
    """
    tasks = discover_tasks() if tasks is None else tasks
    return {name: web_tab_class(name, task.web) for name, task in tasks.items()
            if getattr(task, "web", None)}


def load_services(runs, data_dir=None, tasks=None):
    """One loaded tab per task with a ``web`` tab, over the run folders in ``runs``.

    Args:
        runs: the runs folder (``runs/ptm``, ``runs/rnamod``, ...; a tab
            without its run folder says which command trains one).
        data_dir: optional data mirror (demo sets, examples).
        tasks: optional ``{name: Task}`` (default: `discover_tasks`).

    Returns:
        dict, task name → `deepbio.serve.tab.WebTab`, in the tasks' order.

    Raises:
        FileNotFoundError: ``runs`` is not a folder.
        ValueError: a task's ``web`` does not name a tab class.
    """
    runs = Path(runs)
    if not runs.is_dir():
        raise FileNotFoundError(f"runs folder {runs} not found; train a model first (e.g. "
                                f"'deepbio run ptm --output {runs}/ptm') or give --runs")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return {name: cls(runs, name, data_dir=data_dir)
            for name, cls in web_tab_classes(tasks).items()}
