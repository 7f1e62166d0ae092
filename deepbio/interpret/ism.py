"""In-silico saturation mutagenesis (ISM): batched engine, naive reference, plots.

After tangermeme's ``saturation_mutagenesis`` (Schreiber, github.com/jmschrei/
tangermeme), which VQ-RNA's ``Identify_motif/draw_ISM_motif.py`` uses: every
position of a one-hot window is set to each of the four bases in turn and the
model's output is recorded; the attribution of (position i, base b) is
``f(x with base b at i) - f(x)`` (0 for the reference base). The batched engine
builds all mutants of many windows with NumPy and scores them in large
batches; `naive_ism` mutates and scores one variant at a time, as the obvious
reference the fast one is tested against (the fastISM habit).
"""

from pathlib import Path

import numpy as np

from deepbio.core.io import save_figure, write_csv


def _check(X, start, end):
    X = np.asarray(X, np.float32)
    if X.ndim != 3 or X.shape[-1] != 4:
        raise ValueError(f"X must be one-hot windows (n, length, 4), got shape {X.shape}")
    end = X.shape[1] if end is None else int(end)
    if not 0 <= start < end <= X.shape[1]:
        raise ValueError(f"need 0 <= start < end <= {X.shape[1]}, got start={start}, end={end}")
    return X, int(start), end


def _scores(model, X, output_index, batch_size):
    out = model.predict(X, batch_size=batch_size, verbose=0) if hasattr(model, "predict") else model(X)
    out = np.asarray(out, np.float64)
    return out.reshape(len(X), -1)[:, output_index]


def saturation_mutagenesis(model, X, start=0, end=None, output_index=0, batch_size=1024):
    """Batched ISM attributions.

    Args:
        model: a `keras.Model` (or callable) mapping float32 (batch, L, 4) to
            (batch,) or (batch, outputs).
        X: float32 one-hot windows (n, L, 4).
        start, end: int. Positions [start, end) are mutated (default: all).
        output_index: int. Output column scored.
        batch_size: int. Mutants per forward pass.

    Returns:
        float64 array (n, end - start, 4): ``f(mutant) - f(x)``; 0 at each
        reference base (for an all-zero / N position every base is a change).

    Raises:
        ValueError: X not (n, L, 4), or a bad range.
    """
    X, start, end = _check(X, start, end)
    width = end - start
    reference = _scores(model, X, output_index, batch_size)
    result = np.zeros((len(X), width, 4))
    eye = np.eye(4, dtype=np.float32)
    per_window = 4 * width
    windows_per_chunk = max(1, batch_size * 4 // per_window)
    for first in range(0, len(X), windows_per_chunk):
        chunk = X[first:first + windows_per_chunk]
        mutants = np.repeat(chunk, per_window, axis=0).reshape(len(chunk), width, 4, *X.shape[1:])
        for i in range(width):
            mutants[:, i, :, start + i, :] = eye
        scores = _scores(model, mutants.reshape(-1, *X.shape[1:]), output_index, batch_size)
        result[first:first + len(chunk)] = (scores.reshape(len(chunk), width, 4)
                                            - reference[first:first + len(chunk), None, None])
    is_reference = X[:, start:end, :] == 1.0
    result[is_reference] = 0.0
    return result


def naive_ism(model, X, start=0, end=None, output_index=0):
    """Reference ISM: one mutant per forward pass (slow; for tests and benchmarks).

    Same arguments and result as `saturation_mutagenesis`.
    """
    X, start, end = _check(X, start, end)
    result = np.zeros((len(X), end - start, 4))
    for n in range(len(X)):
        reference = float(np.asarray(model(X[n:n + 1])).reshape(-1)[output_index])
        for i in range(start, end):
            for b in range(4):
                if X[n, i, b] == 1.0:
                    continue
                mutant = X[n:n + 1].copy()
                mutant[0, i, :] = 0.0
                mutant[0, i, b] = 1.0
                score = float(np.asarray(model(mutant)).reshape(-1)[output_index])
                result[n, i - start, b] = score - reference
    return result


def ism_importance(attributions):
    """Per-position importance: mean over windows of |Δ|, summed over bases (VQ-RNA's
    ``Importance_Score``).

    Args:
        attributions: array (n, W, 4) from `saturation_mutagenesis`.

    Returns:
        float64 array (W,).
    """
    return np.abs(np.asarray(attributions)).mean(axis=0).sum(axis=-1)


def reference_logo_matrix(attributions, X, start=0):
    """Logo heights: each window's reference base weighted by how much the
    output drops when it is mutated (minus the mean Δ over the three other
    bases), averaged over windows.

    Args:
        attributions: array (n, W, 4).
        X: one-hot windows (n, L, 4) the attributions were computed on.
        start: int, the first mutated position.

    Returns:
        float64 array (W, 4), columns A, C, G, U.
    """
    attributions = np.asarray(attributions)
    width = attributions.shape[1]
    reference = np.asarray(X, np.float64)[:, start:start + width, :]
    drop = -attributions.sum(axis=-1, keepdims=True) / 3.0
    return (reference * drop).mean(axis=0)


def plot_ism(attributions, X, out_dir, name, positions=None, flank=20):
    """Importance bar plot (SVG + PNG + CSV) and logomaker logo (SVG + PNG).

    Args:
        attributions: array (n, L, 4) over whole windows.
        X: one-hot windows (n, L, 4).
        out_dir: folder (created).
        name: str, file prefix and title (modification name).
        positions: optional int array (L,), positions relative to the site.
        flank: int, the logo covers the central position ± flank.

    Returns:
        list of the `pathlib.Path` written.
    """
    import logomaker
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    out_dir = Path(out_dir)
    length = attributions.shape[1]
    positions = np.arange(length) - length // 2 if positions is None else np.asarray(positions)
    importance = ism_importance(attributions)
    written = []
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.bar(positions, importance, width=1.0)
    ax.set(xlabel="position relative to the site", ylabel="mean |Δp| (sum over bases)",
           title=f"{name}: ISM importance (n={len(attributions)} top-scoring positive windows)")
    fig.tight_layout()
    written += save_figure(fig, out_dir / f"{name}_importance")
    write_csv(pd.DataFrame({"position": positions, "importance": importance}),
              out_dir / f"{name}_importance.csv")
    written.append(out_dir / f"{name}_importance.csv")

    centre = length // 2
    lo, hi = max(0, centre - flank), min(length, centre + flank + 1)
    matrix = reference_logo_matrix(attributions[:, lo:hi], X, start=lo)
    frame = pd.DataFrame(matrix, columns=list("ACGU"), index=positions[lo:hi])
    fig, ax = plt.subplots(figsize=(max(6, 0.3 * (hi - lo)), 2.6))
    logomaker.Logo(frame, ax=ax, color_scheme={"A": "red", "C": "blue", "G": "orange", "U": "green"})
    ax.set(xlabel="position relative to the site", ylabel="Δp when mutated",
           title=f"{name}: ISM logo (reference bases)")
    fig.tight_layout()
    written += save_figure(fig, out_dir / f"{name}_logo")
    return written
