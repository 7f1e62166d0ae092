"""Evaluation metrics: Chou's multi-label set and per-label / binary scores.

Multi-label definitions after Chou (2013), "Some remarks on predicting
multi-label attributes in molecular biosystems", Mol. BioSyst. 9:1092, as used
by OmniK-PTM's ``Metrics.py``: Aiming is the sample-averaged precision (a
sample with no predicted label counts 1, as upstream), Coverage the
sample-averaged recall, Accuracy the mean |Y ∩ P| / |Y ∪ P|, Absolute-True the
exact-match ratio and Absolute-False the Hamming loss. All are fractions in
[0, 1].
"""

import numpy as np
from sklearn import metrics as skm


def _binary(y, name):
    y = np.asarray(y)
    if y.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n, labels) binary array, got shape {y.shape}")
    return (y > 0.5).astype(np.int32)


def multilabel_metrics(y_true, y_pred, classes=None, class_codes=range(1, 12)):
    """Chou's five multi-label metrics, with exact-match rate per class.

    Args:
        y_true: binary array (n, L), the true label sets.
        y_pred: binary array (n, L), the predicted label sets.
        classes: optional int array (n,), each sample's label-combination
            code (for OmniK-PTM 1..11); gives ``per_class_absolute_true``.
        class_codes: iterable of int, the codes reported (absent ones get
            None).

    Returns:
        dict with float ``aiming``, ``coverage``, ``accuracy``,
        ``absolute_true``, ``absolute_false`` and, when ``classes`` is
        given, ``per_class_absolute_true``: {"1": float|None, ...}.

    Raises:
        ValueError: shapes differ or are not 2-D.
    """
    y_true, y_pred = _binary(y_true, "y_true"), _binary(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    exact = (y_true == y_pred).all(axis=1)
    result = {
        "aiming": float(skm.precision_score(y_true, y_pred, average="samples", zero_division=1)),
        "coverage": float(skm.recall_score(y_true, y_pred, average="samples", zero_division=0)),
        "accuracy": float(skm.jaccard_score(y_true, y_pred, average="samples", zero_division=1)),
        "absolute_true": float(exact.mean()),
        "absolute_false": float(skm.hamming_loss(y_true, y_pred)),
    }
    if classes is not None:
        classes = np.asarray(classes)
        result["per_class_absolute_true"] = {
            str(code): (float(exact[classes == code].mean()) if (classes == code).any() else None)
            for code in class_codes}
    return result


def binary_metrics(y_true, scores, threshold=0.5):
    """Threshold-free and thresholded scores for one binary label.

    Args:
        y_true: binary array (n,).
        scores: float array (n,), predicted probabilities.
        threshold: float, the decision threshold for ``mcc`` and the counts.

    Returns:
        dict with ``auroc``, ``auprc`` (average precision), ``mcc``, ``acc``,
        ``sensitivity``, ``specificity`` (floats; AUROC/AUPRC None when
        ``y_true`` holds a single class).
    """
    y_true = np.asarray(y_true).astype(np.int32).ravel()
    scores = np.asarray(scores, np.float64).ravel()
    y_pred = (scores >= threshold).astype(np.int32)
    both = len(np.unique(y_true)) == 2
    tn, fp, fn, tp = skm.confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    return {
        "auroc": float(skm.roc_auc_score(y_true, scores)) if both else None,
        "auprc": float(skm.average_precision_score(y_true, scores)) if both else None,
        "mcc": float(skm.matthews_corrcoef(y_true, y_pred)),
        "acc": float((tp + tn) / len(y_true)),
        "sensitivity": float(tp / (tp + fn)) if tp + fn else None,
        "specificity": float(tn / (tn + fp)) if tn + fp else None,
    }


def brier_score(y_true, probabilities):
    """Mean squared difference between probabilities and 0/1 outcomes (lower is better).

    Args:
        y_true: binary array (n,).
        probabilities: float array (n,).

    Returns:
        float in [0, 1].
    """
    y_true = np.asarray(y_true, np.float64).ravel()
    probabilities = np.asarray(probabilities, np.float64).ravel()
    return float(np.mean((probabilities - y_true) ** 2))


def calibration_bins(y_true, probabilities, bins=10):
    """Equal-width reliability bins: per bin, the count, mean probability and observed rate.

    Args:
        y_true: binary array (n,).
        probabilities: float array (n,) in [0, 1].
        bins: int, bins of width 1 / ``bins`` (1.0 falls in the last).

    Returns:
        ``(counts, mean_probability, observed_rate)``, arrays (bins,); empty
        bins have NaN means.
    """
    y_true = np.asarray(y_true, np.float64).ravel()
    probabilities = np.clip(np.asarray(probabilities, np.float64).ravel(), 0.0, 1.0)
    which = np.minimum((probabilities * bins).astype(np.int64), bins - 1)
    counts = np.bincount(which, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(which, probabilities, minlength=bins) / counts
        rate = np.bincount(which, y_true, minlength=bins) / counts
    return counts, mean_p, rate


def expected_calibration_error(y_true, probabilities, bins=10):
    """ECE: the count-weighted mean |observed rate − mean probability| over equal-width bins.

    Guo et al. (2017), "On calibration of modern neural networks", with 10
    bins of width 0.1 over the probability of the positive class.

    Returns:
        float in [0, 1] (0: perfectly calibrated on these data).
    """
    counts, mean_p, rate = calibration_bins(y_true, probabilities, bins)
    used = counts > 0
    return float(np.sum(counts[used] * np.abs(rate[used] - mean_p[used])) / counts.sum())


PER_LABEL_KEYS = ("auroc", "auprc", "mcc")
"""The keys `per_label_metrics` returns by default."""
CALIBRATED_KEYS = ("auroc", "auprc", "mcc", "f1", "precision", "recall", "brier", "ece")
"""Every key `per_label_metrics` can return (thresholded, ranking and calibration scores)."""


def per_label_metrics(y_true, scores, label_names, thresholds=0.5, keys=PER_LABEL_KEYS):
    """Ranking, thresholded and calibration scores for each column of a multi-label problem.

    Args:
        y_true: binary array (n, L).
        scores: float array (n, L), predicted probabilities.
        label_names: sequence of L str, the keys of the result.
        thresholds: float or sequence of L floats for MCC, F1, precision and
            recall (a score at or above its threshold is a positive call).
        keys: which of `CALIBRATED_KEYS` to return (default AUROC, AUPRC, MCC).
            ``f1``/``precision``/``recall`` are of the positive calls
            (precision None when nothing is called); ``brier`` and ``ece``
            (10 bins) score the probabilities as probabilities.

    Returns:
        dict {name: {key: float or None}}.
    """
    y_true, scores = np.asarray(y_true), np.asarray(scores)
    thresholds = np.broadcast_to(np.asarray(thresholds, np.float64), (len(label_names),))
    out = {}
    for j, name in enumerate(label_names):
        m = binary_metrics(y_true[:, j], scores[:, j], thresholds[j])
        called = scores[:, j] >= thresholds[j]
        positives = y_true[:, j] > 0.5
        m["precision"] = float((positives & called).sum() / called.sum()) if called.any() else None
        m["recall"] = m["sensitivity"]
        m["f1"] = float(skm.f1_score(positives, called, zero_division=0))
        m["brier"] = brier_score(y_true[:, j], scores[:, j])
        m["ece"] = expected_calibration_error(y_true[:, j], scores[:, j])
        out[name] = {key: m[key] for key in keys}
    return out


def regression_metrics(y_true, y_pred):
    """Pearson r, Spearman ρ, MAE and RMSE of a regression (e.g. ΔG in kcal/mol).

    Args:
        y_true: float array (n,), measured values.
        y_pred: float array (n,), predictions (same units).

    Returns:
        dict with float ``pearson_r``, ``spearman_rho`` (None when either
        side is constant or n < 2), ``mae``, ``rmse`` (units of the inputs)
        and int ``n``.

    Raises:
        ValueError: the arrays differ in length or are empty.
    """
    from scipy import stats

    y_true = np.asarray(y_true, np.float64).ravel()
    y_pred = np.asarray(y_pred, np.float64).ravel()
    if y_true.shape != y_pred.shape or not y_true.size:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must be non-empty and "
                         "equally long")
    varied = y_true.size > 1 and np.ptp(y_true) > 0 and np.ptp(y_pred) > 0
    return {
        "pearson_r": float(stats.pearsonr(y_true, y_pred)[0]) if varied else None,
        "spearman_rho": float(stats.spearmanr(y_true, y_pred)[0]) if varied else None,
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
        "n": int(y_true.size),
    }
