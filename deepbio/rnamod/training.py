"""Training one VQ-RNA model (per modification or multi-task) with best-validation selection.

After VQ-RNA (Gao et al., github.com/1gao2/VQ-RNA, ``train_VQRNA.py``): Adam,
masked BCE × w_ce + reconstruction MSE × w_rec (+ w_vq · VQ loss from the
quantizer), the best-validation-AUROC weights kept.
"""

import time

import keras
import numpy as np

from deepbio.losses import masked_binary_crossentropy
from deepbio.metrics import binary_metrics
from deepbio.rnamod.model import vqrna_from_config
from deepbio.core.engine import fit


def compile_model(model, config):
    """Adam, masked BCE × w_ce + reconstruction MSE × w_rec (+ w_vq·VQ from the quantizer)."""
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss={"modification": masked_binary_crossentropy, "reconstruction": "mse"},
                  loss_weights={"modification": config.ce_weight, "reconstruction": config.rec_weight},
                  jit_compile=config.keras_jit_compile())
    return model


def _per_example_loss(config):
    """The compiled loss per window, for the engine's step loop: w_ce · masked BCE + w_rec · MSE.

    (The quantizer's VQ loss is a model loss, added by the loop.)
    """
    def loss(y_true, y_pred):
        ce = masked_binary_crossentropy(y_true["modification"], y_pred["modification"])
        error = keras.ops.square(y_true["reconstruction"] - y_pred["reconstruction"])
        return config.ce_weight * ce + config.rec_weight * keras.ops.mean(error, axis=(1, 2))
    return loss


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

    def get_state(self):
        """What a resumed training needs (saved with every epoch by `deepbio.core.engine.fit`)."""
        return {"best": self.best, "best_epoch": self.best_epoch, "best_weights": self.best_weights,
                "wait": self.wait}

    def set_state(self, state):
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.best_weights, self.wait = state["best_weights"], state["wait"]

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
    model = compile_model(vqrna_from_config(config, names), config)
    model(x[:2])
    if config.codebook_init:
        rng = np.random.default_rng(config.seed)
        sample = x[rng.choice(len(x), min(len(x), 256), replace=False)]
        encoder = keras.Model(model.input, model.get_layer("latents").output)
        model.get_layer("quantizer").initialize_codebook(
            encoder.predict(sample, batch_size=256, verbose=0), seed=config.seed)
    selector = BestValidationAUROC(x_val, y_val, config.patience)
    start = time.perf_counter()
    schedule = keras.callbacks.ReduceLROnPlateau(monitor="val_auroc", mode="max", factor=0.5,
                                                 patience=1, verbose=0)
    targets = {"modification": y, "reconstruction": x}
    history = fit(model, x, targets, batch_size=config.batch_size, epochs=config.epochs,
                  seed=config.seed, verbose=verbose, callbacks=[selector, schedule],
                  stateful=[selector, schedule], loss=_per_example_loss(config))
    seconds = time.perf_counter() - start
    epochs_run = len(history["loss"])
    return model, {"epochs_run": epochs_run, "best_epoch": selector.best_epoch + 1,
                   "best_val_auroc": selector.best, "seconds": round(seconds, 2),
                   "seconds_per_epoch": round(seconds / max(epochs_run, 1), 2),
                   "history": history}
