"""OmniBioTE's normalisation: ``alpha · (x − mean) / (std + eps) + gamma``, unbiased std."""

import keras
from keras import ops

NORMALIZATIONS = ("layer_norm", "omnibiote")


@keras.saving.register_keras_serializable(package="deepbio")
class OmniBioTENorm(keras.layers.Layer):
    """Normalises the last axis the way OmniBioTE's ``LayerNorm`` module does.

    ``y = scale · (x − mean) / (std + epsilon) + offset`` where ``std`` is the
    unbiased (``n − 1``) standard deviation over the last axis and
    ``epsilon`` is added to the standard deviation, not to the variance. It
    differs from `keras.layers.LayerNormalization` (biased variance,
    ``sqrt(var + eps)``), so converted OmniBioTE checkpoints need this layer
    to be reproduced exactly. The statistics are computed in float32 whatever
    the compute dtype.

    Args:
        epsilon: float, added to the standard deviation (OmniBioTE 1e-5).
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor (..., features), features ≥ 2.

    Returns:
        tensor of the shape and dtype of ``inputs``.

    Raises:
        ValueError: fewer than 2 features (the unbiased std is undefined).

    Weights:
        ``scale`` (features,) = upstream ``alpha`` (init 1); ``offset``
        (features,) = upstream ``gamma`` (init 0).

    References:
        OmniBioTE ``src/model.py`` class ``LayerNorm`` (MIT,
        github.com/nyuolab/OmniBioTE).
    """

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None or features < 2:
            raise ValueError(f"OmniBioTENorm needs at least 2 features, got shape {input_shape}")
        self.scale = self.add_weight(name="scale", shape=(features,), initializer="ones")
        self.offset = self.add_weight(name="offset", shape=(features,), initializer="zeros")
        self.built = True

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        features = x.shape[-1]
        centered = x - ops.mean(x, axis=-1, keepdims=True)
        variance = ops.sum(ops.square(centered), axis=-1, keepdims=True) / (features - 1)
        # upstream's operation order: alpha * (x - mean) / (std + eps) + gamma
        outputs = ops.cast(self.scale, "float32") * centered / (ops.sqrt(variance) + self.epsilon)
        outputs = outputs + ops.cast(self.offset, "float32")
        return ops.cast(outputs, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config


def normalization_layer(normalization, epsilon, dtype=None, name=None):
    """A norm layer by name: ``"layer_norm"`` (Keras) or ``"omnibiote"`` (`OmniBioTENorm`).

    Raises:
        ValueError: an unknown name.
    """
    if normalization == "layer_norm":
        return keras.layers.LayerNormalization(epsilon=epsilon, dtype=dtype, name=name)
    if normalization == "omnibiote":
        return OmniBioTENorm(epsilon=epsilon, dtype=dtype, name=name)
    raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
