"""The web-tab protocol of ``deepbio serve``: a task brings its own tab, from its own folder.

A task gets a tab of the page by naming a `WebTab` subclass on its `Task`
class, as a lazy ``"module:object"`` string (nothing is imported until the
page is served, so task discovery stays light)::

    class ToyTask(Task):
        name = "toy"
        web = "my_package.web:ToyTab"

``deepbio serve`` builds one tab per discovered task (deepbio's folders and
the ``deepbio.tasks`` entry points) whose ``web`` is set, in the tasks' rank
order (`deepbio.serve.backend.load_services`, `deepbio.serve.app.build_app`).
Each tab serves the model of ``<runs>/<task name>/``: a runs folder
(``--runs``), or the task's default preset when ``deepbio serve`` has none.

A tab declares:

- ``title``: its label in the page; ``files``: the model files it looks for
  in its run folder (the first one present is served, as ``self.path``;
  override `find` for another layout); ``train_command``: the command that
  trains one (``{folder}``: the run folder), shown when there is none;
  ``limits``: its own input limits (the page-wide ones are
  `deepbio.serve.backend.LIMITS`), to name in the page and in refusals.
- `load`: loads ``self.path`` once; a ``ValueError`` marks the tab
  unavailable and is shown in it. `honest` (optional): markdown of the run's
  metric beside its trivial baseline, from the run's ``report.json``.
- its prediction functions: plain methods that call ``self.require()``, check
  their inputs (`parse_text`; a user error is a ``ValueError``), predict
  under ``self.lock`` and return tables (pandas), figure files and CSV
  files (``self.out(".png")``: a fresh scratch path).
- `build`: lays out its Gradio components (``gr`` is the gradio module;
  import it nowhere else) and wires each button with `click`, whose
  ``api_name`` is the endpoint ``gradio_client`` calls (``/api_name``) and
  which turns a ``ValueError`` into a message in the page.

A whole tab (its run folder holds ``toy.json``, e.g. ``{"factor": 2}``)::

    import json

    import pandas as pd

    from deepbio.serve.tab import WebTab, parse_text

    class ToyTab(WebTab):
        title = "Toy"
        files = ("toy.json",)
        train_command = "write {folder}/toy.json"
        limits = {"sequences": 5}

        def load(self):
            self.factor = json.loads(self.path.read_text())["factor"]

        def predict(self, text):
            self.require()
            ids, sequences = parse_text(text, "DNA sequence")
            if len(ids) > self.limits["sequences"]:
                raise ValueError(f"{len(ids)} sequences; the limit is {self.limits['sequences']}")
            return pd.DataFrame({"id": ids, "score": [self.factor * len(s) for s in sequences]})

        def build(self, gr):
            gr.Markdown(self.summary())
            text = gr.Textbox(label="DNA FASTA")
            button = gr.Button("Score")
            table = gr.Dataframe(interactive=False)
            self.click(gr, button, self.predict, [text], [table], api_name="predict_toy")

This module imports no method and nothing of `deepbio.serve.app`: the
methods' ``web.py`` modules import it, the page imports them only through
the tasks' ``web`` strings.
"""

import functools
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path

from deepbio.presets import preset_of
from deepbio.serve.backend import LIMITS, bounded_upload, parse_text, scratch_folder
from deepbio.serve.reports import read_report

__all__ = ["LIMITS", "WebTab", "bounded_upload", "guard", "parse_text", "shown"]


def _one_line(text):
    return " ".join(str(text).split())


def guard(gr, fn):
    """``fn`` with every failure turned into a one-line ``gr.Error`` shown in the page.

    A ``ValueError`` (and file errors) is the user's: its message; anything
    else is logged with its traceback and shown as an internal error (the
    page never shows a traceback; the server keeps serving).
    """
    @functools.wraps(fn)
    def guarded(*args):
        try:
            return fn(*args)
        except gr.Error:
            raise
        except (ValueError, FileNotFoundError, IsADirectoryError, UnicodeDecodeError) as error:
            raise gr.Error(_one_line(error), print_exception=False) from None
        except Exception as error:  # noqa: BLE001  (the page never shows a traceback)
            traceback.print_exc(file=sys.stderr)
            raise gr.Error(f"internal error ({type(error).__name__}: {_one_line(error)[:300]}); "
                           f"the server keeps serving", print_exception=False) from None
    return guarded


def shown(frame, digits=6):
    """The table as the page shows it: float columns as float64 rounded like the CSV."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype.kind == "f":
            frame[column] = frame[column].astype("float64").round(digits)
    return frame


class WebTab:
    """A task's tab: its run folder's model (loaded once), its report, a lock, a scratch folder.

    Args:
        runs: the runs folder; the tab serves ``runs/<name>``.
        name: str, the task's name (the tab's id and its run folder's name).
        data_dir: optional data mirror (demo sets, examples).

    Attributes:
        folder: Path, the run folder; path: the model file served, or None.
        report: dict or None, the run's ``report.json``.
        error: str or None, why the model could not be loaded.
        lock: a ``threading.Lock`` around every model call.
        workdir: Path, the scratch folder of the tab's files.
    """

    title = ""
    files = ("model.keras",)
    train_command = ""
    limits = {}

    def __init__(self, runs, name, data_dir=None):
        self.name = name
        self.folder = Path(runs) / name
        self.data_dir = data_dir
        self.path = self.find()
        self.report = read_report(self.folder) if self.path else None
        self.lock = threading.Lock()
        self.workdir = scratch_folder()
        self.error = None
        if self.path is not None:
            try:
                self.load()
            except ValueError as error:  # a damaged or foreign model: the tab says so
                self.error, self.path = str(error), None

    def find(self):
        """The model file served (the first of ``files`` in the run folder), or None."""
        return next((self.folder / f for f in self.files if (self.folder / f).is_file()), None)

    @property
    def available(self):
        """Whether a model is loaded."""
        return self.path is not None

    def missing(self):
        """What the tab shows without a model: why, and which command trains one."""
        where = " or ".join(str(self.folder / f) for f in self.files) or str(self.folder)
        why = f"the model could not be loaded: {self.error}. " if self.error else f"no model at {where}. "
        return why + "Train one with: " + self.train_command.format(folder=self.folder)

    def require(self):
        """Raises ``ValueError`` (`missing`) when no model is loaded."""
        if not self.available:
            raise ValueError(self.missing())

    def summary(self):
        """Markdown: the run (or preset) served and its honest metric beside the trivial baseline."""
        if not self.available:
            return f"**No {self.name} model.** " + self.missing()
        preset = preset_of(self.folder)
        if preset is not None:  # a shipped preset: its name and its card's figures
            return (f"Serving the preset **{preset.name}** (v{preset.version}; `deepbio presets "
                    f"show {preset.name}` prints its card). {preset.headline}")
        head = f"Serving `{self.path}`."
        if self.report is None:
            return head + " No report.json beside it: no honest metric to show."
        return f"{head} {self.honest(self.report)}".rstrip()

    def honest(self, report):
        """Markdown: the run's honest metric beside its trivial baseline (override)."""
        return ""

    def out(self, suffix):
        """A fresh file path in the scratch folder (files older than an hour are removed)."""
        now = time.time()
        for old in self.workdir.glob("*"):
            try:
                if old.is_file() and now - old.stat().st_mtime > 3600:
                    old.unlink()
            except OSError:
                pass
        return self.workdir / f"{self.name}-{uuid.uuid4().hex[:10]}{suffix}"

    def load(self):
        """Loads the model at ``self.path`` (override); ``ValueError``: not servable."""
        raise NotImplementedError

    def build(self, gr):
        """Lays out the tab's components inside ``gr.Tab`` and wires them (override)."""
        raise NotImplementedError

    def click(self, gr, button, fn, inputs, outputs, api_name):
        """Wires ``button`` to ``fn`` (guarded: a ``ValueError`` is a page message) as ``/api_name``."""
        return button.click(guard(gr, fn), inputs, outputs, api_name=api_name)
