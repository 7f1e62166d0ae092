"""Fine-tuning heads on a multi-omic backbone: sequence classification / regression, per-token labels.

The single-omic benchmarks of OmniBioTE (arXiv:2408.16245: GUE for nucleic
acids, TAPE and ProteinGLUE for proteins) fine-tune the whole backbone with
a linear head on the first token's embedding (upstream ``evals/gue.py``,
``evals/TAPE.py``), whose output is multiplied by μP's ``1024 / n_embd``
(``head_scale``). These classes are KerasHub-style tasks: they take any
backbone with inputs ``{"token_ids", "padding_mask"}`` and a (batch, length,
hidden) output (a `MultiomicBackbone` built here, pre-trained, or converted
by `convert_omnibiote`), serialize it, and reload from ``.keras`` exactly.
"""

import keras
from keras import ops

POOLINGS = ("first", "mean")


@keras.saving.register_keras_serializable(package="deepbio")
class SequencePooling(keras.layers.Layer):
    """One vector per sequence: the first token's embedding, or the mean over real tokens.

    Args:
        mode: ``"first"`` (token 0, e.g. ``<cls>`` or OmniBioTE's leading
            tag) or ``"mean"`` (average over positions where
            ``padding_mask`` is 1).
        **kwargs: `keras.layers.Layer` arguments.

    Call arguments:
        x: float (batch, length, hidden).
        padding_mask: int/bool (batch, length), 1 for real tokens (used by
            ``"mean"``).

    Returns:
        float (batch, hidden).

    Raises:
        ValueError: an unknown mode.
    """

    def __init__(self, mode="first", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {mode!r}")
        self.mode = mode

    def call(self, x, padding_mask):
        if self.mode == "first":
            return x[:, 0, :]
        mask = ops.cast(padding_mask, x.dtype)[:, :, None]
        return ops.sum(x * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)

    def compute_output_shape(self, x_shape, padding_mask_shape=None):
        return (x_shape[0], x_shape[-1])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def _check(backbone, name):
    names = {t.name.split(":")[0] for t in keras.tree.flatten(backbone.input)}
    if not {"token_ids", "padding_mask"} <= names:
        raise ValueError(f"{name} needs a backbone with inputs token_ids and padding_mask, got "
                         f"{sorted(names)}")


class _HeadBase(keras.Model):
    """Shared constructor pieces: backbone call, dropout, a zero-initialised dense head × scale."""

    def _head(self, backbone, units, pooling, dropout, head_scale, name):
        _check(backbone, type(self).__name__)
        if not float(head_scale) > 0:
            raise ValueError(f"head_scale must be positive, got {head_scale!r}")
        inputs = backbone.input
        x = backbone(inputs)
        if pooling is not None:
            x = SequencePooling(pooling, name="pooling")(x, inputs["padding_mask"])
        head_dropout = keras.layers.Dropout(dropout, name="head_dropout")
        head = keras.layers.Dense(units, kernel_initializer="zeros", dtype="float32", name=name)
        out = head(head_dropout(x))
        if float(head_scale) != 1.0:
            out = keras.layers.Rescaling(float(head_scale), dtype="float32", name="head_scale")(out)
        return inputs, out, head

    def _common_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "backbone": keras.layers.serialize(self.backbone), "dropout": self.dropout,
                "head_scale": self.head_scale}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="deepbio")
class MultiomicClassifier(_HeadBase):
    """Sequence classification (GUE, TAPE remote homology) on a multi-omic backbone.

    Args:
        backbone: a Keras model with inputs ``{"token_ids", "padding_mask"}``
            and output (batch, length, hidden), e.g. `MultiomicBackbone`.
        num_classes: int ≥ 2.
        pooling: ``"first"`` (OmniBioTE) or ``"mean"``.
        dropout: float, on the pooled embedding.
        head_scale: positive float multiplying the logits (OmniBioTE
            checkpoints: ``1024 / hidden_dim``).
        **kwargs: `keras.Model` arguments.

    Inputs:
        dict ``token_ids`` int32 (batch, length), ``padding_mask`` int32
        (batch, length).

    Outputs:
        float32 (batch, num_classes), logits (softmax not applied).

    Raises:
        ValueError: fewer than 2 classes, a bad pooling or scale, or a
            backbone without the two inputs.

    Example:
        >>> model = MultiomicClassifier(MultiomicBackbone.from_preset("tiny", 31), 2)
        >>> logits = model({"token_ids": ids, "padding_mask": mask})

    References:
        OmniBioTE ``evals/gue.py`` (github.com/nyuolab/OmniBioTE);
        KerasHub ``TextClassifier``.
    """

    def __init__(self, backbone, num_classes, pooling="first", dropout=0.0, head_scale=1.0,
                 **kwargs):
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes!r}")
        inputs, outputs, head = self._head(backbone, int(num_classes), pooling, dropout,
                                           head_scale, "logits")
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.backbone, self.head = backbone, head
        self.num_classes, self.pooling = int(num_classes), pooling
        self.dropout, self.head_scale = dropout, float(head_scale)

    def get_config(self):
        return {**self._common_config(), "num_classes": self.num_classes, "pooling": self.pooling}


@keras.saving.register_keras_serializable(package="deepbio")
class MultiomicRegressor(_HeadBase):
    """Sequence regression (TAPE fluorescence / stability) on a multi-omic backbone.

    The head (zero-initialised) predicts a standardised value, rescaled to
    the target's units: ``y = out · head_scale · target_std + target_mean``
    (statistics of the training split), as OmniBioTE's ΔG head.

    Args:
        backbone: see `MultiomicClassifier`.
        pooling: ``"first"`` or ``"mean"``.
        dropout: float.
        target_mean: float, training-split mean (target units).
        target_std: positive float, training-split standard deviation.
        head_scale: positive float (OmniBioTE: ``1024 / hidden_dim``).
        **kwargs: `keras.Model` arguments.

    Inputs:
        dict ``token_ids`` int32 (batch, length), ``padding_mask`` int32.

    Outputs:
        float32 (batch, 1), in the target's units.

    Raises:
        ValueError: a bad pooling, scale or ``target_std``, or a backbone
            without the two inputs.
    """

    def __init__(self, backbone, pooling="first", dropout=0.0, target_mean=0.0, target_std=1.0,
                 head_scale=1.0, **kwargs):
        if not float(target_std) > 0:
            raise ValueError(f"target_std must be positive, got {target_std!r}")
        inputs, out, head = self._head(backbone, 1, pooling, dropout, head_scale, "value")
        scaling = keras.layers.Rescaling(float(target_std), float(target_mean), dtype="float32",
                                         name="target_units")
        super().__init__(inputs=inputs, outputs=scaling(out), **kwargs)
        self.backbone, self.head, self.pooling = backbone, head, pooling
        self.dropout, self.head_scale = dropout, float(head_scale)
        self.target_mean, self.target_std = float(target_mean), float(target_std)

    def get_config(self):
        return {**self._common_config(), "pooling": self.pooling, "target_mean": self.target_mean,
                "target_std": self.target_std}


@keras.saving.register_keras_serializable(package="deepbio")
class MultiomicTokenClassifier(_HeadBase):
    """Per-token labels (TAPE secondary structure) on a multi-omic backbone.

    Args:
        backbone: see `MultiomicClassifier`.
        num_classes: int ≥ 2.
        dropout: float, on every token embedding.
        head_scale: positive float.
        **kwargs: `keras.Model` arguments.

    Inputs:
        dict ``token_ids`` int32 (batch, length), ``padding_mask`` int32.

    Outputs:
        float32 (batch, length, num_classes), logits per token (padding
        positions included: mask them in the loss).

    Raises:
        ValueError: fewer than 2 classes, a bad scale, or a backbone without
            the two inputs.
    """

    def __init__(self, backbone, num_classes, dropout=0.0, head_scale=1.0, **kwargs):
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes!r}")
        inputs, outputs, head = self._head(backbone, int(num_classes), None, dropout, head_scale,
                                           "token_logits")
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.backbone, self.head, self.num_classes = backbone, head, int(num_classes)
        self.dropout, self.head_scale = dropout, float(head_scale)

    def get_config(self):
        return {**self._common_config(), "num_classes": self.num_classes}
