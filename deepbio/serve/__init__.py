"""``deepbio serve``: a web page (Gradio) over the trained models of a runs folder.

    deepbio serve --runs runs/ [--host 127.0.0.1] [--port 7860]

One tab per task that declares one (``Task.web``, a lazy ``"module:object"``
naming a `deepbio.serve.tab.WebTab` in the task's own folder, such as
``deepbio/ptm/web.py``), each serving the model its run folder holds, with
that run's honest metric beside the trivial baseline. The tabs call the same
in-memory prediction functions as ``deepbio predict``. Nothing here imports a
method: `tab` is the protocol the methods' tabs import, `backend` discovers
and loads them, `app` lays out the page. Gradio is an extra
(``pip install -e ".[web]"``) and is imported only by `deepbio.serve.app`
(tabs get the module as an argument), so ``import deepbio`` never needs it.
"""

def serve(runs="runs", host="127.0.0.1", port=7860, data_dir=None, verbose=1):
    """Builds the app over ``runs`` and serves it until interrupted.

    Raises:
        ImportError: Gradio is not installed.
        FileNotFoundError: ``runs`` is not a folder.
        OSError: the port is taken.
    """
    from deepbio.serve.app import launch  # deferred: the page imports Gradio

    return launch(runs, host, port, data_dir=data_dir, verbose=verbose)
