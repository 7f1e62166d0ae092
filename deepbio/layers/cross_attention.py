"""Cross-attention block: one sequence queries another, residual + LayerNorm."""

import keras


@keras.saving.register_keras_serializable(package="deepbio")
class CrossAttention(keras.layers.Layer):
    """Multi-head cross-attention with a residual connection and layer norm.

    ``output = LayerNorm(query + Dropout(MHA(query, context, context)))``, the
    post-norm block OmniK-PTM uses to let each CNN branch attend to the other
    (its ``CrossAttentionBlock``).

    Args:
        num_heads: int. Number of attention heads.
        hidden_dim: int. Width of the query features; each head has
            ``hidden_dim // num_heads`` dimensions.
        dropout: float. Dropout on the attention weights and output.
        layer_norm_epsilon: float. Epsilon of the layer norm.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        query: float tensor (batch, query_length, hidden_dim).
        context: float tensor (batch, context_length, context_dim).
        training: bool, whether dropout is active.

    Returns:
        float tensor (batch, query_length, hidden_dim).

    Raises:
        ValueError: ``hidden_dim`` not divisible by ``num_heads``, or a
            query whose last axis is not ``hidden_dim``.

    References:
        Zhao et al., OmniK-PTM (github.com/jiyuzhaoo/OmniK-PTM);
        Vaswani et al. 2017, arXiv:1706.03762.
    """

    def __init__(self, num_heads, hidden_dim, dropout=0.0, layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if hidden_dim % num_heads:
            raise ValueError(f"hidden_dim ({hidden_dim}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=num_heads, key_dim=hidden_dim // num_heads, dropout=dropout,
            dtype=self.dtype_policy, name="attention")
        self.output_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="output_dropout")
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm")

    def build(self, query_shape, context_shape):
        if query_shape[-1] != self.hidden_dim:
            raise ValueError(f"query last axis must be hidden_dim={self.hidden_dim}, got {query_shape}")
        self.attention.build(query_shape, context_shape, context_shape)
        self.output_dropout.build(query_shape)
        self.layer_norm.build(query_shape)

    def call(self, query, context, training=None):
        attended = self.attention(query, context, context, training=training)
        return self.layer_norm(query + self.output_dropout(attended, training=training))

    def compute_output_shape(self, query_shape, context_shape):
        return query_shape

    def get_config(self):
        config = super().get_config()
        config.update({"num_heads": self.num_heads, "hidden_dim": self.hidden_dim,
                       "dropout": self.dropout, "layer_norm_epsilon": self.layer_norm_epsilon})
        return config
