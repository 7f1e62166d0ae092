"""PTM models on flat window features: gradient-boosted trees (per label or over the label
combinations), logistic regression, their stack.

Inside one training fold (`fit_window_model`): the rows are split again into
``inner_folds`` stratified parts; one model per label is fitted on each
inner training part and scores its held-out part. The inner out-of-fold
scores fit the calibrator and the thresholds; the predictor averages the
inner models (an ensemble of the fold models) and calibrates the mean. So
calibration and thresholds never see a row the model trained on, and the
scored fold is never seen at all. Features are fixed label-free tables
(`deepbio.ptm.features.window_features`), computed once.
"""

import time
import warnings

import numpy as np
from sklearn.model_selection import StratifiedKFold

from deepbio.ptm.data import PTM_LABELS
from deepbio.ptm.predictor import WindowEnsemble
from deepbio.ptm.calibration import (LabelCalibrator, choose_thresholds, fit_label_mixer,
                                         logit, mix_labels)
from deepbio.ptm.features import block_width, window_features
from deepbio.ptm.data import combination_to_labels

TREE_BLOCKS = ("one_hot_centre", "composition", "regions", "aaindex_regions")
"""Feature blocks of ``--model-type trees`` (chosen by ``benchmarks/ptm_models.py``)."""
LINEAR_BLOCKS = ("blosum62", "aaindex", "composition", "regions")
"""Feature blocks of ``--model-type linear``."""


def make_estimator(kind, config, labels):
    """One unfitted per-label classifier.

    ``trees`` (also inside ``powerset``): `HistGradientBoostingClassifier` (``--tree-iterations``,
    ``--tree-learning-rate``, early stopping on 10 % of its rows, positives
    weighted by ``--class-weight``); ``linear``: standardisation + L2 logistic
    regression (``--linear-c``).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    weight = _class_weight(config.class_weight, labels)
    if kind == "trees":
        return HistGradientBoostingClassifier(
            learning_rate=config.tree_learning_rate, max_iter=config.tree_iterations,
            max_leaf_nodes=config.tree_leaves, min_samples_leaf=40, l2_regularization=1.0,
            early_stopping=True, validation_fraction=0.1, n_iter_no_change=20,
            class_weight=weight, random_state=config.seed)
    if kind == "linear":
        return make_pipeline(StandardScaler(), LogisticRegression(
            C=config.linear_c, max_iter=500, class_weight=weight))
    raise ValueError(f"no flat-feature estimator for model type {kind!r}")


def _class_weight(mode, labels):
    """``none`` → None; ``balanced`` → balanced; ``sqrt`` → positives × sqrt(neg / pos)."""
    if mode == "none":
        return None
    if mode == "balanced":
        return "balanced"
    positives = max(float(np.mean(labels)), 1e-3)
    return {0: 1.0, 1: float(np.sqrt((1 - positives) / positives))}


def _inner_splits(classes, folds, seed):
    with warnings.catch_warnings():  # rare combinations in small runs: fewer members than parts
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(classes, classes))


class PowersetClassifier:
    """One multi-class model over the label combinations; per-label probabilities summed from it.

    Label-correlation-aware by construction (label powerset): P(label) is the
    total probability of the combinations that hold the label.
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, features, classes):
        self.estimator.fit(features, classes)
        self.table_ = combination_to_labels(self.estimator.classes_).astype(np.float64)
        return self

    def label_proba(self, features):
        """float (n, L): per-label probabilities."""
        return np.clip(self.estimator.predict_proba(features) @ self.table_, 0.0, 1.0)


def fit_members(kind, config, features, labels, classes):
    """Inner-fold models of one kind and their out-of-fold raw scores.

    Returns:
        ``(members, oof)``: members a list (inner folds) of lists (labels) of
        fitted classifiers; oof float (n, L), each row scored by the models
        that did not see it.
    """
    oof = np.zeros(labels.shape, np.float64)
    members = []
    for fit_rows, out_rows in _inner_splits(classes, config.inner_folds, config.seed):
        if kind == "powerset":
            model = PowersetClassifier(make_estimator("trees", config, labels[fit_rows, 0]))
            model.fit(features[fit_rows], classes[fit_rows])
            oof[out_rows] = model.label_proba(features[out_rows])
            members.append(model)
            continue
        models = []
        for j in range(labels.shape[1]):
            model = make_estimator(kind, config, labels[fit_rows, j])
            model.fit(features[fit_rows], labels[fit_rows, j])
            oof[out_rows, j] = model.predict_proba(features[out_rows])[:, 1]
            models.append(model)
        members.append(models)
    return members, oof


def _ensemble(kind, config, blocks, members, oof, labels):
    mixer = None
    if config.label_mixing:
        mixer = fit_label_mixer(oof, labels)
        oof = mix_labels(oof, mixer)
    calibrator = LabelCalibrator(config.calibration).fit(oof, labels)
    calibrated = calibrator.transform(oof)
    thresholds = choose_thresholds(labels, calibrated, config.call_at)
    model = WindowEnsemble(blocks, members, calibrator, thresholds, PTM_LABELS, config.call_at,
                           kind=kind, label_mixer=mixer)
    return model, oof, calibrated


def fit_window_model(config, features, labels, classes, blocks):
    """Fits one ``--model-type`` (trees, powerset, linear or stack) on the rows given.

    Args:
        config: `deepbio.ptm.task.PTMConfig`.
        features: dict {block: float32 (n, d)} of the fitting rows, or, for one
            kind, a matrix; see `feature_matrix`.
        labels: int (n, 4); classes: int (n,), the combination codes.
        blocks: dict {kind: tuple of blocks}.

    Returns:
        ``(predictor, raw_oof, calibrated_oof)``: a `WindowEnsemble` and the
        inner out-of-fold raw and calibrated scores of the fitting rows.
    """
    if config.model_type != "stack":
        kind = config.model_type
        members, oof = fit_members(kind, config, feature_matrix(features, blocks[kind]), labels,
                                   classes)
        return _ensemble(kind, config, blocks[kind], members, oof, labels)
    import dataclasses

    parts, logits = [], []
    kinds = tuple(config.stack_members)
    member_config = dataclasses.replace(config, label_mixing=False)  # the combiner mixes labels
    for kind in kinds:
        members, oof = fit_members(kind, config, feature_matrix(features, blocks[kind]), labels,
                                   classes)
        part, _, calibrated = _ensemble(kind, member_config, blocks[kind], members, oof, labels)
        parts.append(_Columns(part, blocks[kind], _all_blocks(blocks, kinds)))
        logits.append(logit(calibrated))
    combiner = _fit_combiner(logits, labels)
    raw = _combine(logits, combiner)
    calibrator = LabelCalibrator(config.calibration).fit(raw, labels)
    calibrated = calibrator.transform(raw)
    thresholds = choose_thresholds(labels, calibrated, config.call_at)
    model = WindowEnsemble(_all_blocks(blocks, kinds), parts, calibrator, thresholds, PTM_LABELS,
                           config.call_at, combiner=combiner, kind="stack")
    return model, raw, calibrated


class _Columns(WindowEnsemble):
    """A stack member that reads its own blocks' columns of the stack's feature matrix."""

    def __init__(self, inner, own_blocks, all_blocks):
        super().__init__(inner.blocks, inner.members, inner.calibrator, inner.thresholds,
                         inner.labels, inner.objective, kind=inner.kind,
                         label_mixer=inner.label_mixer)
        self.columns = _block_columns(own_blocks, all_blocks)

    def calibrated(self, features):
        return super().calibrated(features[:, self.columns])


def _all_blocks(blocks, kinds):
    return tuple(dict.fromkeys(b for kind in kinds for b in blocks[kind]))


def _block_columns(own, every):
    starts = np.cumsum([0] + [block_width(b) for b in every])
    return np.concatenate([np.arange(starts[every.index(b)], starts[every.index(b) + 1]) for b in own])


def _fit_combiner(logits, labels):
    """Per label, a logistic regression on every member's calibrated logits of every label."""
    return fit_label_mixer(1.0 / (1.0 + np.exp(-np.hstack(logits))), labels)


def _combine(logits, combiner):
    return mix_labels(1.0 / (1.0 + np.exp(-np.hstack(logits))), combiner)


def feature_matrix(features, blocks):
    """Concatenates the named blocks of ``features`` (a dict) into one float32 matrix."""
    if not isinstance(features, dict):
        return features
    return np.concatenate([features[b] for b in blocks], axis=1)


def window_feature_blocks(windows, kinds):
    """Every block the model kinds need: dict {block: float32 (n, d)} (label-free tables)."""
    needed = dict.fromkeys(b for kind in kinds for b in MODEL_BLOCKS[kind])
    return {b: window_features(windows, (b,)) for b in needed}


MODEL_BLOCKS = {"trees": TREE_BLOCKS, "powerset": TREE_BLOCKS, "linear": LINEAR_BLOCKS,
                "stack": TREE_BLOCKS + LINEAR_BLOCKS}


def fit_predict_fold(config, features, labels, classes, train_idx, score_idx, timings):
    """Fits on ``train_idx`` and scores ``score_idx`` (calibrated); see `fit_window_model`.

    Returns:
        dict with ``model``, ``thresholds``, ``probabilities`` (calibrated,
        of the scored rows), ``raw`` (the inner models' mean score, before
        label mixing and calibration),
        ``inner_raw``/``inner_calibrated``/``inner_labels`` (in-fold
        out-of-fold scores, for the calibration report).
    """
    start = time.perf_counter()
    take = lambda rows: {b: x[rows] for b, x in features.items()}  # noqa: E731
    model, inner_raw, inner_calibrated = fit_window_model(
        config, take(train_idx), labels[train_idx], classes[train_idx], MODEL_BLOCKS)
    score = take(score_idx)
    matrix = feature_matrix(score, model.feature_blocks())
    empty = np.zeros((0, labels.shape[1]))
    probabilities = model.calibrator.transform(model.raw_scores(matrix)) if len(score_idx) else empty
    # "raw": the inner models' mean before the label-correlation step and calibration
    raw = model.raw_scores(matrix, mixed=False) if len(score_idx) else empty
    timings["train"] = timings.get("train", 0.0) + time.perf_counter() - start
    return {"model": model, "thresholds": model.thresholds, "probabilities": probabilities,
            "raw": raw, "inner_raw": inner_raw, "inner_calibrated": inner_calibrated,
            "inner_labels": labels[train_idx]}
