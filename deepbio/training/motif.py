"""Training the Basset-style CNN of the motif task: accessible sequences vs dinucleotide shuffles.

After DeepASMM's Basset demo (Jie-Lii/DeepASMM): the CNN learns accessible
sequences against Altschul–Erickson dinucleotide-shuffled copies, with
train / validation / test parts split by sequence pair.
"""

import keras
import numpy as np
from sklearn.model_selection import train_test_split

import Feature_extraction_algorithms as fea
from deepbio.data.motif import default_input, load_sequences
from deepbio.metrics import binary_metrics
from deepbio.models import basset_cnn
from deepbio.training.distributed import fit_distributed, is_multi_worker, strategy_replicas
from deepbio.training.resume import resumable_fit


class ValidationAUROC(keras.callbacks.Callback):
    """Adds ``val_auroc`` (scikit-learn's AUROC of the validation set) to each epoch's logs.

    For `deepbio.training.distributed.fit_distributed`, which computes no
    compiled metrics; put it before the callbacks that monitor ``val_auroc``.

    Args:
        x_val: float32 one-hot (n, L, 4).
        y_val: 0/1 labels (n,).
    """

    def __init__(self, x_val, y_val):
        super().__init__()
        self.x_val, self.y_val = x_val, y_val

    def on_epoch_end(self, epoch, logs=None):
        scores = self.model.predict(self.x_val, batch_size=512, verbose=0).ravel()
        logs["val_auroc"] = binary_metrics(self.y_val, scores)["auroc"]


def _pair_splits(n, config):
    """Indices of the sequences in the train / validation / test parts."""
    idx = np.arange(n)
    rest, test = train_test_split(idx, test_size=config.test_fraction, random_state=config.seed)
    train, val = train_test_split(rest, test_size=config.val_fraction, random_state=config.seed)
    return np.sort(train), np.sort(val), np.sort(test)


def train_basset(config, data_dir=None, verbose=2, sequences=None):
    """Trains the Basset-style CNN: accessible sequences vs their dinucleotide shuffles.

    Args:
        config: `MotifConfig`.
        data_dir: local data mirror (else ``DEEPBIO_DATA`` / cache).
        verbose: Keras verbosity.
        sequences: optional list of str (default: the Basset 8988T file,
            first ``max_sequences``).

    Returns:
        dict with ``model``, ``test`` (binary metrics on the held-out pairs:
        ``auroc``, ``auprc``, ...), ``splits`` (sizes), ``epochs_run``,
        ``history``.
    """
    keras.utils.set_random_seed(config.seed)
    if sequences is None:
        sequences = load_sequences(default_input(data_dir))["sequence"].tolist()
        if config.max_sequences:
            sequences = sequences[:config.max_sequences]
    positives = fea.one_hot(sequences, alphabet="dna")
    negatives = fea.one_hot(fea.dinucleotide_shuffles(sequences, random_state=config.seed),
                            alphabet="dna")
    train_idx, val_idx, test_idx = _pair_splits(len(sequences), config)

    def part(idx):
        x = np.concatenate([positives[idx], negatives[idx]])
        y = np.concatenate([np.ones(len(idx)), np.zeros(len(idx))]).astype(np.float32)
        return x, y

    x_train, y_train = part(train_idx)
    if config.reverse_complement:  # channels A, C, G, T: reversing both axes complements
        x_train = np.concatenate([x_train, x_train[:, ::-1, ::-1]])
        y_train = np.concatenate([y_train, y_train])
    x_val, y_val = part(val_idx)
    x_test, y_test = part(test_idx)
    model = basset_cnn(sequence_length=positives.shape[1], filters=config.filters,
                       kernel_sizes=config.kernel_sizes, pool_sizes=config.pool_sizes,
                       dense_units=config.dense_units, dropout=config.dropout,
                       synchronized=(strategy_replicas() or 1) > 1)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss="binary_crossentropy", metrics=[keras.metrics.AUC(name="auroc")],
                  jit_compile=config.keras_jit_compile())
    stop = keras.callbacks.EarlyStopping(monitor="val_auroc", mode="max", patience=config.patience,
                                         restore_best_weights=True)
    if is_multi_worker():  # Keras 3's model.fit cannot run there: the same training, own loop
        history = fit_distributed(model, "binary_crossentropy", model.optimizer, x_train,
                                  y_train[:, None], validation_data=(x_val, y_val[:, None]),
                                  epochs=config.epochs, batch_size=config.batch_size,
                                  seed=config.seed, verbose=verbose,
                                  callbacks=[ValidationAUROC(x_val, y_val), stop])
    else:
        history = resumable_fit(model, x_train, y_train, validation_data=(x_val, y_val),
                                epochs=config.epochs, batch_size=config.batch_size,
                                seed=config.seed, callbacks=[stop], stateful=[stop],
                                verbose=verbose)
    scores = model.predict(x_test, batch_size=512, verbose=0).ravel()
    result = {"model": model, "test": binary_metrics(y_test, scores),
              "splits": {"train": 2 * len(train_idx), "val": 2 * len(val_idx),
                         "test": 2 * len(test_idx)},
              "epochs_run": len(history["loss"]), "history": history}
    return result
