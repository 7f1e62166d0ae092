"""``deepbio run finetune``: a backbone fine-tuned on a single-omic benchmark split (GUE, TAPE), after OmniBioTE.

OmniBioTE (arXiv:2408.16245) reports its backbones on single-omic
benchmarks: GUE for nucleic acids (Matthews correlation) and TAPE for
proteins (Spearman ρ for fluorescence / stability, accuracy for remote
homology), fine-tuning the whole backbone with a linear head on the first
token (upstream ``evals/gue.py``, ``evals/TAPE.py``). This task does the
same on given train / valid / test files (`deepbio.multiomic.benchmarks`):
`MultiomicClassifier` or `MultiomicRegressor` on a backbone
(``--backbone``: deepbio's pre-trained one, or one written by
`convert_omnibiote`, whose ``tokenizer.json`` then encodes the sequences;
without it a fresh ``tiny`` backbone, nothing pre-trained), trained with
early stopping on the valid split's metric (the model is selected on valid
only; test is scored once, at the end), beside the trivial baseline
(majority class / training mean).

This module also holds `backbone_tokenizer` and `OmniBioTEInputs`, the
encoding side of a converted backbone, used by ``--task binding`` too.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np

from deepbio.core.task import EarlyStoppingConfig, Task, TrainingConfig, option
from deepbio.multiomic.pretrain_task import BackboneConfig
from deepbio.multiomic.omnibiote_tokenizer import OmniBioTETokenizer
from deepbio.metrics import regression_metrics
from deepbio.multiomic.benchmarks import read_split
from deepbio.multiomic.tokenizer import MultiomicTokenizer

MODALITIES = ("auto", "DNA", "RNA", "protein")


# ---------------------------------------------------------------------------------------------
# Tokenizers of a backbone
# ---------------------------------------------------------------------------------------------
class OmniBioTEInputs:
    """An `OmniBioTETokenizer` behind the interface deepbio's tasks encode with.

    Sequences come out in OmniBioTE's layouts: a single sequence as
    ``<DNA>S<EOS>`` / ``<RNA>S<EOS>`` (T for U) / ``<protein>S<EOS>``
    (upstream ``evals/gue.py``, ``evals/TAPE.py``); a complex as
    ``<protein>P<EOS>`` then ``<DNA>N<EOS>`` and, for a double strand,
    ``<DNA>S<EOS>`` (``evals/pronab.py``), the leading ``<protein>``
    playing ``<cls>``'s part (heads read token 0), so the protein segment
    is the residues and ``<EOS>``. Padding uses upstream's PAD id 1, masked
    out by ``padding_mask``.

    Args:
        tokenizer: `OmniBioTETokenizer` (``char`` or ``bpe``).
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.cls_id = tokenizer.encode("<protein>", "prot")[0]
        self.eos_id = tokenizer.encode("<EOS>", "prot")[-1]
        self.pad_id = 1
        self.vocabulary_size = tokenizer.vocabulary_size
        self.tag_ids = {"protein": self.cls_id}

    def _encode(self, sequence, modality, name, max_length):
        sequence = str(sequence).strip().upper()[:max_length]
        if modality == "protein":
            return self.tokenizer.encode(f"<protein>{sequence}<EOS>", "prot")
        if modality not in ("DNA", "RNA"):
            raise ValueError(f"unknown modality {modality!r} for {name!r}")
        return self.tokenizer.encode(f"<{modality}>{sequence.replace('U', 'T')}<EOS>", "nuc")

    def encode_sequence(self, sequence, modality, name=None, max_length=None):
        """One sequence as a model input (list of int)."""
        return self._encode(sequence, modality, name, max_length)

    def tokenize(self, sequence, modality, name=None, max_length=None):
        """A complex's segment: the protein without its leading tag, or a tagged strand."""
        ids = self._encode(sequence, modality, name, max_length)
        if modality != "protein":
            return ids
        if not ids or ids[0] != self.cls_id:
            raise ValueError(f"protein {name!r}: the OmniBioTE tokenizer did not start it with "
                             "<protein>")
        return ids[1:]

    def encode_complex(self, protein, nucleic_acid, nucleic_acid_type, complementary=None,
                       name=None, max_protein_length=None):
        """A complex in ``evals/pronab.py``'s layout (see the class), as a list of int.

        The assembly of `MultiomicTokenizer.encode_complex` (leading tag,
        protein, strand(s)) over this class's `tokenize`.

        Raises:
            ValueError: a ``nucleic_acid_type`` other than DNA / RNA.
        """
        return MultiomicTokenizer.encode_complex(self, protein, nucleic_acid, nucleic_acid_type,
                                                 complementary, name, max_protein_length)

    def empty_protein(self):
        """The protein segment of a complex whose protein is left out (``<EOS>`` alone)."""
        return [self.eos_id]

    def pad(self, sequences, length=None):
        """``(token_ids int32 (n, length), padding_mask bool (n, length))``."""
        longest = max((len(s) for s in sequences), default=0)
        ids = np.full((len(sequences), length or longest), self.pad_id, np.int32)
        mask = np.zeros(ids.shape, bool)
        for i, s in enumerate(sequences):
            ids[i, :len(s)], mask[i, :len(s)] = s, True
        return ids, mask

    def save(self, path):
        self.tokenizer.save(path)


def backbone_tokenizer(backbone_path):
    """The tokenizer a backbone's inputs are encoded with: the one saved beside it, if OmniBioTE's.

    A ``tokenizer.json`` next to ``backbone_path`` that is an
    `OmniBioTETokenizer` configuration (written by `convert_omnibiote`)
    gives `OmniBioTEInputs`; otherwise (deepbio's pre-training writes a
    `MultiomicTokenizer` file, or no backbone) deepbio's `MultiomicTokenizer`.

    Returns:
        ``(tokenizer, converted)``, ``converted`` True for OmniBioTE's.

    Raises:
        ValueError: the ``tokenizer.json`` is not JSON.
    """
    from deepbio.multiomic.builders import make_tokenizer  # deferred: imports Keras/TensorFlow

    if backbone_path:
        path = Path(backbone_path).parent / "tokenizer.json"
        if path.is_file():
            try:
                values = json.loads(path.read_text())
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                raise ValueError(f"{path}: not a tokenizer file ({error})") from None
            if isinstance(values, dict) and values.get("mode") in ("char", "bpe"):
                return OmniBioTEInputs(OmniBioTETokenizer.load(path)), True
    return make_tokenizer(), False


# ---------------------------------------------------------------------------------------------
# The task
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class FinetuneConfig(EarlyStoppingConfig, BackboneConfig, TrainingConfig):
    """Fine-tuning parameters (saved to ``params.json``); see `option` help texts.

    The backbone fields (`BackboneConfig`) size the fresh backbone built
    when ``backbone`` is None; a given backbone brings its own size.
    """

    epochs: int = 20
    learning_rate: float = 5e-4
    train: str = option(None, "training split: GUE train.csv or TAPE *_train.json (path or URL)",
                        metavar="FILE|URL")
    valid: str = option(None, "validation split (early stopping and model selection)",
                        metavar="FILE|URL")
    test: str = option(None, "test split (scored once, with the selected model)",
                       metavar="FILE|URL")
    backbone: str = option(None, "a backbone.keras to fine-tune (deepbio's, or convert_omnibiote's "
                                 "with tokenizer.json beside it; default: a fresh backbone, "
                                 "nothing pre-trained)", metavar="BACKBONE.keras")
    objective: str = option(None, "classification or regression (default: from the files: GUE "
                                  "classification, TAPE by its target)",
                            choices=("classification", "regression"))
    target: str = option(None, "TAPE target key (default: the file's, e.g. log_fluorescence)")
    modality: str = option("auto", "sequence kind (auto: DNA if only A/C/G/T/N, RNA with U, else "
                                   "protein)", choices=MODALITIES)
    pooling: str = option("first", "sequence embedding: first token (OmniBioTE) or mean",
                          choices=("first", "mean"))
    max_length: int = option(1024, "sequence letters kept (the first ones)", minimum=1)
    weight_decay: float = option(0.01, "AdamW weight decay", minimum=0)
    warmup_fraction: float = option(0.05, "fraction of the steps of linear warm-up", minimum=0,
                                    maximum=1)


def _modality(frame, config):
    if config.modality != "auto":
        return config.modality
    letters = set("".join(frame["sequence"].head(2000)))
    if letters <= set("ACGTN"):
        return "DNA"
    if letters <= set("ACGUTN"):
        return "RNA"
    return "protein"


def _encode(frame, tokenizer, modality, max_length, source):
    return [tokenizer.encode_sequence(sequence, modality, f"{source} row {i + 1}", max_length)
            for i, sequence in enumerate(frame["sequence"])]


def _batches(tokenizer, sequences, labels, batch_size, seed=None):
    """A `keras.utils.PyDataset` of padded batches (each padded to its longest sequence)."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.order = np.arange(len(sequences))
            self.rng = np.random.default_rng(seed) if seed is not None else None
            self.on_epoch_end()

        def __len__(self):
            return (len(sequences) + batch_size - 1) // batch_size

        def on_epoch_end(self):
            if self.rng is not None:
                self.order = self.rng.permutation(len(sequences))

        def __getitem__(self, index):
            rows = self.order[index * batch_size:(index + 1) * batch_size]
            ids, mask = tokenizer.pad([sequences[r] for r in rows])
            inputs = {"token_ids": ids, "padding_mask": mask.astype(np.int32)}
            return (inputs,) if labels is None else (inputs, labels[rows])

    return Batches()


def _scores(objective, y_true, predicted):
    from scipy import stats
    from sklearn.metrics import accuracy_score, matthews_corrcoef

    if objective == "classification":
        return {"mcc": float(matthews_corrcoef(y_true, predicted)),
                "accuracy": float(accuracy_score(y_true, predicted)), "n": int(len(y_true))}
    result = regression_metrics(y_true, predicted)
    if result["spearman_rho"] is None and np.ptp(predicted) > 0 and np.ptp(y_true) > 0:
        result["spearman_rho"] = float(stats.spearmanr(y_true, predicted)[0])
    return result


def run_finetune(config, folder):
    """Fine-tunes and scores one benchmark; writes ``model.keras``, ``predictions.csv``, report.

    Args:
        config: `FinetuneConfig` (``train``, ``valid`` and ``test`` required).
        folder: `deepbio.core.run_folder.RunFolder`.

    Returns:
        The report dict: ``objective``, ``data`` (sizes, modality,
        classes), ``backbone`` (source, parameters, tokenizer), ``valid``
        (the selected epoch's score), ``test`` and ``baseline`` (the same
        scores of the majority class / training mean on test), ``history``.

    Raises:
        ValueError: a missing split, a bad file (naming it and the row), a
            token-level target, or labels that do not fit the objective.
        FileNotFoundError: a missing file or backbone.
    """
    splits, labels, objective, num_classes = _read_splits(config)
    tokenizer, converted = backbone_tokenizer(config.backbone)
    modality = _modality(splits["train"], config)
    encoded = {name: _encode(frame, tokenizer, modality, config.max_length, getattr(config, name))
               for name, frame in splits.items()}
    folder.write_params()
    backbone, source = _finetune_backbone(config, tokenizer)
    head_scale = 1024.0 / backbone.hidden_dim if converted else 1.0  # upstream's μP factor
    train_y = labels["train"]
    model, loss = _finetune_model(config, backbone, objective, num_classes, train_y, head_scale)
    history, predict = _fit(config, folder, model, loss, tokenizer, encoded, labels, objective)
    monitor = "val_mcc" if objective == "classification" else "val_spearman_rho"
    best_epoch = int(np.argmax(history[monitor]))
    with folder.timer("evaluate"):
        valid_scores = _scores(objective, labels["valid"], predict("valid"))
        predicted = predict("test")
        test_scores = _scores(objective, labels["test"], predicted)
    baseline = _trivial_baseline(objective, train_y, labels["test"])
    folder.save_model(model, "model.keras")
    folder.write_csv(splits["test"].assign(predicted=predicted), "predictions.csv")
    tokenizer.save(folder.file("tokenizer.json"))
    report = {"objective": objective,
              "data": {"train": len(labels["train"]), "valid": len(labels["valid"]),
                       "test": len(labels["test"]), "modality": modality,
                       "classes": num_classes},
              "backbone": {"source": source, "pretrained": bool(config.backbone),
                           "tokenizer": "OmniBioTE" if converted else "deepbio MultiomicTokenizer",
                           "parameters": int(backbone.count_params()), "head_scale": head_scale},
              "valid": {"selected_epoch": best_epoch + 1, **valid_scores},
              "test": test_scores, "baseline": baseline,
              "history": {k: [float(v) for v in values] for k, values in history.items()}}
    return folder.write_report(report)


def _read_splits(config):
    """The train / valid / test files, their labels and the objective.

    Returns:
        ``(splits, labels, objective, num_classes)``: dict split → DataFrame
        (``sequence``, ``label``), dict split → label array (int64 for
        classification, else float64), ``"classification"`` or
        ``"regression"``, and the number of classes (None for regression).

    Raises:
        ValueError: a missing split, a token-level target, splits of
            different kinds, or labels that do not fit the objective.
    """
    missing = [f"--{name}" for name in ("train", "valid", "test") if not getattr(config, name)]
    if missing:
        raise ValueError(f"finetune needs {', '.join(missing)} (GUE train.csv / dev.csv / "
                         "test.csv or TAPE *.json splits)")
    splits, kinds = {}, set()
    for name in ("train", "valid", "test"):
        splits[name], kind = read_split(getattr(config, name), config.target)
        kinds.add(kind)
    if "token_classification" in kinds or len(kinds) > 1:
        raise ValueError(f"finetune takes sequence-level targets of one kind; the splits give "
                         f"{sorted(kinds)}")
    objective = config.objective or kinds.pop()
    labels = {}
    for name, frame in splits.items():
        values = np.asarray(frame["label"].tolist(), np.float64)
        if objective == "classification":
            if not np.all(values == np.round(values)) or values.min() < 0:
                raise ValueError(f"--{name} {getattr(config, name)}: classification needs "
                                 "non-negative integer labels")
            values = values.astype(np.int64)
        labels[name] = values
    num_classes = int(max(v.max() for v in labels.values())) + 1 if objective == \
        "classification" else None
    if objective == "classification" and num_classes < 2:
        raise ValueError(f"--train {config.train}: one class only; nothing to classify")
    return splits, labels, objective, num_classes


def _finetune_backbone(config, tokenizer):
    """``(backbone, source)``: ``config.backbone`` loaded, or a fresh one of ``config``'s size.

    Raises:
        FileNotFoundError: a missing backbone.
        ValueError: a backbone whose vocabulary is not the tokenizer's.
    """
    from deepbio.multiomic.builders import build_backbone, load_backbone  # deferred: imports Keras

    if config.backbone:
        backbone = load_backbone(config.backbone)
        if backbone.vocabulary_size != tokenizer.vocabulary_size:
            raise ValueError(f"{config.backbone}: a {backbone.vocabulary_size}-token backbone but "
                             f"its tokenizer has {tokenizer.vocabulary_size} tokens")
        backbone = backbone.with_isolation(None, list(tokenizer.tag_ids.values()))
        return backbone, str(config.backbone)
    backbone = build_backbone(dataclasses.replace(config, isolate_protein=False), tokenizer)
    return backbone, f"fresh '{config.preset}' backbone, randomly initialised (nothing pre-trained)"


def _finetune_model(config, backbone, objective, num_classes, train_y, head_scale):
    """``(model, loss)``: a `MultiomicClassifier` or `MultiomicRegressor` on ``backbone``."""
    import keras  # deferred: Keras loads only when a model is built

    from deepbio.multiomic.heads import MultiomicClassifier, MultiomicRegressor  # deferred: Keras

    if objective == "classification":
        model = MultiomicClassifier(backbone, num_classes, config.pooling, config.dropout,
                                    head_scale, name="multiomic_classifier")
        return model, keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model = MultiomicRegressor(backbone, config.pooling, config.dropout,
                               float(train_y.mean()), float(train_y.std() or 1.0), head_scale,
                               name="multiomic_regressor")
    return model, keras.losses.MeanSquaredError()


def _fit(config, folder, model, loss, tokenizer, encoded, labels, objective):
    """Compiles and trains ``model``, early-stopped on the valid score (weights of its best epoch).

    Returns:
        ``(history, predict)``: the Keras history dict (with ``val_mcc`` or
        ``val_spearman_rho``) and ``predict(split)`` → the predicted
        classes or values of that split.
    """
    import keras  # deferred: Keras loads only when a model is trained

    from deepbio.core.optimizers import warmup_cosine_adamw  # deferred: imports Keras

    train_data = _batches(tokenizer, encoded["train"], labels["train"].astype(
        np.int32 if objective == "classification" else np.float32), config.batch_size, config.seed)
    steps = config.epochs * len(train_data)
    model.compile(optimizer=warmup_cosine_adamw(config.learning_rate, steps,
                                                config.warmup_fraction, config.weight_decay),
                  loss=loss, jit_compile=config.keras_jit_compile())

    def predict(name):
        out = model.predict(_batches(tokenizer, encoded[name], None, max(config.batch_size, 64)),
                            verbose=0)
        return out.argmax(axis=-1) if objective == "classification" else out[:, 0]

    monitor = "val_mcc" if objective == "classification" else "val_spearman_rho"

    class ValidScore(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            score = _scores(objective, labels["valid"], predict("valid"))
            value = score["mcc" if objective == "classification" else "spearman_rho"]
            logs[monitor] = -1.0 if value is None else value

    with folder.timer("train"):
        history = model.fit(train_data, epochs=config.epochs, verbose=folder.verbose, callbacks=[
            ValidScore(), keras.callbacks.EarlyStopping(monitor, mode="max",
                                                        patience=config.patience,
                                                        restore_best_weights=True)]).history
    return history, predict


def _trivial_baseline(objective, train_y, test_y):
    """The majority class / training mean of ``train_y``, scored on ``test_y``."""
    if objective == "classification":
        majority = int(np.bincount(train_y.astype(np.int64)).argmax())
        return {"name": "majority_class", "class": majority,
                **_scores(objective, test_y, np.full(len(test_y), majority))}
    return {"name": "training_mean", "value": float(train_y.mean()),
            **_scores(objective, test_y, np.full(len(test_y), train_y.mean()))}


class FinetuneTask(Task):
    """``deepbio run finetune``: a backbone fine-tuned on GUE / TAPE splits."""

    name = "finetune"
    brief = 'a backbone fine-tuned on GUE / TAPE, after OmniBioTE'
    rank = 60
    keras_modules = ('deepbio.multiomic.backbone', 'deepbio.multiomic.masked_lm', 'deepbio.multiomic.heads', 'deepbio.multiomic.binding_model')
    config_class = FinetuneConfig
    description = ("Fine-tune a multi-omic backbone on a single-omic benchmark, as OmniBioTE does "
                   "on GUE (nucleic-acid classification, MCC) and TAPE (proteins: Spearman ρ of "
                   "fluorescence / stability, accuracy of remote homology): a linear head on the "
                   "first token, the whole model trained, early stopping and model selection on "
                   "--valid only, --test scored once beside the majority-class / training-mean "
                   "baseline. --backbone takes deepbio's pre-trained backbone or one converted "
                   "from OmniBioTE (its tokenizer.json is used); without it a fresh backbone is "
                   "trained from scratch.")
    example = ("deepbio run finetune --train prom_300_all/train.csv --valid prom_300_all/dev.csv "
               "--test prom_300_all/test.csv --backbone omnibiote/backbone.keras\n"
               "deepbio run finetune --train fluorescence_train.json --valid "
               "fluorescence_valid.json --test fluorescence_test.json --objective regression")

    def run(self, config, folder):
        return run_finetune(config, folder)

    def summary(self, report):
        test, base = report["test"], report["baseline"]
        if report["objective"] == "classification":
            line = (f"test MCC {test['mcc']:.4f}, accuracy {test['accuracy']:.4f} (majority-class "
                    f"baseline: MCC {base['mcc']:.4f}, accuracy {base['accuracy']:.4f})")
        else:
            rho = test["spearman_rho"]
            line = (f"test Spearman ρ {'n/a' if rho is None else f'{rho:.4f}'}, MAE "
                    f"{test['mae']:.4f} (training-mean baseline: MAE {base['mae']:.4f})")
        return [line, f"backbone: {report['backbone']['source']}; selected epoch "
                      f"{report['valid']['selected_epoch']} on valid; seconds: "
                      f"{json.dumps(report['seconds'])}"]


TASK = FinetuneTask()
