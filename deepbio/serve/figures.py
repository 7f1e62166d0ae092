"""The figures of ``deepbio serve``, as PNG files (matplotlib, one figure at a time).

pyplot is not thread-safe and the server answers several users at once, so
every tab draws its figures under `PLOT_LOCK` (and calls the run's own
plotting functions, such as `plot_saliency_heatmap` or `plot_ism`, under it
too)::

    with PLOT_LOCK:
        plt = pyplot()
        fig, ax = plt.subplots()
        ...
        return save(fig, self.out(".png"))
"""

import threading

PLOT_LOCK = threading.RLock()


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib  # deferred: only a served page draws

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: after the backend is chosen

    return plt


def save(fig, path, dpi=110):
    """Writes ``fig`` to ``path`` (PNG), closes it and returns the path as str."""
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return str(path)
