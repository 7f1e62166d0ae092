"""The PTM run, step by step: CV protocols, candidate table, final model, files, interpretation.

Used by `deepbio.ptm.task.run_pipeline`. Every learned step (PSTAAP, sampler,
models, calibration, thresholds) is fitted inside the training rows of each
fold; stratified and accession-grouped CV run the same code on different
splits.
"""

import numpy as np

from deepbio.ptm.data import PTM_LABEL_NAMES, PTM_LABELS
from deepbio.ptm.calibration import calibration_summary, reliability_figure
from deepbio.ptm.trees import fit_predict_fold, window_feature_blocks
from deepbio.ptm.calibration import choose_thresholds
from deepbio.ptm.features import residue_features
from deepbio.ptm.predictor import PREDICTOR_FILE, save_ptm_predictor

PROBABILITY_COLUMNS = tuple(f"p_{name}_given_modified" for name in PTM_LABEL_NAMES)
"""Probability columns of the PTM CSVs: conditional on the lysine being modified."""
CALL_COLUMNS = tuple(f"call_{name}" for name in PTM_LABEL_NAMES)


def model_inputs(config, model_type, windows):
    """Label-free inputs of one model type: per-residue features (network) or flat blocks."""
    if model_type == "network":
        return residue_features(windows, config.residue_encoders)

    return window_feature_blocks(windows, (model_type,))


def run_cvs(config, train, model_type, inputs, timings, verbose, unit=None):
    """Stratified CV and, with ``--grouped-cv``, accession-grouped CV of one model type.

    ``unit``: `deepbio.core.run_folder.RunFolder.checkpointed` (each fold
    checkpointed, a killed run resumes at the next fold) or None.

    Returns:
        dict {protocol: `deepbio.ptm.training.cross_validate` result}.
    """
    from deepbio.ptm.training import cross_validate  # deferred: imports Keras/TensorFlow

    protocols = ("stratified", "grouped") if config.grouped_cv else ("stratified",)
    return {p: cross_validate(config, train, inputs, timings, verbose, p, model_type, unit)
            for p in protocols}


def summarize(cv):
    """The compact figures of one CV for the ``models`` table."""
    per_label = cv["metrics"]["per_label"]
    pick = lambda key: {l: per_label[l][key] for l in PTM_LABELS}  # noqa: E731
    out = {"mean_auroc": float(np.mean([per_label[l]["auroc"] for l in PTM_LABELS])),
           "auroc": pick("auroc"), "auprc": pick("auprc"),
           "mean_mcc": float(np.mean([per_label[l]["mcc"] for l in PTM_LABELS])), "mcc": pick("mcc"),
           "ece": pick("ece"), "brier": pick("brier")}
    out.update({k: cv["metrics"][k] for k in ("absolute_true", "aiming", "coverage")})
    return out


OBJECTIVES = ("mcc", "exact", "precision=0.9")


def objective_table(train, cv, objectives=OBJECTIVES):
    """The same CV models called under each threshold objective (thresholds re-chosen in-fold).

    Each fold's thresholds come from its own in-fold calibrated scores (the
    inner out-of-fold scores or the validation part), so only the cut changes,
    not the model.

    Returns:
        dict {objective: {mean_mcc, mcc, precision, recall, absolute_true,
        aiming, coverage, accuracy, absolute_false}}.
    """
    from deepbio.ptm.training import decide, pooled_metrics  # deferred: imports Keras/TensorFlow

    out = {}
    for objective in objectives:
        calls = np.zeros(train.labels.shape, np.int32)
        for (labels, _, calibrated), (_, rows) in zip(cv["inner"], cv["splits"]):
            thresholds = choose_thresholds(labels, calibrated, objective)
            calls[rows] = decide(cv["probabilities"][rows], thresholds, objective)
        metrics = pooled_metrics(train.labels, train.classes, cv["probabilities"], calls)
        per_label = metrics["per_label"]
        out[objective] = {"mean_mcc": float(np.mean([v["mcc"] for v in per_label.values()])),
                          **{key: {l: per_label[l][key] for l in PTM_LABELS}
                             for key in ("mcc", "precision", "recall")},
                          **{key: metrics[key] for key in ("absolute_true", "aiming", "coverage",
                                                           "accuracy", "absolute_false")}}
    return out


def model_table(runs):
    """``models`` block: {model type: {protocol: summary}}."""
    return {kind: {protocol: summarize(cv) for protocol, cv in cvs.items()}
            for kind, cvs in runs.items()}


def calibration_block(config, train, cvs):
    """``calibration`` block: method, per-label ECE before/after and reliability bins."""
    cv = cvs["stratified"]
    block = {"method": config.calibration,
             "fitted_on": ("the validation part of each training fold" if config.model_type == "network"
                           else f"inner {config.inner_folds}-fold out-of-fold scores of each "
                                f"training fold"),
             "cv": calibration_summary(train.labels, cv["probabilities"], PTM_LABELS),
             "cv_uncalibrated_ece": calibration_summary(train.labels, cv["raw"], PTM_LABELS)}
    block["cv_uncalibrated_ece"] = {l: v["ece"] for l, v in block["cv_uncalibrated_ece"].items()}
    if "grouped" in cvs:
        grouped = calibration_summary(train.labels, cvs["grouped"]["probabilities"], PTM_LABELS)
        block["grouped_cv_ece"] = {l: v["ece"] for l, v in grouped.items()}
    return block


def plot_reliability(folder, train, cvs):
    """``reliability_diagram.png``: out-of-fold raw vs calibrated probabilities (stratified CV)."""
    cv = cvs["stratified"]
    curves = {"uncalibrated": (train.labels, cv["raw"]), "calibrated": (train.labels, cv["probabilities"])}
    if "grouped" in cvs:
        curves["calibrated, grouped CV"] = (train.labels, cvs["grouped"]["probabilities"])
    fig = reliability_figure(curves, PTM_LABEL_NAMES,
                             title="Out-of-fold reliability (P(label | lysine modified))")
    folder.save_figure(fig, "reliability_diagram")


def write_cv_predictions(folder, train, cvs):
    """``cv_predictions.csv``: every training window's out-of-fold probabilities and calls."""
    import pandas as pd

    frames = []
    for protocol, cv in cvs.items():
        frame = pd.DataFrame({"protocol": protocol, "accession": train.accessions,
                              "window": train.windows, "combination": train.classes})
        for j, letter in enumerate(PTM_LABELS):
            frame[letter] = train.labels[:, j]
        for j, column in enumerate(PROBABILITY_COLUMNS):
            frame[column] = np.round(cv["probabilities"][:, j], 6)
        for j, column in enumerate(CALL_COLUMNS):
            frame[column] = cv["calls"][:, j]
        frames.append(frame)
    folder.write_csv(pd.concat(frames, ignore_index=True), "cv_predictions.csv")


def fit_final(config, train, test, inputs, test_inputs, timings, verbose):
    """The final model on every training window (its own inner split / validation part).

    Returns:
        dict with ``predictor`` (flat models) or the network's `fit_fold`
        result keys, ``thresholds`` and ``probabilities`` (calibrated, of the
        test windows; None without test).
    """
    if config.model_type == "network":
        from deepbio.ptm.training import fit_fold  # deferred: imports Keras/TensorFlow

        return fit_fold(config, train.windows, train.labels, train.classes, inputs,
                        np.arange(len(train.windows)), test.windows if test else [],
                        test_inputs, timings, verbose)

    everything = {b: np.concatenate([x, test_inputs[b]]) if test else x for b, x in inputs.items()}
    n = len(train.windows)
    fold = fit_predict_fold(config, everything, np.concatenate(
        [train.labels, test.labels]) if test else train.labels,
        np.concatenate([train.classes, test.classes]) if test else train.classes,
        np.arange(n), np.arange(n, n + len(test.windows)) if test else np.arange(0), timings)
    fold["predictor"] = fold["model"]
    if not test:
        fold["probabilities"] = None
    return fold


def save_final(config, folder, final):
    """Writes the model: ``model.keras`` (network) or ``ptm_model.skops``, and ``thresholds.json``."""
    import json

    meta = {"labels": list(PTM_LABELS), "thresholds": np.asarray(final["thresholds"]).tolist(),
            "objective": config.call_at, "model_type": config.model_type,
            "calibration": config.calibration,
            "probabilities": "P(PTM | the lysine carries at least one of the four PTMs)"}
    if config.model_type == "network":
        from deepbio.ptm.sequence_model import ptm_sequence_model  # deferred: imports Keras/TensorFlow

        exported = ptm_sequence_model(final["model"], final["encoder"], final["pstaap_scaling"],
                                      config.residue_encoders, calibration=final["calibrator"])
        folder.save_model(exported, "model.keras")
    else:
        save_ptm_predictor(final["predictor"], folder.file(PREDICTOR_FILE))
    folder.write_json(json.loads(json.dumps(meta)), "thresholds.json")


def position_importance(predictor, windows, labels, seed, repeats=1):
    """Per flanking position and label: AUROC lost when that position's residues are shuffled.

    Permutation importance on held-out windows: the residues at one position
    are permuted across the windows (every feature is recomputed from the
    shuffled windows), so a position the model relies on loses ranking.

    Returns:
        float array (L, 48), positions −24..−1, +1..+24.
    """
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    letters = np.array([list(w) for w in windows])
    base = predictor.predict_proba(windows)
    auc = lambda p: np.array([roc_auc_score(labels[:, j], p[:, j])  # noqa: E731
                              for j in range(labels.shape[1])])
    reference = auc(base)
    columns = [c for c in range(letters.shape[1]) if c != letters.shape[1] // 2]
    out = np.zeros((labels.shape[1], len(columns)))
    for i, column in enumerate(columns):
        for _ in range(repeats):
            shuffled = letters.copy()
            shuffled[:, column] = rng.permutation(shuffled[:, column])
            out[:, i] += (reference - auc(predictor.predict_proba(["".join(r) for r in shuffled])))
    return out / repeats


def importance_report(folder, predictor, windows, labels, seed, prefix):
    """``{prefix}position_importance.png/.csv`` for a flat-feature model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    drop = position_importance(predictor, windows, labels, seed)
    positions = [p for p in range(-24, 25) if p != 0]
    frame = pd.DataFrame(drop, columns=[str(p) for p in positions])
    frame.insert(0, "label", PTM_LABEL_NAMES)
    folder.write_csv(frame, f"{prefix}position_importance.csv")
    fig, ax = plt.subplots(figsize=(10, 2.6))
    image = ax.imshow(drop, aspect="auto", cmap="viridis")
    ax.set_yticks(range(len(PTM_LABEL_NAMES)), PTM_LABEL_NAMES)
    ax.set_xticks(range(0, len(positions), 4), [str(p) for p in positions[::4]])
    ax.set_xlabel("position relative to the K")
    ax.set_title(f"AUROC lost when a position's residues are shuffled ({len(windows)} held-out windows)")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    folder.save_figure(fig, f"{prefix}position_importance")


def always_a_baseline(labels, classes):
    """The trivial answer "acetylation only" for every window, scored like the model.

    Args:
        labels: int array (n, 4), columns a, c, m, s.
        classes: int array (n,), the label-combination codes 1..11.

    Returns:
        The metric block of `deepbio.ptm.training.evaluate`.
    """
    from deepbio.ptm.training import evaluate  # deferred: imports Keras/TensorFlow

    probabilities = np.tile(np.array([[1.0, 0.0, 0.0, 0.0]]), (len(labels), 1))
    return evaluate(labels, classes, probabilities, np.full(4, 0.5))
