"""Codebook feature spectrum: which VQ codes are specific to which modification.

After VQ-RNA's ``generate_feature_spectrum/feature_spectrum.py``
(github.com/1gao2/VQ-RNA): for each modification, the term frequency of code k
is its mean count per window; over the modifications (the "documents"), the
inverse document frequency is ``log(1 + N / df_k)`` with ``df_k`` the number of
modifications that use code k at all; TF-IDF = TF × IDF, codes never used are
dropped, each code's row is z-scored across modifications, and codes are
grouped by the modification where they score highest, most specific first.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from deepbio.core.io import save_figure, write_csv


def term_frequencies(code_indices, num_embeddings):
    """Mean count of each code per window.

    Args:
        code_indices: int array (n, positions), codes 0..num_embeddings-1.
        num_embeddings: int K.

    Returns:
        float64 array (K,).

    Raises:
        ValueError: an index outside 0..K-1.
    """
    codes = np.asarray(code_indices, np.int64)
    if codes.size and (codes.min() < 0 or codes.max() >= num_embeddings):
        raise ValueError(f"code indices must lie in 0..{num_embeddings - 1}")
    counts = np.bincount(codes.ravel(), minlength=num_embeddings).astype(np.float64)
    return counts / max(len(codes), 1)


def tf_idf_matrix(tf):
    """TF-IDF of a (codes × modifications) term-frequency matrix, VQ-RNA's way.

    Args:
        tf: float array (K, N).

    Returns:
        ``(matrix, kept)``: float64 (K', N) TF-IDF rows z-scored across the
        N columns (a constant row becomes 0), and the int indices (K',) of
        the codes used by at least one modification.
    """
    tf = np.asarray(tf, np.float64)
    df = (tf > 0).sum(axis=1)
    kept = np.flatnonzero(df > 0)
    tf, df = tf[kept], df[kept]
    matrix = tf * np.log(1.0 + tf.shape[1] / df)[:, None]
    std = matrix.std(axis=1, ddof=1, keepdims=True) if tf.shape[1] > 1 else np.ones((len(tf), 1))
    z = (matrix - matrix.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1.0)
    return z, kept


def sort_by_specificity(matrix):
    """Row order: grouped by the column of each row's maximum (column order),
    within a group by that maximum, descending.

    Returns:
        int array, the row order.
    """
    matrix = np.asarray(matrix)
    best = matrix.argmax(axis=1)
    peak = matrix.max(axis=1)
    return np.lexsort((-peak, best))


def write_feature_spectrum(code_indices, num_embeddings, out_dir):
    """Writes ``tf_idf_matrix_sorted.csv`` and ``feature_spectrum.svg``.

    Args:
        code_indices: dict {modification: int array (n, positions)}, the
            codes of that modification's windows under one shared codebook.
        num_embeddings: int K.
        out_dir: output folder.

    Returns:
        list of the `pathlib.Path` written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(code_indices)
    tf = np.stack([term_frequencies(code_indices[n], num_embeddings) for n in names], axis=1)
    matrix, kept = tf_idf_matrix(tf)
    order = sort_by_specificity(matrix)
    frame = pd.DataFrame(matrix[order], columns=names)
    frame.insert(0, "code", kept[order])
    frame.insert(1, "specific_to", [names[i] for i in matrix[order].argmax(axis=1)])
    out_dir = Path(out_dir)
    write_csv(frame, out_dir / "tf_idf_matrix_sorted.csv")
    fig, axes = plt.subplots(len(names), 1, figsize=(12, 0.9 * len(names) + 1), sharex=True,
                             squeeze=False)
    colors = plt.cm.tab10(np.arange(len(names)) % 10)
    for j, name in enumerate(names):
        ax = axes[j, 0]
        ax.bar(np.arange(len(order)), matrix[order, j], width=1.0, color=colors[j])
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
        ax.set_yticks([])
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    axes[-1, 0].set_xlabel(f"codebook entries used ({len(kept)} of {num_embeddings}), "
                           "grouped by the modification they are most specific to")
    axes[0, 0].set_title("VQ-RNA feature spectrum: z-scored TF-IDF of code usage")
    fig.tight_layout()
    save_figure(fig, out_dir / "feature_spectrum", formats=("svg",))
    return [out_dir / "tf_idf_matrix_sorted.csv", out_dir / "feature_spectrum.svg"]
