"""Rotary position embedding (RoPE), interleaved-pair convention."""

import keras
import numpy as np
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

    With ``table_length`` set, the cosines and sines are not computed but
    read from two non-trainable weights ``cos_table`` and ``sin_table``
    (table_length, head_dim / 2), initialised to the same values and
    overwritten by checkpoint converters: ``(x[2i], x[2i+1])`` becomes
    ``(x[2i]·c − x[2i+1]·s, x[2i]·s + x[2i+1]·c)`` with ``c, s`` the table
    rows at each token's position. OmniBioTE's published checkpoints need
    this: their ``freqs_cis`` buffer was cast to bfloat16 by
    ``model.to(torch.bfloat16)``, which keeps the real part only, so the
    trained models scale each pair by ``bf16(cos(angle))`` (``s = 0``)
    instead of rotating it. Positions at or beyond ``table_length`` are
    clipped to the last row (upstream refuses inputs longer than its
    ``context_length``).

    Args:
        max_wavelength: float. The base of the frequencies (10 000).
        table_length: int or None. Rows of the cos / sin tables (maximum
            sequence length); None computes the angles on the fly.
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

    def __init__(self, max_wavelength=10000.0, table_length=None, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = max_wavelength
        self.table_length = None if table_length is None else int(table_length)
        if self.table_length is not None and self.table_length < 1:
            raise ValueError(f"table_length must be a positive int or None, got {table_length!r}")

    def build(self, input_shape):
        head_dim = input_shape[-1]
        if head_dim is not None and head_dim % 2:
            raise ValueError(f"RotaryEmbedding needs an even head_dim, got shape {input_shape}")
        if self.table_length is not None:
            if head_dim is None:
                raise ValueError("RotaryEmbedding with table_length needs a known head_dim")
            angles = np.outer(np.arange(self.table_length, dtype=np.float32),
                              self._inverse_frequency(head_dim))
            self.cos_table = self.add_weight(
                name="cos_table", shape=angles.shape, trainable=False,
                initializer=keras.initializers.Constant(np.cos(angles)))
            self.sin_table = self.add_weight(
                name="sin_table", shape=angles.shape, trainable=False,
                initializer=keras.initializers.Constant(np.sin(angles)))
        self.built = True

    def _inverse_frequency(self, head_dim):
        exponent = np.arange(head_dim // 2, dtype=np.float32) * np.float32(2.0 / head_dim)
        return np.power(np.float32(self.max_wavelength), -exponent).astype(np.float32)

    def call(self, inputs, positions=None):
        shape = ops.shape(inputs)
        head_dim = inputs.shape[-1]
        half = head_dim // 2
        if positions is None:
            positions = ops.arange(shape[1])[None, :]
        if len(positions.shape) == 1:
            positions = positions[None, :]
        if self.table_length is not None:
            rows = ops.clip(ops.cast(positions, "int32"), 0, self.table_length - 1)
            cos = ops.cast(ops.take(self.cos_table, rows, axis=0)[:, :, None, :], inputs.dtype)
            sin = ops.cast(ops.take(self.sin_table, rows, axis=0)[:, :, None, :], inputs.dtype)
        else:
            exponent = ops.cast(ops.arange(half), "float32") * (2.0 / head_dim)
            inverse_frequency = ops.power(ops.cast(self.max_wavelength, "float32"), -exponent)
            positions = ops.cast(positions, "float32")
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
        config.update({"max_wavelength": self.max_wavelength, "table_length": self.table_length})
        return config
