"""Figures of the contact run (matplotlib, Agg): predictions along a protein, attention maps, top-L.

Each function returns a `matplotlib.figure.Figure`; the task saves it as PNG in the run folder
(`deepbio.core.io.save_figure`, atomic).
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import numpy as np  # noqa: E402


def example_figure(name, labels, predictions, thresholds=None, cutoff=8.0):
    """Predicted vs true contacts along one protein.

    Args:
        name: str, e.g. ``"1A74_A"``.
        labels: binary array (L,), true contacts.
        predictions: dict model name → float array (L,), contact probabilities.
        thresholds: dict model name → float, optional; drawn as dashed lines.
        cutoff: float, Å (for the title).

    Returns:
        `matplotlib.figure.Figure`.
    """
    labels = np.asarray(labels, np.float64)
    positions = np.arange(1, len(labels) + 1)
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.fill_between(positions, 0, labels, step="mid", color="0.85",
                    label=f"true contact (≤ {cutoff:g} Å)")
    for (model, scores), color in zip(predictions.items(), plt.cm.tab10.colors):
        ax.plot(positions, scores, lw=1, color=color, label=model)
        if thresholds and model in thresholds:
            ax.axhline(thresholds[model], color=color, lw=0.8, ls="--")
    ax.set(xlim=(1, max(len(labels), 2)), ylim=(0, 1.02), xlabel="residue (ATOM-record order)",
           ylabel="contact probability", title=f"{name}: predicted vs true contacts")
    ax.legend(loc="upper right", fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def attention_figure(name, attention, contacts, title):
    """One attention map over protein residues × nucleotides beside the true contact map.

    Args:
        name: str.
        attention: float array (L, M), attention spread to residues and nucleotides.
        contacts: bool array (L, M), true residue–nucleotide contacts.
        title: str, e.g. ``"layer 1, head 3"``.

    Returns:
        `matplotlib.figure.Figure`.
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.5), sharey=True)
    image = axes[0].imshow(attention, aspect="auto", cmap="viridis", interpolation="nearest")
    fig.colorbar(image, ax=axes[0], fraction=0.046)
    axes[0].set(title=f"{name}: attention, {title}", xlabel="nucleotide", ylabel="residue")
    axes[1].imshow(np.asarray(contacts, float), aspect="auto", cmap="Greys",
                   interpolation="nearest")
    axes[1].set(title="true contacts", xlabel="nucleotide")
    fig.tight_layout()
    return fig


def top_l_figure(precisions, random_rates):
    """Top-L precision of residue–nucleotide pairs, per attention source, beside chance.

    Args:
        precisions: dict label → float (e.g. ``{"best head, top-L": 0.21, …}``).
        random_rates: dict label → float, the pair contact rate (chance precision).

    Returns:
        `matplotlib.figure.Figure`.
    """
    labels = list(precisions)
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(labels)), 3.5))
    ax.bar(x - 0.2, [precisions[k] or 0 for k in labels], 0.4, label="attention")
    ax.bar(x + 0.2, [random_rates.get(k) or 0 for k in labels], 0.4, color="0.7",
           label="chance (pair contact rate)")
    ax.set_xticks(x, labels, rotation=20, ha="right", fontsize=8)
    ax.set(ylabel="precision", title="Residue–nucleotide pairs from attention (out-of-fold)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
