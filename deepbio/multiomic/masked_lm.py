"""Masked-language-model task on a `MultiomicBackbone` (BERT masking, 15 % with 80/10/10)."""

import keras
import numpy as np


def mask_tokens(token_ids, padding_mask, content_ids, mask_id, rate=0.15, rng=None):
    """BERT's masking: pick ``rate`` of the content tokens; 80 % → <mask>, 10 % random, 10 % kept.

    Only content tokens (residues, nucleotides, BPE pieces; ``content_ids``)
    are picked, never ``<cls>``, tags, ``<eos>`` or padding. Every sequence
    gets at least one picked token.

    Args:
        token_ids: int array (batch, length).
        padding_mask: bool array (batch, length).
        content_ids: int array, the ids that may be picked and that random
            replacements are drawn from.
        mask_id: int, the ``<mask>`` id.
        rate: float in (0, 1), the fraction picked (OmniBioTE / BERT 0.15).
        rng: `numpy.random.Generator` (default a fresh one).

    Returns:
        ``(inputs int32 (batch, length), targets int32 (batch, length),
        weights float32 (batch, length))``: the corrupted ids, the original
        ids, and 1.0 at the picked positions (the loss positions).

    Raises:
        ValueError: ``rate`` outside (0, 1).

    References:
        Devlin et al. 2019, BERT, arXiv:1810.04805 (section 3.1).
    """
    if not 0.0 < rate < 1.0:
        raise ValueError(f"rate must be in (0, 1), got {rate}")
    rng = np.random.default_rng() if rng is None else rng
    token_ids = np.asarray(token_ids, np.int32)
    maskable = np.isin(token_ids, content_ids) & np.asarray(padding_mask, bool)
    picked = (rng.random(token_ids.shape) < rate) & maskable
    for row in np.flatnonzero(~picked.any(axis=1) & maskable.any(axis=1)):
        picked[row, rng.choice(np.flatnonzero(maskable[row]))] = True
    draw = rng.random(token_ids.shape)
    inputs = token_ids.copy()
    inputs[picked & (draw < 0.8)] = mask_id
    random_positions = picked & (draw >= 0.8) & (draw < 0.9)
    inputs[random_positions] = rng.choice(np.asarray(content_ids, np.int32),
                                          size=int(random_positions.sum()))
    return inputs, token_ids.copy(), picked.astype(np.float32)


@keras.saving.register_keras_serializable(package="deepbio")
class MultiomicMaskedLM(keras.Model):
    """Predicts the original token at every position from a `MultiomicBackbone`.

    ``logits = logit_scale · Dense(vocabulary_size)(backbone(inputs))``;
    train with `mask_tokens` and a sparse cross-entropy weighted by its
    ``weights`` (only picked positions count). OmniBioTE's ``lm_head`` is
    bias-free and its logits are multiplied by μP's ``32 / n_embd``
    (``use_bias=False, logit_scale=32 / hidden_dim`` in converted
    checkpoints).

    Args:
        backbone: a `MultiomicBackbone`.
        use_bias: bool, whether the head has a bias (default True).
        logit_scale: positive float multiplying the logits (default 1.0).
        **kwargs: `keras.Model` arguments.

    Inputs:
        dict ``token_ids`` int32 (batch, length), ``padding_mask`` (batch,
        length).

    Outputs:
        float32 logits (batch, length, vocabulary_size).

    References:
        OmniBioTE ``training/train_encoder.py`` (github.com/nyuolab/OmniBioTE);
        KerasHub ``EsmMaskedLM``.
    """

    def __init__(self, backbone, use_bias=True, logit_scale=1.0, **kwargs):
        if not float(logit_scale) > 0:
            raise ValueError(f"logit_scale must be positive, got {logit_scale!r}")
        inputs = backbone.input
        x = backbone(inputs)
        logits = keras.layers.Dense(backbone.vocabulary_size, use_bias=use_bias, dtype="float32",
                                    kernel_initializer="zeros", name="lm_head")(x)
        if float(logit_scale) != 1.0:
            logits = keras.layers.Rescaling(float(logit_scale), dtype="float32",
                                            name="logit_scale")(logits)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.backbone = backbone
        self.use_bias = bool(use_bias)
        self.logit_scale = float(logit_scale)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "backbone": keras.layers.serialize(self.backbone),
                "use_bias": self.use_bias, "logit_scale": self.logit_scale}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)
