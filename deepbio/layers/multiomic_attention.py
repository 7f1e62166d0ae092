"""Multi-head self-attention with rotary positions and a configurable scale."""

import math

import keras
from keras import ops

from deepbio.layers.rotary_embedding import RotaryEmbedding

ATTENTION_SCALES = ("mup", "standard")


def attention_scale_value(attention_scale, head_dim):
    """The logit scale: ``"mup"`` 1/head_dim, ``"standard"`` 1/sqrt(head_dim), or a float.

    Raises:
        ValueError: an unknown name or a non-positive number.
    """
    if isinstance(attention_scale, str):
        if attention_scale == "mup":
            return 1.0 / head_dim
        if attention_scale == "standard":
            return 1.0 / math.sqrt(head_dim)
        raise ValueError(f"attention_scale must be one of {ATTENTION_SCALES} or a positive float, "
                         f"got {attention_scale!r}")
    if not float(attention_scale) > 0:
        raise ValueError(f"attention_scale must be positive, got {attention_scale!r}")
    return float(attention_scale)


@keras.saving.register_keras_serializable(package="deepbio")
class MultiomicAttention(keras.layers.Layer):
    """Bidirectional multi-head self-attention with RoPE and no biases.

    ``softmax(scale · RoPE(q) RoPE(k)ᵀ + mask) v`` per head, then an output
    projection, as in OmniBioTE's ``SelfAttention`` (fused bias-free q/k/v
    projection, rotary embedding on q and k, non-causal). OmniBioTE uses the
    μP scale ``1 / head_dim`` (``8 / n_embd`` with 8 heads); ``"standard"``
    gives the usual ``1 / sqrt(head_dim)``.

    Args:
        num_heads: int. Attention heads.
        head_dim: int or None. Width of each head; default
            ``hidden_dim // num_heads``.
        attention_scale: ``"mup"`` (1/head_dim), ``"standard"``
            (1/sqrt(head_dim)) or a positive float.
        dropout: float. Dropout on the attention probabilities.
        max_wavelength: float. RoPE base.
        rotary_table_length: int or None. Read RoPE's cosines / sines from
            tables of this many positions (`RotaryEmbedding`'s
            ``table_length``; converted OmniBioTE checkpoints) instead of
            computing them.
        kernel_initializer: initializer of the projections; default normal
            with std ``hidden_dim ** -0.5`` (OmniBioTE's ``param_std``).
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor (batch, length, hidden_dim).
        attention_mask: optional bool tensor (batch, length, length) or
            (batch, 1, length); True where a query may attend a key.
        positions: optional tensor (batch, length) of token positions for
            RoPE (default ``0 .. length - 1``).
        return_attention_scores: bool. Also return the attention
            probabilities (batch, num_heads, length, length).
        training: bool, whether dropout is active.

    Returns:
        float tensor (batch, length, hidden_dim), or the tuple
        ``(outputs, scores)``.

    Raises:
        ValueError: ``hidden_dim`` not divisible by ``num_heads`` (when
            ``head_dim`` is None), or a bad ``attention_scale``.

    References:
        OmniBioTE ``src/model.py`` (github.com/nyuolab/OmniBioTE); Yang et
        al. 2022, "Tensor programs V" (μP), arXiv:2203.03466.
    """

    def __init__(self, num_heads, head_dim=None, attention_scale="mup", dropout=0.0,
                 max_wavelength=10000.0, kernel_initializer=None, rotary_table_length=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.attention_scale = attention_scale
        self.dropout = dropout
        self.max_wavelength = max_wavelength
        self.rotary_table_length = rotary_table_length
        self.kernel_initializer = (keras.initializers.get(kernel_initializer)
                                   if kernel_initializer is not None else None)
        if head_dim is not None:
            attention_scale_value(attention_scale, head_dim)
        self.rotary = RotaryEmbedding(max_wavelength, rotary_table_length, dtype=self.dtype_policy,
                                      name="rotary")
        self.probability_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy,
                                                        name="probability_dropout")

    def build(self, input_shape):
        hidden = input_shape[-1]
        if self.head_dim is None:
            if hidden % self.num_heads:
                raise ValueError(f"hidden_dim ({hidden}) must be divisible by num_heads "
                                 f"({self.num_heads})")
            self._head_dim = hidden // self.num_heads
        else:
            self._head_dim = self.head_dim
        self.scale = attention_scale_value(self.attention_scale, self._head_dim)
        init = self.kernel_initializer or keras.initializers.RandomNormal(stddev=hidden ** -0.5)
        inner = self.num_heads * self._head_dim
        self.qkv_kernel = self.add_weight(name="qkv_kernel", shape=(hidden, 3 * inner),
                                          initializer=init)
        self.output_kernel = self.add_weight(name="output_kernel", shape=(inner, hidden),
                                             initializer=init)
        self.rotary.build((None, None, self.num_heads, self._head_dim))
        self.built = True

    def project(self, inputs, positions=None):
        """Rotated queries and keys and the values, each (batch, length, heads, head_dim)."""
        qkv = ops.matmul(inputs, self.qkv_kernel)
        shape = ops.shape(inputs)
        qkv = ops.reshape(qkv, (shape[0], shape[1], 3, self.num_heads, self._head_dim))
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        return self.rotary(q, positions), self.rotary(k, positions), v

    def attend(self, query, key, value, attention_mask=None, training=None):
        """Attention of projected queries on projected keys / values.

        Args:
            query: (batch, q_length, heads, head_dim); key, value: (batch,
                k_length, heads, head_dim).
            attention_mask: optional bool (batch, q_length or 1, k_length).

        Returns:
            ``(outputs (batch, q_length, hidden_dim), probabilities (batch,
            heads, q_length, k_length))``.
        """
        logits = ops.einsum("bqhd,bkhd->bhqk", query, key) * ops.cast(self.scale, query.dtype)
        if attention_mask is not None:
            mask = ops.cast(attention_mask, "bool")[:, None, :, :]
            logits = ops.where(mask, logits, ops.cast(-1e9 if logits.dtype == "float32" else -3e4,
                                                      logits.dtype))
        probabilities = ops.softmax(logits, axis=-1)
        dropped = self.probability_dropout(probabilities, training=training)
        attended = ops.einsum("bhqk,bkhd->bqhd", dropped, value)
        shape = ops.shape(attended)
        attended = ops.reshape(attended, (shape[0], shape[1], self.num_heads * self._head_dim))
        return ops.matmul(attended, self.output_kernel), probabilities

    def call(self, inputs, attention_mask=None, positions=None, return_attention_scores=False,
             training=None):
        q, k, v = self.project(inputs, positions)
        outputs, scores = self.attend(q, k, v, attention_mask, training)
        return (outputs, scores) if return_attention_scores else outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads, "head_dim": self.head_dim,
            "attention_scale": self.attention_scale, "dropout": self.dropout,
            "max_wavelength": self.max_wavelength,
            "rotary_table_length": self.rotary_table_length,
            "kernel_initializer": (keras.initializers.serialize(self.kernel_initializer)
                                   if self.kernel_initializer is not None else None)})
        return config
