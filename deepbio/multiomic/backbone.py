"""Non-causal multi-omic transformer encoder (OmniBioTE's architecture) as a Keras backbone."""

import copy

import keras
from keras import ops

from deepbio.layers.multiomic_transformer_layer import MultiomicTransformerLayer
from deepbio.layers.omnibiote_norm import normalization_layer
from deepbio.layers.segment_attention_mask import SegmentAttentionMask
from deepbio.multiomic.sizes import BACKBONE_PRESETS  # noqa: F401  (re-exported)


@keras.saving.register_keras_serializable(package="deepbio")
class MultiomicBackbone(keras.Model):
    """OmniBioTE-style encoder over proteins, DNA and RNA in one vocabulary.

    Token embedding → ``num_layers`` pre-norm blocks (RoPE self-attention,
    SwiGLU MLP, bias-free, `MultiomicTransformerLayer`) → final layer norm.
    Attention is bidirectional over all non-padding tokens. With
    ``isolated_segment_token_id`` set (e.g. the ``<protein>`` tag), the
    tokens of that segment attend only to their own segment while every
    other token still attends to everything (`SegmentAttentionMask`): the
    protein's states then do not depend on its partner, so
    `encode_shared_prefix` computes each protein once per batch for all of
    its nucleic acids, exactly (the CPU preset of ``--task binding`` uses
    this). The scale of the attention logits is μP's ``1 / head_dim`` by
    default (OmniBioTE), or ``"standard"`` ``1 / sqrt(head_dim)``.

    Args:
        vocabulary_size: int. Token ids are in ``[0, vocabulary_size)``.
        num_layers: int. Transformer blocks.
        num_heads: int. Attention heads per block.
        hidden_dim: int. Model width (divisible by ``num_heads``, head
            width even).
        intermediate_dim: int. SwiGLU hidden width (OmniBioTE:
            ``2 · hidden_dim``).
        dropout: float. Dropout after the embedding, on attention
            probabilities and on residual branches (OmniBioTE 0.05 in
            pre-training).
        attention_scale: ``"mup"``, ``"standard"`` or a positive float.
        max_wavelength: float. RoPE base (10 000).
        layer_norm_epsilon: float.
        segment_token_ids: sequence of int, the modality-tag ids (needed
            with ``isolated_segment_token_id``).
        isolated_segment_token_id: int or None.
        normalization: ``"layer_norm"`` (default) or ``"omnibiote"``
            (`OmniBioTENorm`: unbiased std, epsilon added to the std, as in
            OmniBioTE's checkpoints), for every block and the final norm.
        rotary_table_length: int or None. RoPE cosines / sines read from
            per-block tables of this many positions (converted OmniBioTE
            checkpoints, see `RotaryEmbedding`); None computes them.
        return_attention: bool. Also output every block's attention
            probabilities (see Outputs); the embeddings are unchanged.
        **kwargs: `keras.Model` arguments (``name``, ``dtype``...).

    Inputs:
        dict with ``token_ids`` int32 (batch, length) and ``padding_mask``
        int32/bool (batch, length), 1 for real tokens.

    Outputs:
        float (batch, length, hidden_dim), the final token embeddings; with
        ``return_attention`` a dict of those (``"embeddings"``) and
        ``"attention"``: float (batch, num_layers · num_heads, length,
        length), the softmaxed attention of every block and head (layer
        major; rows are queries, padding keys masked out).

    Raises:
        ValueError: inconsistent sizes (from the layers) or an isolated tag
            that is not among ``segment_token_ids``.

    Example:
        >>> backbone = MultiomicBackbone.from_preset("tiny", vocabulary_size=31)
        >>> out = backbone({"token_ids": ids, "padding_mask": ids != 0})

    References:
        Chen et al. 2024, "Large-scale multi-omic biosequence transformers
        for modeling peptide-nucleotide interactions" (OmniBioTE),
        arXiv:2408.16245, code github.com/nyuolab/OmniBioTE;
        KerasHub ``EsmBackbone`` for the backbone / task split.
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
                 dropout=0.0, attention_scale="mup", max_wavelength=10000.0,
                 layer_norm_epsilon=1e-5, segment_token_ids=(), isolated_segment_token_id=None,
                 normalization="layer_norm", rotary_table_length=None, return_attention=False,
                 **kwargs):
        dtype = kwargs.pop("dtype", None)
        token_ids = keras.Input((None,), dtype="int32", name="token_ids")
        padding_mask = keras.Input((None,), dtype="int32", name="padding_mask")
        embedding = keras.layers.Embedding(
            vocabulary_size, hidden_dim, embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),
            dtype=dtype, name="token_embedding")
        embedding_dropout = keras.layers.Dropout(dropout, dtype=dtype, name="embedding_dropout")
        mask_layer = SegmentAttentionMask(segment_token_ids, isolated_segment_token_id, dtype=dtype,
                                          name="attention_mask")
        blocks = [MultiomicTransformerLayer(num_heads, intermediate_dim, dropout, attention_scale,
                                            layer_norm_epsilon, max_wavelength,
                                            normalization=normalization,
                                            rotary_table_length=rotary_table_length, dtype=dtype,
                                            name=f"transformer_layer_{i}")
                  for i in range(num_layers)]
        final_norm = normalization_layer(normalization, layer_norm_epsilon, dtype, "final_norm")
        x = embedding_dropout(embedding(token_ids))
        mask = mask_layer(token_ids, padding_mask)
        maps = []
        for block in blocks:
            if return_attention:
                x, scores = block(x, attention_mask=mask, return_attention_scores=True)
                maps.append(scores)
            else:
                x = block(x, attention_mask=mask)
        outputs = final_norm(x)
        if return_attention:
            outputs = {"embeddings": outputs,
                       "attention": maps[0] if len(maps) == 1 else ops.concatenate(maps, axis=1)}
        super().__init__(inputs={"token_ids": token_ids, "padding_mask": padding_mask},
                         outputs=outputs, dtype=dtype, **kwargs)
        self.token_embedding = embedding
        self.embedding_dropout = embedding_dropout
        self.mask_layer = mask_layer
        self.transformer_layers = blocks
        self.final_norm = final_norm
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_scale = attention_scale
        self.max_wavelength = max_wavelength
        self.layer_norm_epsilon = layer_norm_epsilon
        self.segment_token_ids = tuple(int(t) for t in segment_token_ids)
        self.isolated_segment_token_id = (None if isolated_segment_token_id is None
                                          else int(isolated_segment_token_id))
        self.normalization = normalization
        self.rotary_table_length = rotary_table_length
        self.return_attention = bool(return_attention)

    @classmethod
    def from_preset(cls, preset, vocabulary_size, **overrides):
        """A backbone sized by one of `BACKBONE_PRESETS` (``overrides`` win).

        Raises:
            ValueError: unknown preset name.
        """
        if preset not in BACKBONE_PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(BACKBONE_PRESETS)}")
        config = {k: v for k, v in BACKBONE_PRESETS[preset].items() if k != "description"}
        config.update({k: v for k, v in overrides.items() if v is not None})
        return cls(vocabulary_size=vocabulary_size, **config)

    def attention_maps(self, token_ids, padding_mask):
        """Attention probabilities of every block (e.g. for contact analysis).

        Args:
            token_ids: int array (batch, length).
            padding_mask: bool/int array (batch, length).

        Returns:
            list of ``num_layers`` float arrays (batch, num_heads, length,
            length).
        """
        token_ids = ops.convert_to_tensor(token_ids, "int32")
        padding_mask = ops.convert_to_tensor(padding_mask, "int32")
        x = self.token_embedding(token_ids)
        mask = self.mask_layer(token_ids, padding_mask)
        maps = []
        for block in self.transformer_layers:
            x, scores = block(x, attention_mask=mask, return_attention_scores=True)
            maps.append(ops.convert_to_numpy(scores))
        return maps

    def encode_shared_prefix(self, prefix_ids, prefix_mask, free_ids, free_mask, free_positions,
                             prefix_index, training=False):
        """Final embeddings of the non-prefix tokens, each prefix computed once.

        Equals the full call on ``<cls> + prefix + rest`` (prefix = the
        isolated segment, e.g. ``<protein> … <eos>``) when the backbone has
        ``isolated_segment_token_id`` set: the prefix's keys and values at
        every layer do not depend on the rest, so ``P`` distinct prefixes are
        run once and gathered for the ``B`` inputs that use them.

        Args:
            prefix_ids: int (P, Lp), the distinct prefixes, right-padded.
            prefix_mask: bool/int (P, Lp).
            free_ids: int (B, Lf), each input's other tokens (``<cls>`` first,
                then the nucleic-acid segments), right-padded.
            free_mask: bool/int (B, Lf).
            free_positions: int (B, Lf), their positions in the full input
                (``<cls>`` 0, the first token after the prefix
                ``1 + prefix_length``).
            prefix_index: int (B,), row of ``prefix_ids`` each input uses.
            training: bool.

        Returns:
            float tensor (B, Lf, hidden_dim).

        Raises:
            ValueError: the backbone has no isolated segment (the result would
                differ from the full call).
        """
        if self.isolated_segment_token_id is None:
            raise ValueError("encode_shared_prefix needs a backbone built with "
                             "isolated_segment_token_id (e.g. the <protein> tag id)")
        prefix_mask = ops.cast(prefix_mask, "bool")
        free_mask = ops.cast(free_mask, "bool")
        prefix_index = ops.cast(prefix_index, "int32")
        prefix_positions = ops.arange(1, ops.shape(prefix_ids)[1] + 1)[None, :]
        xp = self.embedding_dropout(self.token_embedding(prefix_ids), training=training)
        xf = self.embedding_dropout(self.token_embedding(free_ids), training=training)
        prefix_attention = prefix_mask[:, None, :]
        free_attention = ops.concatenate([ops.take(prefix_mask, prefix_index, axis=0), free_mask],
                                         axis=1)[:, None, :]
        for number, block in enumerate(self.transformer_layers):
            last = number == len(self.transformer_layers) - 1
            if last:  # the prefix's own output is not needed after the last block
                kp, vp = block.attention.project(block.attention_norm(xp), prefix_positions)[1:]
            else:
                xp, (kp, vp), _ = block.forward(xp, prefix_attention, prefix_positions,
                                                training=training)
            prefix = (ops.take(kp, prefix_index, axis=0), ops.take(vp, prefix_index, axis=0))
            xf = block.forward(xf, free_attention, free_positions, prefix=prefix,
                               training=training)[0]
        return self.final_norm(xf)

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable,
            "vocabulary_size": self.vocabulary_size, "num_layers": self.num_layers,
            "num_heads": self.num_heads, "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim, "dropout": self.dropout,
            "attention_scale": self.attention_scale, "max_wavelength": self.max_wavelength,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "segment_token_ids": list(self.segment_token_ids),
            "isolated_segment_token_id": self.isolated_segment_token_id,
            "normalization": self.normalization,
            "rotary_table_length": self.rotary_table_length,
            "return_attention": self.return_attention,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)

    def with_isolation(self, isolated_segment_token_id, segment_token_ids=None):
        """A copy (same weights) whose ``isolated_segment_token_id`` is changed."""
        config = self.get_config()
        config["isolated_segment_token_id"] = isolated_segment_token_id
        if segment_token_ids is not None:
            config["segment_token_ids"] = list(segment_token_ids)
        config["name"] = self.name
        clone = type(self).from_config(config)
        clone.set_weights(self.get_weights())
        return clone
