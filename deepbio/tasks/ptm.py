"""The PTM task: OmniK-PTM end to end, honestly evaluated.

Pipeline: data → features (PSTAAP fitted inside each training fold, per-residue
encoders) → undersampling of the training part → training with early stopping
→ per-label thresholds tuned on the training fold's validation part →
evaluation on the scored fold / test split → saliency → report.

Nothing learned from data (PSTAAP table, sampler, thresholds) ever sees the
windows it is scored on. Training rows get out-of-fold PSTAAP values (each
row's features come from a table fitted without it), so the network does not
learn to trust a feature that memorised its own label.
"""

import dataclasses
import json
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split
from tqdm.auto import tqdm

import Feature_extraction_algorithms as fea
from deepbio.data import PTM_COMBINATIONS, PTM_LABEL_NAMES, PTM_LABELS, load_ptm
from deepbio.metrics import multilabel_metrics, per_label_metrics
from deepbio.models import PTMClassifier
from deepbio.utils import atomic_path, write_csv, write_json

RESIDUE_ENCODERS = ("physicochemical", "blosum62", "one_hot")


@dataclasses.dataclass
class PTMConfig:
    """Parameters of a PTM run (all saved to ``params.json``).

    Attributes:
        epochs: int. Maximum training epochs per model (early stopping on the
            validation loss ends most runs sooner).
        batch_size: int.
        learning_rate: float. Adam learning rate.
        weight_decay: float. AdamW weight decay (upstream 1e-4).
        patience: int. Early-stopping patience in epochs.
        val_fraction: float. Part of each training fold held out for early
            stopping and threshold tuning.
        folds: int. Cross-validation folds (0 skips CV).
        seed: int. Seeds Keras, NumPy, splits and samplers.
        sampler: str. One of ``Resample.SAMPLERS`` ("adaptive",
            "cluster_centroids", "random", "nearmiss", "none").
        keep_fraction: float. Fraction of class 1 (acetylation only) the
            sampler keeps (upstream 927 / 9279 ≈ 0.1).
        residue_encoders: tuple of str. Per-residue feature blocks from
            ``RESIDUE_ENCODERS``.
        pstaap_cross_fit: bool. Out-of-fold PSTAAP values for training rows.
        label_weighting: bool. Weight positives of each label by
            sqrt(negatives / positives) in the loss.
        tune_thresholds: bool. Tune per-label thresholds for exact match on
            the validation part (else 0.5).
        conv_filters, hidden_dim, num_heads, gru_units, intermediate_dim,
        dropout: model sizes, see `deepbio.models.PTMClassifier`.
        mixed_precision: bool. ``mixed_float16`` (for GPUs).
        max_windows: int or None. Use a stratified subset of the training
            split (for quick runs and tests).
        saliency_windows: int. Windows used for the saliency maps.
    """

    epochs: int = 60
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 8
    val_fraction: float = 0.1
    folds: int = 5
    seed: int = 0
    sampler: str = "none"
    keep_fraction: float = 927 / 9279
    residue_encoders: tuple = ("physicochemical", "blosum62", "one_hot")
    pstaap_cross_fit: bool = True
    label_weighting: bool = False
    tune_thresholds: bool = True
    conv_filters: int = 32
    hidden_dim: int = 64
    num_heads: int = 8
    gru_units: int = 64
    intermediate_dim: int = 64
    dropout: float = 0.2
    mixed_precision: bool = False
    max_windows: int = None
    saliency_windows: int = 512

    def __post_init__(self):
        self.residue_encoders = tuple(self.residue_encoders)
        unknown = set(self.residue_encoders) - set(RESIDUE_ENCODERS)
        if unknown or not self.residue_encoders:
            raise ValueError(f"residue_encoders must be a non-empty subset of {RESIDUE_ENCODERS}, "
                             f"got {self.residue_encoders}")


def residue_features(windows, encoders):
    """Per-residue features, label-free: (n, 49, channels) float32.

    The physicochemical scales are z-scored over the 20 residues and BLOSUM62
    scores divided by 4, so every block is of unit order (fixed tables, not
    fitted to data).

    Args:
        windows: list of n str.
        encoders: tuple of names from `RESIDUE_ENCODERS`.
    """
    blocks = {"physicochemical": lambda w: fea.PhysicochemicalEncoder(standardize=True).transform(w),
              "blosum62": lambda w: fea.blosum62(w) / 4.0,
              "one_hot": lambda w: fea.one_hot(w, alphabet="protein")}
    return np.concatenate([np.asarray(blocks[name](windows), np.float32) for name in encoders],
                          axis=-1)


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
        for inner_fit, inner_out in splitter.split(windows, codes):
            inner = fea.PSTAAP().fit(list(windows[inner_fit]), fit_labels[inner_fit])
            fit_features[inner_out] = inner.transform(list(windows[inner_out]))
    else:
        fit_features = encoder.transform(fit_windows)
    return encoder, fit_features, [encoder.transform(w) for w in other_windows]


def _row_codes(labels):
    """A 1-D code per distinct label row (for stratification)."""
    return np.asarray(labels) @ (1 << np.arange(np.asarray(labels).shape[1]))


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
    """
    model = build_classifier(config, x_train[1].shape[-1])
    model.compile(
        optimizer=keras.optimizers.AdamW(config.learning_rate, weight_decay=config.weight_decay),
        loss=_loss(config, y_train), metrics=[keras.metrics.AUC(multi_label=True, name="auroc")])
    history = model.fit(
        x_train, y_train.astype(np.float32), validation_data=(x_val, y_val.astype(np.float32)),
        epochs=config.epochs, batch_size=config.batch_size, verbose=verbose, shuffle=True,
        callbacks=[keras.callbacks.EarlyStopping(patience=config.patience, restore_best_weights=True),
                   keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=max(2, config.patience // 3))])
    return model, {k: [float(v) for v in vals] for k, vals in history.history.items()}


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
    """Fits encoders, sampler, model and thresholds on ``train_idx`` rows.

    The scored windows are only transformed and predicted, never fitted on.

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
        the fitting rows' PSTAAP values), ``thresholds``, ``probabilities`` and
        ``score_inputs`` for the scored windows (None if none), ``history``,
        ``n_resampled``.
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
    val_probabilities = model.predict(x_val, batch_size=1024, verbose=0)
    thresholds = (tune_thresholds(labels[val_idx], val_probabilities) if config.tune_thresholds
                  else np.full(labels.shape[1], 0.5))
    score_inputs = probabilities = None
    if len(score_windows):
        score_inputs = [transformed[1][:, :, None], np.asarray(score_residues, np.float32)]
        probabilities = model.predict(score_inputs, batch_size=1024, verbose=0)
    timings["train"] += time.perf_counter() - start
    return {"model": model, "encoder": encoder, "pstaap_scaling": (mean, std ** 2),
            "thresholds": thresholds, "history": history,
            "probabilities": probabilities, "score_inputs": score_inputs,
            "n_resampled": int(len(kept))}


def evaluate(labels, classes, probabilities, thresholds):
    """The report's metric block for one set of predictions.

    Returns:
        dict with Chou's metrics, ``per_class_absolute_true`` ("1".."11") and
        ``per_label`` {a, c, m, s: {auroc, auprc, mcc}}.
    """
    predicted = decode(probabilities, np.asarray(thresholds))
    result = multilabel_metrics(labels, predicted, classes)
    result["per_label"] = per_label_metrics(labels, probabilities, PTM_LABELS, thresholds)
    return result


def always_a_baseline(labels, classes):
    """The trivial answer "acetylation only" for every window, scored the same way."""
    probabilities = np.tile(np.array([[1.0, 0.0, 0.0, 0.0]]), (len(labels), 1))
    return evaluate(labels, classes, probabilities, np.full(4, 0.5))


def cross_validate(config, dataset, residues, timings, verbose=1):
    """Stratified k-fold CV on the training split (stratified by the 11 codes).

    Returns:
        ``(cv_metrics, fold_metrics, out_of_fold_probabilities, last_fold)``: pooled
        metrics (each window decoded with its own fold's thresholds), one metric dict per
        fold, the (n, 4) out-of-fold probabilities, and the last fold's `fit_fold` result
        (its model and scored inputs feed the CV saliency maps).
    """
    labels, classes = dataset.labels, dataset.classes
    oof = np.zeros(labels.shape, np.float32)
    oof_predicted = np.zeros(labels.shape, np.int32)
    folds, last = [], None
    splitter = StratifiedKFold(config.folds, shuffle=True, random_state=config.seed)
    for number, (train_idx, score_idx) in enumerate(
            tqdm(list(splitter.split(dataset.windows, classes)), desc="CV folds", unit="fold"), 1):
        fold = fit_fold(config, dataset.windows, labels, classes, residues, train_idx,
                        [dataset.windows[i] for i in score_idx], residues[score_idx], timings, verbose)
        oof[score_idx] = fold["probabilities"]
        oof_predicted[score_idx] = decode(fold["probabilities"], fold["thresholds"])
        metrics = evaluate(labels[score_idx], classes[score_idx], fold["probabilities"],
                           fold["thresholds"])
        metrics.update(fold=number, thresholds=fold["thresholds"].tolist(),
                       n_train_resampled=fold["n_resampled"],
                       epochs_run=len(fold["history"]["loss"]))
        folds.append(metrics)
        print(f"fold {number}: absolute_true={metrics['absolute_true']:.4f} "
              f"aiming={metrics['aiming']:.4f} thresholds={np.round(fold['thresholds'], 2).tolist()}",
              flush=True)
        last = fold
    pooled = multilabel_metrics(labels, oof_predicted, classes)
    pooled["per_label"] = per_label_metrics(labels, oof, PTM_LABELS,
                                            np.mean([f["thresholds"] for f in folds], axis=0))
    return pooled, folds, oof, last


def subset(dataset, max_windows, seed):
    """A stratified subset of ``max_windows`` windows (all when None or larger)."""
    if not max_windows or max_windows >= len(dataset.windows):
        return dataset
    keep, _ = train_test_split(np.arange(len(dataset.windows)), train_size=max_windows,
                               stratify=dataset.classes, random_state=seed)
    keep = np.sort(keep)
    return type(dataset)([dataset.windows[i] for i in keep], [dataset.accessions[i] for i in keep],
                         dataset.classes[keep], dataset.labels[keep])


def export_model(classifier, encoder, pstaap_scaling, residue_encoders):
    """An end-to-end model: residue tokens (batch, 49) int32 → probabilities.

    The fitted PSTAAP table and the per-residue feature tables become
    non-trainable lookups inside the graph, so ``model.keras`` alone
    predicts from sequence. Token 20 is padding (used at protein ends): its
    residue features and the PSTAAP values of tripeptides that touch it are 0.

    Args:
        classifier: a trained feature-level `PTMClassifier`.
        encoder: the fitted `Feature_extraction_algorithms.PSTAAP`.
        pstaap_scaling: ``(mean, variance)``, arrays (46,), the standardisation
            the classifier was trained with.
        residue_encoders: tuple of names from `RESIDUE_ENCODERS`.

    Returns:
        A functional `keras.Model` named ``ptm_sequence_model``.
    """
    residue_table = residue_features(list(fea.PROTEIN_ALPHABET), residue_encoders)[:, 0, :]
    residue_table = np.vstack([residue_table, np.zeros((1, residue_table.shape[1]), np.float32)])
    tokens = keras.Input((classifier.residue_length,), dtype="int32", name="tokens")
    pstaap = fea.PSTAAPEncoding.from_encoder(encoder, name="pstaap_encoding")(tokens)
    pstaap = keras.layers.Normalization(mean=pstaap_scaling[0], variance=pstaap_scaling[1],
                                        name="pstaap_scaling")(pstaap)
    pstaap = keras.layers.Reshape((classifier.pstaap_length, 1), name="pstaap_channels")(pstaap)
    residues = keras.layers.Embedding(
        len(residue_table), residue_table.shape[1], trainable=False,
        embeddings_initializer=keras.initializers.Constant(residue_table),
        name="residue_encoding")(tokens)
    outputs = classifier([pstaap, residues])
    return keras.Model(tokens, outputs, name="ptm_sequence_model")


def encode_windows(windows, ids=None, source="input"):
    """Validated windows → int32 tokens (n, 49); ``-`` (padding) → 20."""
    from deepbio.data import check_ptm_windows

    check_ptm_windows([w.replace("-", "A") for w in windows], ids, source)
    return fea.encode_residues(windows, alphabet=fea.PROTEIN_ALPHABET + "-")


def _plot_cv(report, history, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    codes = [str(c) for c in PTM_COMBINATIONS]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    model_rates = [report["cv"]["per_class_absolute_true"][c] or 0 for c in codes]
    base_rates = [report["baseline_cv"]["per_class_absolute_true"][c] or 0 for c in codes]
    x = np.arange(len(codes))
    ax.bar(x - 0.2, model_rates, 0.4, label=f"deepbio (AT {report['cv']['absolute_true']:.3f})")
    ax.bar(x + 0.2, base_rates, 0.4, label=f"always a (AT {report['baseline_cv']['absolute_true']:.3f})")
    ax.set_xticks(x, [f"{c}\n{PTM_COMBINATIONS[int(c)]}" for c in codes])
    ax.set_ylabel("Absolute-True within class")
    ax.set_title(f"{report['params']['folds']}-fold CV on the training split")
    ax.legend()
    fig.tight_layout()
    with atomic_path(out / "cv_per_class_absolute_true.png") as tmp:
        fig.savefig(tmp, dpi=150)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(history["loss"], label="train loss")
    ax.plot(history["val_loss"], label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("binary cross-entropy")
    ax.set_title("final model")
    ax.legend()
    fig.tight_layout()
    with atomic_path(out / "training_history.png") as tmp:
        fig.savefig(tmp, dpi=150)
    plt.close(fig)


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
    from deepbio.interpret import mean_saliency, plot_saliency_heatmap

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


def _versions():
    import sklearn
    import tensorflow as tf

    return {"keras": keras.__version__, "tensorflow": tf.__version__, "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


def run(config, output_dir="runs/ptm", data_dir=None, verbose=1, evaluate_test=True):
    """The whole PTM pipeline; writes the output folder and returns the report.

    Writes ``model.keras`` (end-to-end, tokens → probabilities),
    ``thresholds.json``, ``params.json``, ``report.json``, CV and training
    plots, saliency heatmaps (PNG + CSV), all atomically.

    Args:
        config: `PTMConfig`.
        output_dir: str or path-like.
        data_dir: optional local data mirror (else ``DEEPBIO_DATA`` etc.).
        verbose: Keras verbosity (0, 1 progress bar, 2 one line per epoch).
        evaluate_test: bool. Look for the test split and score the final
            model on it (``train.py`` skips this).

    Returns:
        The report dict (also ``report.json``).
    """
    total_start = time.perf_counter()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(config.seed)
    timings = {"features": 0.0, "resample": 0.0, "train": 0.0}
    train = subset(load_ptm("train", data_dir), config.max_windows, config.seed)
    test = None
    if evaluate_test:
        try:
            test = load_ptm("test", data_dir)
        except FileNotFoundError as error:
            print(f"test split not available, test metrics will be null: {error}", flush=True)
    params = {**dataclasses.asdict(config), "output_dir": str(out),
              "data_dir": str(data_dir) if data_dir else None, "versions": _versions()}
    write_json(params, out / "params.json")

    start = time.perf_counter()
    residues = residue_features(train.windows, config.residue_encoders)
    test_residues = (residue_features(test.windows, config.residue_encoders) if test
                     else np.zeros((0, 49, residues.shape[-1]), np.float32))
    timings["features"] += time.perf_counter() - start

    report = {"task": "ptm", "data": {
        "train": len(train.windows), "test": len(test.windows) if test else None,
        "train_per_class": {str(c): int((train.classes == c).sum()) for c in PTM_COMBINATIONS},
        "train_per_label": {l: int(v) for l, v in zip(PTM_LABELS, train.labels.sum(axis=0))}}}
    report["params"] = dataclasses.asdict(config)
    report["baseline_cv"] = always_a_baseline(train.labels, train.classes)
    last = None
    if config.folds:
        cv, folds, _, last = cross_validate(config, train, residues, timings, verbose)
        report["cv"], report["cv_folds"] = cv, folds
    else:
        report["cv"], report["cv_folds"] = None, []

    final = fit_fold(config, train.windows, train.labels, train.classes, residues,
                     np.arange(len(train.windows)), test.windows if test else [], test_residues,
                     timings, verbose)
    report["thresholds"] = dict(zip(PTM_LABELS, final["thresholds"].tolist()))
    if test:
        report["test"] = evaluate(test.labels, test.classes, final["probabilities"], final["thresholds"])
        report["baseline_test"] = always_a_baseline(test.labels, test.classes)
    else:
        report["test"] = report["baseline_test"] = None

    exported = export_model(final["model"], final["encoder"], final["pstaap_scaling"],
                            config.residue_encoders)
    with atomic_path(out / "model.keras") as tmp:
        exported.save(tmp)
    write_json({"labels": list(PTM_LABELS), "thresholds": final["thresholds"].tolist()},
               out / "thresholds.json")

    saliency_inputs = final["score_inputs"] if test else (last["score_inputs"] if last else None)
    saliency_model = final["model"] if test else (last["model"] if last else None)
    if saliency_model is not None and config.saliency_windows:
        rng = np.random.default_rng(config.seed)
        n = len(saliency_inputs[0])
        pick = np.sort(rng.choice(n, min(n, config.saliency_windows), replace=False))
        saliency_report(saliency_model, [x[pick] for x in saliency_inputs], out,
                        prefix="test_" if test else "cv_")
    report["seconds"] = {**{k: round(v, 2) for k, v in timings.items()},
                         "total": round(time.perf_counter() - total_start, 2)}
    if report["cv"] is not None:
        _plot_cv(report, final["history"], out)
    write_json(report, out / "report.json")
    return report


def protein_windows(protein, half=24, pad="-"):
    """Every K of a full-length protein as a 49-residue window.

    Args:
        protein: str, residues of one protein.
        half: int, residues on each side of the K (24).
        pad: str, one character put beyond the protein's ends.

    Returns:
        ``(positions, windows)``: 1-based positions of the K residues and
        the windows, padded with ``pad`` at the ends.
    """
    padded = pad * half + protein + pad * half
    positions = [i for i, residue in enumerate(protein) if residue == "K"]
    return [p + 1 for p in positions], [padded[p:p + 2 * half + 1] for p in positions]


def predict_proteins(fasta, model_path, output_csv, batch_size=1024):
    """Per-site PTM probabilities for every K of every protein in a FASTA.

    Every window of the OmniK-PTM benchmark is a modified site, so the
    probabilities say *which* of the four PTMs a lysine carries if it is
    modified; they are not the probability that it is modified at all.

    Args:
        fasta: path of a protein FASTA (full-length sequences, 20 standard
            residues).
        model_path: a ``model.keras`` written by `run`; a
            ``thresholds.json`` beside it adds 0/1 calls.
        output_csv: path of the CSV written (atomically): ``protein,
            position, window, acetylation, crotonylation, methylation,
            succinylation`` (probabilities) and ``predicted`` (label letters).
        batch_size: int.

    Returns:
        The pandas DataFrame written.

    Raises:
        FileNotFoundError: missing FASTA or model.
        ValueError: an empty FASTA, a protein with a non-standard residue or
            no lysine at all (the message names the record).
    """
    from deepbio.data import read_fasta

    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"model not found: {model_path}")
    ids, proteins = read_fasta(fasta)
    rows, windows = [], []
    for name, protein in zip(ids, proteins):
        bad = sorted(set(protein) - set(fea.PROTEIN_ALPHABET))
        if bad:
            raise ValueError(f"{fasta}: record {name!r} has non-standard residue(s) {bad}")
        positions, protein_windows_ = protein_windows(protein)
        if not positions:
            raise ValueError(f"{fasta}: record {name!r} contains no lysine (K)")
        rows += [(name, p) for p in positions]
        windows += protein_windows_
    model = keras.models.load_model(model_path)
    probabilities = model.predict(encode_windows(windows, source=str(fasta)), batch_size=batch_size,
                                  verbose=0)
    frame = pd.DataFrame(rows, columns=["protein", "position"])
    frame["window"] = windows
    for j, name in enumerate(PTM_LABEL_NAMES):
        frame[name] = np.round(probabilities[:, j], 6)
    threshold_file = model_path.parent / "thresholds.json"
    thresholds = (np.array(json.loads(threshold_file.read_text())["thresholds"])
                  if threshold_file.is_file() else np.full(len(PTM_LABELS), 0.5))
    calls = decode(probabilities, thresholds)
    frame["predicted"] = ["".join(l for l, c in zip(PTM_LABELS, row) if c) for row in calls]
    write_csv(frame, output_csv)
    return frame


def saliency_for_fasta(fasta, model_path, output_dir, smooth_samples=20):
    """Saliency heatmaps for a FASTA of 49-residue K-centred windows.

    Args:
        fasta: path of a FASTA of windows.
        model_path: a ``model.keras`` written by `run`.
        output_dir: folder for the PNG/CSV files.

    Returns:
        list of files written.

    Raises:
        FileNotFoundError / ValueError: missing file, empty FASTA, bad window
            (named).
    """
    from deepbio.data import read_fasta

    ids, windows = read_fasta(fasta)
    tokens = encode_windows(windows, ids, source=str(fasta))
    model = keras.models.load_model(model_path)
    pstaap = model.get_layer("pstaap_encoding")(tokens)
    pstaap = model.get_layer("pstaap_channels")(model.get_layer("pstaap_scaling")(pstaap))
    residues = model.get_layer("residue_encoding")(tokens)
    classifier = next(layer for layer in model.layers if isinstance(layer, PTMClassifier))
    return saliency_report(classifier, [np.asarray(pstaap), np.asarray(residues)], Path(output_dir),
                           prefix="fasta_", smooth_samples=smooth_samples)
