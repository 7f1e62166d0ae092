"""ΔG regression fine-tuning of a `MultiomicBackbone` (after OmniBioTE, arXiv:2408.16245).

ProNAB complexes are tokenized once (`encode_complexes`), then batched
either protein by protein for the shared-protein fast path (`shared_batch`,
exact with an isolated protein segment: each protein is computed once per
batch for all its partners, `MultiomicBackbone.encode_shared_prefix`) or as
plain padded inputs (`full_batch`, OmniBioTE's full attention). `fine_tune`
trains a `BindingAffinityRegressor` with per-group AdamW learning rates.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from deepbio.core.checkpoint import LoopCheckpoint
from deepbio.core.distribute import replica_shares, strategy_replicas
from deepbio.core.engine import Progress, compile_step, minimize, run_loop
from deepbio.core.optimizers import warmup_cosine_adamw
from deepbio.multiomic.binding_model import BindingAffinityRegressor


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
    """Tokenizes a ProNAB frame (see `deepbio.multiomic.pronab.load_pronab`) once.

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


def make_batch(encoded, rows, tokenizer, shared, targets=None):
    """`shared_batch` when ``shared``, else `full_batch`."""
    return (shared_batch if shared else full_batch)(encoded, rows, tokenizer, targets)


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
def regression_step_functions(model, shared, optimizers, jit_compile=False):
    """Compiled ``train_step`` (MSE) and ``predict_step(batch)`` of a `BindingAffinityRegressor`.

    Without a strategy ``train_step(batch, y)`` takes one batch (`make_batch`,
    its ``y`` popped). Under a `tf.distribute` strategy (the model and
    optimizers built in its scope; not XLA-compiled) it takes ``(batches, ys,
    weights)``: one batch, target and weight (0 or 1) array per replica
    (`deepbio.core.distribute.replica_shares`), runs with
    ``strategy.run`` (`deepbio.core.engine.compile_step`), and each
    replica's loss is its weighted squared error over the weight of the
    *whole* step, so the summed gradients are those of the whole batch on one
    device. Both return the step's mean loss.

    Args:
        model: `BindingAffinityRegressor`.
        shared: bool, batches from `shared_batch` (else `full_batch`).
        optimizers: list of ``(optimizer, variables)``; each optimizer
            updates its own variables (`deepbio.core.engine.minimize`).
        jit_compile: bool, XLA compilation of both steps.

    Both steps work on the standardised scale (``y`` standardised targets).
    """
    matrix, vector = tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None,), tf.int32)
    if shared:
        spec = {"prefix_ids": matrix, "prefix_mask": matrix, "free_ids": matrix,
                "free_mask": matrix, "free_positions": matrix, "prefix_index": vector}
    else:
        spec = {"token_ids": matrix, "padding_mask": matrix}
    floats = tf.TensorSpec((None,), tf.float32)
    replicas = strategy_replicas()

    def standardized(batch, training):
        if shared:
            return model.standardized_shared(batch, training=training)
        x = model.backbone({"token_ids": batch["token_ids"], "padding_mask": batch["padding_mask"]},
                           training=training)[:, 0, :]
        return keras.ops.squeeze(model.head(model.head_dropout(x, training=training)), -1)

    def replica_step(batch, y, weights, total):
        """One replica's update; ``weights`` None: the plain mean of the batch."""
        def loss():
            error = keras.ops.square(keras.ops.cast(standardized(batch, True), "float32") - y)
            return (keras.ops.mean(error) if weights is None
                    else keras.ops.sum(error * weights) / total)
        return minimize(loss, optimizers)

    step = compile_step(replica_step, (spec, floats, floats), (tf.TensorSpec((), tf.float32),),
                        one_device=(lambda batch, y: replica_step(batch, y, None, None),
                                    [spec, floats]), jit_compile=jit_compile)

    def train_step(batch, y, weights=None):
        if replicas is None:
            return step(batch, y)
        total = tf.constant(float(sum(np.sum(w) for w in weights)), tf.float32)
        return step([({k: np.asarray(v, np.int32) for k, v in b.items()},
                       np.asarray(t, np.float32), np.asarray(w, np.float32))
                     for b, t, w in zip(batch, y, weights)], (total,))

    @tf.function(input_signature=[spec], jit_compile=jit_compile)
    def predict_step(batch):
        return standardized(batch, False)

    return train_step, predict_step


def _optimizers(model, backbone, config, steps):
    """``[(optimizer, variables)]``: AdamW for the embeddings, the rest, the head (own rates)."""
    embedding_vars = list(backbone.token_embedding.trainable_variables)
    head_vars = list(model.head.trainable_variables)
    taken = {id(v) for v in embedding_vars + head_vars}
    other_vars = [v for v in model.trainable_variables if id(v) not in taken]
    groups = [(config.embedding_learning_rate or config.learning_rate, embedding_vars),
              (config.learning_rate, other_vars),
              (config.head_learning_rate or config.learning_rate, head_vars)]
    optimizers = []
    for rate, variables in groups:
        optimizer = warmup_cosine_adamw(rate, steps, config.warmup_fraction, config.weight_decay)
        optimizer.build(variables)
        optimizers.append((optimizer, variables))
    return optimizers


def fine_tune(backbone, encoded, dg, train_rows, config, tokenizer, verbose=1, description="fine-tuning"):
    """Trains a `BindingAffinityRegressor` on ``train_rows`` (MSE on standardised ΔG).

    The epochs run in `deepbio.core.engine.run_loop`: inside a run unit
    (`deepbio.core.run_folder.RunFolder.checkpointed`) every epoch is
    checkpointed (`deepbio.core.checkpoint.LoopCheckpoint`), so a killed
    fine-tuning resumes at its last finished epoch with the same result.
    Under a strategy with several replicas each step's batch is split over
    them (`regression_step_functions`); ``config.batch_size`` is the global
    batch.

    Args:
        backbone: a `MultiomicBackbone` (trained in place; pass a copy).
        encoded: `EncodedComplexes`.
        dg: float array (n,), ΔG in kcal/mol.
        train_rows: int array, the complexes to fit (mean / std of their ΔG
            set the head's scaling).
        config: `BindingConfig` (`deepbio.multiomic.binding_task`).
        tokenizer: `MultiomicTokenizer`.
        verbose: 0 silent, 1 a progress bar per epoch (cleared after it).
        description: str, names the training in the progress bar.

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
    optimizers = _optimizers(model, backbone, config, steps)
    train_step, predict_step = regression_step_functions(model, shared, optimizers,
                                                        config.function_jit_compile())
    replicas = strategy_replicas()

    def step(rows):
        if replicas is None:
            batch = make_batch(encoded, rows, tokenizer, shared, targets)
            y = batch.pop("y")
            return float(train_step(batch, y))
        shares = replica_shares(len(rows), replicas)
        parts = [make_batch(encoded, rows[share], tokenizer, shared, targets)
                 for share, _ in shares]
        return float(train_step(parts, [part.pop("y") for part in parts], [w for _, w in shares]))

    history = run_loop(step, lambda epoch: batch_rows(encoded, train_rows, config.batch_size, rng,
                                                      shared), config.epochs,
                       checkpoint=LoopCheckpoint(model, [o for o, _ in optimizers], rng),
                       progress=Progress(description, "batch", int(verbose == 1), lines=False,
                                         leave=False))["loss"]

    def predict_fn(rows, source=None):
        """ΔG (kcal/mol) of complexes ``rows`` of ``source`` (default the training encoding)."""
        source = encoded if source is None else source
        rows = np.asarray(rows)
        where = {int(r): i for i, r in enumerate(rows)}
        out = np.zeros(len(rows), np.float32)
        for chunk in batch_rows(source, rows, max(config.batch_size, 64), None, shared):
            values = np.asarray(predict_step(make_batch(source, chunk, tokenizer, shared)))
            out[[where[int(r)] for r in chunk]] = values * std + mean
        return out

    return model, predict_fn, history
