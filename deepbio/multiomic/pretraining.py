"""Masked-LM pre-training of a `MultiomicBackbone` (after OmniBioTE, arXiv:2408.16245).

Corpus encoding, random-crop batches, the compiled masked-LM train / eval
steps, the pre-training loop and the held-out evaluation (fixed crops and
masks). The run-folder side (corpus, saving, report) is
`deepbio.multiomic.pretrain_task`.
"""

import keras
import numpy as np
import tensorflow as tf

from deepbio.core.checkpoint import LoopCheckpoint
from deepbio.core.distribute import replica_shares, strategy_replicas
from deepbio.core.engine import Progress, compile_step, minimize, run_loop
from deepbio.core.optimizers import warmup_cosine_adamw
from deepbio.multiomic.masked_lm import mask_tokens


def encode_corpus(corpus, tokenizer):
    """Content token ids of every corpus sequence and its modality tag id.

    Args:
        corpus: DataFrame ``sequence``, ``modality``, ``source`` (see
            `deepbio.multiomic.corpus.pretraining_corpus`).
        tokenizer: `MultiomicTokenizer`.

    Returns:
        ``(content, tag_ids)``: list of int32 arrays (no ``<cls>``, tag or
        ``<eos>``), int32 array (n,).

    Raises:
        ValueError: from the tokenizer, naming the record.
    """
    tags = tokenizer.tag_ids
    content, tag_ids = [], []
    for number, (sequence, modality, source) in enumerate(corpus.itertuples(index=False)):
        ids = tokenizer.tokenize(sequence, modality, name=f"{source} record {number + 1}")
        content.append(np.asarray(ids[1:-1], np.int32))
        tag_ids.append(tags[modality])
    return content, np.asarray(tag_ids, np.int32)


def crop_batch(content, tag_ids, rows, crop_length, tokenizer, rng):
    """Padded ``(ids, mask)`` of sequences ``rows``, each cropped at a random offset to ``crop_length``."""
    sequences = []
    for row in rows:
        tokens = content[row]
        if len(tokens) > crop_length:
            start = rng.integers(0, len(tokens) - crop_length + 1)
            tokens = tokens[start:start + crop_length]
        sequences.append([tokenizer.cls_id, int(tag_ids[row]), *tokens.tolist(), tokenizer.eos_id])
    return tokenizer.pad(sequences)


def mlm_step_functions(model, optimizer, jit_compile=False):
    """Compiled ``train_step`` and ``eval_step`` of a `MultiomicMaskedLM`.

    Both take ``(ids, mask, targets, weights)`` (int32 / int32 / int32 /
    float32 arrays (batch, length), see `mask_tokens`); ``train_step``
    returns the mean masked cross-entropy of the batch, ``eval_step`` the
    sums ``(cross-entropy, correct, count)`` over the masked tokens.

    Under a `tf.distribute` strategy (``--strategy mirrored`` or
    ``multi-worker``; the model and ``optimizer`` built in its scope),
    ``train_step`` splits the batch's rows over the replicas
    (`deepbio.core.distribute.replica_shares`, `deepbio.core.engine.
    compile_step`): each replica's loss is its cross-entropy sum over the
    masked-token count of the *whole* batch, so the summed gradients are
    those of the whole batch on one device (that step is not XLA-compiled).
    ``eval_step`` runs in cross-replica context.

    Args:
        model: `MultiomicMaskedLM`.
        optimizer: a built Keras optimizer (`keras.optimizers.LossScaleOptimizer`
            under mixed precision: the loss is scaled, `deepbio.core.engine.minimize`).
        jit_compile: bool, XLA (`deepbio.core.task.TrainingConfig.function_jit_compile`).
    """
    spec = [tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None, None), tf.int32),
            tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None, None), tf.float32)]
    replicas = strategy_replicas()

    def losses(ids, mask, targets, weights, training):
        logits = model({"token_ids": ids, "padding_mask": mask}, training=training)
        ce = keras.ops.sparse_categorical_crossentropy(targets, logits, from_logits=True)
        correct = keras.ops.cast(keras.ops.equal(keras.ops.argmax(logits, -1),
                                                 keras.ops.cast(targets, "int64")), "float32")
        return keras.ops.sum(ce * weights), keras.ops.sum(correct * weights), keras.ops.sum(weights)

    def replica_step(ids, mask, targets, weights, count):
        return minimize(lambda: losses(ids, mask, targets, weights, True)[0] / count,
                        [(optimizer, model.trainable_variables)])

    step = compile_step(replica_step, spec, (tf.TensorSpec((), tf.float32),),
                        jit_compile=jit_compile)

    def train_step(ids, mask, targets, weights):
        count = tf.constant(max(float(np.sum(weights)), 1.0), tf.float32)
        if replicas is None:
            return step(ids, mask, targets, weights, count)
        arrays = [np.asarray(a, np.int32) for a in (ids, mask, targets)]
        weights = np.asarray(weights, np.float32)
        shares = [[*(a[rows] for a in arrays), weights[rows] * w[:, None]]
                  for rows, w in replica_shares(len(arrays[0]), replicas)]
        return step(shares, (count,))

    @tf.function(input_signature=spec, jit_compile=jit_compile)
    def eval_step(ids, mask, targets, weights):
        return losses(ids, mask, targets, weights, False)

    return train_step, eval_step


def train_masked_lm(model, content, tag_ids, train, config, tokenizer, rng, verbose=1):
    """Masked-LM training of ``model`` on corpus rows ``train`` (in place).

    Each epoch draws one random crop of every training sequence, in random
    order; AdamW with linear warm-up and cosine decay. The epochs run in
    `deepbio.core.engine.run_loop`: inside a run unit
    (`deepbio.core.run_folder.RunFolder.checkpointed`) every epoch is
    checkpointed (`deepbio.core.checkpoint.LoopCheckpoint`, with ``rng``),
    so a killed training resumes at its last finished epoch with the same
    result.

    Args:
        model: `MultiomicMaskedLM`.
        content, tag_ids: from `encode_corpus`.
        train: int array of corpus rows.
        config: `PretrainConfig` (``epochs``, ``batch_size`` (global),
            ``learning_rate``, ``warmup_fraction``, ``weight_decay``,
            ``crop_length``, ``mask_rate``).
        tokenizer: `MultiomicTokenizer`.
        rng: numpy Generator (order, crops, masks).
        verbose: 0 silent, else progress bars (2: redrawn every 5 s) and
            one line per epoch.

    Returns:
        ``(history, steps, eval_step)``: mean training loss per epoch, the
        number of optimizer steps, the compiled evaluation step (see
        `mlm_step_functions`).
    """
    steps_per_epoch = max(1, int(np.ceil(len(train) / config.batch_size)))
    steps = steps_per_epoch * config.epochs
    optimizer = warmup_cosine_adamw(config.learning_rate, steps, config.warmup_fraction,
                                    config.weight_decay)
    optimizer.build(model.trainable_variables)
    train_step, eval_step = mlm_step_functions(model, optimizer, config.function_jit_compile())

    def batches(epoch):  # the epoch's order; crops and masks are drawn step by step
        permutation = rng.permutation(train)
        return [permutation[b * config.batch_size:(b + 1) * config.batch_size]
                for b in range(steps_per_epoch)]

    def step(rows):
        ids, mask = crop_batch(content, tag_ids, rows, config.crop_length, tokenizer, rng)
        inputs, targets, weights = mask_tokens(ids, mask, tokenizer.content_ids,
                                               tokenizer.mask_id, config.mask_rate, rng)
        return float(train_step(inputs, mask.astype(np.int32), targets, weights))

    history = run_loop(step, batches, config.epochs,
                       checkpoint=LoopCheckpoint(model, [optimizer], rng),
                       progress=Progress("pre-training", "step", verbose))
    return history["loss"], steps, eval_step


def heldout_batches(content, tag_ids, heldout, config, tokenizer):
    """Masked batches of the held-out rows, identical at every call (seed ``config.seed + 1``).

    Yields:
        ``(inputs, targets, weights, mask, ids)`` (see `mask_tokens`).
    """
    rng = np.random.default_rng(config.seed + 1)  # fixed crops and masks
    for b in range(0, len(heldout), config.batch_size):
        rows = heldout[b:b + config.batch_size]
        ids, mask = crop_batch(content, tag_ids, rows, config.crop_length, tokenizer, rng)
        yield (*mask_tokens(ids, mask, tokenizer.content_ids, tokenizer.mask_id, config.mask_rate,
                            rng), mask, ids)


def evaluate_mlm(eval_step, content, tag_ids, heldout, config, tokenizer):
    """Masked-token accuracy, perplexity and cross-entropy on the held-out rows (`heldout_batches`)."""
    total = correct = count = 0.0
    for inputs, targets, weights, mask, _ in heldout_batches(content, tag_ids, heldout, config,
                                                             tokenizer):
        t, c, n = eval_step(inputs, mask.astype(np.int32), targets, weights)
        total, correct, count = total + float(t), correct + float(c), count + float(n)
    return {"masked_accuracy": correct / count, "perplexity": float(np.exp(total / count)),
            "cross_entropy": total / count, "n_masked": int(count)}
