"""Gradient saliency (tf-keras-vis Saliency and SmoothGrad) for any deepbio model.

Uses tf-keras-vis (Kubota, github.com/keisen/tf-keras-vis), so it needs the
TensorFlow backend. Vanilla saliency after Simonyan et al. 2014
(arXiv:1312.6034); SmoothGrad after Smilkov et al. 2017 (arXiv:1706.03825).
"""

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from deepbio.core.io import atomic_path  # noqa: E402


def _as_list(inputs):
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def mean_saliency(model, inputs, num_outputs, smooth_samples=0, smooth_noise=0.2, batch_size=256,
                  logits_layer=None):
    """Mean saliency over windows for each model output.

    For each output j, |d y_j / d x| is computed for every window (tf-keras-vis
    ``Saliency``, each map normalised to [0, 1] per window and reduced over
    channels by max), then averaged over windows.

    Args:
        model: a `keras.Model` whose output is (batch, num_outputs).
        inputs: array or list of arrays, each (n, length, channels), the
            model's inputs in order.
        num_outputs: int, the number of output columns.
        smooth_samples: int. 0 for vanilla saliency; > 0 for SmoothGrad with
            that many noisy copies per window.
        smooth_noise: float. SmoothGrad noise, as a fraction of each input's
            value range.
        batch_size: int. Windows per gradient pass.
        logits_layer: str, optional. Name of the pre-activation layer to
            differentiate instead of the final (saturating) activation.

    Returns:
        list with one float32 array (num_outputs, length) per model input.

    Raises:
        ValueError: inputs of different lengths along the first axis.
    """
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.utils.scores import CategoricalScore

    inputs = [np.asarray(x, np.float32) for x in _as_list(inputs)]
    if len({len(x) for x in inputs}) != 1:
        raise ValueError(f"inputs differ in number of windows: {[len(x) for x in inputs]}")
    if logits_layer is not None:
        model = keras.Model(model.inputs, model.get_layer(logits_layer).output)
    saliency = Saliency(model, clone=False)
    n = len(inputs[0])
    sums = [np.zeros((num_outputs, x.shape[1]), np.float64) for x in inputs]
    for start in range(0, n, batch_size):
        batch = [x[start:start + batch_size] for x in inputs]
        for j in range(num_outputs):
            maps = saliency(CategoricalScore([j] * len(batch[0])), batch if len(batch) > 1 else batch[0],
                            smooth_samples=smooth_samples, smooth_noise=smooth_noise)
            for k, m in enumerate(_as_list(maps)):
                sums[k][j] += np.asarray(m).reshape(len(batch[0]), -1).sum(axis=0)
    return [(s / n).astype(np.float32) for s in sums]


def plot_saliency_heatmap(matrix, row_labels, path, title, position_labels=None, xlabel="position"):
    """Saves a (rows × positions) saliency heatmap as PNG or SVG, atomically.

    Args:
        matrix: float array (rows, positions).
        row_labels: sequence of str, one per row (e.g. PTM names).
        path: output file; its suffix (``.png``/``.svg``) picks the format.
        title: str.
        position_labels: optional sequence of str for the x ticks.
        xlabel: str.
    """
    matrix = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.22 * matrix.shape[1]), 0.6 * matrix.shape[0] + 1.6))
    image = ax.imshow(matrix, aspect="auto", cmap="viridis")
    ax.set_yticks(range(len(row_labels)), row_labels)
    ticks = range(matrix.shape[1])
    ax.set_xticks(ticks, position_labels if position_labels is not None else [str(t + 1) for t in ticks],
                  fontsize=6, rotation=90)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.025, label="mean saliency")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=150)
    plt.close(fig)
