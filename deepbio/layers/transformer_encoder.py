"""Non-causal transformer encoder block (KerasHub argument names)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="deepbio")
class TransformerEncoder(keras.layers.Layer):
    """Self-attention + feed-forward block, post-norm (default) or pre-norm.

    Post-norm (``normalize_first=False``, the original Transformer and the
    ``EncoderLayer`` VQ-RNA stacks)::

        x = LayerNorm(x + Dropout(MHA(x, x, x)))
        x = LayerNorm(x + Dropout(Dense(Dropout(act(Dense(x))))))

    Pre-norm (``normalize_first=True``) normalises before each sub-layer
    instead. Attention is bidirectional (no causal mask); ``padding_mask``
    keeps padded positions from being attended to.

    Args:
        intermediate_dim: int. Width of the feed-forward hidden layer
            (VQ-RNA: 64).
        num_heads: int. Attention heads (VQ-RNA: 8); the input width must be
            divisible by it.
        dropout: float. Dropout on attention weights and both residual
            branches (VQ-RNA: 0.2).
        activation: str or callable. Feed-forward activation ("relu").
        layer_norm_epsilon: float.
        kernel_initializer: initializer of the dense kernels.
        normalize_first: bool. Pre-norm when True.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor (batch, length, hidden_dim).
        padding_mask: optional bool/int tensor (batch, length), 1/True for
            real positions.
        attention_mask: optional bool tensor (batch, length, length).
        training: bool, whether dropout is active.

    Returns:
        float tensor (batch, length, hidden_dim).

    Raises:
        ValueError: ``hidden_dim`` (the input's last axis) not divisible by
            ``num_heads``.

    References:
        Vaswani et al. 2017, arXiv:1706.03762; KerasHub
        ``keras_hub.layers.TransformerEncoder`` (argument names); VQ-RNA
        (github.com/1gao2/VQ-RNA) ``EncoderLayer(d_model=64, ffn_hidden=64,
        n_head=8, drop_prob=0.2)``.
    """

    def __init__(self, intermediate_dim, num_heads, dropout=0.0, activation="relu",
                 layer_norm_epsilon=1e-5, kernel_initializer="glorot_uniform", normalize_first=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.intermediate_dim = int(intermediate_dim)
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.normalize_first = bool(normalize_first)
        self.supports_masking = True

    def build(self, inputs_shape):
        hidden_dim = inputs_shape[-1]
        if hidden_dim % self.num_heads:
            raise ValueError(f"{self.name}: hidden_dim ({hidden_dim}) must be divisible by "
                             f"num_heads ({self.num_heads})")
        dense = dict(kernel_initializer=keras.initializers.get(
            keras.initializers.serialize(self.kernel_initializer)), dtype=self.dtype_policy)
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads, key_dim=hidden_dim // self.num_heads, dropout=self.dropout,
            name="self_attention", **dense)
        self.attention.build(inputs_shape, inputs_shape, inputs_shape)
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="attention_norm")
        self.attention_norm.build(inputs_shape)
        self.attention_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy,
                                                      name="attention_dropout")
        self.intermediate = keras.layers.Dense(self.intermediate_dim, activation=self.activation,
                                               name="intermediate", **dense)
        self.intermediate.build(inputs_shape)
        self.intermediate_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy,
                                                         name="intermediate_dropout")
        self.output_dense = keras.layers.Dense(hidden_dim, name="output_dense", **dense)
        self.output_dense.build(tuple(inputs_shape[:-1]) + (self.intermediate_dim,))
        self.output_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy,
                                                   name="output_dropout")
        self.output_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="output_norm")
        self.output_norm.build(inputs_shape)

    def call(self, inputs, padding_mask=None, attention_mask=None, training=None):
        mask = attention_mask
        if padding_mask is not None:
            padding = ops.cast(padding_mask, "bool")
            pairs = ops.logical_and(padding[:, :, None], padding[:, None, :])
            mask = pairs if mask is None else ops.logical_and(pairs, ops.cast(mask, "bool"))
        x = inputs
        residual = x
        if self.normalize_first:
            x = self.attention_norm(x)
        x = self.attention(x, x, x, attention_mask=mask, training=training)
        x = residual + self.attention_dropout(x, training=training)
        if not self.normalize_first:
            x = self.attention_norm(x)
        residual = x
        if self.normalize_first:
            x = self.output_norm(x)
        x = self.output_dense(self.intermediate_dropout(self.intermediate(x), training=training))
        x = residual + self.output_dropout(x, training=training)
        if not self.normalize_first:
            x = self.output_norm(x)
        return x

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "intermediate_dim": self.intermediate_dim, "num_heads": self.num_heads,
            "dropout": self.dropout, "activation": keras.activations.serialize(self.activation),
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "normalize_first": self.normalize_first})
        return config
