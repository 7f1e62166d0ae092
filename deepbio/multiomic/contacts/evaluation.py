"""Per-residue contact scores: thresholds from training folds, per-fold and pooled metrics, top-L.

Every threshold is chosen on training data only (the F1-maximising cut of the training
predictions), then applied to the fold's test residues. ROC AUC and AUPRC (average precision)
need no threshold; F1 and MCC use it. Folds report their own figures and a mean ± sd; the pooled
row scores all out-of-fold residues together.
"""

import numpy as np
from sklearn import metrics as skm

from deepbio.metrics import binary_metrics

METRIC_KEYS = ("auroc", "auprc", "f1", "mcc", "positive_rate", "residues")


def choose_threshold(y_true, scores):
    """The score cut that maximises F1 (ties: the highest cut).

    Args:
        y_true: binary array (n,).
        scores: float array (n,).

    Returns:
        float, predict a contact where ``score >= threshold`` (0.5 when ``y_true`` has no
        positive).
    """
    y_true = np.asarray(y_true).astype(bool).ravel()
    scores = np.asarray(scores, np.float64).ravel()
    if not y_true.any():
        return 0.5
    precision, recall, cuts = skm.precision_recall_curve(y_true, scores)
    f1 = np.where(precision + recall > 0, 2 * precision * recall /
                  np.maximum(precision + recall, 1e-12), 0.0)[:-1]
    best = np.flatnonzero(f1 >= f1.max() - 1e-12)[-1]
    return float(cuts[best])


def contact_metrics(y_true, scores, threshold):
    """ROC AUC, AUPRC, F1, MCC at ``threshold``, positive rate and residue count.

    Args:
        y_true: binary array (n,).
        scores: float array (n,).
        threshold: float.

    Returns:
        dict with the `METRIC_KEYS` (AUROC/AUPRC None when ``y_true`` has one class).
    """
    y_true = np.asarray(y_true).astype(np.int32).ravel()
    scores = np.asarray(scores, np.float64).ravel()
    base = binary_metrics(y_true, scores, threshold)
    predicted = (scores >= threshold).astype(np.int32)
    return {"auroc": base["auroc"], "auprc": base["auprc"],
            "f1": float(skm.f1_score(y_true, predicted, zero_division=0)),
            "mcc": base["mcc"], "positive_rate": float(y_true.mean()) if len(y_true) else None,
            "residues": int(len(y_true))}


def summarise_folds(rows, keys=METRIC_KEYS):
    """Mean and sd (ddof 1) over folds of each metric.

    Args:
        rows: list of metric dicts (one per fold).
        keys: the metrics summarised.

    Returns:
        dict ``{key: {"mean": float, "sd": float, "folds": int}}`` (None where no fold has it).
    """
    out = {}
    for key in keys:
        values = np.asarray([r[key] for r in rows if r.get(key) is not None], np.float64)
        out[key] = ({"mean": float(values.mean()),
                     "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                     "folds": int(len(values))} if len(values) else None)
    return out


def evaluate_model(y_true, scores, folds, thresholds, subsets=None):
    """Per-fold and pooled metrics of one model's out-of-fold scores.

    Args:
        y_true: binary array (n,), every residue's label.
        scores: float array (n,), its out-of-fold score.
        folds: int array (n,), its test fold.
        thresholds: dict fold → float, chosen on that fold's training data.
        subsets: dict name → bool array (n,), optional (e.g. ``{"DNA": ..., "RNA": ...}``);
            ``"all"`` is always added.

    Returns:
        dict name → {``folds``: list of metric dicts (fold, threshold, metrics), ``summary``:
        mean ± sd over folds, ``pooled``: metrics of all residues with each fold's threshold}.
    """
    y_true, scores, folds = np.asarray(y_true), np.asarray(scores), np.asarray(folds)
    subsets = {"all": np.ones(len(y_true), bool), **(subsets or {})}
    binary = np.asarray([scores[i] >= thresholds[f] for i, f in enumerate(folds)], np.float64)
    result = {}
    for name, keep in subsets.items():
        rows = []
        for fold in sorted(thresholds):
            mask = keep & (folds == fold)
            if mask.any():
                row = contact_metrics(y_true[mask], scores[mask], thresholds[fold])
                rows.append({"fold": int(fold), "threshold": float(thresholds[fold]), **row})
        pooled = (contact_metrics(y_true[keep], scores[keep], 0.5) if keep.any() else None)
        if pooled is not None:
            hard = contact_metrics(y_true[keep], binary[keep], 0.5)
            pooled.update(f1=hard["f1"], mcc=hard["mcc"])
        result[name] = {"folds": rows, "summary": summarise_folds(rows), "pooled": pooled}
    return result


def top_l_precision(pair_scores, pair_true, fraction=1.0):
    """Precision of the ``fraction × L`` highest-scoring residue–nucleotide pairs.

    Args:
        pair_scores: float array (L, M), a score per residue–nucleotide pair.
        pair_true: bool array (L, M), true contacts.
        fraction: float, how many pairs per protein residue (1 = top-L, 0.2 = top-L/5).

    Returns:
        float in [0, 1], or None when the map is empty.

    Raises:
        ValueError: shapes differ.
    """
    pair_scores, pair_true = np.asarray(pair_scores, np.float64), np.asarray(pair_true, bool)
    if pair_scores.shape != pair_true.shape:
        raise ValueError(f"scores {pair_scores.shape} and contacts {pair_true.shape} differ")
    if pair_scores.size == 0:
        return None
    count = max(1, min(int(round(fraction * pair_scores.shape[0])), pair_scores.size))
    top = np.argsort(-pair_scores.ravel(), kind="stable")[:count]
    return float(pair_true.ravel()[top].mean())
