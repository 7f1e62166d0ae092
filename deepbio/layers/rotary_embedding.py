"""Rotary position embedding (RoPE), interleaved-pair convention."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="deepbio")
class RotaryEmbedding(keras.layers.Layer):
    """Rotates query / key features by an angle proportional to their position.

    Feature pairs ``(x[2i], x[2i+1])`` of every head are rotated by
    ``position * max_wavelength ** (-2i / head_dim)``, so the dot product of a
    rotated query at position m with a rotated key at position n depends on
    ``m - n`` only (Su et al. 2021). The interleaved pairing is the one of the
    LLaMA reference code OmniBioTE uses (``apply_rotary_emb`` on complex
    views), not the "rotate half" pairing of GPT-NeoX.

    Args:
        max_wavelength: float. The base of the frequencies (10 000).
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor (batch, length, num_heads, head_dim), head_dim
            even.
        positions: optional int or float tensor (batch, length) or (length,),
            each token's position; default ``0 .. length - 1``.

    Returns:
        float tensor of the shape of ``inputs``.

    Raises:
        ValueError: ``head_dim`` is odd.

    References:
        Su et al. 2021, "RoFormer: enhanced transformer with rotary position
        embedding", arXiv:2104.09864; OmniBioTE ``src/model.py``
        (github.com/nyuolab/OmniBioTE).
    """

    def __init__(self, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = max_wavelength

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] % 2:
            raise ValueError(f"RotaryEmbedding needs an even head_dim, got shape {input_shape}")
        self.built = True

    def call(self, inputs, positions=None):
        shape = ops.shape(inputs)
        head_dim = inputs.shape[-1]
        half = head_dim // 2
        exponent = ops.cast(ops.arange(half), "float32") * (2.0 / head_dim)
        inverse_frequency = ops.power(ops.cast(self.max_wavelength, "float32"), -exponent)
        if positions is None:
            positions = ops.arange(shape[1])[None, :]
        positions = ops.cast(positions, "float32")
        if len(positions.shape) == 1:
            positions = positions[None, :]
        angles = positions[:, :, None] * inverse_frequency[None, None, :]  # (b, l, half)
        cos = ops.cast(ops.cos(angles)[:, :, None, :], inputs.dtype)  # (b, l, 1, half)
        sin = ops.cast(ops.sin(angles)[:, :, None, :], inputs.dtype)
        pairs = ops.reshape(inputs, (*shape[:-1], half, 2))
        even, odd = pairs[..., 0], pairs[..., 1]
        rotated = ops.stack([even * cos - odd * sin, even * sin + odd * cos], axis=-1)
        return ops.reshape(rotated, shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config
