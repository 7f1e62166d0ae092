"""Loss functions of deepbio (registered for ``.keras`` round trips)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="deepbio")
def masked_binary_crossentropy(y_true, y_pred):
    """Binary cross-entropy over the labels that are present (label ≥ 0).

    For multi-task data where each sample is labelled for some tasks only
    (here: each RNA window for its own modification), missing labels are
    written as -1 and contribute nothing.

    Args:
        y_true: float tensor (batch, tasks): 1, 0, or -1 for missing.
        y_pred: float tensor (batch, tasks): probabilities.

    Returns:
        float tensor (batch,): the mean cross-entropy over each sample's
        present labels (0 for a sample without any).
    """
    y_true = ops.cast(y_true, y_pred.dtype)
    mask = ops.cast(y_true >= 0, y_pred.dtype)
    y_pred = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
    terms = -(y_true * ops.log(y_pred) + (1.0 - y_true) * ops.log(1.0 - y_pred)) * mask
    return ops.sum(terms, axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)
