"""The figures of ``deepbio serve``, as PNG files (matplotlib, one figure at a time).

pyplot is not thread-safe and the server answers several users at once, so
every figure is drawn under `PLOT_LOCK` (the run's own plotting functions,
`plot_saliency_heatmap`, `plot_ism` and the motif task's `plot_scores`, are
called under it too).
"""

import threading

import numpy as np

PLOT_LOCK = threading.RLock()
MAX_PROTEINS_PLOTTED = 8


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path, dpi=110):
    plt = _pyplot()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return str(path)


def ptm_profile(frame, label_names, path):
    """The four PTM probabilities at every K along each protein (the first few proteins)."""
    with PLOT_LOCK:
        plt = _pyplot()
        proteins = list(dict.fromkeys(frame["protein"]))[:MAX_PROTEINS_PLOTTED]
        fig, axes = plt.subplots(len(proteins), 1, figsize=(9, 2.2 * len(proteins) + 0.4),
                                 squeeze=False)
        for ax, protein in zip(axes[:, 0], proteins):
            rows = frame[frame["protein"] == protein]
            for name in label_names:
                short = name.replace("_given_modified", "").replace("p_", "", 1)
                ax.plot(rows["position"], rows[name], marker="o", ms=3, lw=1, label=short)
            ax.set_ylim(-0.02, 1.02)
            ax.set_ylabel("P(PTM | modified)")
            ax.set_title(f"{protein}: {len(rows)} lysines", fontsize=9, loc="left")
            ax.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("position of the lysine in the protein")
        axes[0, 0].legend(fontsize=7, ncol=4, loc="upper right")
        fig.tight_layout()
        return _save(fig, path)


def ptm_saliency(matrix, row_labels, window, path, title, colorbar=None):
    """The map of one window: through the run's `plot_saliency_heatmap` (saliency), or drawn
    here with ``colorbar`` as the colour scale's label (substitution importance)."""
    from deepbio.interpret.saliency import plot_saliency_heatmap

    ticks = [f"{p}\n{r}" if p % 4 == 0 else r for p, r in zip(range(-24, 25), window)]
    xlabel = "position relative to the central K (residue below)"
    with PLOT_LOCK:
        if colorbar is None:
            plot_saliency_heatmap(matrix, row_labels, path, title, ticks, xlabel)
            return str(path)
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(11, 0.6 * len(row_labels) + 1.6))
        image = ax.imshow(matrix, aspect="auto", cmap="viridis")
        ax.set_yticks(range(len(row_labels)), row_labels)
        ax.set_xticks(range(len(ticks)), ticks, fontsize=6, rotation=90)
        ax.set(xlabel=xlabel, title=title)
        fig.colorbar(image, ax=ax, fraction=0.025, label=colorbar)
        fig.tight_layout()
        return _save(fig, path, dpi=150)


def rna_profile(frame, names, path):
    """Per-position probability of each modification along a sequence."""
    with PLOT_LOCK:
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(9, 3))
        for name in names:
            ax.plot(frame["position"], frame[name], lw=1, label=name)
        ax.set_ylim(-0.02, 1.02)
        ax.set(xlabel="position (window centre)", ylabel="probability",
               title=f"{len(frame)} positions")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        return _save(fig, path)


def rna_logo(attributions, X, out_dir, name, flank):
    """The ISM logo of one window, through the run's `plot_ism`; returns the logo PNG."""
    from deepbio.interpret.ism import plot_ism

    with PLOT_LOCK:
        files = plot_ism(attributions, X, out_dir, name, flank=flank)
    return str(next(f for f in files if str(f).endswith("_logo.png")))


def motif_scatter(table, path, seed=0):
    """The AF / SCS rank scatter, through the motif task's `plot_scores`."""
    from pathlib import Path

    from deepbio.motif.task import plot_scores
    from deepbio.core.io import save_figure

    class _Folder:  # the one RunFolder method plot_scores uses
        @staticmethod
        def save_figure(fig, name):
            return save_figure(fig, Path(path).with_suffix(""), formats=("png",), dpi=110)

    with PLOT_LOCK:
        rho = plot_scores(table, _Folder(), seed=seed)
    return str(Path(path).with_suffix(".png")), rho


def attention_map(matrix, row_labels, column_labels, path, title):
    """Attention from the nucleic-acid tokens (rows) to the protein residues (columns)."""
    with PLOT_LOCK:
        plt = _pyplot()
        rows, columns = matrix.shape
        fig, ax = plt.subplots(figsize=(min(14, max(6, 0.12 * columns + 2)),
                                        min(8, max(2.5, 0.22 * rows + 1.5))))
        image = ax.imshow(matrix, aspect="auto", cmap="magma", interpolation="nearest")
        step = max(1, columns // 60)
        ax.set_xticks(np.arange(0, columns, step),
                      [f"{column_labels[i]}{i + 1}" if step > 1 else column_labels[i]
                       for i in range(0, columns, step)], fontsize=6, rotation=90)
        ax.set_yticks(np.arange(rows), row_labels, fontsize=6)
        ax.set_xlabel("protein residue (key)")
        ax.set_ylabel("nucleic-acid base (query)")
        ax.set_title(title, fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.025, label="attention")
        fig.tight_layout()
        return _save(fig, path)
