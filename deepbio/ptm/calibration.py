"""Calibrated probabilities and calls with a stated objective, fitted inside training folds.

* `LabelCalibrator`: per-label Platt scaling (a logistic regression on the
  logit of the score) or isotonic regression, fitted on scores the model did
  not train on (inner out-of-fold predictions or a held-out part of the
  training fold), never on the rows it is scored on.
* `choose_thresholds`: per-label thresholds for an objective, ``mcc``
  (maximise each label's Matthews correlation), ``exact`` (maximise the
  exact-match rate of the decoded sets) or ``precision=P`` (the lowest
  threshold whose precision is at least P, so as many true sites as possible
  are called at that precision; none called when P is out of reach).
* `reliability_figure`: reliability diagram, one panel per label.
"""

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from deepbio.metrics import calibration_bins, expected_calibration_error

CALIBRATIONS = ("platt", "isotonic", "none")
_EPS = 1e-6


def logit(p):
    """log(p / (1 − p)), clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


class LabelCalibrator:
    """Maps each label's raw score to a calibrated probability.

    Args:
        method: ``platt``, ``isotonic`` or ``none`` (identity).

    Attributes (after `fit`):
        slopes_, intercepts_: float arrays (L,), the Platt maps
            ``σ(slope · logit(p) + intercept)`` (identity for other methods).
        isotonic_: list of L fitted `IsotonicRegression` (``isotonic`` only).
    """

    def __init__(self, method="platt"):
        if method not in CALIBRATIONS:
            raise ValueError(f"calibration must be one of {', '.join(CALIBRATIONS)}, got {method!r}")
        self.method = method

    def fit(self, scores, labels):
        """Fits one map per label on held-out ``scores`` (n, L) and their 0/1 ``labels``."""
        scores, labels = np.asarray(scores, np.float64), np.asarray(labels)
        n_labels = scores.shape[1]
        self.slopes_, self.intercepts_ = np.ones(n_labels), np.zeros(n_labels)
        self.isotonic_ = []
        for j in range(n_labels):
            y = labels[:, j]
            if self.method == "none" or len(np.unique(y)) < 2:
                self.isotonic_.append(None)
                continue
            if self.method == "platt":
                fitted = LogisticRegression(C=1e4).fit(logit(scores[:, j])[:, None], y)
                self.slopes_[j], self.intercepts_[j] = fitted.coef_[0, 0], fitted.intercept_[0]
                self.isotonic_.append(None)
            else:
                self.isotonic_.append(IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
                                      .fit(scores[:, j], y))
        return self

    def transform(self, scores):
        """Calibrated probabilities, float64 (n, L)."""
        scores = np.asarray(scores, np.float64)
        out = 1.0 / (1.0 + np.exp(-(self.slopes_ * logit(scores) + self.intercepts_)))
        for j, iso in enumerate(self.isotonic_):
            if iso is not None:
                out[:, j] = iso.predict(scores[:, j])
            elif self.method != "platt":
                out[:, j] = scores[:, j]
        return out

    def to_dict(self):
        """JSON form of a Platt or identity calibrator (isotonic maps are not JSON-able)."""
        if self.method == "isotonic":
            raise ValueError("an isotonic calibrator is saved with skops (in ptm_model.skops), not as JSON")
        return {"method": self.method, "slopes": self.slopes_.tolist(),
                "intercepts": self.intercepts_.tolist()}


def fit_label_mixer(scores, labels, C=1.0):
    """Label-correlation step: per label, a logistic regression on the logits of all L scores.

    Fitted on held-out (inner out-of-fold) scores, so a label can use the
    other labels' evidence (e.g. a window that looks succinylated is less
    likely acetylation-only).

    Returns:
        float (L, L + 1): weights, intercept last (see `mix_labels`).
    """
    x = logit(scores)
    weights = np.zeros((labels.shape[1], x.shape[1] + 1))
    for j in range(labels.shape[1]):
        if len(np.unique(labels[:, j])) < 2:
            weights[j, j] = 1.0
            continue
        fitted = LogisticRegression(C=C, max_iter=1000).fit(x, labels[:, j])
        weights[j, :-1], weights[j, -1] = fitted.coef_[0], fitted.intercept_[0]
    return weights


def mix_labels(scores, weights):
    """Applies `fit_label_mixer` weights: σ(logit(scores) · Wᵀ + b), float (n, L)."""
    z = logit(scores) @ weights[:, :-1].T + weights[:, -1]
    return 1.0 / (1.0 + np.exp(-z))


def parse_objective(objective):
    """``mcc`` | ``exact`` | ``precision=P`` → ``(name, value)``.

    Raises:
        ValueError: any other form, or P outside (0, 1).
    """
    text = str(objective).strip().lower()
    if text in ("mcc", "exact"):
        return text, None
    name, _, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = None
    if name != "precision" or number is None or not 0 < number < 1:
        raise ValueError(f"call objective must be 'mcc', 'exact' or 'precision=P' with 0 < P < 1, "
                         f"got {objective!r}")
    return name, number


def _candidates(scores):
    """Candidate cuts: the distinct scores (at most ~400 quantiles) and 1 + ε (no call)."""
    unique = np.unique(scores)
    if len(unique) > 400:
        unique = np.unique(np.quantile(scores, np.linspace(0, 1, 401)))
    return np.append(unique, 1.0 + _EPS)


def best_mcc_threshold(labels, scores):
    """The cut ``score ≥ t`` that maximises the Matthews correlation on these rows.

    Every candidate cut (`_candidates`) is scored at once from sorted scores
    (the confusion counts by binary search), with the arithmetic of
    `sklearn.metrics.matthews_corrcoef` (0 where it is undefined, and where
    the cut calls every row or none); the lowest cut reaching the best value
    wins. Agrees with calling `matthews_corrcoef` per cut (tested).

    Args:
        labels: binary array (n,).
        scores: float array (n,).

    Returns:
        float, the cut.
    """
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores)
    candidates = _candidates(scores)
    values = _mcc_per_cut(labels, scores, candidates)
    best, best_t = -np.inf, 0.5
    for t, value in zip(candidates, values):
        if value > best + 1e-12:
            best, best_t = value, float(t)
    return best_t


def _mcc_per_cut(labels, scores, cuts):
    """Matthews correlation of the calls ``scores >= cut`` for each cut (float64 (len(cuts),))."""
    positives, negatives = np.sort(scores[labels]), np.sort(scores[~labels])
    tp = (len(positives) - np.searchsorted(positives, cuts, side="left")).astype(np.float64)
    fp = (len(negatives) - np.searchsorted(negatives, cuts, side="left")).astype(np.float64)
    fn, tn = len(positives) - tp, len(negatives) - fp
    n = float(len(labels))
    t_sum, p_sum = (tn + fp, fn + tp), (tn + fn, fp + tp)  # true classes 0/1, called 0/1
    cov_ytyp = (tn + tp) * n - (t_sum[0] * p_sum[0] + t_sum[1] * p_sum[1])
    cov_ypyp = n ** 2 - (p_sum[0] * p_sum[0] + p_sum[1] * p_sum[1])
    cov_ytyt = n ** 2 - (t_sum[0] * t_sum[0] + t_sum[1] * t_sum[1])
    product = cov_ypyp * cov_ytyt
    called = tp + fp
    defined = (product != 0) & (called > 0) & (called < n)
    values = np.zeros(len(cuts))
    values[defined] = cov_ytyp[defined] / np.sqrt(product[defined])
    return values


def precision_threshold(labels, scores, target):
    """The lowest cut whose calls reach precision ``target`` (1 + ε, no call, if none does)."""
    labels = np.asarray(labels).astype(bool)
    order = np.argsort(-scores, kind="stable")
    sorted_scores, hits = scores[order], labels[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    # a cut must fall between distinct scores: use the last row of each run of ties
    last_of_tie = np.append(sorted_scores[1:] != sorted_scores[:-1], True)
    ok = np.flatnonzero((precision >= target) & last_of_tie)
    return float(sorted_scores[ok[-1]]) if len(ok) else 1.0 + _EPS


def choose_thresholds(labels, probabilities, objective="mcc"):
    """Per-label thresholds for ``objective`` on held-out rows (see the module doc).

    Args:
        labels: binary array (n, L).
        probabilities: float array (n, L), calibrated, of rows the model did
            not train on.
        objective: ``mcc``, ``exact`` or ``precision=P``.

    Returns:
        float array (L,).
    """
    name, value = parse_objective(objective)
    labels, probabilities = np.asarray(labels), np.asarray(probabilities, np.float64)
    if name == "exact":
        return tune_thresholds(labels, probabilities)
    if name == "mcc":
        return np.array([best_mcc_threshold(labels[:, j], probabilities[:, j])
                         for j in range(labels.shape[1])])
    return np.array([precision_threshold(labels[:, j], probabilities[:, j], value)
                     for j in range(labels.shape[1])])


def calibration_summary(labels, probabilities, label_names, bins=10):
    """Per label: ECE, and the reliability bins (count, mean probability, observed rate)."""
    out = {}
    for j, name in enumerate(label_names):
        counts, mean_p, rate = calibration_bins(labels[:, j], probabilities[:, j], bins)
        out[name] = {"ece": expected_calibration_error(labels[:, j], probabilities[:, j], bins),
                     "bins": {"count": counts.astype(int).tolist(),
                              "mean_probability": [None if np.isnan(v) else float(v) for v in mean_p],
                              "observed_rate": [None if np.isnan(v) else float(v) for v in rate]}}
    return out


def reliability_figure(curves, label_names, bins=10, title=None):
    """Reliability diagram: observed rate against mean probability per bin, one panel per label.

    Args:
        curves: dict {curve name: (labels (n, L), probabilities (n, L))}, e.g.
            raw and calibrated out-of-fold probabilities.
        label_names: sequence of L str (panel titles).

    Returns:
        A matplotlib figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(label_names), figsize=(3.2 * len(label_names), 3.4))
    for j, (ax, name) in enumerate(zip(np.atleast_1d(axes), label_names)):
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        for curve, (labels, probabilities) in curves.items():
            counts, mean_p, rate = calibration_bins(labels[:, j], probabilities[:, j], bins)
            used = counts > 0
            ece = expected_calibration_error(labels[:, j], probabilities[:, j], bins)
            ax.plot(mean_p[used], rate[used], marker="o", ms=3, label=f"{curve} (ECE {ece:.3f})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(name)
        ax.set_xlabel("mean predicted probability")
        if j == 0:
            ax.set_ylabel("observed rate")
        ax.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def decode(probabilities, thresholds):
    """Turns probabilities into label sets; an empty set gets its top label.

    Every window in this benchmark carries at least one modification, so
    an empty prediction is always wrong.

    Args:
        probabilities: float array (n, L).
        thresholds: float array (L,).

    Returns:
        int32 array (n, L).
    """
    predicted = (probabilities >= thresholds).astype(np.int32)
    empty = predicted.sum(axis=1) == 0
    predicted[empty, np.argmax(probabilities[empty] - thresholds, axis=1)] = 1
    return predicted


def tune_thresholds(labels, probabilities, grid=np.linspace(0.05, 0.95, 37), rounds=3):
    """Per-label thresholds that maximise exact match (Absolute-True).

    Coordinate ascent over ``grid``, starting from 0.5, on data held out of
    training (the training fold's validation part).

    Args:
        labels: binary array (n, L).
        probabilities: float array (n, L).

    Returns:
        float array (L,).
    """
    labels = np.asarray(labels)
    thresholds = np.full(labels.shape[1], 0.5)
    best = (decode(probabilities, thresholds) == labels).all(axis=1).mean()
    for _ in range(rounds):
        improved = False
        for j in range(labels.shape[1]):
            for value in grid:
                trial = thresholds.copy()
                trial[j] = value
                score = (decode(probabilities, trial) == labels).all(axis=1).mean()
                if score > best + 1e-12:
                    best, thresholds, improved = score, trial, True
        if not improved:
            break
    return thresholds
