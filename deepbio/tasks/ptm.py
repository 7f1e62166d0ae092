"""The PTM task: OmniK-PTM end to end, honestly evaluated.

Pipeline: data → features (PSTAAP fitted inside each training fold, per-residue
encoders) → undersampling of the training part → training with early stopping
→ per-label thresholds tuned on the training fold's validation part →
evaluation on the scored fold / test split → saliency → report.

Nothing learned from data (PSTAAP table, sampler, thresholds) ever sees the
windows it is scored on. Training rows get out-of-fold PSTAAP values (each
row's features come from a table fitted without it), so the network does not
learn to trust a feature that memorised its own label.

Every window of the benchmark is a modified lysine, so the model answers
*which* modification(s) a lysine carries given that it is modified.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

import Feature_extraction_algorithms as fea
from deepbio.data import PTM_COMBINATIONS, PTM_LABEL_NAMES, PTM_LABELS, load_ptm
from deepbio.models.ptm.features import RESIDUE_ENCODERS, residue_features
from deepbio.tasks.base import (CrossValidationConfig, EarlyStoppingConfig, Task, TrainingConfig,
                                option)
from deepbio.utils import write_csv


@dataclasses.dataclass
class PTMConfig(CrossValidationConfig, EarlyStoppingConfig, TrainingConfig):
    """Parameters of a PTM run (all saved to ``params.json``); see `option` help texts.

    Shared fields: `TrainingConfig` (epochs, batch_size, learning_rate, seed,
    mixed_precision), `EarlyStoppingConfig` (patience) and
    `CrossValidationConfig` (folds). Model sizes: see
    `deepbio.models.PTMClassifier`.
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
    saliency_windows: int = option(512, "windows in the saliency maps (0: none)", minimum=0)

    def validate(self):
        super().validate()
        if not self.residue_encoders:
            raise ValueError(f"residue_encoders (--residue-encoders) must be a non-empty subset of "
                             f"{','.join(RESIDUE_ENCODERS)}")


def encode_windows(windows, ids=None, source="input"):
    """Validated windows → int32 tokens (n, 49); ``-`` (padding) → 20.

    Raises:
        ValueError: a window that is not 49 residues of the 20 standard ones
            centred on K, with ``-`` only as padding at its ends (the message
            names ``source`` and the record).
    """
    from deepbio.data import check_ptm_windows

    check_ptm_windows(windows, ids, source, padding=True)
    return fea.encode_residues(windows, alphabet=fea.PROTEIN_ALPHABET + "-")


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
    """The whole PTM pipeline; writes ``folder`` and returns the report.

    Writes ``model.keras`` (end-to-end, tokens → probabilities),
    ``thresholds.json``, ``params.json``, ``report.json``, CV and training
    plots, saliency heatmaps (PNG + CSV), all atomically.

    Args:
        config: `PTMConfig`.
        folder: `deepbio.tasks.run_folder.RunFolder`.
        evaluate_test: bool. Score the final model on the test split when
            it is available locally (``train`` skips this and saliency).

    Returns:
        The report dict (also ``report.json``).

    Raises:
        ValueError: too few windows for the requested folds, or a bad record
            in the data (named).
    """
    from deepbio.interpret.ptm_saliency import saliency_report
    from deepbio.models.ptm.sequence_model import ptm_sequence_model
    from deepbio.baselines import always_a_baseline
    from deepbio.training.ptm import cross_validate, evaluate, fit_fold, subset

    verbose = folder.verbose
    timings = {"features": 0.0, "resample": 0.0, "train": 0.0}
    full = load_ptm("train", folder.data_dir)
    try:
        train = subset(full, config.max_windows, config.seed)
    except ValueError:
        raise ValueError(f"--max-windows {config.max_windows} is too small to keep every label "
                         f"combination of the {len(full.windows)} training windows; use at least "
                         f"{4 * len(np.unique(full.classes))}") from None
    smallest = int(np.bincount(train.classes)[np.unique(train.classes)].min())
    needed = max(config.folds, 2)
    if smallest * (1 - 1 / max(config.folds, 1) if config.folds else 1) < needed:
        raise ValueError(f"the rarest label combination has only {smallest} of {len(train.windows)} "
                         f"training windows, too few for {config.folds or 'no'} CV folds and a "
                         f"validation part; use more windows (--max-windows) or fewer --folds")
    test = _load_test(folder.data_dir) if evaluate_test else None
    if evaluate_test and test is None and verbose:
        print("test split: not in the local data (held out); test metrics are null", flush=True)
    folder.write_params()

    with folder.timer("features"):
        residues = residue_features(train.windows, config.residue_encoders)
        test_residues = (residue_features(test.windows, config.residue_encoders) if test
                         else np.zeros((0, 49, residues.shape[-1]), np.float32))

    report = {"task": "ptm", "data": {
        "train": len(train.windows), "test": len(test.windows) if test else None,
        "train_per_class": {str(c): int((train.classes == c).sum()) for c in PTM_COMBINATIONS},
        "train_per_label": {l: int(v) for l, v in zip(PTM_LABELS, train.labels.sum(axis=0))}}}
    report["params"] = dataclasses.asdict(config)
    last = None
    if config.folds:
        report["baseline_cv"] = always_a_baseline(train.labels, train.classes)
        cv, folds, _, last = cross_validate(config, train, residues, timings, verbose)
        report["cv"], report["cv_folds"] = cv, folds
    else:
        report["cv"], report["cv_folds"], report["baseline_cv"] = None, [], None

    final = fit_fold(config, train.windows, train.labels, train.classes, residues,
                     np.arange(len(train.windows)), test.windows if test else [], test_residues,
                     timings, verbose)
    report["thresholds"] = dict(zip(PTM_LABELS, final["thresholds"].tolist()))
    if test:
        report["test"] = evaluate(test.labels, test.classes, final["probabilities"], final["thresholds"])
        report["baseline_test"] = always_a_baseline(test.labels, test.classes)
    else:
        report["test"] = report["baseline_test"] = None

    exported = ptm_sequence_model(final["model"], final["encoder"], final["pstaap_scaling"],
                                  config.residue_encoders)
    folder.save_model(exported, "model.keras")
    folder.write_json({"labels": list(PTM_LABELS), "thresholds": final["thresholds"].tolist()},
                      "thresholds.json")

    saliency_inputs = final["score_inputs"] if test else (last["score_inputs"] if last else None)
    saliency_model = final["model"] if test else (last["model"] if last else None)
    if evaluate_test and saliency_model is not None and config.saliency_windows:
        rng = np.random.default_rng(config.seed)
        n = len(saliency_inputs[0])
        pick = np.sort(rng.choice(n, min(n, config.saliency_windows), replace=False))
        for path in saliency_report(saliency_model, [x[pick] for x in saliency_inputs], folder.path,
                                    prefix="test_" if test else "cv_"):
            folder.file(Path(path).name)
    folder.seconds.update(timings)
    if report["cv"] is not None:
        _plot_cv(report, config.folds, folder)
    folder.plot_history(final["history"], ylabel="binary cross-entropy", title="final model")
    return folder.write_report(report)


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
        model_path: a ``model.keras`` written by `run` (or its run folder);
            a ``thresholds.json`` beside it adds 0/1 calls.
        output_csv: path of the CSV written (atomically): ``protein,
            position, window, acetylation, crotonylation, methylation,
            succinylation`` (probabilities) and ``predicted`` (label letters).
        batch_size: int.

    Returns:
        The pandas DataFrame written.

    Raises:
        FileNotFoundError: missing FASTA or model.
        ValueError: a FASTA that is empty, binary or not FASTA, a repeated
            id, a protein with a gap, a non-standard residue or no lysine at
            all (the message names the file and the record; checked before
            the model loads), or a model that is not a PTM model.
    """
    from deepbio.data import read_fasta
    from deepbio.models.loading import load_task_model, model_file
    from deepbio.training.ptm import decode

    ids, proteins = read_fasta(fasta, unique_ids=True)
    rows, windows = [], []
    for number, (name, protein) in enumerate(zip(ids, proteins), start=1):
        bad = [i for i, residue in enumerate(protein) if residue not in fea.PROTEIN_ALPHABET]
        if bad:
            residue = protein[bad[0]]
            what = "a gap '-'" if residue == "-" else f"non-standard residue {residue!r}"
            hint = ("give ungapped full-length proteins" if residue == "-" else
                    f"only the 20 standard residues {fea.PROTEIN_ALPHABET} are allowed")
            raise ValueError(f"{fasta}: record {number} ({name!r}) has {what} at position "
                             f"{bad[0] + 1}; {hint}")
        positions, protein_windows_ = protein_windows(protein)
        if not positions:
            raise ValueError(f"{fasta}: record {number} ({name!r}) contains no lysine (K), so "
                             f"there is no site to score; remove it")
        rows += [(name, p) for p in positions]
        windows += protein_windows_
    model_path = model_file(model_path, "ptm")
    model = load_task_model(model_path, "ptm", _ptm_model_check)
    probabilities = model.predict(encode_windows(windows, source=str(fasta)), batch_size=batch_size,
                                  verbose=0)
    frame = pd.DataFrame(rows, columns=["protein", "position"])
    frame["window"] = windows
    for j, name in enumerate(PTM_LABEL_NAMES):
        frame[name] = np.round(probabilities[:, j], 6)
    threshold_file = model_path.parent / "thresholds.json"
    thresholds = np.full(len(PTM_LABELS), 0.5)
    if threshold_file.is_file():
        try:
            thresholds = np.asarray(json.loads(threshold_file.read_text())["thresholds"], float)
            if thresholds.shape != (len(PTM_LABELS),):
                raise ValueError(f"{len(thresholds)} values")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
            raise ValueError(f"{threshold_file}: not a thresholds file of {len(PTM_LABELS)} "
                             f"values ({error}); delete it to use 0.5 or retrain") from None
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
    from deepbio.interpret.ptm_saliency import saliency_report
    from deepbio.models import PTMClassifier
    from deepbio.models.loading import load_task_model

    ids, windows = read_fasta(fasta)
    tokens = encode_windows(windows, ids, source=str(fasta))
    model = load_task_model(model_path, "ptm", _ptm_model_check)
    pstaap = model.get_layer("pstaap_encoding")(tokens)
    pstaap = model.get_layer("pstaap_channels")(model.get_layer("pstaap_scaling")(pstaap))
    residues = model.get_layer("residue_encoding")(tokens)
    classifier = next(layer for layer in model.layers if isinstance(layer, PTMClassifier))
    return saliency_report(classifier, [np.asarray(pstaap), np.asarray(residues)], Path(output_dir),
                           prefix="fasta_", smooth_samples=smooth_samples)


def _ptm_model_check(model):
    shape = tuple(model.inputs[0].shape) if model.inputs else ()
    if model.name != "ptm_sequence_model" or shape[1:] != (49,):
        return (f"its input is {shape[1:]} (a PTM model takes 49 residue tokens); "
                f"train one with 'deepbio train ptm'")
    return None


class PTMTask(Task):
    """``deepbio run ptm``: OmniK-PTM multi-label lysine PTM prediction."""

    name = "ptm"
    config_class = PTMConfig
    description = ("Which of four modifications (acetylation, crotonylation, methylation, "
                   "succinylation) a 49-residue K-centred window carries, after OmniK-PTM: PSTAAP "
                   "fitted inside each training fold, physicochemical / BLOSUM62 / one-hot residue "
                   "features, CNN branches fused by bidirectional cross-attention, a BiGRU, "
                   "stratified cross-validation, per-label thresholds, saliency maps. "
                   "Probabilities are conditional on the lysine being modified.")
    example = ("deepbio run ptm --epochs 5 --folds 3 --max-windows 2000\n"
               "deepbio predict ptm --model runs/ptm/model.keras --input proteins.fasta")
    predict_input = "protein FASTA: every K of every protein is scored"
    interpret_input = "FASTA of 49-residue K-centred windows: saliency maps"

    def run(self, config, folder):
        return run_pipeline(config, folder, evaluate_test=True)

    def train(self, config, folder):
        return run_pipeline(config, folder, evaluate_test=False)

    def predict(self, model_path, input_path, output_path, args):
        frame = predict_proteins(input_path, model_path, output_path)
        return f"{len(frame)} lysine sites of {frame['protein'].nunique()} proteins → {output_path}"

    def interpret(self, model_path, input_path, output_dir, args):
        files = saliency_for_fasta(input_path, model_path, output_dir)
        return "saliency maps: " + ", ".join(str(f) for f in files)

    def summary(self, report):
        lines = []
        for split in ("cv", "test"):
            block = report.get(split)
            if block:
                lines.append(f"{split}: " + ", ".join(
                    f"{m}={block[m]:.4f}" for m in ("aiming", "coverage", "accuracy",
                                                    "absolute_true", "absolute_false")))
                base = report.get(f"baseline_{split}")
                if base:
                    lines.append(f"always-'a' baseline ({split}): "
                                 f"absolute_true={base['absolute_true']:.4f} aiming={base['aiming']:.4f}")
        lines.append(f"seconds: {json.dumps(report['seconds'])}")
        return lines


TASK = PTMTask()
