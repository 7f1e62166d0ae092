"""The RNA modification task: VQ-RNA on the ten-modification benchmark.

Pipeline: load each modification's train / valid (/ test when present) windows
→ one VQ-RNA model per modification (upstream's protocol) and one multi-task
model (shared encoder and codebook, one head per modification) → model
selection on valid (best-validation-AUROC weights, early stopping) → metrics
on valid and test beside a k-mer logistic-regression baseline fitted on train
→ ISM importance and logos, codebook feature spectrum (TF-IDF), saliency →
``report.json``.

Of the ten modifications, m1A has only a valid split and m6A no data at all in
VQ-RNA's release, so 8 can be trained; m1A is reported as untrainable.

Prediction (``deepbio predict rnamod``, windows or ``--scan`` of whole
transcripts) lives in `deepbio.rnamod.predict`; its names are
re-exported here.
"""

import dataclasses
import json

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from deepbio.baselines import kmer_baseline
from deepbio.rnamod.data import (RNAMOD_NAMES, available_modifications, load_rnamod,
                                 modification_index, one_hot_rna)
from deepbio.metrics import binary_metrics
from deepbio.core.task import (EarlyStoppingConfig, PredictConfig, Task, TrainingConfig,
                               TransformerSizeConfig, option)
from deepbio.rnamod.predict import (_models_at, check_rna_sequence,  # noqa: F401
                                          position_windows, predict_rna_positions,
                                          predict_rna_windows, predict_windows)
from deepbio.rnamod.report import interpret_models
from deepbio.core.predict_stream import shard_label

METRICS = ("acc", "sensitivity", "specificity", "mcc", "auroc", "auprc")

# Run sizes (``--profile``). "gpu" is upstream's protocol (train_VQRNA.py: 501 nt, 300 epochs,
# patience 30, batch 32, Adam 1e-3, six transformer layers, loss weights 0.0582 / 0.0419 /
# 0.6804); "cpu" is what fits the 2-core 60-minute budget: 101 nt, two layers, at most 10
# epochs, and the cross-entropy weighted 1.0 so that the classifier is shaped within few epochs.
PROFILES = {
    "cpu": {"sequence_length": 101, "epochs": 10, "patience": 3, "num_layers": 2,
            "ce_weight": 1.0},
    "gpu": {"sequence_length": 501, "epochs": 300, "patience": 30, "num_layers": 6,
            "ce_weight": 0.0582},
}


def _modifications(text):
    """``--modifications``: comma-separated names, or 'all' (= every trainable one)."""
    if text.strip().lower() == "all":
        return ()
    names = tuple(m.strip() for m in text.split(",") if m.strip())
    for name in names:
        modification_index(name)
    return names


@dataclasses.dataclass
class RNAModConfig(EarlyStoppingConfig, TransformerSizeConfig, TrainingConfig):
    """Parameters of an rnamod run (all saved to ``params.json``); see `option` help texts.

    Shared fields: `TrainingConfig`, `EarlyStoppingConfig` (patience: epochs
    without a better validation AUROC; the best epoch's weights are kept),
    `TransformerSizeConfig` (64, 8 heads, 6 layers upstream / 2 on CPU, 64).
    """

    epochs: int = 10
    patience: int = 3
    modifications: tuple[str, ...] = option((), "modifications to train: comma-separated names "
                                                 "(Am,Cm,Gm,Um,m5C,m5U,m6Am,Psi) or 'all'",
                                            parse=_modifications, metavar="NAMES|all")
    profile: str = option("cpu", "run size the other defaults come from", cli=False,
                          choices=tuple(PROFILES))
    sequence_length: int = option(101, "centre crop of the 1001-nt windows, odd, in nt",
                                  minimum=51, maximum=1001)
    dropout: float = option(0.2, "transformer dropout", minimum=0, maximum=0.95)
    encoder_filters: tuple[int, ...] = option((256, 512), "filters of the two encoder "
                                                          "convolutions", minimum=1)
    num_embeddings: int = option(512, "codebook size", minimum=2)
    commitment_cost: float = option(0.25, "β, the commitment-loss weight", minimum=0)
    ce_weight: float = option(1.0, "weight of the classification loss (upstream 0.0582)", minimum=0)
    vq_weight: float = option(0.0419, "weight of the vector-quantization loss", minimum=0)
    rec_weight: float = option(0.6804, "weight of the reconstruction loss", minimum=0)
    use_ema: bool = option(True, "EMA codebook updates")
    dead_code_threshold: float = option(0.1, "restart codes used less than this (0: never)",
                                        minimum=0)
    codebook_init: bool = option(True, "initialise the codebook from encoder outputs of "
                                       "training windows")
    per_modification: bool = option(True, "train one model per modification")
    multitask: bool = option(True, "train the shared multi-task model")
    max_windows: int = option(None, "at most this many windows per split and modification "
                                    "(stratified; quick runs)", minimum=10,
                              flag="max-windows-per-split")
    ism_windows: int = option(16, "top-scoring positive valid windows per modification for ISM "
                                  "(0: no ISM)", minimum=0)
    logo_flank: int = option(20, "logos cover the site ± this many nt", minimum=1)
    saliency_windows: int = option(64, "positive valid windows per modification for saliency "
                                       "maps (0: none)", minimum=0)

    def validate(self):
        super().validate()
        if self.sequence_length % 2 == 0:
            raise ValueError(f"sequence_length (--sequence-length) must be odd, got "
                             f"{self.sequence_length}")
        if len(self.encoder_filters) != 2:
            raise ValueError(f"encoder_filters (--encoder-filters) takes two numbers, got "
                             f"{self.encoder_filters}")
        if not (self.per_modification or self.multitask):
            raise ValueError("train per-modification models, the multi-task model, or both "
                             "(--no-per-modification and --no-multitask together train nothing)")

    @classmethod
    def for_profile(cls, profile="cpu", **overrides):
        """The config of a run-size profile, with ``overrides`` applied."""
        return cls(**{"profile": profile, **PROFILES[profile], **overrides})


def _split(config, split, name, data_dir, download=None):
    data = load_rnamod(split, name, config.sequence_length, data_dir, download=download)
    if config.max_windows and len(data.labels) > config.max_windows:
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(np.arange(len(data.labels)), train_size=config.max_windows,
                                   stratify=data.labels, random_state=config.seed)
        keep = np.sort(keep)
        data = type(data)([data.sequences[i] for i in keep], [data.ids[i] for i in keep],
                          data.labels[keep])
    return data


def load_splits(config, data_dir=None, evaluate_test=True):
    """Train / valid / test data of the configured modifications.

    Returns:
        ``(names, data, untrainable)``: the trainable names, ``{name: {split:
        RNAModDataset or None}}`` and ``{name: reason}`` for requested or
        released modifications that cannot be trained.

    Raises:
        ValueError: a requested modification has no training data.
    """
    train_names = available_modifications("train", data_dir)
    valid_names = available_modifications("valid", data_dir)
    untrainable = {name: ("valid split only, no training data in VQ-RNA's release"
                          if name in valid_names else "no data in VQ-RNA's release")
                   for name in RNAMOD_NAMES.values() if name not in train_names}
    if config.modifications:
        names = [RNAMOD_NAMES[modification_index(m)] for m in config.modifications]
        missing = [n for n in names if n not in train_names or n not in valid_names]
        if missing:
            raise ValueError(f"no train/valid data for {missing}: "
                             + "; ".join(f"{n}: {untrainable.get(n, 'valid split missing')}"
                                         for n in missing))
    else:
        names = [n for n in train_names if n in valid_names]
    data = {}
    for name in tqdm(names, desc="loading", unit="modification"):
        data[name] = {"train": _split(config, "train", name, data_dir),
                      "valid": _split(config, "valid", name, data_dir), "test": None}
        if evaluate_test:
            try:  # held out: only a local copy counts, never a download
                data[name]["test"] = _split(config, "test", name, data_dir, download=False)
            except (FileNotFoundError, KeyError):
                pass
    return names, data, untrainable


def _metrics(labels, probabilities):
    m = binary_metrics(labels, probabilities)
    return {k: m[k] for k in METRICS}


def _mean_block(blocks):
    blocks = [b for b in blocks if b]
    if not blocks:
        return None
    return {k: float(np.mean([b[k] for b in blocks if b[k] is not None])) for k in METRICS}


def _labels(n, column, width, labels):
    """(n, width) targets: ``labels`` in ``column``, -1 (not labelled) elsewhere."""
    y = np.full((n, width), -1.0, np.float32)
    y[:, column] = labels
    return y


def _plot_curves(curves, folder):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    for kind in ("roc", "pr"):
        fig, ax = plt.subplots(figsize=(6, 5))
        for label, (y, p) in curves.items():
            if kind == "roc":
                a, b, _ = roc_curve(y, p)
                ax.plot(a, b, label=f"{label} ({binary_metrics(y, p)['auroc']:.3f})")
            else:
                b, a, _ = precision_recall_curve(y, p)
                ax.plot(a, b, label=f"{label} ({binary_metrics(y, p)['auprc']:.3f})")
        if kind == "roc":
            ax.plot([0, 1], [0, 1], "k:", lw=0.8, label="chance (0.500)")
            ax.set(xlabel="false positive rate", ylabel="true positive rate",
                   title="ROC, valid split (per-modification VQ-RNA)")
        else:
            ax.set(xlabel="recall", ylabel="precision", title="precision-recall, valid split")
        ax.legend(fontsize=7)
        fig.tight_layout()
        folder.save_figure(fig, f"valid_{kind}_curves")


def run_pipeline(config, folder, evaluate_test=True, interpret=True):
    """The whole rnamod pipeline; writes ``folder`` and returns the report.

    Writes ``{name}/model.keras`` per modification, ``multitask/model.keras``,
    ``params.json``, ``report.json``, ``predictions_valid.csv``, ROC/PR
    curves, and with ``interpret`` the ISM, feature-spectrum and saliency
    outputs (see `deepbio.rnamod.report.interpret_models`).

    Args:
        config: `RNAModConfig`.
        folder: `deepbio.core.run_folder.RunFolder`.
        evaluate_test: bool. Score the test split when its files are present
            locally (they are held out of the shared mirror).
        interpret: bool. ISM, spectrum and saliency (``train`` skips them).

    Returns:
        The report dict ``{task, per_modification: {name: {valid, test,
        multitask, baseline_kmer, ...}}, mean, untrainable, seconds, ...}``.

    Raises:
        ValueError: a requested modification without training data.
    """
    with folder.timer("load"):
        names, data, untrainable = load_splits(config, folder.data_dir, evaluate_test)
        onehot = {n: {s: (one_hot_rna(d.sequences) if d is not None else None)
                      for s, d in splits.items()} for n, splits in data.items()}
    folder.write_params(modifications_run=names)

    report = {"task": "rnamod", "modifications": names, "untrainable": untrainable,
              "params": dataclasses.asdict(config), "data": {
                  n: {s: (None if d is None else {"windows": len(d.labels),
                                                  "positives": int(d.labels.sum())})
                      for s, d in data[n].items()} for n in names},
              "per_modification": {n: {"valid": None, "test": None} for n in names}}
    with folder.timer("baseline"):
        _kmer_baselines(config, names, data, report, folder.verbose)

    models, predictions, curves = {}, [], {}
    with folder.timer("train_per_modification"):
        if config.per_modification:
            for name in names:
                _train_per_modification(config, folder, name, data[name], onehot[name],
                                        report["per_modification"][name], models, predictions,
                                        curves)
    with folder.timer("train_multitask"):
        if config.multitask:
            _train_multitask(config, folder, names, data, onehot, report, models, predictions,
                             curves)
    _summarize(config, names, report, predictions, curves, folder)

    if interpret:
        with folder.timer("interpret"):
            report["interpretation"] = interpret_models(config, names, data, onehot, models,
                                                        folder.path)
    return folder.write_report(report)


def _kmer_baselines(config, names, data, report, verbose):
    """The k-mer logistic regression of each modification, fitted on train (``baseline_kmer``)."""
    for name in tqdm(names, desc="k-mer baseline", unit="modification", disable=not verbose):
        p_valid, p_test = kmer_baseline(data[name]["train"], [data[name]["valid"], data[name]["test"]],
                                        seed=config.seed)
        entry = report["per_modification"][name]
        entry["baseline_kmer"] = {"valid": _metrics(data[name]["valid"].labels, p_valid),
                                  "test": (_metrics(data[name]["test"].labels, p_test)
                                           if p_test is not None else None)}


def _train_per_modification(config, folder, name, splits, onehot, entry, models, predictions,
                            curves):
    """Trains and scores one modification's model (a checkpointed unit, ``name``).

    Saves ``{name}/model.keras``; fills ``entry`` (``training``, ``valid``,
    ``test``), ``models[name]``, ``curves[name]`` (valid labels and
    probabilities) and appends its valid predictions to ``predictions``.

    Args:
        config: `RNAModConfig`.
        folder: `deepbio.core.run_folder.RunFolder`.
        name: str, the modification.
        splits: dict split → `RNAModData` (``test`` may be None).
        onehot: dict split → float32 (n, L, 4) one-hot windows (or None).
        entry: dict, the modification's report block.
        models, predictions, curves: the run's collections, added to.
    """
    from deepbio.rnamod.training import train_model  # deferred: imports Keras

    print(f"[rnamod] training the {name} model ({len(splits['train'].labels)} windows)",
          flush=True)
    train, valid = splits["train"], splits["valid"]
    model, info = folder.checkpointed(name, lambda: train_model(
        config, [name], onehot["train"], train.labels[:, None].astype(np.float32),
        onehot["valid"], valid.labels[:, None].astype(np.float32), folder.verbose))
    folder.save_model(model, f"{name}/model.keras")
    models[name] = model
    classifier = model.classifier()
    entry["training"] = {k: v for k, v in info.items() if k != "history"}
    p_valid = classifier.predict(onehot["valid"], batch_size=512, verbose=0)[:, 0]
    entry["valid"] = _metrics(valid.labels, p_valid)
    curves[name] = (valid.labels, p_valid)
    predictions.append(pd.DataFrame({"modification": name, "id": valid.ids,
                                     "label": valid.labels, "model": "per_modification",
                                     "probability": np.round(p_valid, 6)}))
    if splits["test"] is not None:
        p_test = classifier.predict(onehot["test"], batch_size=512, verbose=0)[:, 0]
        entry["test"] = _metrics(splits["test"].labels, p_test)
    print(f"[rnamod] {name}: valid AUROC {entry['valid']['auroc']:.4f} (k-mer baseline "
          f"{entry['baseline_kmer']['valid']['auroc']:.4f}), {info['epochs_run']} epochs, "
          f"{info['seconds_per_epoch']:.1f} s/epoch", flush=True)


def _train_multitask(config, folder, names, data, onehot, report, models, predictions, curves):
    """Trains and scores the multi-task model (a checkpointed unit, ``multitask``).

    Saves ``multitask/model.keras``; fills ``report["multitask_training"]``
    and each modification's ``multitask`` block (also its ``valid`` /
    ``test`` and curve without ``config.per_modification``), and appends
    the valid predictions to ``predictions``.
    """
    print(f"[rnamod] training the multi-task model over {len(names)} modifications", flush=True)
    model, info = _fit_multitask(config, folder, names, data, onehot)
    folder.save_model(model, "multitask/model.keras")
    models["multitask"] = model
    report["multitask_training"] = {k: v for k, v in info.items() if k != "history"}
    classifier = model.classifier()
    for j, name in enumerate(names):
        entry = report["per_modification"][name]
        p_valid = classifier.predict(onehot[name]["valid"], batch_size=512, verbose=0)[:, j]
        block = {"valid": _metrics(data[name]["valid"].labels, p_valid), "test": None}
        predictions.append(pd.DataFrame({"modification": name, "id": data[name]["valid"].ids,
                                         "label": data[name]["valid"].labels,
                                         "model": "multitask",
                                         "probability": np.round(p_valid, 6)}))
        if data[name]["test"] is not None:
            p_test = classifier.predict(onehot[name]["test"], batch_size=512, verbose=0)[:, j]
            block["test"] = _metrics(data[name]["test"].labels, p_test)
        entry["multitask"] = block
        if not config.per_modification:
            entry["valid"], entry["test"] = block["valid"], block["test"]
            curves[name] = (data[name]["valid"].labels, p_valid)


def _fit_multitask(config, folder, names, data, onehot):
    """The multi-task model on every modification's windows (unit ``multitask``): ``(model, info)``.

    Each window is labelled for its own modification only (-1 elsewhere,
    `_labels`); the stacked arrays are freed on return.
    """
    from deepbio.rnamod.training import train_model  # deferred: imports Keras

    width = len(names)
    x = np.concatenate([onehot[n]["train"] for n in names])
    y = np.concatenate([_labels(len(data[n]["train"].labels), j, width, data[n]["train"].labels)
                        for j, n in enumerate(names)])
    x_val = np.concatenate([onehot[n]["valid"] for n in names])
    y_val = np.concatenate([_labels(len(data[n]["valid"].labels), j, width, data[n]["valid"].labels)
                            for j, n in enumerate(names)])
    return folder.checkpointed("multitask", lambda: train_model(
        config, names, x, y, x_val, y_val, folder.verbose))


def _summarize(config, names, report, predictions, curves, folder):
    """Adds the means and the comparison table to ``report``; writes the CSVs and the curves."""
    pm = report["per_modification"]
    report["mean"] = {
        "valid": _mean_block([pm[n]["valid"] for n in names]),
        "test": _mean_block([pm[n]["test"] for n in names]),
        "multitask_valid": _mean_block([pm[n].get("multitask", {}).get("valid") for n in names]),
        "multitask_test": _mean_block([pm[n].get("multitask", {}).get("test") for n in names]),
        "baseline_kmer_valid": _mean_block([pm[n]["baseline_kmer"]["valid"] for n in names]),
        "baseline_kmer_test": _mean_block([pm[n]["baseline_kmer"]["test"] for n in names]),
        "baseline_trivial_auroc": 0.5,
    }
    report["comparison"] = [{"modification": n,
                             "per_modification_auroc": (pm[n]["valid"] or {}).get("auroc")
                             if config.per_modification else None,
                             "multitask_auroc": pm[n].get("multitask", {}).get("valid", {}).get("auroc")
                             if config.multitask else None,
                             "kmer_baseline_auroc": pm[n]["baseline_kmer"]["valid"]["auroc"]}
                            for n in names]
    folder.write_csv(pd.DataFrame(report["comparison"]), "comparison_valid_auroc.csv")
    if predictions:
        folder.write_csv(pd.concat(predictions, ignore_index=True), "predictions_valid.csv")
    if curves:
        _plot_curves(curves, folder)


@dataclasses.dataclass
class RNAModPredictConfig(PredictConfig):
    """``deepbio predict rnamod``: the shared prediction settings and whole-transcript scans."""

    scan: bool = option(False, "--input holds whole transcripts (any length): score every "
                               "position as the centre of a window (N beyond the ends); rows id, "
                               "position, base, probabilities")


class RNAModTask(Task):
    """``deepbio run rnamod``: VQ-RNA RNA modification sites."""

    name = "rnamod"
    benchmark = "deepbio.rnamod.benchmark:workload"  # benchmarks/gpu_check.py
    brief = 'sites of RNA modifications with a VQ-VAE + transformer, after VQ-RNA'
    rank = 20
    web = "deepbio.rnamod.web:RNAModTab"
    multi_worker = True
    keras_modules = ('deepbio.rnamod.model',)
    tiny_flags = ('--modifications', 'Am', '--max-windows-per-split', '40', '--epochs', '2', '--no-multitask', '--ism-windows', '0', '--saliency-windows', '0', '--encoder-filters', '16,32', '--num-embeddings', '32')  # the tests' shared tiny run (seconds on 2 cores)
    config_class = RNAModConfig
    description = ("Sites of RNA modifications (Am, Cm, Gm, Um, m5C, m5U, m6Am, Ψ) after VQ-RNA: "
                   "one-hot RNA → convolutional encoder → vector-quantized codebook → non-causal "
                   "transformer blocks → one head per modification; one model per modification "
                   "and a multi-task model, selected on the valid split, beside a k-mer logistic "
                   "regression; ISM logos, the codebook feature spectrum and saliency maps.")
    example = ("deepbio run rnamod --modifications Am,m5C --epochs 5\n"
               "deepbio predict rnamod --model runs/rnamod --input sites.fasta")
    profiles = {name: (lambda name=name: RNAModConfig.for_profile(name)) for name in PROFILES}
    predict_config_class = RNAModPredictConfig
    predict_input = ("FASTA of RNA/DNA windows centred on the candidate site, odd length ≥ the "
                     "model's (longer ones are centre-cropped); with --scan, whole transcripts")

    def run(self, config, folder):
        return run_pipeline(config, folder, evaluate_test=True, interpret=True)

    def train(self, config, folder):
        return run_pipeline(config, folder, evaluate_test=False, interpret=False)

    def predict(self, config, output):
        done = predict_windows(config.input, config.model, output, chunk_size=config.chunk_size,
                               shard=config.shard, verbose=config.verbose, scan=config.scan)
        what = (f"{done.rows} positions of {done.records} sequences" if config.scan else
                f"{done.rows} windows")
        return f"{what}{shard_label(config.shard)} scored → {output}"

    tunable = True

    def search_space(self, hp, config):
        """VQ-RNA's NNI space: learning rate, batch size, codebook size, layers, heads, dropout."""
        hp.Float("learning_rate", 1e-4, 3e-3, sampling="log")
        hp.Choice("batch_size", [16, 32, 64])
        hp.Choice("num_embeddings", [128, 256, 512, 1024])
        hp.Int("num_layers", 1, 6)
        hp.Choice("num_heads", [2, 4, 8])
        hp.Float("dropout", 0.0, 0.4, step=0.1)

    def tuning_objective(self, report):
        """Mean valid AUROC over the modifications (per-modification models, else multi-task)."""
        mean = report["mean"]
        return (mean.get("valid") or mean["multitask_valid"])["auroc"]

    def summary(self, report):
        rows = report["per_modification"]
        fmt = lambda b: f"{b['auroc']:.4f}" if b else "-"  # noqa: E731
        lines = [f"{'modification':<12} {'VQ-RNA':>8} {'multi-task':>10} {'k-mer LR':>9}  "
                 f"(valid AUROC; constant score 0.5)"]
        for name in report["modifications"]:
            row = rows[name]
            single = fmt(row["valid"]) if report["params"]["per_modification"] else "-"
            lines.append(f"{name:<12} {single:>8} {fmt(row.get('multitask', {}).get('valid')):>10} "
                         f"{fmt(row['baseline_kmer']['valid']):>9}")
        mean = report["mean"]
        lines.append("mean valid AUROC: " + ", ".join(
            f"{k}={mean[k]['auroc']:.4f}" for k in ("valid", "multitask_valid", "baseline_kmer_valid")
            if mean.get(k)))
        lines += [f"not trained: {name} ({reason})" for name, reason in report["untrainable"].items()]
        lines.append(f"seconds: {json.dumps(report['seconds'])}")
        return lines


TASK = RNAModTask()
