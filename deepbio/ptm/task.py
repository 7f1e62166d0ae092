"""The PTM task: which PTMs a modified lysine carries, honestly evaluated.

Default (``--model-type trees``, best in CV, see ``benchmarks/ptm_models.py``):
label-free window features → one gradient-boosted tree model per label in each
of ``--inner-folds`` inner folds of the training rows → Platt/isotonic
calibration and per-label thresholds (``--call-at``) fitted on the inner
out-of-fold scores → the inner models' mean, calibrated. ``--model-type
network``: OmniK-PTM (PSTAAP fitted inside each training fold, per-residue
encoders, optional undersampling, early stopping; calibration and thresholds
on the training fold's validation part). Both are scored by stratified and
accession-grouped CV (`deepbio.ptm.training.cv_splits`); the report puts the
``--compare`` models beside them.

Nothing learned from data (PSTAAP table, sampler, models, calibration,
thresholds) ever sees the windows it is scored on. Training rows get
out-of-fold PSTAAP values, so the network does not learn to trust a feature
that memorised its own label.

Every window of the benchmark is a modified lysine, so the model answers
*which* modification(s) a lysine carries given that it is modified.

Prediction on whole proteins (``deepbio predict ptm``) lives in
`deepbio.ptm.predict`; its names are re-exported here.
"""

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

import Feature_extraction_algorithms as fea
from deepbio.ptm.data import PTM_COMBINATIONS, PTM_LABELS, load_ptm
from deepbio.ptm.features import RESIDUE_ENCODERS, encode_windows  # noqa: F401  (re-exported)
from deepbio.ptm.predictor import check_ptm_model, load_ptm_predictor
from deepbio.ptm.calibration import CALIBRATIONS

MODEL_TYPES = ("trees", "powerset", "linear", "stack", "network")
from deepbio.core.task import (CrossValidationConfig, EarlyStoppingConfig, Task, TrainingConfig,
                                option)
from deepbio.ptm.predict import (check_protein, predict_protein_sites,  # noqa: F401
                                       predict_proteins, prediction_columns, protein_site_windows,
                                       protein_windows)
from deepbio.ptm import protocol
from deepbio.ptm.protocol import always_a_baseline, importance_report
from deepbio.data.fasta import read_fasta
from deepbio.ptm.saliency import saliency_report
from deepbio.core.loading import load_task_model
from deepbio.ptm.calibration import parse_objective
from deepbio.core.predict_stream import shard_label
from deepbio.ptm.predictor import PREDICTOR_FILE


@dataclasses.dataclass
class PTMConfig(CrossValidationConfig, EarlyStoppingConfig, TrainingConfig):
    """Parameters of a PTM run (all saved to ``params.json``); see `option` help texts.

    Shared fields: `TrainingConfig` (epochs, batch_size, learning_rate, seed,
    mixed_precision), `EarlyStoppingConfig` (patience) and
    `CrossValidationConfig` (folds). Model sizes: see
    `deepbio.ptm.model.PTMClassifier`.
    """

    epochs: int = 60
    batch_size: int = 128
    patience: int = 8
    folds: int = 5
    weight_decay: float = option(1e-4, "AdamW weight decay (upstream 1e-4)", minimum=0)
    val_fraction: float = option(0.1, "part of each training fold held out for early stopping "
                                      "and threshold tuning", minimum=0.01, maximum=0.5)
    sampler: str = option("none", "under-sampler of class 1 (acetylation only) in each training "
                                  "fold", choices=("adaptive", "cluster_centroids", "random",
                                                   "nearmiss", "none"))
    keep_fraction: float = option(927 / 9279, "fraction of class 1 the sampler keeps",
                                  minimum=1e-4, maximum=1)
    residue_encoders: tuple[str, ...] = option(RESIDUE_ENCODERS, "per-residue feature blocks",
                                               choices=RESIDUE_ENCODERS)
    pstaap_cross_fit: bool = option(True, "training rows get out-of-fold PSTAAP values "
                                          "(--no-pstaap-cross-fit: in-sample, leaky)")
    label_weighting: bool = option(False, "weight each label's positives by "
                                          "sqrt(negatives / positives) in the loss")
    tune_thresholds: bool = option(True, "tune per-label thresholds for exact match on the "
                                         "validation part (else 0.5)", flag="threshold-tuning")
    conv_filters: int = option(32, "filters of the CNN branches", minimum=1)
    hidden_dim: int = option(64, "width of the cross-attention and tower", minimum=1)
    num_heads: int = option(8, "cross-attention heads", minimum=1)
    gru_units: int = option(64, "BiGRU units per direction", minimum=1)
    intermediate_dim: int = option(64, "width of the MLP head", minimum=1)
    dropout: float = option(0.2, "dropout rate", minimum=0, maximum=0.95)
    max_windows: int = option(None, "use a stratified subset of this many training windows "
                                     "(quick runs)", minimum=10)
    saliency_windows: int = option(512, "windows in the saliency maps, or (trees, linear, "
                                        "stack) the position-importance windows (0: none)",
                                   minimum=0)
    model_type: str = option("trees", "the model: gradient-boosted trees on window features, "
                                      "one per label or one over the 11 label combinations "
                                      "(powerset), logistic regression, a stack of those "
                                      "(--stack-members), or the OmniK-PTM network",
                                      choices=MODEL_TYPES)
    compare: tuple[str, ...] = option(("linear",), "other model types cross-validated for the "
                                                   "report's models table ('none': no other; "
                                                   "network is slow)",
                                      choices=MODEL_TYPES + ("none",))
    grouped_cv: bool = option(True, "also run accession-grouped CV (no UniProt accession on both "
                                    "sides of a split)")
    calibration: str = option("platt", "probability calibration fitted inside each training fold",
                              choices=CALIBRATIONS)
    call_at: str = option("mcc", "objective of the per-label thresholds, chosen inside the "
                                 "training folds: mcc, exact (exact-match rate) or precision=P")
    inner_folds: int = option(3, "inner folds of trees/linear models (their ensemble; their "
                                 "out-of-fold scores fit calibration and thresholds)", minimum=2)
    tree_iterations: int = option(300, "most boosting iterations per label (early stopping)",
                                  minimum=1)
    tree_learning_rate: float = option(0.1, "boosting learning rate", minimum=1e-6, maximum=1)
    tree_leaves: int = option(15, "leaves per tree", minimum=2)
    linear_c: float = option(0.002, "inverse L2 strength of the logistic regression", minimum=1e-9)
    class_weight: str = option("none", "trees/linear: weight of each label's positives",
                               choices=("none", "balanced", "sqrt"))
    stack_members: tuple[str, ...] = option(("trees", "powerset", "linear"), "the models a "
                                            "stack combines (per label, a logistic regression on "
                                            "all their labels' calibrated logits)",
                                            choices=("trees", "powerset", "linear"))
    tree_threads: int = option(1, "OpenMP threads of the tree models (0: every core; 1 is "
                                   "robust on a shared machine)", minimum=0)
    label_mixing: bool = option(True, "trees/linear: a per-label logistic regression on all four "
                                      "labels' inner out-of-fold logits (label correlation)")

    def validate(self):
        super().validate()

        parse_objective(self.call_at)
        if self.model_type == "network" and self.calibration == "isotonic":
            raise ValueError("calibration (--calibration) isotonic is not available for "
                             "--model-type network (model.keras holds a Platt layer); use platt")
        if not self.residue_encoders:
            raise ValueError(f"residue_encoders (--residue-encoders) must be a non-empty subset of "
                             f"{','.join(RESIDUE_ENCODERS)}")


def _plot_cv(report, folds, folder):
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
    ax.set_title(f"{folds}-fold CV on the training split")
    ax.legend()
    fig.tight_layout()
    folder.save_figure(fig, "cv_per_class_absolute_true")


def _load_test(data_dir):
    """The held-out test split when it is in the local mirror or cache (never downloaded)."""
    try:
        return load_ptm("test", data_dir, download=False)
    except FileNotFoundError:
        return None


def run_pipeline(config, folder, evaluate_test=True):
    """The whole PTM pipeline (`_pipeline`) with ``--tree-threads`` OpenMP threads."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(config.tree_threads or None, user_api="openmp"):
        return _pipeline(config, folder, evaluate_test)


def _pipeline(config, folder, evaluate_test=True):
    """The whole PTM pipeline; writes ``folder`` and returns the report.

    Runs stratified and (``--grouped-cv``) accession-grouped CV of
    ``--model-type`` and of each ``--compare`` model, fits the final model on
    every training window, and writes ``ptm_model.skops`` (trees, linear,
    stack: `deepbio.ptm.predictor.WindowEnsemble`) or ``model.keras``
    (network: tokens → calibrated probabilities), ``thresholds.json``,
    ``params.json``, ``report.json``, ``cv_predictions.csv``,
    ``reliability_diagram.png``, CV plots, and saliency maps (network) or
    position importance (the others), all atomically. Load the model with
    `deepbio.ptm.predictor.load_ptm_predictor`.

    Args:
        config: `PTMConfig`.
        folder: `deepbio.core.run_folder.RunFolder`.
        evaluate_test: bool. Score the final model on the test split when
            it is available locally (``train`` skips this and interpretation).

    Returns:
        The report dict (also ``report.json``).

    Raises:
        ValueError: too few windows for the requested folds, or a bad record
            in the data (named).
    """
    verbose = folder.verbose
    timings = {"features": 0.0, "resample": 0.0, "train": 0.0}
    train = _training_windows(config, folder.data_dir)
    test = _load_test(folder.data_dir) if evaluate_test else None
    if evaluate_test and test is None and verbose:
        print("test split: not in the local data (held out); test metrics are null", flush=True)
    folder.write_params()

    kinds = [config.model_type] + [k for k in dict.fromkeys(config.compare)
                                   if k not in ("none", config.model_type)]
    start = time.perf_counter()
    inputs = {kind: protocol.model_inputs(config, kind, train.windows) for kind in kinds}
    test_inputs = protocol.model_inputs(config, config.model_type, test.windows) if test else (
        np.zeros((0, 49, inputs[config.model_type].shape[-1]), np.float32)
        if config.model_type == "network" else None)
    timings["features"] += time.perf_counter() - start

    report = {"task": "ptm", "data": {
        "train": len(train.windows), "test": len(test.windows) if test else None,
        "accessions": len(set(train.accessions)),
        "train_per_class": {str(c): int((train.classes == c).sum()) for c in PTM_COMBINATIONS},
        "train_per_label": {l: int(v) for l, v in zip(PTM_LABELS, train.labels.sum(axis=0))}},
        "question": "which of the four PTMs a lysine carries, given that it carries at least one; "
                    "probabilities are P(PTM | lysine modified)"}
    report["params"] = dataclasses.asdict(config)
    runs = _cross_validate(config, folder, train, kinds, inputs, timings, report)

    final = folder.checkpointed("final", lambda: protocol.fit_final(
        config, train, test, inputs[config.model_type], test_inputs, timings, verbose))
    _score_final(config, final, test, report)
    protocol.save_final(config, folder, final)
    if evaluate_test and config.saliency_windows:
        _interpret(config, folder, final, runs.get(config.model_type), train, test)
    folder.seconds.update(timings)
    if report["cv"] is not None:
        _plot_cv(report, config.folds, folder)
    if config.model_type == "network":
        folder.plot_history(final["history"], ylabel="binary cross-entropy", title="final model")
    return folder.write_report(report)


def _training_windows(config, data_dir):
    """The training split, subsampled to ``--max-windows``, checked against ``--folds``.

    Raises:
        ValueError: too few windows to keep every label combination, or for
            the folds and a validation part.
    """
    from deepbio.ptm.training import subset  # deferred: imports Keras

    full = load_ptm("train", data_dir)
    try:
        train = subset(full, config.max_windows, config.seed)
    except ValueError:
        raise ValueError(f"--max-windows {config.max_windows} is too small to keep every label "
                         f"combination of the {len(full.windows)} training windows; use at least "
                         f"{4 * len(np.unique(full.classes))}") from None
    smallest = int(np.bincount(train.classes)[np.unique(train.classes)].min())
    needed = max(config.folds, 2) if config.model_type == "network" else max(config.folds, 1)
    inner = 1 - 1 / max(config.folds, 1) if config.folds else 1
    if smallest * inner < needed:
        raise ValueError(f"the rarest label combination has only {smallest} of {len(train.windows)} "
                         f"training windows, too few for {config.folds or 'no'} CV folds and a "
                         f"validation part; use more windows (--max-windows) or fewer --folds")
    return train


def _cross_validate(config, folder, train, kinds, inputs, timings, report):
    """The CV of each model kind (none with ``--folds 0``); fills ``report``'s CV entries.

    Writes ``cv_predictions.csv`` and the reliability diagram.

    Returns:
        dict kind → its CV runs (`deepbio.ptm.protocol.run_cvs`); empty
        without folds.
    """

    if not config.folds:
        report.update(cv=None, cv_folds=[], baseline_cv=None, grouped_cv=None, grouped_cv_folds=[],
                      baseline_grouped_cv=None, models={}, calibration=None, cv_by_objective=None)
        return {}
    runs = {}
    for kind in kinds:
        runs[kind] = protocol.run_cvs(config, train, kind, inputs[kind], timings, folder.verbose,
                                      folder.checkpointed)
    cvs = runs[config.model_type]
    baseline = always_a_baseline(train.labels, train.classes)
    report["cv"], report["cv_folds"], report["baseline_cv"] = (
        cvs["stratified"]["metrics"], cvs["stratified"]["folds"], baseline)
    grouped = cvs.get("grouped")
    report["grouped_cv"] = grouped["metrics"] if grouped else None
    report["grouped_cv_folds"] = grouped["folds"] if grouped else []
    report["baseline_grouped_cv"] = baseline if grouped else None
    report["models"] = protocol.model_table(runs)
    report["cv_by_objective"] = protocol.objective_table(train, cvs["stratified"])
    report["calibration"] = protocol.calibration_block(config, train, cvs)
    protocol.plot_reliability(folder, train, cvs)
    protocol.write_cv_predictions(folder, train, cvs)
    return runs


def _score_final(config, final, test, report):
    """Adds the final model's thresholds and its test metrics (None without test) to ``report``."""
    from deepbio.ptm.training import evaluate  # deferred: imports Keras

    report["thresholds"] = dict(zip(PTM_LABELS, np.asarray(final["thresholds"]).tolist()))
    report["call_objective"] = config.call_at
    if test:
        report["test"] = evaluate(test.labels, test.classes, final["probabilities"],
                                  final["thresholds"], config.call_at)
        report["baseline_test"] = always_a_baseline(test.labels, test.classes)
    else:
        report["test"] = report["baseline_test"] = None


def _interpret(config, folder, final, cvs, train, test):
    """Saliency maps (network) or position importance (flat models) on held-out windows."""
    last = cvs["stratified"]["last"] if cvs else None
    rng = np.random.default_rng(config.seed)
    if config.model_type == "network":
        inputs = final["score_inputs"] if test else (last["score_inputs"] if last else None)
        model = final["model"] if test else (last["model"] if last else None)
        if model is None:
            return
        n = len(inputs[0])
        pick = np.sort(rng.choice(n, min(n, config.saliency_windows), replace=False))
        for path in saliency_report(model, [x[pick] for x in inputs], folder.path,
                                    prefix="test_" if test else "cv_"):
            folder.file(Path(path).name)
        return
    if test:
        predictor, windows, labels = final["predictor"], test.windows, test.labels
    elif last is not None:
        rows = cvs["stratified"]["last_idx"]
        predictor, windows, labels = last["model"], [train.windows[i] for i in rows], train.labels[rows]
    else:
        return
    pick = np.sort(rng.choice(len(windows), min(len(windows), max(config.saliency_windows, 1000)),
                              replace=False))
    importance_report(folder, predictor, [windows[i] for i in pick], labels[pick], config.seed,
                      "test_" if test else "cv_")


def saliency_inputs(model, tokens):
    """The feature-level classifier of a PTM ``model.keras`` and its inputs for ``tokens``.

    Returns:
        ``(classifier, [pstaap (n, 46, 1), residues (n, 49, C)])``.
    """
    from deepbio.ptm.model import PTMClassifier  # deferred: imports Keras/TensorFlow

    pstaap = model.get_layer("pstaap_encoding")(tokens)
    pstaap = model.get_layer("pstaap_channels")(model.get_layer("pstaap_scaling")(pstaap))
    residues = model.get_layer("residue_encoding")(tokens)
    classifier = next(layer for layer in model.layers if isinstance(layer, PTMClassifier))
    return classifier, [np.asarray(pstaap), np.asarray(residues)]


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

    ids, windows = read_fasta(fasta)
    tokens = encode_windows(windows, ids, source=str(fasta))
    model = load_task_model(model_path, "ptm", check_ptm_model)
    classifier, inputs = saliency_inputs(model, tokens)
    return saliency_report(classifier, inputs, Path(output_dir), prefix="fasta_",
                           smooth_samples=smooth_samples)


class PTMTask(Task):
    """``deepbio run ptm``: OmniK-PTM multi-label lysine PTM prediction."""

    name = "ptm"
    benchmark = "deepbio.ptm.benchmark:workload"  # benchmarks/gpu_check.py
    brief = 'lysine PTM (acetylation, crotonylation, methylation, succinylation) on 49-residue K-centred windows, after OmniK-PTM'
    rank = 10
    web = "deepbio.ptm.web:PTMTab"
    multi_worker = True
    keras_modules = ('deepbio.ptm.model', 'deepbio.ptm.sequence_model')
    # the tests' shared tiny run (about 16 s on 2 cores, TensorFlow's start aside)
    tiny_flags = ('--max-windows', '700', '--folds', '2', '--epochs', '2', '--saliency-windows', '0',
                  '--residue-encoders', 'one_hot', '--conv-filters', '8', '--hidden-dim', '16',
                  '--gru-units', '8', '--intermediate-dim', '16', '--tree-iterations', '20',
                  '--inner-folds', '2')
    config_class = PTMConfig
    description = ("Which of four modifications (acetylation, crotonylation, methylation, "
                   "succinylation) a modified lysine carries, from its 49-residue K-centred "
                   "window: gradient-boosted trees on one-hot / composition / AAindex window "
                   "features (default), logistic regression, their stack, or the OmniK-PTM "
                   "network (--model-type network); stratified and accession-grouped CV, "
                   "calibration and per-label thresholds fitted inside the training folds. "
                   "Probabilities are conditional on the lysine being modified.")
    example = ("deepbio run ptm --folds 3 --max-windows 2000\n"
               "deepbio run ptm --model-type network --epochs 5 --call-at precision=0.9\n"
               "deepbio predict ptm --model runs/ptm --input proteins.fasta")
    predict_input = "protein FASTA: every K of every protein is scored"
    interpret_input = "FASTA of 49-residue K-centred windows: saliency maps"

    def run(self, config, folder):
        return run_pipeline(config, folder, evaluate_test=True)

    def train(self, config, folder):
        return run_pipeline(config, folder, evaluate_test=False)

    def predict(self, config, output):
        done = predict_proteins(config.input, config.model, output, config.chunk_size,
                                config.shard, config.verbose)
        without = (f"; {done.without_sites} protein(s) without lysine (K) have no site"
                   if done.without_sites else "")
        return (f"{done.rows} lysine sites of {done.records} proteins{shard_label(config.shard)} "
                f"→ {output}{without}")

    def interpret(self, config, folder):
        path = Path(config.model)
        if path.suffix in (".skops", ".joblib") or (path.is_dir() and (path / PREDICTOR_FILE).is_file()):
            raise ValueError(f"model {config.model} is a {PREDICTOR_FILE} (trees/powerset/linear/"
                             f"stack): saliency maps need the network (train with --model-type "
                             f"network); a tree run folder holds position importance "
                             f"(*position_importance.png/.csv) instead")
        files = saliency_for_fasta(config.input, config.model, folder.path)
        return {"saliency_maps": [Path(f).name for f in files],
                "lines": ["saliency maps: " + ", ".join(str(f) for f in files)]}

    def load_model(self, path):
        """The PTM predictor of a run folder or preset (trees or network, with thresholds)."""
        return load_ptm_predictor(path)

    def summary(self, report):
        lines = []
        for split in ("cv", "grouped_cv", "test"):
            block = report.get(split)
            if block:
                lines.append(f"{split}: " + ", ".join(
                    f"{m}={block[m]:.4f}" for m in ("aiming", "coverage", "accuracy",
                                                    "absolute_true", "absolute_false")))
                lines.append(f"{split} per label (P(PTM | lysine modified)): " + "; ".join(
                    f"{l} AUROC={v['auroc']:.3f} MCC={v['mcc']:.3f} ECE={v['ece']:.3f}"
                    for l, v in block["per_label"].items()))
                base = report.get(f"baseline_{split}")
                if base:
                    lines.append(f"always-'a' baseline ({split}): "
                                 f"absolute_true={base['absolute_true']:.4f} aiming={base['aiming']:.4f}")
        lines.append(f"seconds: {json.dumps(report['seconds'])}")
        return lines


TASK = PTMTask()
