"""Training the Basset-style CNN of the motif task: accessible sequences vs dinucleotide shuffles.

After DeepASMM's Basset demo (Jie-Lii/DeepASMM): the CNN learns accessible
sequences against Altschul–Erickson dinucleotide-shuffled copies, with
train / validation / test parts split by sequence pair.
"""

import keras
import numpy as np
from sklearn.model_selection import train_test_split

import Feature_extraction_algorithms as fea
from deepbio.motif.data import default_input, load_sequences
from deepbio.metrics import binary_metrics
from deepbio.motif.model import basset_cnn
from deepbio.core.distribute import strategy_replicas
from deepbio.core.engine import fit


def pair_splits(n, test_fraction=0.2, val_fraction=0.1, split_seed=0):
    """Indices of the sequence pairs in the train / validation / test parts.

    Drawn by ``split_seed`` alone, so the held-out part is the same whatever
    the training seed (issue 23: model quality and split difficulty are not
    confounded).

    Args:
        n: int, number of sequences (pairs of a sequence and its shuffle).
        test_fraction: float in (0, 1), held-out part (rounded up).
        val_fraction: float in (0, 1), part of the rest used for early stopping.
        split_seed: int, seed of the split.

    Returns:
        (train, val, test): sorted int64 index arrays.

    Raises:
        ValueError: ``n`` too small to give every part one pair.
    """
    idx = np.arange(n)
    try:
        rest, test = train_test_split(idx, test_size=test_fraction, random_state=split_seed)
        train, val = train_test_split(rest, test_size=val_fraction, random_state=split_seed)
    except ValueError as error:
        raise ValueError(f"{n} sequences cannot be split into train / validation / test parts "
                         f"({error})") from None
    return np.sort(train), np.sort(val), np.sort(test)


def reverse_complement(x):
    """Reverse complement of one-hot DNA: float (n, L, 4) channels A, C, G, T → same shape."""
    return x[:, ::-1, ::-1]


def predict_strands(model, x, both=True, batch_size=512):
    """Scores of ``model`` on one-hot DNA (n, L, 4), averaged over both strands if ``both``.

    Returns:
        float32 (n,), the first output.
    """
    scores = model.predict(x, batch_size=batch_size, verbose=0)[:, 0]
    if both:
        scores = 0.5 * (scores + model.predict(np.ascontiguousarray(reverse_complement(x)),
                                               batch_size=batch_size, verbose=0)[:, 0])
    return scores


class ValidationAUROC(keras.callbacks.Callback):
    """Adds ``val_auroc`` (scikit-learn's AUROC of the validation set) to each epoch's logs.

    Put it before the callbacks that monitor ``val_auroc`` (it replaces
    Keras's compiled metric of that name). With ``both_strands`` the score
    of a sequence is the mean over its two strands (`predict_strands`).

    Args:
        x_val: float32 one-hot (n, L, 4).
        y_val: 0/1 labels (n,).
        both_strands: bool.
    """

    def __init__(self, x_val, y_val, both_strands=False):
        super().__init__()
        self.x_val, self.y_val, self.both_strands = x_val, y_val, both_strands

    def on_epoch_end(self, epoch, logs=None):
        scores = predict_strands(self.model, self.x_val, self.both_strands)
        logs["val_auroc"] = binary_metrics(self.y_val, scores)["auroc"]


def pair_data(sequences, config):
    """One-hot train / validation / test parts: accessible sequences (1) and shuffles (0).

    The shuffles and the split are drawn by ``config.split_seed`` only.

    Args:
        sequences: list of str of one length.
        config: `MotifConfig`.

    Returns:
        dict ``train``, ``val``, ``test`` → (x float32 (n, L, 4), y float32 (n,)),
        the training part without reverse-complement copies.
    """
    positives = fea.one_hot(sequences, alphabet="dna")
    negatives = fea.one_hot(fea.dinucleotide_shuffles(sequences, random_state=config.split_seed),
                            alphabet="dna")
    parts = pair_splits(len(sequences), config.test_fraction, config.val_fraction,
                        config.split_seed)

    def part(idx):
        x = np.concatenate([positives[idx], negatives[idx]])
        y = np.concatenate([np.ones(len(idx)), np.zeros(len(idx))]).astype(np.float32)
        return x, y

    return dict(zip(("train", "val", "test"), map(part, parts)))


def _optimizer(config, steps_per_epoch):
    """Adam (AdamW with ``weight_decay``), constant or cosine-decayed learning rate."""
    rate = config.learning_rate
    if config.lr_schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=max(1, config.epochs * steps_per_epoch), alpha=0.05)
    if config.weight_decay > 0:
        return keras.optimizers.AdamW(rate, weight_decay=config.weight_decay)
    return keras.optimizers.Adam(rate)


def train_basset(config, data_dir=None, verbose=2, sequences=None):
    """Trains the Basset-style CNN: accessible sequences vs their dinucleotide shuffles.

    The split and the shuffles come from ``config.split_seed``; the weights,
    dropout and data order from ``config.seed``. Early stopping monitors the
    validation AUROC (both strands averaged when ``config.strand_average``),
    best weights kept; held-out metrics are computed the same way.

    Args:
        config: `MotifConfig`.
        data_dir: local data mirror (else ``DEEPBIO_DATA`` / cache).
        verbose: Keras verbosity.
        sequences: optional list of str (default: the Basset 8988T file,
            first ``max_sequences``).

    Returns:
        dict with ``model``, ``test`` (binary metrics on the held-out pairs:
        ``auroc``, ``auprc``, ...), ``test_scores`` (float32 (n_test,)),
        ``test_labels``, ``splits`` (sizes), ``epochs_run``, ``history``.
    """
    keras.utils.set_random_seed(config.seed)
    if sequences is None:
        sequences = load_sequences(default_input(data_dir))["sequence"].tolist()
        if config.max_sequences:
            sequences = sequences[:config.max_sequences]
    data = pair_data(sequences, config)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = data["train"], data["val"], data["test"]
    splits = {"train": len(y_train), "val": len(y_val), "test": len(y_test)}
    if config.reverse_complement:  # channels A, C, G, T: reversing both axes complements
        x_train = np.concatenate([x_train, reverse_complement(x_train)])
        y_train = np.concatenate([y_train, y_train])
    model = basset_cnn(sequence_length=x_train.shape[1], filters=config.filters,
                       kernel_sizes=config.kernel_sizes, pool_sizes=config.pool_sizes,
                       dense_units=config.dense_units, dropout=config.dropout,
                       bn_momentum=config.bn_momentum,
                       synchronized=(strategy_replicas() or 1) > 1)
    optimizer = _optimizer(config, -(-len(y_train) // config.batch_size))
    model.compile(optimizer=optimizer, loss="binary_crossentropy",
                  metrics=[keras.metrics.AUC(name="auroc")], jit_compile=config.keras_jit_compile())
    auroc = ValidationAUROC(x_val, y_val, config.strand_average)
    stop = keras.callbacks.EarlyStopping(monitor="val_auroc", mode="max", patience=config.patience,
                                         restore_best_weights=True)
    history = fit(model, x_train, y_train, validation_data=(x_val, y_val), epochs=config.epochs,
                  batch_size=config.batch_size, seed=config.seed, callbacks=[auroc, stop],
                  stateful=[stop], verbose=verbose)
    scores = predict_strands(model, x_test, config.strand_average)
    return {"model": model, "test": binary_metrics(y_test, scores), "test_scores": scores,
            "test_labels": y_test, "splits": splits, "epochs_run": len(history["loss"]),
            "history": history}
