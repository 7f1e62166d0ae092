"""The Gradio page of ``deepbio serve``: one tab per discovered task that declares one.

The page knows no task by name: `build_app` lays out the tab of every task
whose ``web`` names a `deepbio.serve.tab.WebTab` (`deepbio.serve.backend.load_services`),
in the tasks' order, each built by its own ``build`` from the task's folder.
A user error becomes a ``gr.Error`` message in the page (never a stack
trace); requests go through Gradio's queue, one at a time per button. Each
tab names its endpoints for ``gradio_client``; deepbio's own are
``/predict_ptm``, ``/ptm_saliency``, ``/predict_rnamod``, ``/rnamod_ism``,
``/score_motifs`` and ``/predict_binding``, each taking the sequence text
(FASTA or plain) first, every other input optional.
"""

import os
import signal
import sys

from deepbio.serve.backend import LIMITS, load_services

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _gradio():
    """The gradio module (imported here only: ``import deepbio.serve`` never needs it)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gradio as gr  # deferred: Gradio is the optional "web" extra
    except ImportError as error:
        raise ImportError(f"deepbio serve needs Gradio ({error}); install it with "
                          f"pip install -e \".[web]\"") from None
    return gr


def build_app(runs, data_dir=None, services=None, tasks=None):
    """The Gradio Blocks over the run folders in ``runs`` (queued), one tab per task with one.

    Args:
        runs: the runs folder (``runs/ptm``, ``runs/rnamod``, ...).
        data_dir: optional data mirror (demo sets, examples).
        services: optional preloaded `load_services` result (``{name: WebTab}``).
        tasks: optional ``{name: Task}`` whose tabs are served (default: every
            discovered task); ignored when ``services`` is given.

    Returns:
        ``gr.Blocks`` with its queue enabled; ``app.services`` holds the tabs.
    """
    gr = _gradio()
    services = services or load_services(runs, data_dir=data_dir, tasks=tasks)
    with gr.Blocks(title="deepbio", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown(f"# deepbio\nTrained models of `{runs}`, one tab per task. Each tab names the "
                    f"run it serves and that run's honest metric beside the trivial baseline, so "
                    f"you know how far to trust it.")
        if not services:
            gr.Markdown("No task declares a web tab.")
        for name, tab in services.items():
            with gr.Tab(tab.title or name, id=name):
                tab.build(gr)
    app.queue(max_size=256, default_concurrency_limit=1)
    app.services = services
    return app


def launch_options(app):
    """The ``app.launch`` arguments every page needs: upload size, the tabs' scratch folders."""
    return {"max_file_size": LIMITS["upload_bytes"],  # bytes of an upload, as sent
            "allowed_paths": [str(tab.workdir) for tab in app.services.values()],
            "ssr_mode": False, "show_error": False}


def launch(runs, host="127.0.0.1", port=7860, data_dir=None, verbose=1):
    """Builds the app and serves it until interrupted (Ctrl-C, SIGTERM).

    Args:
        runs: the runs folder (or the presets' folder).
        host: str, the interface to listen on (a warning beyond loopback).
        port: int, the port.
        data_dir: optional data mirror (demo sets, examples).
        verbose: int, 2 shows Gradio's own messages.

    Returns:
        0 once the server stops.
    """
    gr = _gradio()
    app = build_app(runs, data_dir)
    if host not in LOOPBACK:
        print(f"deepbio serve: WARNING: listening on {host}, not on 127.0.0.1 only: anyone who can "
              f"reach this machine can use the page and its models (no login, no TLS)",
              file=sys.stderr, flush=True)
    shown = f"[{host}]" if ":" in host else host
    print(f"deepbio serve: {runs} on http://{shown}:{port}/ (Ctrl-C stops)", flush=True)
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])

    def stop(*_):  # SIGTERM closes the server like Ctrl-C (scratch files removed at exit)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    app.launch(server_name=host, server_port=port, quiet=verbose < 2, footer_links=["api"],
               theme=theme, **launch_options(app))
    return 0
