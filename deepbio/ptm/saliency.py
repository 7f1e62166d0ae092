"""Saliency and SmoothGrad heatmaps of the PTM classifier (tf-keras-vis), per label."""

import pandas as pd

from deepbio.ptm.data import PTM_LABEL_NAMES, PTM_LABELS
from deepbio.core.io import write_csv


def saliency_report(classifier, inputs, out, prefix="", smooth_samples=20):
    """Saliency and SmoothGrad heatmaps per PTM label, as PNG and CSV.

    Args:
        classifier: a feature-level `PTMClassifier`.
        inputs: ``[pstaap (n, 46, 1), residues (n, 49, C)]``.
        out: output folder.
        prefix: file-name prefix.
        smooth_samples: SmoothGrad noisy copies per window.

    Returns:
        list of the files written.
    """
    from deepbio.interpret.saliency import mean_saliency, plot_saliency_heatmap  # deferred: imports Keras/TensorFlow

    written = []
    names = [f"{l} ({n})" for l, n in zip(PTM_LABELS, PTM_LABEL_NAMES)]
    for method, samples in (("saliency", 0), ("smoothgrad", smooth_samples)):
        pstaap_map, residue_map = mean_saliency(classifier, inputs, len(PTM_LABELS),
                                                smooth_samples=samples, logits_layer="logits")
        positions = [str(p) for p in range(-24, 25)]
        for kind, matrix, ticks, xlabel in (
                ("residues", residue_map, positions, "position relative to the central K"),
                ("pstaap", pstaap_map, None, "PSTAAP tripeptide position")):
            path = out / f"{prefix}{method}_{kind}.png"
            plot_saliency_heatmap(matrix, names, path,
                                  f"{method} per PTM, {kind} branch (n={len(inputs[0])})",
                                  ticks, xlabel)
            frame = pd.DataFrame(matrix, index=PTM_LABELS,
                                 columns=ticks if ticks else [str(i + 1) for i in range(matrix.shape[1])])
            frame.insert(0, "label", PTM_LABELS)
            write_csv(frame, out / f"{prefix}{method}_{kind}.csv")
            written += [path, out / f"{prefix}{method}_{kind}.csv"]
    return written
