"""Training and prediction loops of the contact models (Keras ``fit`` on padded batches).

Both models are scored on protein tokens only: a per-token sample weight of 1 on the protein's
tokens and 0 elsewhere (tags, nucleic acid, padding).
"""

import keras
import numpy as np

from deepbio.core.optimizers import warmup_cosine_adamw
from deepbio.multiomic.contacts.models import build_probe, token_classifier


def bucketed_batches(sizes, batch_size, rng=None):
    """Batches of examples of similar size (little padding), in shuffled order when ``rng``.

    Args:
        sizes: array (n,), each example's size (tokens, or cells of its attention block).
        batch_size: int.
        rng: `numpy.random.Generator` or None (batches in size order).

    Returns:
        list of int arrays, the example indices of each batch.
    """
    order = np.argsort(np.asarray(sizes), kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


class _Bucketed(keras.utils.PyDataset):
    """Batches of examples of similar size (`bucketed_batches`), reshuffled every epoch."""

    def __init__(self, sizes, batch_size, seed=None):
        super().__init__()
        self.sizes, self.batch_size = sizes, batch_size
        self.rng = None if seed is None else np.random.default_rng(seed)
        self.on_epoch_end()

    def __len__(self):
        return len(self.batches)

    def on_epoch_end(self):
        self.batches = bucketed_batches(self.sizes, self.batch_size, self.rng)


class _TokenBatches(_Bucketed):
    """(inputs, token labels (B, T), weights (B, T)) batches of encoded examples."""

    def __init__(self, encoded, labels, batch_size, pad_id, seed=None):
        self.encoded, self.labels, self.pad_id = encoded, labels, pad_id
        super().__init__([len(e.token_ids) for e in encoded], batch_size, seed)

    def __getitem__(self, index):
        indices = self.batches[index]
        rows = [self.encoded[i] for i in indices]
        length = max(len(r.token_ids) for r in rows)
        ids = np.full((len(rows), length), self.pad_id, np.int32)
        mask = np.zeros(ids.shape, np.int32)
        y = np.zeros(ids.shape, np.int32)
        weight = np.zeros(ids.shape, np.float32)
        for k, (row, i) in enumerate(zip(rows, indices)):
            ids[k, :len(row.token_ids)], mask[k, :len(row.token_ids)] = row.token_ids, 1
            weight[k, row.protein_tokens] = 1.0
            if self.labels is not None:
                y[k, row.protein_tokens] = self.labels[i]
        inputs = {"token_ids": ids, "padding_mask": mask}
        return (inputs,) if self.labels is None else (inputs, y, weight)


def finetune_token_head(backbone, encoded, labels, config, pad_id, head_scale=1.0):
    """Fine-tunes `MultiomicTokenClassifier` on the protein tokens.

    Args:
        backbone: `MultiomicBackbone` (a fresh copy per fold: its weights change).
        encoded: list of `EncodedExample` (training proteins).
        labels: list of float32 arrays (P,), token labels.
        config: the run config (``epochs``, ``batch_size``, ``learning_rate``,
            ``weight_decay``, ``warmup_fraction``, ``seed``).
        pad_id: int, the tokenizer's padding id.
        head_scale: float, μP factor of a converted checkpoint's head.

    Returns:
        (model, history dict).
    """
    keras.utils.set_random_seed(config.seed)
    model = token_classifier(backbone, head_scale)
    data = _TokenBatches(encoded, labels, config.batch_size, pad_id, config.seed)
    model.compile(optimizer=warmup_cosine_adamw(config.learning_rate, config.epochs * len(data),
                                                config.warmup_fraction, config.weight_decay),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=config.keras_jit_compile())
    history = model.fit(data, epochs=config.epochs, verbose=0).history
    return model, history


def predict_token_head(model, encoded, pad_id, batch_size=8):
    """Contact probabilities of each example's protein tokens: list of float32 (P,)."""
    out = [None] * len(encoded)
    data = _TokenBatches(encoded, None, batch_size, pad_id)
    for b in range(len(data)):
        logits = model(data[b][0], training=False)  # eager: no retracing per batch shape
        probs = keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))[..., 1]
        for k, i in enumerate(data.batches[b]):
            out[i] = probs[k, encoded[i].protein_tokens].astype(np.float32)
    return out


class _ProbeBatches(_Bucketed):
    """({"attention", "mask"}, labels (B, P, 1), weights (B, P)) batches of attention blocks."""

    def __init__(self, features, labels, batch_size, seed=None):
        self.features, self.labels = features, labels
        super().__init__([(f.shape[1] // 32) * 1_000_000 + f.shape[0] for f in features],
                         batch_size, seed)

    def __getitem__(self, index):
        rows = self.batches[index]
        p = max(self.features[i].shape[0] for i in rows)
        n = max(self.features[i].shape[1] for i in rows)
        channels = self.features[rows[0]].shape[2]
        attention = np.zeros((len(rows), p, n, channels), np.float32)
        mask = np.zeros((len(rows), p, n), np.float32)
        y = np.zeros((len(rows), p, 1), np.float32)
        weight = np.zeros((len(rows), p), np.float32)
        for k, i in enumerate(rows):
            block = self.features[i]
            attention[k, :block.shape[0], :block.shape[1]] = block
            mask[k, :block.shape[0], :block.shape[1]] = 1.0
            weight[k, :block.shape[0]] = 1.0
            if self.labels is not None:
                y[k, :block.shape[0], 0] = self.labels[i]
        inputs = {"attention": attention, "mask": mask}
        return (inputs,) if self.labels is None else (inputs, y, weight)


def train_probe(features, labels, config):
    """Trains `AttentionContactProbe` on frozen attention blocks.

    Args:
        features: list of float32 (P, N, C) from `attention_features`.
        labels: list of float32 (P,), token labels.
        config: the run config (``probe_epochs``, ``probe_filters``, ``probe_learning_rate``,
            ``batch_size``, ``seed``).

    Returns:
        (model, history dict).
    """
    model = build_probe(features[0].shape[-1], config.probe_filters, seed=config.seed)
    data = _ProbeBatches(features, labels, config.batch_size, config.seed)
    model.compile(optimizer=keras.optimizers.AdamW(config.probe_learning_rate),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  jit_compile=config.keras_jit_compile())
    history = model.fit(data, epochs=config.probe_epochs, verbose=0).history
    return model, history


def predict_probe(model, features, batch_size=8):
    """Contact probabilities per protein token: list of float32 (P,)."""
    out = [None] * len(features)
    data = _ProbeBatches(features, None, batch_size)
    for b in range(len(data)):
        logits = keras.ops.convert_to_numpy(model(data[b][0], training=False))[..., 0]
        for k, i in enumerate(data.batches[b]):
            out[i] = (1.0 / (1.0 + np.exp(-logits[k, :features[i].shape[0]]))).astype(np.float32)
    return out
