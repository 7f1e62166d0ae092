"""Multi-omic transformer tasks after OmniBioTE: masked-LM pre-training and ProNAB ΔG.

``--task pretrain``: masked-LM pre-training of a `MultiomicBackbone` on
protein and nucleic-acid sequences (default corpus: every sequence of the
local data sets' training files: ProNAB proteins and nucleic acids, OmniK-PTM
training windows, VQ-RNA train/valid windows, Basset 8988T sequences), with
masked-token accuracy and perplexity on a held-out slice of sequences.

``--task binding``: ProNAB ΔG regression under protein-grouped k-fold
cross-validation, with and without the pre-trained backbone, beside a k-mer
composition + ridge baseline fitted on the same training folds, and
OmniBioTE's JASPAR specificity test on each fold's held-out proteins.

Per-protein work is shared: in the CPU profile the backbone isolates the
protein segment (its tokens attend only to the protein), so a protein's
keys and values at every layer are computed once per batch for all of its
nucleic-acid partners (`MultiomicBackbone.encode_shared_prefix`, exact), and
batches are packed protein by protein. The ``gpu`` profile (``paper_profile``) keeps
OmniBioTE's full attention and trains on plain padded batches.
"""

import dataclasses
import json
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from deepbio.data.pronab import load_pronab, protein_grouped_folds
from deepbio.metrics import regression_metrics
from deepbio.models.multiomic import (BACKBONE_PRESETS, BindingAffinityRegressor, MultiomicBackbone,
                                      MultiomicMaskedLM, MultiomicTokenizer, mask_tokens)
from deepbio.utils import atomic_path, save_figure, write_csv, write_json

TARGET = {"pearson_r": 0.41, "mae": 1.56,
          "source": "OmniBioTE-XL (2.3 B parameters, 250 B pre-training tokens), protein-grouped "
                    "10-fold CV on ProNAB (arXiv:2408.16245)"}


@dataclasses.dataclass
class PretrainConfig:
    """Masked-LM pre-training parameters (saved to ``params.json``).

    Attributes:
        preset: str, a `BACKBONE_PRESETS` name; ``hidden_dim``, ``num_heads``,
            ``num_layers``, ``intermediate_dim`` override it when not None.
        attention_scale: ``"mup"`` (1/head_dim, OmniBioTE) or ``"standard"``.
        isolate_protein: bool. Backbone built with the protein segment
            isolated (no effect on single-sequence pre-training; needed by
            the shared-protein fast path of fine-tuning).
        dropout: float.
        epochs: int. One epoch draws one random crop of every corpus
            sequence.
        batch_size: int, sequences per step.
        learning_rate: float, AdamW peak (linear warm-up, cosine decay).
        weight_decay: float.
        warmup_fraction: float of the steps.
        crop_length: int, content tokens per crop (longer sequences are
            cropped at a random offset every time they are drawn).
        mask_rate: float, BERT masking rate (15 %).
        heldout_fraction: float, sequences kept out for evaluation.
        max_per_source: int or None, at most this many sequences of each
            source (random, seeded), so the 38 k RNA windows do not swamp
            the proteins.
        corpus: tuple of FASTA paths; empty = the local data sets.
        seed: int.
    """

    preset: str = "tiny"
    hidden_dim: int = None
    num_heads: int = None
    num_layers: int = None
    intermediate_dim: int = None
    attention_scale: str = "mup"
    isolate_protein: bool = True
    dropout: float = 0.0
    epochs: int = 8
    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    crop_length: int = 128
    mask_rate: float = 0.15
    heldout_fraction: float = 0.05
    max_per_source: int = 6000
    corpus: tuple = ()
    seed: int = 0


@dataclasses.dataclass
class BindingConfig:
    """ProNAB ΔG cross-validation parameters (saved to ``params.json``).

    Attributes:
        preset, hidden_dim, num_heads, num_layers, intermediate_dim,
        attention_scale: backbone size for the runs without a pre-trained
            backbone (a pre-trained one brings its own; the in-run
            pre-training uses ``pretrain``'s).
        isolate_protein: bool. Protein tokens attend only to the protein,
            which lets each protein be computed once for all its partners
            (CPU profile). False: OmniBioTE's full attention.
        max_protein_length: int, residues kept (the first ones; 90 % of
            ProNAB proteins have at most ~890).
        epochs: int, fine-tuning epochs (fixed schedule, as OmniBioTE).
        batch_size: int, complexes per step.
        learning_rate: float, AdamW peak for the transformer blocks.
        embedding_learning_rate, head_learning_rate: float or None (None:
            ``learning_rate``); OmniBioTE uses 1e-3 and 1e-2 beside 1e-4.
        weight_decay, warmup_fraction, dropout: floats.
        folds: int, protein-grouped folds (OmniBioTE 10).
        seed: int.
        pretrain: bool, pre-train a backbone in the run when none is given.
        scratch_comparison: bool, also fine-tune a randomly initialised
            backbone on the same folds.
        jaspar: bool, run the JASPAR specificity test.
        jaspar_replicates: int, mutants per consensus site (8).
        jaspar_mutation_rate: float, per-base substitution probability.
        max_complexes: int or None, use a protein-grouped subset (tests).
        pretraining: `PretrainConfig` of the in-run pre-training.
    """

    preset: str = "tiny"
    hidden_dim: int = None
    num_heads: int = None
    num_layers: int = None
    intermediate_dim: int = None
    attention_scale: str = "mup"
    isolate_protein: bool = True
    max_protein_length: int = 512
    epochs: int = 6
    batch_size: int = 32
    learning_rate: float = 1e-3
    embedding_learning_rate: float = None
    head_learning_rate: float = None
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    dropout: float = 0.0
    folds: int = 10
    seed: int = 0
    pretrain: bool = True
    scratch_comparison: bool = True
    jaspar: bool = True
    jaspar_replicates: int = 8
    jaspar_mutation_rate: float = 0.05
    max_complexes: int = None
    pretraining: PretrainConfig = dataclasses.field(default_factory=PretrainConfig)


def paper_profile():
    """OmniBioTE's sizes and schedule, for a GPU (documented; not run on CPU).

    XL backbone (24 × 3072, μP attention scale), full attention, proteins up
    to 1000 residues; fine-tuning 32 epochs, 256 complexes per step, AdamW
    1e-4 (embeddings 1e-3, head 1e-2) with 5 % warm-up (``evals/pronab.py``).
    OmniBioTE pre-trained on ~250 B tokens (GenBank + UniRef100, 1024-token
    context, dropout 0.05, μP base lr 0.01); the ``pretraining`` here keeps
    that lr / dropout / context and is meant to be run far longer than the
    local corpus allows (``--pretrain-epochs``).
    """
    return BindingConfig(
        preset="xl", isolate_protein=False, max_protein_length=1000, epochs=32, batch_size=256,
        learning_rate=1e-4, embedding_learning_rate=1e-3, head_learning_rate=1e-2,
        weight_decay=0.01, warmup_fraction=0.05, dropout=0.0,
        pretraining=PretrainConfig(preset="xl", isolate_protein=False, dropout=0.05, epochs=100,
                                   batch_size=256, learning_rate=0.01 * 32 / 3072,
                                   crop_length=1022, max_per_source=None))


PROFILES = {"cpu": BindingConfig, "gpu": paper_profile}


# ---------------------------------------------------------------------------------------------
# Backbones
# ---------------------------------------------------------------------------------------------
def make_tokenizer():
    """The per-residue `MultiomicTokenizer` the tasks use."""
    return MultiomicTokenizer()


def build_backbone(config, tokenizer):
    """A fresh `MultiomicBackbone` sized by ``config`` (a `PretrainConfig` or `BindingConfig`)."""
    tags = tokenizer.tag_ids
    return MultiomicBackbone.from_preset(
        config.preset, tokenizer.vocabulary_size, hidden_dim=config.hidden_dim,
        num_heads=config.num_heads, num_layers=config.num_layers,
        intermediate_dim=config.intermediate_dim, attention_scale=config.attention_scale,
        dropout=config.dropout, segment_token_ids=list(tags.values()),
        isolated_segment_token_id=tags["protein"] if config.isolate_protein else None,
        name="multiomic_backbone")


def load_backbone(path):
    """A `MultiomicBackbone` from a ``.keras`` file (a backbone, or a task that holds one).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file holds no `MultiomicBackbone`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"backbone file not found: {path}")
    model = keras.models.load_model(path)
    backbone = model if isinstance(model, MultiomicBackbone) else getattr(model, "backbone", None)
    if not isinstance(backbone, MultiomicBackbone):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a MultiomicBackbone or a task "
                         "built on one")
    return backbone


def _clone(backbone, isolate, tokenizer):
    """A copy of ``backbone`` (fresh variables, same weights) with the requested isolation."""
    return backbone.with_isolation(tokenizer.tag_ids["protein"] if isolate else None,
                                   list(tokenizer.tag_ids.values()))


def _optimizer(learning_rate, steps, warmup_fraction, weight_decay):
    warmup = max(1, int(round(warmup_fraction * steps)))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, max(1, steps - warmup), alpha=0.0, warmup_target=learning_rate, warmup_steps=warmup)
    return keras.optimizers.AdamW(schedule, weight_decay=weight_decay)


# ---------------------------------------------------------------------------------------------
# Pre-training corpus and masked-LM training
# ---------------------------------------------------------------------------------------------
def pretraining_corpus(data_dir=None, fasta_paths=(), max_per_source=None, seed=0):
    """Sequences for masked-LM pre-training.

    Default: ProNAB proteins and nucleic-acid strands (labels unused),
    OmniK-PTM training windows, VQ-RNA train/valid windows (RNA, T for U),
    Basset 8988T sequences (DNA); held-out test splits are never read.
    Local sequences with other letters (N padding of VQ-RNA windows) keep
    their longest clean stretch; stretches shorter than 8 are dropped.
    With ``fasta_paths``, those files only; a record made of A/C/G/T is
    taken as DNA (with U: RNA), anything else as protein.

    Args:
        data_dir: optional data mirror.
        fasta_paths: sequence of FASTA paths (replaces the default corpus).
        max_per_source: int or None, random cap per source.
        seed: int.

    Returns:
        DataFrame with ``sequence``, ``modality`` ("protein", "DNA", "RNA"),
        ``source``.
    """
    from deepbio.data import files, fetch, load_ptm, read_fasta

    rows = []
    if fasta_paths:
        for path in fasta_paths:
            ids, sequences = read_fasta(path)
            for sequence in sequences:
                letters = set(sequence)
                modality = ("DNA" if letters <= set("ACGT") else
                            "RNA" if letters <= set("ACGU") else "protein")
                rows.append((sequence, modality, Path(path).name))
    else:
        data = load_pronab(data_dir)
        frame = data.frame
        rows += [(p, "protein", "pronab_protein") for p in frame["protein"].unique()]
        strands = pd.concat([frame[["nucleic_acid", "type"]],
                             frame.loc[frame["complementary"] != "", ["complementary", "type"]]
                             .rename(columns={"complementary": "nucleic_acid"})])
        rows += [(s, t, "pronab_nucleic_acid") for s, t in
                 strands.drop_duplicates().itertuples(index=False)]
        rows += [(w, "protein", "omnik_ptm_train") for w in load_ptm("train", data_dir).windows]
        for entry in files("vqrna/train/") + files("vqrna/valid/"):
            _, sequences = read_fasta(fetch(entry.local_path, data_dir))
            rows += [(s, "RNA", "vqrna_train_valid") for s in sequences]
        basset = pd.read_csv(fetch("deepasmm/basset_8988T.csv", data_dir))
        rows += [(s.upper(), "DNA", "basset_8988T") for s in basset["Seqs"]]
        # VQ-RNA windows near transcript ends are padded with N: keep the longest clean stretch.
        rows = [(_longest_clean(s, "ACDEFGHIKLMNPQRSTVWY" if m == "protein" else "ACGTU"), m, src)
                for s, m, src in rows]
        rows = [row for row in rows if len(row[0]) >= 8]
    corpus = pd.DataFrame(rows, columns=["sequence", "modality", "source"])
    if max_per_source:
        rng = np.random.default_rng(seed)
        keep = np.concatenate([rng.permutation(index)[:max_per_source] for index in
                               corpus.groupby("source", sort=False).indices.values()])
        corpus = corpus.iloc[np.sort(keep)].reset_index(drop=True)
    return corpus


def _longest_clean(sequence, alphabet):
    """The longest substring made only of ``alphabet`` (the sequence itself when clean)."""
    import re

    if set(sequence) <= set(alphabet):
        return sequence
    return max(re.findall(f"[{alphabet}]+", sequence) or [""], key=len)


def _encode_corpus(corpus, tokenizer):
    tags = tokenizer.tag_ids
    content, tag_ids = [], []
    for number, (sequence, modality, source) in enumerate(corpus.itertuples(index=False)):
        ids = tokenizer.tokenize(sequence, modality, name=f"{source} record {number + 1}")
        content.append(np.asarray(ids[1:-1], np.int32))
        tag_ids.append(tags[modality])
    return content, np.asarray(tag_ids, np.int32)


def _crop_batch(content, tag_ids, rows, crop_length, tokenizer, rng):
    sequences = []
    for row in rows:
        tokens = content[row]
        if len(tokens) > crop_length:
            start = rng.integers(0, len(tokens) - crop_length + 1)
            tokens = tokens[start:start + crop_length]
        sequences.append([tokenizer.cls_id, int(tag_ids[row]), *tokens.tolist(), tokenizer.eos_id])
    return tokenizer.pad(sequences)


def _mlm_step_functions(model, optimizer):
    import tensorflow as tf

    spec = [tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None, None), tf.int32),
            tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None, None), tf.float32)]

    def losses(ids, mask, targets, weights, training):
        logits = model({"token_ids": ids, "padding_mask": mask}, training=training)
        ce = keras.ops.sparse_categorical_crossentropy(targets, logits, from_logits=True)
        correct = keras.ops.cast(keras.ops.equal(keras.ops.argmax(logits, -1),
                                                 keras.ops.cast(targets, "int64")), "float32")
        return keras.ops.sum(ce * weights), keras.ops.sum(correct * weights), keras.ops.sum(weights)

    @tf.function(input_signature=spec)
    def train_step(ids, mask, targets, weights):
        with tf.GradientTape() as tape:
            total, correct, count = losses(ids, mask, targets, weights, True)
            loss = total / keras.ops.maximum(count, 1.0)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function(input_signature=spec)
    def eval_step(ids, mask, targets, weights):
        return losses(ids, mask, targets, weights, False)

    return train_step, eval_step


def pretrain(config, output_dir, data_dir=None, verbose=1):
    """Masked-LM pre-training; writes ``backbone.keras``, ``masked_lm.keras``, report and plot.

    Args:
        config: `PretrainConfig`.
        output_dir: folder.
        data_dir: optional data mirror.
        verbose: 0 silent, else progress bars / one line per epoch.

    Returns:
        ``(backbone, report)``; the report has ``heldout`` (``masked_accuracy``,
        ``perplexity``, ``n_masked``), ``unigram_baseline`` (the same
        scores of per-modality token frequencies from the training slice),
        ``history`` (mean training loss per epoch), ``corpus`` counts,
        ``steps``, ``seconds``.
    """
    start = time.perf_counter()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    tokenizer = make_tokenizer()
    corpus = pretraining_corpus(data_dir, config.corpus, config.max_per_source, config.seed)
    content, tag_ids = _encode_corpus(corpus, tokenizer)
    order = rng.permutation(len(content))
    n_heldout = max(1, int(round(config.heldout_fraction * len(content))))
    heldout, train = order[:n_heldout], order[n_heldout:]
    backbone = build_backbone(config, tokenizer)
    model = MultiomicMaskedLM(backbone, name="multiomic_masked_lm")
    steps_per_epoch = max(1, int(np.ceil(len(train) / config.batch_size)))
    steps = steps_per_epoch * config.epochs
    optimizer = _optimizer(config.learning_rate, steps, config.warmup_fraction, config.weight_decay)
    optimizer.build(model.trainable_variables)
    train_step, eval_step = _mlm_step_functions(model, optimizer)
    history = []
    for epoch in range(config.epochs):
        permutation = rng.permutation(train)
        batches = range(steps_per_epoch)
        bar = tqdm(batches, desc=f"pre-training epoch {epoch + 1}/{config.epochs}", unit="step",
                   disable=verbose == 0, mininterval=5 if verbose == 2 else 0.1)
        losses = []
        for b in bar:
            rows = permutation[b * config.batch_size:(b + 1) * config.batch_size]
            ids, mask = _crop_batch(content, tag_ids, rows, config.crop_length, tokenizer, rng)
            inputs, targets, weights = mask_tokens(ids, mask, tokenizer.content_ids,
                                                   tokenizer.mask_id, config.mask_rate, rng)
            losses.append(float(train_step(inputs, mask.astype(np.int32), targets, weights)))
            if b % 20 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        history.append(float(np.mean(losses)))
        if verbose:
            print(f"pre-training epoch {epoch + 1}: masked-LM loss {history[-1]:.4f}", flush=True)
    heldout_scores = _evaluate_mlm(eval_step, content, tag_ids, heldout, config, tokenizer)
    baseline = _unigram_baseline(content, tag_ids, train, heldout, config, tokenizer)
    seconds = time.perf_counter() - start
    with atomic_path(out / "backbone.keras") as tmp:
        backbone.save(tmp)
    with atomic_path(out / "masked_lm.keras") as tmp:
        model.save(tmp)
    tokenizer.save(out / "tokenizer.json")
    report = {
        "task": "pretrain", "heldout": heldout_scores, "unigram_baseline": baseline,
        "history": history, "steps": steps, "tokens_seen": None,
        "corpus": {"sequences": len(content), "train": len(train), "heldout": len(heldout),
                   "per_source": corpus["source"].value_counts().to_dict(),
                   "per_modality": corpus["modality"].value_counts().to_dict()},
        "backbone": {k: v for k, v in backbone.get_config().items() if k != "dtype"},
        "parameters": int(backbone.count_params()), "seconds": round(seconds, 1)}
    report["tokens_seen"] = int(steps * config.batch_size * min(
        config.crop_length + 3, int(np.mean([len(c) for c in content])) + 3))
    write_json(report, out / "report.json")
    _plot_history(history, out / "pretraining_loss.png")
    return backbone, report


def _heldout_batches(content, tag_ids, heldout, config, tokenizer):
    rng = np.random.default_rng(config.seed + 1)  # fixed crops and masks
    for b in range(0, len(heldout), config.batch_size):
        rows = heldout[b:b + config.batch_size]
        ids, mask = _crop_batch(content, tag_ids, rows, config.crop_length, tokenizer, rng)
        yield (*mask_tokens(ids, mask, tokenizer.content_ids, tokenizer.mask_id, config.mask_rate,
                            rng), mask, ids)


def _evaluate_mlm(eval_step, content, tag_ids, heldout, config, tokenizer):
    total = correct = count = 0.0
    for inputs, targets, weights, mask, _ in _heldout_batches(content, tag_ids, heldout, config,
                                                              tokenizer):
        t, c, n = eval_step(inputs, mask.astype(np.int32), targets, weights)
        total, correct, count = total + float(t), correct + float(c), count + float(n)
    return {"masked_accuracy": correct / count, "perplexity": float(np.exp(total / count)),
            "cross_entropy": total / count, "n_masked": int(count)}


def _unigram_baseline(content, tag_ids, train, heldout, config, tokenizer):
    """Per-modality token frequencies of the training slice, scored on the same masked tokens."""
    vocabulary = tokenizer.vocabulary_size
    tables = {}
    for tag in np.unique(tag_ids):
        rows = train[tag_ids[train] == tag]
        counts = np.bincount(np.concatenate([content[r] for r in rows]) if len(rows) else
                             np.zeros(0, np.int64), minlength=vocabulary) + 0.5
        tables[tag] = counts / counts.sum()
    total = correct = count = 0.0
    for _, targets, weights, _, ids in _heldout_batches(content, tag_ids, heldout, config, tokenizer):
        for row in range(len(ids)):
            table = tables[int(ids[row, 1])]
            picked = targets[row][weights[row] > 0]
            total += float(-np.log(table[picked]).sum())
            correct += float((picked == np.argmax(table)).sum())
            count += len(picked)
    return {"masked_accuracy": correct / count, "perplexity": float(np.exp(total / count)),
            "cross_entropy": total / count, "n_masked": int(count)}


# ---------------------------------------------------------------------------------------------
# ProNAB encoding and batching
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class EncodedComplexes:
    """Token ids of every complex, split into the protein part and the rest.

    Attributes:
        protein: dict group → list of int, ``<protein> … <eos>`` (truncated).
        free: list of lists, per complex ``<cls>`` + nucleic-acid segments.
        groups: int array (n,), each complex's protein group.
    """

    protein: dict
    free: list
    groups: np.ndarray

    def full(self, row):
        """The complete input ``<cls> + protein + nucleic acid(s)`` of complex ``row``."""
        free = self.free[row]
        return [free[0], *self.protein[int(self.groups[row])], *free[1:]]


def encode_complexes(frame, tokenizer, max_protein_length):
    """Tokenizes a ProNAB frame (see `deepbio.data.pronab.load_pronab`) once.

    Raises:
        ValueError: from the tokenizer, naming the complex.
    """
    protein, free = {}, []
    for row in frame.itertuples(index=False):
        name = f"{row.accession}/{row.nucleic_acid}"
        if row.group not in protein:
            protein[row.group] = tokenizer.tokenize(row.protein, "protein", name, max_protein_length)
        ids = [tokenizer.cls_id] + tokenizer.tokenize(row.nucleic_acid, row.type, name)
        if row.complementary:
            ids += tokenizer.tokenize(row.complementary, row.type, name)
        free.append(ids)
    return EncodedComplexes(protein, free, frame["group"].to_numpy())


def shared_batch(encoded, rows, tokenizer, targets=None):
    """One shared-protein batch (see `MultiomicBackbone.encode_shared_prefix`).

    Args:
        encoded: `EncodedComplexes`.
        rows: int array of complex indices.
        tokenizer: the `MultiomicTokenizer`.
        targets: optional float array (n_all,), standardised targets.

    Returns:
        dict of numpy arrays: ``prefix_ids``, ``prefix_mask``, ``free_ids``,
        ``free_mask``, ``free_positions``, ``prefix_index`` (and ``y``).
    """
    groups = encoded.groups[rows]
    unique, index = np.unique(groups, return_inverse=True)
    prefix_ids, prefix_mask = tokenizer.pad([encoded.protein[int(g)] for g in unique])
    free_ids, free_mask = tokenizer.pad([encoded.free[r] for r in rows])
    lengths = prefix_mask.sum(axis=1)[index]
    positions = np.arange(free_ids.shape[1])[None, :] + lengths[:, None]
    positions[:, 0] = 0
    batch = {"prefix_ids": prefix_ids, "prefix_mask": prefix_mask.astype(np.int32),
             "free_ids": free_ids, "free_mask": free_mask.astype(np.int32),
             "free_positions": positions.astype(np.int32), "prefix_index": index.astype(np.int32)}
    if targets is not None:
        batch["y"] = np.asarray(targets[rows], np.float32)
    return batch


def full_batch(encoded, rows, tokenizer, targets=None):
    """One plain batch: ``token_ids``, ``padding_mask`` (and ``y``) of whole inputs."""
    ids, mask = tokenizer.pad([encoded.full(r) for r in rows])
    batch = {"token_ids": ids, "padding_mask": mask.astype(np.int32)}
    if targets is not None:
        batch["y"] = np.asarray(targets[rows], np.float32)
    return batch


def batch_rows(encoded, rows, batch_size, rng=None, by_protein=True):
    """Splits complex indices into batches.

    ``by_protein``: complexes of one protein stay together (a protein with
    more than ``batch_size`` complexes spans several batches), proteins in
    random order when ``rng`` is given; else random (or sorted-by-length)
    chunks.

    Returns:
        list of int arrays.
    """
    rows = np.asarray(rows)
    if by_protein:
        groups = encoded.groups[rows]
        unique = np.unique(groups)
        if rng is not None:
            unique = rng.permutation(unique)
        ordered = np.concatenate([rng.permutation(rows[groups == g]) if rng is not None
                                  else rows[groups == g] for g in unique])
    else:
        ordered = rng.permutation(rows) if rng is not None else rows[np.argsort(
            [len(encoded.free[r]) + len(encoded.protein[int(encoded.groups[r])]) for r in rows])]
    return [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]


# ---------------------------------------------------------------------------------------------
# Fine-tuning
# ---------------------------------------------------------------------------------------------
def _regression_functions(model, shared, optimizers):
    import tensorflow as tf

    matrix, vector = tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None,), tf.int32)
    if shared:
        spec = {"prefix_ids": matrix, "prefix_mask": matrix, "free_ids": matrix,
                "free_mask": matrix, "free_positions": matrix, "prefix_index": vector}
    else:
        spec = {"token_ids": matrix, "padding_mask": matrix}

    def standardized(batch, training):
        if shared:
            return model.standardized_shared(batch, training=training)
        x = model.backbone({"token_ids": batch["token_ids"], "padding_mask": batch["padding_mask"]},
                           training=training)[:, 0, :]
        return keras.ops.squeeze(model.head(model.head_dropout(x, training=training)), -1)

    @tf.function(input_signature=[spec, tf.TensorSpec((None,), tf.float32)])
    def train_step(batch, y):
        with tf.GradientTape() as tape:
            loss = keras.ops.mean(keras.ops.square(standardized(batch, True) - y))
        variables = [v for _, vs in optimizers for v in vs]
        grads = tape.gradient(loss, variables)
        at = 0
        for optimizer, vs in optimizers:
            optimizer.apply_gradients(zip(grads[at:at + len(vs)], vs))
            at += len(vs)
        return loss

    @tf.function(input_signature=[spec])
    def predict_step(batch):
        return standardized(batch, False)

    return train_step, predict_step


def _make_batch(encoded, rows, tokenizer, shared, targets=None):
    return (shared_batch if shared else full_batch)(encoded, rows, tokenizer, targets)


def fine_tune(backbone, encoded, dg, train_rows, config, tokenizer, verbose=1, description="fine-tuning"):
    """Trains a `BindingAffinityRegressor` on ``train_rows`` (MSE on standardised ΔG).

    Args:
        backbone: a `MultiomicBackbone` (trained in place; pass a copy).
        encoded: `EncodedComplexes`.
        dg: float array (n,), ΔG in kcal/mol.
        train_rows: int array, the complexes to fit (mean / std of their ΔG
            set the head's scaling).
        config: `BindingConfig`.
        tokenizer: `MultiomicTokenizer`.
        verbose: 0 silent.

    Returns:
        ``(model, predict_fn, history)``: ``predict_fn(rows)`` gives ΔG
        (kcal/mol) of any complexes; ``history`` the mean loss per epoch.
    """
    shared = backbone.isolated_segment_token_id is not None
    mean, std = float(np.mean(dg[train_rows])), float(np.std(dg[train_rows]) or 1.0)
    targets = ((np.asarray(dg) - mean) / std).astype(np.float32)
    model = BindingAffinityRegressor(backbone, mean, std, config.dropout, name="binding_regressor")
    rng = np.random.default_rng(config.seed)
    steps = config.epochs * len(batch_rows(encoded, train_rows, config.batch_size, rng, shared))
    embedding_vars = list(backbone.token_embedding.trainable_variables)
    head_vars = list(model.head.trainable_variables)
    taken = {id(v) for v in embedding_vars + head_vars}
    other_vars = [v for v in model.trainable_variables if id(v) not in taken]
    groups = [(config.embedding_learning_rate or config.learning_rate, embedding_vars),
              (config.learning_rate, other_vars),
              (config.head_learning_rate or config.learning_rate, head_vars)]
    optimizers = []
    for rate, variables in groups:
        optimizer = _optimizer(rate, steps, config.warmup_fraction, config.weight_decay)
        optimizer.build(variables)
        optimizers.append((optimizer, variables))
    train_step, predict_step = _regression_functions(model, shared, optimizers)
    history = []
    for epoch in range(config.epochs):
        batches = batch_rows(encoded, train_rows, config.batch_size, rng, shared)
        losses = []
        bar = tqdm(batches, desc=f"{description} epoch {epoch + 1}/{config.epochs}", unit="batch",
                   disable=verbose != 1, leave=False)
        for rows in bar:
            batch = _make_batch(encoded, rows, tokenizer, shared, targets)
            y = batch.pop("y")
            losses.append(float(train_step(batch, y)))
        history.append(float(np.mean(losses)))

    def predict_fn(rows, source=None):
        """ΔG (kcal/mol) of complexes ``rows`` of ``source`` (default the training encoding)."""
        source = encoded if source is None else source
        rows = np.asarray(rows)
        where = {int(r): i for i, r in enumerate(rows)}
        out = np.zeros(len(rows), np.float32)
        for chunk in batch_rows(source, rows, max(config.batch_size, 64), None, shared):
            values = np.asarray(predict_step(_make_batch(source, chunk, tokenizer, shared)))
            out[[where[int(r)] for r in chunk]] = values * std + mean
        return out

    return model, predict_fn, history


# ---------------------------------------------------------------------------------------------
# Baseline
# ---------------------------------------------------------------------------------------------
def kmer_features(frame):
    """Ridge-baseline features: protein 1/2-mer and nucleic-acid 1–4-mer composition + scalars.

    Returns:
        float32 (n, 420 + 340 + 4): protein composition (k = 1, 2), strand +
        complementary composition (k = 1..4, both strands counted), log
        lengths, RNA flag, double-strand flag.
    """
    from Feature_extraction_algorithms.kmer import KmerComposition

    proteins = KmerComposition((1, 2), "ACDEFGHIKLMNPQRSTVWY").transform(frame["protein"])
    strands = (frame["nucleic_acid"] + "N" + frame["complementary"]).tolist()
    nucleic = KmerComposition((1, 2, 3, 4), "ACGT").transform(strands)
    scalars = np.stack([np.log(frame["nucleic_acid"].str.len()), np.log(frame["protein"].str.len()),
                        (frame["type"] == "RNA").astype(float),
                        (frame["complementary"] != "").astype(float)], axis=1)
    return np.concatenate([proteins, nucleic, scalars], axis=1).astype(np.float32)


def ridge_baseline():
    """Standardisation + ridge regression with its alpha chosen by leave-one-out on the training rows."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 5, 13)))


# ---------------------------------------------------------------------------------------------
# JASPAR specificity
# ---------------------------------------------------------------------------------------------
def jaspar_sites(accession_proteins, release="JASPAR2026", collection="CORE"):
    """JASPAR matrices whose UniProt accession is a ProNAB protein.

    Returns:
        DataFrame ``matrix_id, name, accession, protein, consensus`` (one row
        per matrix and matching accession; consensus = most frequent base per
        column).
    """
    from pyjaspar import jaspardb

    motifs = jaspardb(release=release).fetch_motifs(collection=collection, tax_group=None)
    rows = []
    for motif in motifs:
        counts = np.array([motif.counts[b] for b in "ACGT"], np.float64)
        consensus = "".join("ACGT"[i] for i in counts.argmax(axis=0))
        for accession in dict.fromkeys(motif.acc or []):
            if accession in accession_proteins:
                rows.append((motif.matrix_id, motif.name, accession, accession_proteins[accession],
                             consensus))
    return pd.DataFrame(rows, columns=["matrix_id", "name", "accession", "protein", "consensus"])


def mutate(consensus, rate, replicates, rng, max_tries=10000):
    """``replicates`` distinct mutants of ``consensus``, each base replaced with probability ``rate``.

    A replaced base becomes one of the three other bases; mutants equal to
    the consensus or to an earlier mutant are redrawn (OmniBioTE's
    ``motif_selectivity.py``).

    Raises:
        ValueError: fewer than ``replicates`` distinct mutants found in
            ``max_tries`` draws.
    """
    found = []
    for _ in range(max_tries):
        bases = list(consensus)
        for i, base in enumerate(bases):
            if rng.random() < rate:
                bases[i] = rng.choice([b for b in "ACGT" if b != base])
        mutant = "".join(bases)
        if mutant != consensus and mutant not in found:
            found.append(mutant)
            if len(found) == replicates:
                return found
    raise ValueError(f"could not draw {replicates} distinct mutants of {consensus!r} at rate {rate}")


def reverse_complement(sequence):
    return sequence.translate(str.maketrans("ACGT", "TGCA"))[::-1]


def jaspar_queries(sites, replicates, rate, seed):
    """The consensus and mutant sites to score: DataFrame with ``site``, ``kind``, ``site_index``."""
    rng = np.random.default_rng(seed)
    rows = []
    for index, site in enumerate(sites.itertuples(index=False)):
        rows.append((index, "consensus", site.consensus))
        rows += [(index, "mutant", m) for m in mutate(site.consensus, rate, replicates, rng)]
    return pd.DataFrame(rows, columns=["site_index", "kind", "site"])


def _query_frame(sites, queries, groups_of_protein):
    frame = pd.DataFrame({
        "accession": sites["accession"].to_numpy()[queries["site_index"]],
        "protein": sites["protein"].to_numpy()[queries["site_index"]],
        "nucleic_acid": queries["site"].to_numpy(), "type": "DNA",
        "complementary": [reverse_complement(s) for s in queries["site"]]})
    frame["group"] = frame["protein"].map(groups_of_protein).astype(int)
    return frame


def summarize_jaspar(queries, predictions):
    """Mean ΔΔG (mutant − consensus, kcal/mol; > 0: weaker) and fraction of weaker mutants."""
    if not len(queries):
        return None
    frame = queries.assign(dg=predictions)
    consensus = frame[frame["kind"] == "consensus"].set_index("site_index")["dg"]
    mutants = frame[frame["kind"] == "mutant"]
    ddg = mutants["dg"].to_numpy() - consensus.loc[mutants["site_index"]].to_numpy()
    per_site = pd.Series(ddg).groupby(mutants["site_index"].to_numpy()).mean()
    return {"sites": int(len(consensus)), "mutants": int(len(ddg)),
            "mean_ddg": float(ddg.mean()),
            "sem_ddg": float(per_site.std(ddof=1) / np.sqrt(len(per_site))) if len(per_site) > 1 else None,
            "fraction_weaker": float((ddg > 0).mean())}


# ---------------------------------------------------------------------------------------------
# The binding pipeline
# ---------------------------------------------------------------------------------------------
def _subset(frame, max_complexes, seed):
    """Whole proteins, in random order, until ``max_complexes`` complexes."""
    if not max_complexes or max_complexes >= len(frame):
        return frame.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    keep, total = [], 0
    sizes = frame.groupby("group").size()
    for group in rng.permutation(sizes.index.to_numpy()):
        if total >= max_complexes:
            break
        keep.append(group)
        total += int(sizes[group])
    return frame[frame["group"].isin(keep)].reset_index(drop=True)


def _versions():
    import sklearn
    import tensorflow as tf

    return {"keras": keras.__version__, "tensorflow": tf.__version__, "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


def _pooled(frame, column):
    return regression_metrics(frame["dg"], frame[column])


def run(config, output_dir="runs/binding", data_dir=None, verbose=1, backbone_path=None,
        train_only=False):
    """ProNAB ΔG: pre-training (if needed), grouped CV of each arm, baseline, JASPAR test.

    Writes ``report.json``, ``params.json``, ``predictions.csv`` (every
    complex's out-of-fold predictions), ``folds.csv``, ``jaspar.csv``,
    ``predicted_vs_measured.png``, ``model_fold1.keras`` (and
    ``scratch_model_fold1.keras``), ``pretrain/`` when pre-training ran.
    With ``train_only`` (``train.py``): no CV; one model on every complex
    (``model.keras``).

    Args:
        config: `BindingConfig`.
        output_dir: folder.
        data_dir: optional data mirror.
        verbose: 0, 1 (progress bars) or 2 (a line per fold).
        backbone_path: optional pre-trained ``.keras`` backbone (or a task
            holding one); when None and ``config.pretrain``, one is
            pre-trained here with ``config.pretraining``.
        train_only: bool.

    Returns:
        The report dict.
    """
    start = time.perf_counter()
    seconds = {}
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    tokenizer = make_tokenizer()
    params = {**dataclasses.asdict(config), "backbone_path": str(backbone_path) if backbone_path else None,
              "output_dir": str(out), "data_dir": str(data_dir) if data_dir else None,
              "train_only": train_only, "versions": _versions()}
    write_json(params, out / "params.json")
    tokenizer.save(out / "tokenizer.json")

    data = load_pronab(data_dir)
    frame = _subset(data.frame, config.max_complexes, config.seed)
    dg = frame["dg"].to_numpy(np.float64)
    encoded = encode_complexes(frame, tokenizer, config.max_protein_length)

    report = {"task": "binding", "data": {**data.counts, "used_complexes": len(frame),
                                          "used_proteins": int(frame["group"].nunique())}}
    pretrained, pretraining_report = None, None
    t = time.perf_counter()
    if backbone_path:
        pretrained = load_backbone(backbone_path)
    elif config.pretrain:
        pretrained, pretraining_report = pretrain(config.pretraining, out / "pretrain", data_dir,
                                                  verbose)
        report["pretraining"] = {k: pretraining_report[k] for k in
                                 ("heldout", "unigram_baseline", "steps", "tokens_seen",
                                  "parameters", "seconds")}
    seconds["pretraining"] = round(time.perf_counter() - t, 1)
    arms = {}
    if pretrained is not None:
        arms["pretrained"] = lambda: _clone(pretrained, config.isolate_protein, tokenizer)
    if config.scratch_comparison or pretrained is None:
        size_source = pretrained if pretrained is not None else None

        def scratch():
            if size_source is None:
                return build_backbone(config, tokenizer)
            tags = tokenizer.tag_ids
            return MultiomicBackbone.from_config({
                **size_source.get_config(), "segment_token_ids": list(tags.values()),
                "isolated_segment_token_id": tags["protein"] if config.isolate_protein else None})
        arms["scratch"] = scratch

    if train_only:
        t = time.perf_counter()
        name = next(iter(arms))
        model, _, history = fine_tune(arms[name](), encoded, dg, np.arange(len(frame)), config,
                                      tokenizer, verbose, f"{name} (all complexes)")
        with atomic_path(out / "model.keras") as tmp:
            model.save(tmp)
        seconds["train"] = round(time.perf_counter() - t, 1)
        seconds["total"] = round(time.perf_counter() - start, 1)
        report.update({"arm": name, "history": history, "seconds": seconds})
        write_json(report, out / "report.json")
        return report

    folds = protein_grouped_folds(frame["group"].to_numpy(), config.folds, config.seed)
    fold_of = np.zeros(len(frame), np.int32)
    for number, (_, test) in enumerate(folds, 1):
        fold_of[test] = number
    write_csv(frame[["accession", "nucleic_acid", "type", "complementary", "dg"]]
              .assign(fold=fold_of), out / "folds.csv")

    jaspar_block = None
    if config.jaspar:
        t = time.perf_counter()
        present = {a: p for a, p in data.accession_proteins.items() if p in set(frame["protein"])}
        sites = jaspar_sites(present)
        queries = jaspar_queries(sites, config.jaspar_replicates, config.jaspar_mutation_rate,
                                 config.seed)
        group_of_protein = dict(zip(frame["protein"], frame["group"]))
        query_frame = _query_frame(sites, queries, group_of_protein)
        query_encoded = encode_complexes(query_frame, tokenizer, config.max_protein_length)
        fold_of_group = dict(zip(frame["group"], fold_of))
        query_fold = query_frame["group"].map(fold_of_group).to_numpy()
        query_predictions = {}
        seconds["jaspar_setup"] = round(time.perf_counter() - t, 1)

    predictions = frame[["accession", "protein_name", "nucleic_acid", "type", "complementary",
                         "dg", "n_entries"]].copy()
    predictions.insert(0, "fold", fold_of)
    ridge_features = kmer_features(frame)
    query_features = kmer_features(query_frame) if config.jaspar else None
    fold_reports = []
    for arm in ["ridge", "training_mean", *arms]:
        predictions[arm] = np.nan
        if config.jaspar and arm != "training_mean":  # a constant predicts no ΔΔG
            query_predictions[arm] = np.full(len(query_frame), np.nan)
    seconds.update({arm: 0.0 for arm in ["ridge", *arms]})
    for number, (train, test) in enumerate(tqdm(folds, desc="CV folds", unit="fold",
                                                disable=verbose == 0), 1):
        fold_start = time.perf_counter()
        block = {"fold": number, "n_train": int(len(train)), "n_test": int(len(test)),
                 "test_proteins": int(frame["group"].iloc[test].nunique())}
        in_fold = np.flatnonzero(query_fold == number) if config.jaspar else np.zeros(0, int)
        t = time.perf_counter()
        ridge = ridge_baseline().fit(ridge_features[train], dg[train])
        predictions.loc[test, "ridge"] = ridge.predict(ridge_features[test])
        predictions.loc[test, "training_mean"] = dg[train].mean()
        if len(in_fold):
            query_predictions["ridge"][in_fold] = ridge.predict(query_features[in_fold])
        seconds["ridge"] += time.perf_counter() - t
        for arm, make in arms.items():
            t = time.perf_counter()
            model, predict_fn, history = fine_tune(make(), encoded, dg, train, config, tokenizer,
                                                   verbose, f"fold {number} {arm}")
            predictions.loc[test, arm] = predict_fn(test)
            if len(in_fold):
                query_predictions[arm][in_fold] = predict_fn(in_fold, query_encoded)
            block[f"{arm}_history"] = history
            if number == 1:
                name = "model_fold1.keras" if arm == "pretrained" else f"{arm}_model_fold1.keras"
                with atomic_path(out / name) as tmp:
                    model.save(tmp)
            seconds[arm] += time.perf_counter() - t
        subset = predictions.iloc[test]
        for arm in ["ridge", "training_mean", *arms]:
            block[arm] = regression_metrics(subset["dg"], subset[arm])
        block["seconds"] = round(time.perf_counter() - fold_start, 1)
        fold_reports.append(block)
        if verbose:
            line = ", ".join(f"{arm} r={block[arm]['pearson_r'] or float('nan'):.3f} "
                             f"MAE={block[arm]['mae']:.3f}" for arm in [*arms, "ridge"])
            print(f"fold {number}: {line} ({block['seconds']:.0f} s)", flush=True)
        write_csv(predictions, out / "predictions.csv")

    main_arm = "pretrained" if "pretrained" in arms else "scratch"
    report["arms"] = list(arms)
    report["folds"] = fold_reports
    report["overall"] = _pooled(predictions, main_arm)
    report["overall"]["arm"] = main_arm
    report["fold_mean"] = {arm: {m: float(np.mean([f[arm][m] for f in fold_reports
                                                   if f[arm][m] is not None]))
                                 for m in ("pearson_r", "spearman_rho", "mae")}
                           for arm in [*arms, "ridge"]}
    if "scratch" in arms:
        report["without_pretraining"] = _pooled(predictions, "scratch")
    if "pretrained" in arms and "scratch" in arms:
        report["pretraining_effect"] = {
            "delta_pearson_r": report["overall"]["pearson_r"] - report["without_pretraining"]["pearson_r"],
            "delta_mae": report["overall"]["mae"] - report["without_pretraining"]["mae"]}
    report["baseline"] = {"kmer_ridge": _pooled(predictions, "ridge"),
                          "training_mean": _pooled(predictions, "training_mean")}
    report["target"] = TARGET
    if config.jaspar:
        jaspar_rows = query_frame[["accession", "nucleic_acid"]].rename(
            columns={"nucleic_acid": "site"}).assign(
            matrix_id=sites["matrix_id"].to_numpy()[queries["site_index"]],
            name=sites["name"].to_numpy()[queries["site_index"]],
            kind=queries["kind"].to_numpy(), fold=query_fold)
        for arm, values in query_predictions.items():
            jaspar_rows[f"dg_{arm}"] = values
        write_csv(jaspar_rows, out / "jaspar.csv")
        jaspar_block = {"release": "JASPAR2026", "collection": "CORE",
                        "matrices": int(sites["matrix_id"].nunique()),
                        "proteins": int(sites["protein"].nunique()),
                        "mutants_per_site": config.jaspar_replicates,
                        "mutation_rate": config.jaspar_mutation_rate}
        for arm, values in query_predictions.items():
            jaspar_block[arm] = summarize_jaspar(queries, values)
        report["jaspar"] = jaspar_block
    _plot_scatter(predictions, [*arms, "ridge"], out / "predicted_vs_measured.png")
    seconds = {k: round(v, 1) for k, v in seconds.items()}
    seconds["total"] = round(time.perf_counter() - start, 1)
    report["seconds"] = seconds
    write_json(report, out / "report.json")
    return report


def predict_pairs(model_path, pairs_path, output_path, max_protein_length=None):
    """ΔG of the complexes in a CSV (``protein``, ``nucleic_acid``, ``type``, optional ``complementary``).

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: a missing column, or a sequence the tokenizer rejects
            (the message names the row).
    """
    pairs_path = Path(pairs_path)
    if not pairs_path.is_file():
        raise FileNotFoundError(f"pairs file not found: {pairs_path}")
    pairs = pd.read_csv(pairs_path, keep_default_na=False)
    missing = {"protein", "nucleic_acid", "type"} - set(pairs.columns)
    if missing:
        raise ValueError(f"{pairs_path}: missing column(s) {sorted(missing)}")
    if "complementary" not in pairs.columns:
        pairs["complementary"] = ""
    model = keras.models.load_model(model_path)
    tokenizer = make_tokenizer()
    sequences = [tokenizer.encode_complex(r.protein, r.nucleic_acid, r.type, r.complementary or None,
                                          name=f"{pairs_path.name} row {i + 2}",
                                          max_protein_length=max_protein_length)
                 for i, r in enumerate(pairs.itertuples(index=False))]
    ids, mask = tokenizer.pad(sequences)
    pairs["predicted_dg"] = model.predict({"token_ids": ids, "padding_mask": mask.astype(np.int32)},
                                          batch_size=32, verbose=0)[:, 0]
    write_csv(pairs, output_path)
    return pairs


def _plot_history(history, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(np.arange(1, len(history) + 1), history, marker="o")
    ax.set_xlabel("epoch")
    ax.set_ylabel("masked-LM cross-entropy")
    ax.set_title("pre-training")
    fig.tight_layout()
    save_figure(fig, Path(path).with_suffix(""), formats=("png",))


def _plot_scatter(predictions, arms, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(arms), figsize=(4.2 * len(arms), 4.2), squeeze=False)
    lo, hi = predictions["dg"].min() - 0.5, predictions["dg"].max() + 0.5
    for ax, arm in zip(axes[0], arms):
        m = regression_metrics(predictions["dg"], predictions[arm])
        ax.scatter(predictions["dg"], predictions[arm], s=5, alpha=0.4)
        ax.plot([lo, hi], [lo, hi], color="grey", lw=1)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("measured ΔG (kcal/mol)")
        ax.set_ylabel("predicted ΔG (kcal/mol)")
        r = m["pearson_r"]
        ax.set_title(f"{arm}: r={r if r is None else round(r, 3)}, MAE={m['mae']:.2f}")
    fig.suptitle("ProNAB, protein-grouped CV (out-of-fold predictions)")
    fig.tight_layout()
    save_figure(fig, Path(path).with_suffix(""), formats=("png",))


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def add_arguments(parser):
    """Task-specific flags of ``--task pretrain`` and ``--task binding``."""
    defaults, pre = BindingConfig(), PretrainConfig()
    group = parser.add_argument_group(
        "pretrain / binding", "multi-omic transformer (OmniBioTE): masked-LM pre-training and "
                              "ProNAB ΔG (also uses the shared training and size flags; --profile "
                              "cpu: tiny backbone, shared-protein fast path; gpu: OmniBioTE's XL "
                              "sizes and schedule)")
    group.add_argument("--preset", choices=sorted(BACKBONE_PRESETS), default=None,
                       help="backbone size (width = 128 × depth); default: the profile's")
    group.add_argument("--attention-scale", choices=["mup", "standard"], default=None,
                       help="1/head_dim (μP, OmniBioTE) or 1/sqrt(head_dim)")
    group.add_argument("--full-attention", action="store_true",
                       help="protein tokens also attend to the nucleic acid (no shared-protein "
                            "fast path)")
    group.add_argument("--max-protein-length", type=int, default=None,
                       help=f"residues kept per protein (cpu default {defaults.max_protein_length})")
    group.add_argument("--backbone", metavar="BACKBONE.keras",
                       help="binding: a pre-trained backbone; default: pre-train one in the run")
    group.add_argument("--no-pretrain", action="store_true",
                       help="binding: no pre-training, only the randomly initialised arm")
    group.add_argument("--no-scratch-comparison", action="store_true",
                       help="binding: skip the arm without pre-training")
    group.add_argument("--pretrain-epochs", type=int, default=None,
                       help=f"binding: epochs of the in-run pre-training (default {pre.epochs})")
    group.add_argument("--crop-length", type=int, default=None,
                       help=f"pre-training crop, content tokens (default {pre.crop_length})")
    group.add_argument("--max-per-source", type=int, default=None,
                       help=f"pre-training sequences per source, 0 = all (default "
                            f"{pre.max_per_source})")
    group.add_argument("--corpus", metavar="A.fasta,B.fasta",
                       help="pretrain: FASTA files instead of the local data sets")
    group.add_argument("--no-jaspar", action="store_true", help="binding: skip the JASPAR test")
    group.add_argument("--jaspar-replicates", type=int, default=defaults.jaspar_replicates)
    group.add_argument("--jaspar-mutation-rate", type=float, default=defaults.jaspar_mutation_rate)
    group.add_argument("--max-complexes", type=int, default=None,
                       help="binding: use whole proteins until this many complexes (quick runs)")


def _sizes(args, base):
    from deepbio.cli import given

    changes = {}
    for name in ("hidden_dim", "num_heads", "num_layers", "intermediate_dim"):
        changes[name] = given(args, base, name)
    if args.preset:
        changes["preset"] = args.preset
    if args.attention_scale:
        changes["attention_scale"] = args.attention_scale
    if args.full_attention:
        changes["isolate_protein"] = False
    return changes


def pretrain_config(args, base=None):
    """A `PretrainConfig` from parsed arguments (``--task pretrain``)."""
    from deepbio.cli import given

    base = base or PROFILES[args.profile]().pretraining
    changes = _sizes(args, base)
    for name in ("epochs", "batch_size", "learning_rate", "dropout", "seed"):
        changes[name] = given(args, base, name)
    if args.crop_length:
        changes["crop_length"] = args.crop_length
    if args.max_per_source is not None:
        changes["max_per_source"] = args.max_per_source or None
    if args.corpus:
        changes["corpus"] = tuple(p.strip() for p in args.corpus.split(",") if p.strip())
    return dataclasses.replace(base, **changes)


def binding_config(args):
    """A `BindingConfig` from parsed arguments (``--task binding``)."""
    from deepbio.cli import given

    base = PROFILES[args.profile]()
    changes = _sizes(args, base)
    for name in ("epochs", "batch_size", "learning_rate", "dropout", "seed", "folds"):
        changes[name] = given(args, base, name)
    if args.max_protein_length:
        changes["max_protein_length"] = args.max_protein_length
    changes.update(pretrain=not args.no_pretrain, scratch_comparison=not args.no_scratch_comparison,
                   jaspar=not args.no_jaspar, jaspar_replicates=args.jaspar_replicates,
                   jaspar_mutation_rate=args.jaspar_mutation_rate, max_complexes=args.max_complexes)
    pre = base.pretraining
    pre_changes = {k: v for k, v in _sizes(args, pre).items() if v is not None}
    pre_changes["seed"] = changes["seed"]
    if args.pretrain_epochs is not None:
        pre_changes["epochs"] = args.pretrain_epochs
    if args.crop_length:
        pre_changes["crop_length"] = args.crop_length
    if args.max_per_source is not None:
        pre_changes["max_per_source"] = args.max_per_source or None
    changes["pretraining"] = dataclasses.replace(pre, **pre_changes)
    return dataclasses.replace(base, **changes)


def cli_main(args, output, script):
    """``--task pretrain`` / ``--task binding`` from ``main.py`` or ``train.py``."""
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    if args.task == "pretrain":
        _, report = pretrain(pretrain_config(args), output, args.data_dir, verbose=args.verbose)
        h, b = report["heldout"], report["unigram_baseline"]
        print(f"held-out masked-token accuracy {h['masked_accuracy']:.4f}, perplexity "
              f"{h['perplexity']:.3f} (unigram baseline: {b['masked_accuracy']:.4f}, "
              f"{b['perplexity']:.3f}); backbone → {output}/backbone.keras")
        return 0
    if args.predict:
        if not args.model:
            raise SystemExit("--predict PAIRS.csv needs --model path/to/model.keras")
        path = Path(output) / "predictions.csv"
        pairs = predict_pairs(args.model, args.predict, path, args.max_protein_length)
        print(f"{len(pairs)} complexes → {path}")
        return 0
    try:
        config = binding_config(args)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    report = run(config, output, args.data_dir, verbose=args.verbose, backbone_path=args.backbone,
                 train_only=script == "train.py")
    if script == "train.py":
        print(f"model ({report['arm']}) → {output}/model.keras; seconds: {json.dumps(report['seconds'])}")
        return 0
    for name, block in [("overall (" + report["overall"]["arm"] + ")", report["overall"]),
                        ("without pre-training", report.get("without_pretraining")),
                        ("k-mer ridge baseline", report["baseline"]["kmer_ridge"]),
                        ("training-mean baseline", report["baseline"]["training_mean"])]:
        if block:
            r = block["pearson_r"]
            print(f"{name}: pearson_r={'n/a' if r is None else f'{r:.4f}'} "
                  f"spearman_rho={block['spearman_rho'] or float('nan'):.4f} mae={block['mae']:.4f}")
    if report.get("jaspar"):
        for arm in report["arms"] + ["ridge"]:
            j = report["jaspar"].get(arm)
            if j:
                print(f"JASPAR {arm}: {j['sites']} sites, mean ΔΔG {j['mean_ddg']:+.3f} kcal/mol, "
                      f"{100 * j['fraction_weaker']:.1f}% of mutants weaker")
    print(f"target (OmniBioTE-XL): r > {TARGET['pearson_r']}, MAE < {TARGET['mae']}; "
          f"seconds: {json.dumps(report['seconds'])}; outputs in {output}/")
    return 0
