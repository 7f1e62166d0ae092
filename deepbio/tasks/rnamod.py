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
"""

import dataclasses
import json
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from deepbio.data.rnamod import (RNAMOD_NAMES, available_modifications, check_rna_windows,
                                 load_rnamod, modification_index, one_hot_rna)
from deepbio.losses import masked_binary_crossentropy
from deepbio.metrics import binary_metrics
from deepbio.models import VQRNA
from deepbio.utils import atomic_path, save_figure, write_csv, write_json

METRICS = ("acc", "sensitivity", "specificity", "mcc", "auroc", "auprc")

# Shared-flag values and sizes per preset. "gpu" is upstream's protocol
# (train_VQRNA.py: 501 nt, 300 epochs, patience 30, batch 32, Adam 1e-3, six
# transformer layers, loss weights 0.0582 / 0.0419 / 0.6804); "cpu" is what fits
# the 2-core 60-minute budget: 101 nt, two layers, at most 10 epochs, and the
# cross-entropy weighted 1.0 so that the classifier is shaped within few epochs.
PRESETS = {
    "cpu": {"sequence_length": 101, "epochs": 10, "patience": 3, "num_layers": 2,
            "ce_weight": 1.0},
    "gpu": {"sequence_length": 501, "epochs": 300, "patience": 30, "num_layers": 6,
            "ce_weight": 0.0582},
}


@dataclasses.dataclass
class RNAModConfig:
    """Parameters of an rnamod run (all saved to ``params.json``).

    Attributes:
        modifications: tuple of names; empty = every modification with a
            train and a valid split.
        preset: "cpu" (default; 101 nt, 2 transformer layers, ≤10 epochs,
            w_ce 1.0: fits 2 CPU cores in under an hour) or "gpu" (upstream's
            501 nt / 300 epochs / patience 30 / 6 layers / w_ce 0.0582).
        sequence_length: int. Centre crop of the 1001-nt windows (51..1001).
        epochs: int. Maximum epochs per model.
        batch_size: int (32 as upstream).
        learning_rate: float. Adam (1e-3 as upstream).
        patience: int. Epochs without a better validation AUROC before
            stopping; the best epoch's weights are kept.
        seed: int.
        dropout: float. Transformer dropout (0.2).
        hidden_dim, num_heads, num_layers, intermediate_dim: transformer and
            code sizes (64, 8, 6 upstream / 2 on CPU, 64).
        encoder_filters: tuple of two int (256, 512).
        num_embeddings: int. Codebook size (512).
        commitment_cost: float. β (0.25).
        ce_weight, vq_weight, rec_weight: loss weights (upstream 0.0582,
            0.0419, 0.6804; the cpu preset weights CE 1.0).
        use_ema: bool. EMA codebook updates.
        dead_code_threshold: float. Dead-code restart threshold (0 = off).
        codebook_init: bool. Initialise the codebook from encoder outputs of
            training windows.
        per_modification: bool. Train one model per modification.
        multitask: bool. Train the shared multi-task model.
        max_windows: int or None. At most this many windows per split and
            modification (stratified; for quick runs and tests).
        ism_windows: int. Top-scoring positive valid windows per
            modification for ISM (0: no ISM).
        logo_flank: int. Logos cover the site ± this many nt.
        saliency_windows: int. Positive valid windows per modification for
            saliency maps (0: none).
        mixed_precision: bool.
    """

    modifications: tuple = ()
    preset: str = "cpu"
    sequence_length: int = 101
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 3
    seed: int = 0
    dropout: float = 0.2
    hidden_dim: int = 64
    num_heads: int = 8
    num_layers: int = 2
    intermediate_dim: int = 64
    encoder_filters: tuple = (256, 512)
    num_embeddings: int = 512
    commitment_cost: float = 0.25
    ce_weight: float = 1.0
    vq_weight: float = 0.0419
    rec_weight: float = 0.6804
    use_ema: bool = True
    dead_code_threshold: float = 0.1
    codebook_init: bool = True
    per_modification: bool = True
    multitask: bool = True
    max_windows: int = None
    ism_windows: int = 16
    logo_flank: int = 20
    saliency_windows: int = 64
    mixed_precision: bool = False

    def __post_init__(self):
        self.modifications = tuple(self.modifications)
        self.encoder_filters = tuple(self.encoder_filters)
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        if self.sequence_length % 2 == 0 or not 51 <= self.sequence_length <= 1001:
            raise ValueError(f"sequence_length must be odd and in 51..1001, got {self.sequence_length}")
        if not (self.per_modification or self.multitask):
            raise ValueError("train per-modification models, the multi-task model, or both")

    @classmethod
    def for_preset(cls, preset="cpu", **overrides):
        """The config of a preset, with ``overrides`` applied."""
        return cls(**{"preset": preset, **PRESETS[preset], **overrides})


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


def build_model(config, names):
    """A `VQRNA` with one head per name, sized by ``config``."""
    return VQRNA(sequence_length=config.sequence_length, num_modifications=len(names),
                 modification_names=list(names), encoder_filters=config.encoder_filters,
                 hidden_dim=config.hidden_dim, num_embeddings=config.num_embeddings,
                 commitment_cost=config.commitment_cost, vq_loss_weight=config.vq_weight,
                 use_ema=config.use_ema, dead_code_threshold=config.dead_code_threshold,
                 num_layers=config.num_layers, num_heads=config.num_heads,
                 intermediate_dim=config.intermediate_dim, dropout=config.dropout,
                 name="vqrna_" + ("multitask" if len(names) > 1 else names[0]))


def compile_model(model, config):
    """Adam, masked BCE × w_ce + reconstruction MSE × w_rec (+ w_vq·VQ from the quantizer)."""
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss={"modification": masked_binary_crossentropy, "reconstruction": "mse"},
                  loss_weights={"modification": config.ce_weight, "reconstruction": config.rec_weight})
    return model


def masked_aurocs(labels, probabilities):
    """AUROC per column over the rows labelled for it (label ≥ 0)."""
    out = []
    for j in range(labels.shape[1]):
        rows = labels[:, j] >= 0
        out.append(binary_metrics(labels[rows, j], probabilities[rows, j])["auroc"])
    return out


class BestValidationAUROC(keras.callbacks.Callback):
    """Tracks the mean validation AUROC over heads; keeps the best weights, stops early.

    Logs ``val_auroc`` every epoch; after ``patience`` epochs without
    improvement it stops training, and at the end of training the model holds
    the weights of its best epoch (upstream keeps its best-validation model).

    Args:
        x_val: float32 (n, L, 4).
        y_val: float32 (n, M), -1 where a window is not labelled for a head.
        patience: int.
        batch_size: int, for prediction.
    """

    def __init__(self, x_val, y_val, patience, batch_size=512):
        super().__init__()
        self.x_val, self.y_val = x_val, y_val
        self.patience, self.batch_size = patience, batch_size
        self.best, self.best_epoch, self.best_weights, self.wait = -np.inf, -1, None, 0

    def on_epoch_end(self, epoch, logs=None):
        classifier = self.model.classifier()
        probabilities = classifier.predict(self.x_val, batch_size=self.batch_size, verbose=0)
        auroc = float(np.mean(masked_aurocs(self.y_val, probabilities)))
        if logs is not None:
            logs["val_auroc"] = auroc
        print(f"  epoch {epoch + 1}: val_auroc={auroc:.4f}", flush=True)
        if auroc > self.best:
            self.best, self.best_epoch, self.wait = auroc, epoch, 0
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def train_model(config, names, x, y, x_val, y_val, verbose=2):
    """Trains one VQ-RNA (1 head or multi-task) with best-validation selection.

    The codebook is initialised from encoder outputs of 256 training windows
    (``codebook_init``); the learning rate is halved after each epoch
    without a better validation AUROC; training stops after ``patience``
    such epochs and the best epoch's weights are kept.

    Args:
        config: `RNAModConfig`.
        names: list of M modification names (heads).
        x, x_val: float32 one-hot (n, L, 4).
        y, y_val: float32 (n, M), -1 where not labelled.

    Returns:
        ``(model, info)``: the model with its best-validation weights and
        ``{"epochs_run", "best_epoch", "best_val_auroc", "seconds_per_epoch",
        "history"}``.
    """
    model = compile_model(build_model(config, names), config)
    model(x[:2])
    if config.codebook_init:
        rng = np.random.default_rng(config.seed)
        sample = x[rng.choice(len(x), min(len(x), 256), replace=False)]
        encoder = keras.Model(model.input, model.get_layer("latents").output)
        model.get_layer("quantizer").initialize_codebook(
            encoder.predict(sample, batch_size=256, verbose=0), seed=config.seed)
    selector = BestValidationAUROC(x_val, y_val, config.patience)
    start = time.perf_counter()
    history = model.fit(x, {"modification": y, "reconstruction": x}, batch_size=config.batch_size,
                        epochs=config.epochs, verbose=verbose, shuffle=True,
                        callbacks=[selector, keras.callbacks.ReduceLROnPlateau(
                            monitor="val_auroc", mode="max", factor=0.5, patience=1, verbose=0)])
    seconds = time.perf_counter() - start
    epochs_run = len(history.history["loss"])
    return model, {"epochs_run": epochs_run, "best_epoch": selector.best_epoch + 1,
                   "best_val_auroc": selector.best, "seconds": round(seconds, 2),
                   "seconds_per_epoch": round(seconds / max(epochs_run, 1), 2),
                   "history": {k: [float(v) for v in vals] for k, vals in history.history.items()}}


def kmer_baseline(train, others, length=51, k_max=4, seed=0):
    """k-mer (1..k_max) counts of the central ``length`` nt + logistic regression, fitted on train.

    Returns:
        list of probability arrays, one per dataset in ``others``.
    """
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from deepbio.data.rnamod import centre_crop

    crop = lambda data: [centre_crop(s, min(length, len(s))) for s in data.sequences]  # noqa: E731
    pipeline = make_pipeline(
        CountVectorizer(analyzer="char", ngram_range=(1, k_max), lowercase=False),
        LogisticRegression(C=0.1, max_iter=3000, random_state=seed))
    pipeline.fit(crop(train), train.labels)
    return [pipeline.predict_proba(crop(d))[:, 1] if d is not None else None for d in others]


def _metrics(labels, probabilities):
    m = binary_metrics(labels, probabilities)
    return {k: m[k] for k in METRICS}


def _mean_block(blocks):
    blocks = [b for b in blocks if b]
    if not blocks:
        return None
    return {k: float(np.mean([b[k] for b in blocks if b[k] is not None])) for k in METRICS}


def _labels(n, column, width, labels):
    y = np.full((n, width), -1.0, np.float32)
    y[:, column] = labels
    return y


def _plot_curves(curves, out):
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
        save_figure(fig, out / f"valid_{kind}_curves", formats=("png",))


def _versions():
    import sklearn
    import tensorflow as tf

    return {"keras": keras.__version__, "tensorflow": tf.__version__, "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


def _save(model, path):
    with atomic_path(path) as tmp:
        model.save(tmp)


def run(config, output_dir="runs/rnamod", data_dir=None, verbose=2, evaluate_test=True,
        interpret=True):
    """The whole rnamod pipeline; writes the output folder and returns the report.

    Writes ``{name}/model.keras`` per modification, ``multitask/model.keras``,
    ``params.json``, ``report.json``, ``predictions_valid.csv``, ROC/PR
    curves, and with ``interpret`` the ISM, feature-spectrum and saliency
    outputs (see `interpret_models`).

    Args:
        config: `RNAModConfig`.
        output_dir: str or path-like.
        data_dir: optional local data mirror.
        verbose: Keras verbosity.
        evaluate_test: bool. Score the test split when its files are present
            locally (they are held out of the shared mirror).
        interpret: bool. ISM, spectrum and saliency (``train.py`` skips them).

    Returns:
        The report dict ``{task, per_modification: {name: {valid, test,
        multitask, baseline_kmer, ...}}, mean, untrainable, seconds, ...}``.
    """
    total_start = time.perf_counter()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(config.seed)
    seconds = {}
    start = time.perf_counter()
    names, data, untrainable = load_splits(config, data_dir, evaluate_test)
    onehot = {n: {s: (one_hot_rna(d.sequences) if d is not None else None) for s, d in splits.items()}
              for n, splits in data.items()}
    seconds["load"] = round(time.perf_counter() - start, 2)
    write_json({**dataclasses.asdict(config), "modifications_run": names, "output_dir": str(out),
                "data_dir": str(data_dir) if data_dir else None, "versions": _versions()},
               out / "params.json")

    report = {"task": "rnamod", "modifications": names, "untrainable": untrainable,
              "params": dataclasses.asdict(config), "data": {
                  n: {s: (None if d is None else {"windows": len(d.labels),
                                                  "positives": int(d.labels.sum())})
                      for s, d in data[n].items()} for n in names},
              "per_modification": {n: {"valid": None, "test": None} for n in names}}
    start = time.perf_counter()
    for name in tqdm(names, desc="k-mer baseline", unit="modification"):
        p_valid, p_test = kmer_baseline(data[name]["train"], [data[name]["valid"], data[name]["test"]],
                                        seed=config.seed)
        entry = report["per_modification"][name]
        entry["baseline_kmer"] = {"valid": _metrics(data[name]["valid"].labels, p_valid),
                                  "test": (_metrics(data[name]["test"].labels, p_test)
                                           if p_test is not None else None)}
    seconds["baseline"] = round(time.perf_counter() - start, 2)

    models, predictions, curves = {}, [], {}
    start = time.perf_counter()
    if config.per_modification:
        for name in names:
            print(f"[rnamod] training the {name} model ({len(data[name]['train'].labels)} windows)",
                  flush=True)
            train, valid = data[name]["train"], data[name]["valid"]
            model, info = train_model(
                config, [name], onehot[name]["train"], train.labels[:, None].astype(np.float32),
                onehot[name]["valid"], valid.labels[:, None].astype(np.float32), verbose)
            _save(model, out / name / "model.keras")
            models[name] = model
            classifier = model.classifier()
            entry = report["per_modification"][name]
            entry["training"] = {k: v for k, v in info.items() if k != "history"}
            p_valid = classifier.predict(onehot[name]["valid"], batch_size=512, verbose=0)[:, 0]
            entry["valid"] = _metrics(valid.labels, p_valid)
            curves[name] = (valid.labels, p_valid)
            predictions.append(pd.DataFrame({"modification": name, "id": valid.ids,
                                             "label": valid.labels, "model": "per_modification",
                                             "probability": np.round(p_valid, 6)}))
            if data[name]["test"] is not None:
                p_test = classifier.predict(onehot[name]["test"], batch_size=512, verbose=0)[:, 0]
                entry["test"] = _metrics(data[name]["test"].labels, p_test)
            print(f"[rnamod] {name}: valid AUROC {entry['valid']['auroc']:.4f} (k-mer baseline "
                  f"{entry['baseline_kmer']['valid']['auroc']:.4f}), {info['epochs_run']} epochs, "
                  f"{info['seconds_per_epoch']:.1f} s/epoch", flush=True)
    seconds["train_per_modification"] = round(time.perf_counter() - start, 2)

    start = time.perf_counter()
    if config.multitask:
        print(f"[rnamod] training the multi-task model over {len(names)} modifications", flush=True)
        width = len(names)
        x = np.concatenate([onehot[n]["train"] for n in names])
        y = np.concatenate([_labels(len(data[n]["train"].labels), j, width, data[n]["train"].labels)
                            for j, n in enumerate(names)])
        x_val = np.concatenate([onehot[n]["valid"] for n in names])
        y_val = np.concatenate([_labels(len(data[n]["valid"].labels), j, width, data[n]["valid"].labels)
                                for j, n in enumerate(names)])
        model, info = train_model(config, names, x, y, x_val, y_val, verbose)
        del x, y
        _save(model, out / "multitask" / "model.keras")
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
    seconds["train_multitask"] = round(time.perf_counter() - start, 2)

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
    write_csv(pd.DataFrame(report["comparison"]), out / "comparison_valid_auroc.csv")
    if predictions:
        write_csv(pd.concat(predictions, ignore_index=True), out / "predictions_valid.csv")
    if curves:
        _plot_curves(curves, out)

    if interpret:
        start = time.perf_counter()
        report["interpretation"] = interpret_models(config, names, data, onehot, models, out)
        seconds["interpret"] = round(time.perf_counter() - start, 2)
    seconds["total"] = round(time.perf_counter() - total_start, 2)
    report["seconds"] = seconds
    write_json(report, out / "report.json")
    return report


def interpret_models(config, names, data, onehot, models, out):
    """ISM importance and logos, the codebook feature spectrum, saliency maps.

    * ISM: for each modification, the ``ism_windows`` positive valid windows
      its model scores highest; batched saturation mutagenesis over the whole
      window; ``ism/{name}_importance.{svg,png,csv}`` (mean |Δp| summed over
      bases per position) and ``ism/{name}_logo.{svg,png}`` (logomaker,
      reference-base importance over the site ± ``logo_flank`` nt).
    * Feature spectrum (multi-task model: one codebook for all): code usage
      on the training windows of each modification → TF-IDF →
      ``tf_idf_matrix_sorted.csv`` and ``feature_spectrum.svg``.
    * Saliency (tf-keras-vis, through `deepbio.interpret.mean_saliency`) of
      each model's logit over its positive valid windows →
      ``saliency_valid.{png,csv}``.

    Returns:
        dict summarising what was written.
    """
    from deepbio.interpret import (mean_saliency, plot_ism, plot_saliency_heatmap,
                                   saturation_mutagenesis, write_feature_spectrum)

    summary = {}
    length = config.sequence_length
    positions = np.arange(length) - length // 2
    if config.ism_windows:
        ism_dir = out / "ism"
        summary["ism"] = {}
        for name in tqdm(names, desc="ISM", unit="modification"):
            model = models.get(name) or models.get("multitask")
            column = 0 if name in models else names.index(name)
            classifier = model.classifier()
            positives = onehot[name]["valid"][data[name]["valid"].labels == 1]
            scores = classifier.predict(positives, batch_size=512, verbose=0)[:, column]
            top = np.argsort(-scores)[:config.ism_windows]
            attributions = saturation_mutagenesis(classifier, positives[top], output_index=column)
            files = plot_ism(attributions, positives[top], ism_dir, name, positions,
                             flank=config.logo_flank)
            summary["ism"][name] = {"windows": int(len(top)),
                                    "mean_score": float(scores[top].mean()),
                                    "files": [str(f.relative_to(out)) for f in files]}
    if "multitask" in models:
        model = models["multitask"]
        counts = {name: model.code_indices(onehot[name]["train"]) for name in names}
        files = write_feature_spectrum(counts, config.num_embeddings, out)
        summary["feature_spectrum"] = {"model": "multitask",
                                       "files": [str(f.relative_to(out)) for f in files]}
    if config.saliency_windows:
        rows = []
        for name in names:
            model = models.get(name) or models.get("multitask")
            column = 0 if name in models else names.index(name)
            positives = onehot[name]["valid"][data[name]["valid"].labels == 1][:config.saliency_windows]
            (matrix,) = mean_saliency(model.classifier(logits=True), positives,
                                      model.num_modifications)
            rows.append(matrix[column])
        matrix = np.asarray(rows)
        ticks = [str(p) if p % 10 == 0 else "" for p in positions]
        plot_saliency_heatmap(matrix, names, out / "saliency_valid.png",
                              f"saliency of each modification's logit, positive valid windows "
                              f"(≤{config.saliency_windows} each)", ticks, "position relative to the site")
        frame = pd.DataFrame(matrix, columns=[str(p) for p in positions])
        frame.insert(0, "modification", names)
        write_csv(frame, out / "saliency_valid.csv")
        summary["saliency"] = ["saliency_valid.png", "saliency_valid.csv"]
    return summary


def _read_windows(fasta, length):
    from deepbio.data import read_fasta

    ids, windows = read_fasta(fasta)
    check_rna_windows(windows, ids, source=str(fasta), min_length=length)
    return ids, windows


def _models_at(model_path):
    """``[(head names, VQRNA)]`` of a ``.keras`` file, or of every model in a run folder."""
    path = Path(model_path)
    if path.is_dir():
        files = sorted(p for p in path.glob("*/model.keras") if p.parent.name != "multitask")
        if not files:
            files = sorted(path.glob("*/model.keras"))
        if not files:
            raise FileNotFoundError(f"no */model.keras under {path}")
    elif path.is_file():
        files = [path]
    else:
        raise FileNotFoundError(f"model not found: {path}")
    loaded = [keras.models.load_model(f, compile=False) for f in files]
    return [(m.modification_names, m) for m in loaded]


def predict_windows(fasta, model_path, output_csv, batch_size=512):
    """Per-modification probabilities for RNA windows.

    Args:
        fasta: FASTA of windows centred on the candidate site, odd length
            ≥ the model's input length (longer ones are centre-cropped),
            bases A, C, G, T/U, N.
        model_path: a ``model.keras`` written by `run` (per-modification or
            multi-task), or a run folder (every per-modification model).
        output_csv: the CSV written (atomically): ``id, length, <one
            probability column per modification>``.

    Returns:
        The pandas DataFrame written.

    Raises:
        FileNotFoundError: missing FASTA or model.
        ValueError: an empty FASTA, a bad base or a wrong length (the
            message names the record).
    """
    models = _models_at(model_path)
    length = max(m.sequence_length for _, m in models)
    ids, windows = _read_windows(fasta, length)
    frame = pd.DataFrame({"id": ids, "length": [len(w) for w in windows]})
    for names, model in models:
        x = one_hot_rna(windows, model.sequence_length)
        probabilities = model.classifier().predict(x, batch_size=batch_size, verbose=0)
        for j, name in enumerate(names):
            frame[name] = np.round(probabilities[:, j], 6)
    write_csv(frame, output_csv)
    return frame


def add_arguments(parser):
    """The rnamod flags (the shared training flags are in `deepbio.cli`)."""
    defaults = RNAModConfig()
    group = parser.add_argument_group(
        "rnamod", "VQ-RNA RNA modification sites (also uses the shared training flags, --model "
                  "and --predict)")
    group.add_argument("--modifications", default="all",
                       help="comma-separated names (Am,Cm,Gm,Um,m5C,m5U,m6Am,Psi) or 'all'")
    group.add_argument("--sequence-length", type=int, default=None,
                       help="centre crop in nt, odd, 51..1001 (default: the preset's)")
    group.add_argument("--no-multitask", action="store_true", help="skip the multi-task model")
    group.add_argument("--no-per-modification", action="store_true",
                       help="train only the multi-task model")
    group.add_argument("--max-windows-per-split", type=int, default=None,
                       help="at most N windows per split and modification (quick runs)")
    group.add_argument("--ism-windows", type=int, default=defaults.ism_windows)


def config_from_args(args):
    """`RNAModConfig` from parsed CLI arguments (None-valued shared flags → preset defaults)."""
    from deepbio.cli import given

    base = RNAModConfig.for_preset(args.profile)
    mods = () if args.modifications.strip().lower() == "all" else tuple(
        m.strip() for m in args.modifications.split(",") if m.strip())
    for m in mods:
        modification_index(m)
    option = lambda name: given(args, base, name)  # noqa: E731
    return dataclasses.replace(
        base, modifications=mods, epochs=option("epochs"), batch_size=option("batch_size"),
        learning_rate=option("learning_rate"), patience=option("patience"), seed=option("seed"),
        dropout=option("dropout"), hidden_dim=option("hidden_dim"), num_heads=option("num_heads"),
        num_layers=option("num_layers"), intermediate_dim=option("intermediate_dim"),
        sequence_length=args.sequence_length or base.sequence_length,
        multitask=not args.no_multitask, per_modification=not args.no_per_modification,
        max_windows=args.max_windows_per_split, ism_windows=args.ism_windows,
        saliency_windows=option("saliency_windows"), mixed_precision=args.mixed_precision)


def cli_main(args, output, script):
    """``--task rnamod``: train + evaluate + interpret, or ``--predict`` with ``--model``."""
    if args.predict:
        if not args.model:
            raise SystemExit("--predict needs --model (a model.keras or a run folder)")
        path = Path(output) / "predictions.csv"
        try:
            frame = predict_windows(args.predict, args.model, path)
        except (ValueError, FileNotFoundError) as error:
            raise SystemExit(f"error: {error}") from None
        print(f"{len(frame)} windows scored for {', '.join(frame.columns[2:])} → {path}")
        return 0
    try:
        config = config_from_args(args)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    report = run(config, output, args.data_dir, verbose=args.verbose,
                 evaluate_test=script != "train.py", interpret=script != "train.py")
    rows = report["per_modification"]
    print(f"{'modification':<12} {'VQ-RNA':>8} {'multi-task':>10} {'k-mer LR':>9}  (valid AUROC)")
    for name in report["modifications"]:
        row = rows[name]
        fmt = lambda b: f"{b['auroc']:.4f}" if b else "-"  # noqa: E731
        print(f"{name:<12} {fmt(row['valid']) if config.per_modification else '-':>8} "
              f"{fmt(row.get('multitask', {}).get('valid')):>10} "
              f"{fmt(row['baseline_kmer']['valid']):>9}")
    mean = report["mean"]
    print("mean valid AUROC: " + ", ".join(
        f"{k}={mean[k]['auroc']:.4f}" for k in ("valid", "multitask_valid", "baseline_kmer_valid")
        if mean.get(k)))
    for name, reason in report["untrainable"].items():
        print(f"not trained: {name} ({reason})")
    print(f"seconds: {json.dumps(report['seconds'])}; outputs in {output}/")
    return 0
