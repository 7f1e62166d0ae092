"""Pre-norm transformer encoder block: RoPE self-attention and a SwiGLU MLP."""

import keras
from keras import ops

from deepbio.layers.multiomic_attention import MultiomicAttention
from deepbio.layers.omnibiote_norm import normalization_layer


@keras.saving.register_keras_serializable(package="deepbio")
class MultiomicTransformerLayer(keras.layers.Layer):
    """``x + Attn(LN(x))`` then ``x + MLP(LN(x))``, OmniBioTE's ``Block``.

    The MLP is SwiGLU (``down(up(x) · silu(gate(x)))``, bias-free), as in
    OmniBioTE (``4 · n_embd`` projection split in two halves, i.e.
    ``intermediate_dim = 2 · hidden_dim``). ``gate_up_kernel`` holds the
    gate's columns first, then the value's; OmniBioTE's ``c_fc`` has the
    value first, so a converter swaps the two halves (an exact permutation).

    Besides the ordinary call, `forward` lets a caller attend the block's
    queries to extra keys / values computed elsewhere (a shared prefix), which
    `deepbio.multiomic.backbone.MultiomicBackbone` uses to compute a protein once for all
    of its nucleic-acid partners.

    Args:
        num_heads: int. Attention heads.
        intermediate_dim: int. SwiGLU hidden width.
        dropout: float. Dropout on attention probabilities and both residual
            branches.
        attention_scale: ``"mup"``, ``"standard"`` or a float (see
            `MultiomicAttention`).
        layer_norm_epsilon: float.
        max_wavelength: float. RoPE base.
        normalization: ``"layer_norm"`` (Keras `LayerNormalization`, the
            default) or ``"omnibiote"`` (`OmniBioTENorm`, upstream's exact
            formula, for converted checkpoints).
        rotary_table_length: int or None, see `MultiomicAttention`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor (batch, length, hidden_dim).
        attention_mask: optional bool (batch, length or 1, length).
        positions: optional (batch, length) token positions for RoPE.
        return_attention_scores: bool. Also return (batch, heads, length,
            length) attention probabilities.
        training: bool.

    Returns:
        float tensor (batch, length, hidden_dim) (and the scores when asked).

    References:
        OmniBioTE ``src/model.py`` (github.com/nyuolab/OmniBioTE); Shazeer
        2020, "GLU variants improve transformer", arXiv:2002.05202.
    """

    def __init__(self, num_heads, intermediate_dim, dropout=0.0, attention_scale="mup",
                 layer_norm_epsilon=1e-5, max_wavelength=10000.0, normalization="layer_norm",
                 rotary_table_length=None, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_scale = attention_scale
        self.layer_norm_epsilon = layer_norm_epsilon
        self.max_wavelength = max_wavelength
        self.normalization = normalization
        self.rotary_table_length = rotary_table_length
        policy = self.dtype_policy
        self.attention_norm = normalization_layer(normalization, layer_norm_epsilon, policy,
                                                  "attention_norm")
        self.attention = MultiomicAttention(num_heads, attention_scale=attention_scale,
                                            dropout=dropout, max_wavelength=max_wavelength,
                                            rotary_table_length=rotary_table_length,
                                            dtype=policy, name="attention")
        self.mlp_norm = normalization_layer(normalization, layer_norm_epsilon, policy, "mlp_norm")
        self.residual_dropout = keras.layers.Dropout(dropout, dtype=policy, name="residual_dropout")

    def build(self, input_shape):
        hidden = input_shape[-1]
        self.attention_norm.build(input_shape)
        self.attention.build(input_shape)
        self.mlp_norm.build(input_shape)
        std = hidden ** -0.5
        self.gate_up_kernel = self.add_weight(
            name="gate_up_kernel", shape=(hidden, 2 * self.intermediate_dim),
            initializer=keras.initializers.RandomNormal(stddev=std))
        self.down_kernel = self.add_weight(
            name="down_kernel", shape=(self.intermediate_dim, hidden),
            initializer=keras.initializers.RandomNormal(stddev=std / 2 ** 0.5))
        self.built = True

    def forward(self, inputs, attention_mask=None, positions=None, prefix=None, training=None):
        """The block, optionally attending to a prefix as well.

        Args:
            inputs: (batch, length, hidden_dim).
            attention_mask: bool (batch, length or 1, key_length), where
                ``key_length = prefix_length + length`` when ``prefix`` is
                given (prefix keys first).
            positions: (batch, length) RoPE positions of ``inputs``.
            prefix: optional ``(keys, values)``, each (batch, prefix_length,
                heads, head_dim), already rotated (from `forward` on the
                prefix tokens).
            training: bool.

        Returns:
            ``(outputs, (keys, values), probabilities)``: the block output,
            this block's own rotated keys and values of ``inputs``, and the
            attention probabilities (batch, heads, length, key_length).
        """
        normed = self.attention_norm(inputs)
        q, k, v = self.attention.project(normed, positions)
        keys, values = (k, v) if prefix is None else (ops.concatenate([prefix[0], k], axis=1),
                                                      ops.concatenate([prefix[1], v], axis=1))
        attended, probabilities = self.attention.attend(q, keys, values, attention_mask, training)
        x = inputs + self.residual_dropout(attended, training=training)
        gate, up = ops.split(ops.matmul(self.mlp_norm(x), self.gate_up_kernel), 2, axis=-1)
        mlp = ops.matmul(up * ops.silu(gate), self.down_kernel)
        return x + self.residual_dropout(mlp, training=training), (k, v), probabilities

    def call(self, inputs, attention_mask=None, positions=None, return_attention_scores=False,
             training=None):
        outputs, _, scores = self.forward(inputs, attention_mask, positions, training=training)
        return (outputs, scores) if return_attention_scores else outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs, attention_mask=None, positions=None,
                            return_attention_scores=False, training=None):
        outputs = keras.KerasTensor(inputs.shape, self.compute_dtype)
        if not return_attention_scores:
            return outputs
        batch, length = inputs.shape[0], inputs.shape[1]
        return outputs, keras.KerasTensor((batch, self.num_heads, length, length),
                                          self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads, "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout, "attention_scale": self.attention_scale,
            "layer_norm_epsilon": self.layer_norm_epsilon, "max_wavelength": self.max_wavelength,
            "normalization": self.normalization, "rotary_table_length": self.rotary_table_length})
        return config
