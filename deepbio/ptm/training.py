"""PTM training inside one fold: PSTAAP fitted in-fold, sampler, classifier, thresholds.

After OmniK-PTM (jiyuzhaoo/OmniK-PTM), made leak-free: nothing learned from
data (PSTAAP table, its scaling, sampler, thresholds) ever sees the windows
it is scored on, and training rows get out-of-fold PSTAAP values.
"""

import time
import warnings

import keras
import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split
from tqdm.auto import tqdm

import Feature_extraction_algorithms as fea
from deepbio.core.engine import fit
from deepbio.ptm.data import PTM_LABELS
from deepbio.metrics import CALIBRATED_KEYS, multilabel_metrics, per_label_metrics
from deepbio.ptm.model import PTMClassifier
from deepbio.ptm.calibration import (LabelCalibrator, choose_thresholds,  # noqa: F401
                                    decode, tune_thresholds)  # (re-exported)


def pstaap_features(fit_windows, fit_labels, other_windows, cross_fit, seed, n_splits=5):
    """PSTAAP fitted on ``fit_windows`` only.

    Args:
        fit_windows: list of str, the training rows.
        fit_labels: int array (n_fit, 4).
        other_windows: list of lists of str, rows to transform with the
            table fitted on all training rows (validation, test).
        cross_fit: bool. Training rows get out-of-fold values (a table fitted
            on the other ``n_splits - 1`` parts) when True.
        seed: int, for the out-of-fold split.

    Returns:
        ``(encoder, fit_features, [other_features, ...])``, features float32
        (n, 46).
    """
    encoder = fea.PSTAAP().fit(fit_windows, fit_labels)
    if cross_fit:
        fit_features = np.zeros((len(fit_windows), 46), np.float32)
        codes = _row_codes(fit_labels)
        splitter = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
        windows = np.asarray(fit_windows, dtype=object)
        with warnings.catch_warnings():  # rare combinations in small runs: fewer members than parts
            warnings.filterwarnings("ignore", "The least populated class", UserWarning)
            splits = list(splitter.split(windows, codes))
        for inner_fit, inner_out in splits:
            inner = fea.PSTAAP().fit(list(windows[inner_fit]), fit_labels[inner_fit])
            fit_features[inner_out] = inner.transform(list(windows[inner_out]))
    else:
        fit_features = encoder.transform(fit_windows)
    return encoder, fit_features, [encoder.transform(w) for w in other_windows]


def _row_codes(labels):
    """A 1-D code per distinct label row (for stratification)."""
    return np.asarray(labels) @ (1 << np.arange(np.asarray(labels).shape[1]))


def build_classifier(config, residue_channels):
    """A `PTMClassifier` sized by ``config``."""
    return PTMClassifier(
        residue_channels=residue_channels, conv_filters=config.conv_filters,
        tower_filters=(config.conv_filters, config.hidden_dim), hidden_dim=config.hidden_dim,
        num_heads=config.num_heads, gru_units=config.gru_units,
        intermediate_dim=config.intermediate_dim, dropout=config.dropout)


def _loss(config, labels):
    if not config.label_weighting:
        return keras.losses.BinaryCrossentropy()
    positives = np.clip(labels.mean(axis=0), 1e-3, 1 - 1e-3)
    weights = np.sqrt((1 - positives) / positives).astype(np.float32)

    def weighted_bce(y_true, y_pred):
        y_true = keras.ops.cast(y_true, y_pred.dtype)
        y_pred = keras.ops.clip(y_pred, 1e-7, 1 - 1e-7)
        terms = -(weights * y_true * keras.ops.log(y_pred) + (1 - y_true) * keras.ops.log(1 - y_pred))
        return keras.ops.mean(terms, axis=-1)

    return weighted_bce


def train_model(config, x_train, y_train, x_val, y_val, verbose=1):
    """Trains one classifier with early stopping on the validation loss.

    Args:
        config: `PTMConfig`.
        x_train, x_val: lists ``[pstaap (n, 46, 1), residues (n, 49, C)]``.
        y_train, y_val: int arrays (n, 4).

    Returns:
        ``(model, history_dict)``; the model holds its best-validation weights.

    The training runs in `deepbio.core.engine.fit`: ``model.fit``, or under
    `tf.distribute.MultiWorkerMirroredStrategy` (``--strategy
    multi-worker``), where Keras 3's ``model.fit`` fails, the engine's step
    loop with the same model, loss, optimizer, early stopping and
    learning-rate schedule (no AUROC in the history).
    """
    model = build_classifier(config, x_train[1].shape[-1])
    loss = _loss(config, y_train)
    model.compile(
        optimizer=keras.optimizers.AdamW(config.learning_rate, weight_decay=config.weight_decay),
        loss=loss, metrics=[keras.metrics.AUC(multi_label=True, name="auroc")],
        jit_compile=config.keras_jit_compile())
    callbacks = [keras.callbacks.EarlyStopping(patience=config.patience, restore_best_weights=True),
                 keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=max(2, config.patience // 3))]
    return model, fit(
        model, x_train, y_train.astype(np.float32), validation_data=(x_val, y_val.astype(np.float32)),
        epochs=config.epochs, batch_size=config.batch_size, seed=config.seed, verbose=verbose,
        callbacks=callbacks, stateful=callbacks)


def _sampler_indices(config, features, classes):
    """Indices kept by the configured under-sampler (class 1 reduced)."""
    import Resample

    n_first = int((classes == 1).sum())
    strategy = {1: max(2, int(round(config.keep_fraction * n_first)))}
    if config.sampler == "none" or n_first <= strategy[1]:
        return np.arange(len(classes))
    extra = {"n_jobs": -1} if config.sampler == "adaptive" else {}  # DTW threads
    sampler = Resample.make_sampler(config.sampler, random_state=config.seed,
                                    sampling_strategy=strategy, **extra)
    sampler.fit_resample(features, classes)
    return np.sort(np.asarray(sampler.sample_indices_))


def fit_fold(config, windows, labels, classes, residues, train_idx, score_windows, score_residues,
             timings, verbose=1):
    """Fits encoders, sampler, model, calibration and thresholds on ``train_idx`` rows.

    The scored windows are only transformed and predicted, never fitted on.
    The calibrator (``--calibration``) and the thresholds (``--call-at``) are
    fitted on the training fold's validation part.

    Args:
        config: `PTMConfig`.
        windows, labels, classes, residues: the training split (n rows).
        train_idx: int array, the rows to fit on (split again into a fitting
            part and a validation part for early stopping and thresholds).
        score_windows: list of str (may be empty), windows to predict.
        score_residues: float32 (n_score, 49, C), their residue features.
        timings: dict with ``features``, ``resample``, ``train`` seconds,
            incremented in place.

    Returns:
        dict with ``model`` (the feature-level `PTMClassifier`), ``encoder``
        (fitted PSTAAP), ``pstaap_scaling`` (per-position mean and variance of
        the fitting rows' PSTAAP values), ``calibrator``, ``thresholds`` (on
        the calibrated scale), ``probabilities`` (calibrated), ``raw`` and
        ``score_inputs`` for the scored windows (None if none), ``history``,
        ``inner_raw``/``inner_calibrated``/``inner_labels`` (the validation
        part), ``n_resampled``.
    """
    fit_idx, val_idx = train_test_split(train_idx, test_size=config.val_fraction,
                                        stratify=classes[train_idx], random_state=config.seed)
    take = lambda idx: [windows[i] for i in idx]
    start = time.perf_counter()
    others = [take(val_idx)] + ([list(score_windows)] if len(score_windows) else [])
    encoder, p_fit, transformed = pstaap_features(take(fit_idx), labels[fit_idx], others,
                                                  config.pstaap_cross_fit, config.seed)
    # Per-position standardisation, statistics from the fitting rows only.
    mean, std = p_fit.mean(axis=0), p_fit.std(axis=0) + 1e-12
    p_fit = (p_fit - mean) / std
    transformed = [(t - mean) / std for t in transformed]
    timings["features"] += time.perf_counter() - start
    start = time.perf_counter()
    kept = _sampler_indices(config, p_fit, classes[fit_idx])
    timings["resample"] += time.perf_counter() - start
    start = time.perf_counter()
    x_fit = [p_fit[kept, :, None], residues[fit_idx][kept]]
    x_val = [transformed[0][:, :, None], residues[val_idx]]
    model, history = train_model(config, x_fit, labels[fit_idx][kept], x_val, labels[val_idx], verbose)
    val_raw = model.predict(x_val, batch_size=1024, verbose=0)
    calibrator = LabelCalibrator(config.calibration).fit(val_raw, labels[val_idx])
    val_probabilities = calibrator.transform(val_raw)
    thresholds = (choose_thresholds(labels[val_idx], val_probabilities, config.call_at)
                  if config.tune_thresholds else np.full(labels.shape[1], 0.5))
    score_inputs = probabilities = raw = None
    if len(score_windows):
        score_inputs = [transformed[1][:, :, None], np.asarray(score_residues, np.float32)]
        raw = model.predict(score_inputs, batch_size=1024, verbose=0)
        probabilities = calibrator.transform(raw)
    timings["train"] += time.perf_counter() - start
    return {"model": model, "encoder": encoder, "pstaap_scaling": (mean, std ** 2),
            "thresholds": thresholds, "history": history, "calibrator": calibrator,
            "probabilities": probabilities, "raw": raw, "score_inputs": score_inputs,
            "inner_raw": val_raw, "inner_calibrated": val_probabilities,
            "inner_labels": labels[val_idx], "n_resampled": int(len(kept))}


def decide(probabilities, thresholds, objective="mcc"):
    """Calls (int (n, L)) at ``thresholds``: `decode` (never an empty set), except under
    ``precision=P``, where a window may get no call (a forced call would break the precision)."""
    if str(objective).startswith("precision"):
        return (np.asarray(probabilities) >= np.asarray(thresholds)).astype(np.int32)
    return decode(np.asarray(probabilities), np.asarray(thresholds))


def pooled_metrics(labels, classes, probabilities, calls):
    """The report's metric block from probabilities and calls made (possibly at per-fold cuts).

    Returns:
        dict with Chou's metrics, ``per_class_absolute_true`` ("1".."11") and
        ``per_label`` {a, c, m, s: {auroc, auprc, mcc, f1, precision, recall,
        brier, ece}}: ranking and calibration from the probabilities, the
        rest from the calls.
    """
    calls = np.asarray(calls)
    result = multilabel_metrics(labels, calls, classes)
    # calls as scores at a 0.5 cut give the thresholded metrics of the calls themselves
    thresholded = per_label_metrics(labels, calls.astype(np.float64), PTM_LABELS, 0.5,
                                    keys=("mcc", "f1", "precision", "recall"))
    ranking = per_label_metrics(labels, probabilities, PTM_LABELS, 0.5,
                                keys=("auroc", "auprc", "brier", "ece"))
    result["per_label"] = {l: {k: {**ranking[l], **thresholded[l]}[k] for k in CALIBRATED_KEYS}
                           for l in PTM_LABELS}
    return result


def evaluate(labels, classes, probabilities, thresholds, objective="mcc"):
    """The report's metric block for one set of predictions at one set of thresholds.

    Returns:
        See `pooled_metrics`.
    """
    return pooled_metrics(labels, classes, probabilities,
                          decide(probabilities, thresholds, objective))


def cv_splits(dataset, folds, seed, protocol="stratified"):
    """The CV folds of the training split.

    ``stratified``: `StratifiedKFold` on the 11 label-combination codes;
    ``grouped``: `StratifiedGroupKFold` on the codes with UniProt accessions
    as groups, so no protein has windows on both sides of a split.

    Returns:
        list of ``(train_idx, score_idx)``.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    if protocol == "stratified":
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
        return list(splitter.split(dataset.windows, dataset.classes))
    if protocol != "grouped":
        raise ValueError(f"CV protocol must be 'stratified' or 'grouped', got {protocol!r}")
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        return list(splitter.split(dataset.windows, dataset.classes, dataset.accessions))


def cross_validate(config, dataset, inputs, timings, verbose=1, protocol="stratified",
                   model_type=None, unit=None):
    """k-fold CV on the training split for one model type; everything learned stays in-fold.

    Args:
        config: `PTMConfig`.
        dataset: the training split (`deepbio.data.PTMDataset`).
        inputs: per-residue features (n, 49, C) for ``network``, else the dict
            of flat feature blocks (`deepbio.ptm.trees.window_feature_blocks`).
        protocol: ``stratified`` or ``grouped`` (see `cv_splits`).
        model_type: default ``config.model_type``.
        unit: optional ``unit(key, compute)`` running each fold once
            (`deepbio.core.run_folder.RunFolder.checkpointed`: a resumed run
            loads finished folds); default: ``compute()``.

    Returns:
        dict: ``metrics`` (pooled; each window called at its own fold's
        thresholds), ``folds`` (one metric dict per fold), ``probabilities``
        (calibrated, out of fold), ``raw`` (uncalibrated), ``calls``,
        ``inner`` (list of the folds' in-fold ``(labels, raw, calibrated)``),
        ``last`` (the last fold's fit; its scored inputs, and its model in the
        stratified CV of ``config.model_type``, feed the CV saliency maps; the
        other folds keep no model) and ``last_idx`` (its scored rows).
    """
    import dataclasses

    from deepbio.ptm.trees import fit_predict_fold

    model_type = model_type or config.model_type
    fold_config = dataclasses.replace(config, model_type=model_type)
    labels, classes = dataset.labels, dataset.classes
    oof, raw = np.zeros(labels.shape), np.zeros(labels.shape)
    calls = np.zeros(labels.shape, np.int32)
    folds, inner, fold = [], [], None
    splits = cv_splits(dataset, config.folds, config.seed, protocol)
    for number, (train_idx, score_idx) in enumerate(
            tqdm(splits, desc=f"{protocol} CV ({model_type})", unit="fold"), 1):
        # Only the last stratified fold's model of the run's own model type is read again (the
        # CV saliency maps / position importance); the others are not kept, so their fold
        # checkpoints hold scores, not models (a fold's skops model is most of its save time).
        keep_model = (protocol == "stratified" and model_type == config.model_type
                      and number == len(splits))

        def compute(train_idx=train_idx, score_idx=score_idx, keep_model=keep_model):
            if model_type == "network":
                result = fit_fold(fold_config, dataset.windows, labels, classes, inputs, train_idx,
                                  [dataset.windows[i] for i in score_idx], inputs[score_idx],
                                  timings, verbose)
            else:
                result = fit_predict_fold(fold_config, inputs, labels, classes, train_idx,
                                          score_idx, timings)
            return result if keep_model else {k: v for k, v in result.items() if k != "model"}

        fold = (unit or (lambda key, fn: fn()))(f"{protocol}_{model_type}_fold{number}", compute)
        oof[score_idx], raw[score_idx] = fold["probabilities"], fold["raw"]
        calls[score_idx] = decide(fold["probabilities"], fold["thresholds"], config.call_at)
        inner.append((fold["inner_labels"], fold["inner_raw"], fold["inner_calibrated"]))
        metrics = pooled_metrics(labels[score_idx], classes[score_idx], fold["probabilities"],
                                 calls[score_idx])
        metrics.update(fold=number, thresholds=np.asarray(fold["thresholds"]).tolist(),
                       n_train=int(len(train_idx)), n_scored=int(len(score_idx)))
        if model_type == "network":
            metrics.update(n_train_resampled=fold["n_resampled"],
                           epochs_run=len(fold["history"]["loss"]))
        folds.append(metrics)
        if verbose:
            print(f"{protocol} fold {number} ({model_type}): absolute_true="
                  f"{metrics['absolute_true']:.4f} mean AUROC="
                  f"{np.mean([m['auroc'] for m in metrics['per_label'].values()]):.4f} "
                  f"thresholds={np.round(fold['thresholds'], 2).tolist()}", flush=True)
    return {"metrics": pooled_metrics(labels, classes, oof, calls), "folds": folds,
            "probabilities": oof, "raw": raw, "calls": calls, "inner": inner, "last": fold,
            "last_idx": splits[-1][1], "splits": splits}


def subset(dataset, max_windows, seed):
    """A stratified subset of ``max_windows`` windows (all when None or larger)."""
    if not max_windows or max_windows >= len(dataset.windows):
        return dataset
    keep, _ = train_test_split(np.arange(len(dataset.windows)), train_size=max_windows,
                               stratify=dataset.classes, random_state=seed)
    keep = np.sort(keep)
    return type(dataset)([dataset.windows[i] for i in keep], [dataset.accessions[i] for i in keep],
                         dataset.classes[keep], dataset.labels[keep])
