"""The two contact models: a fine-tuned token head, and a convolutional probe on frozen attention.

* `finetune_token_head`: `MultiomicTokenClassifier` (two classes) on the backbone, the whole
  model trained on the protein tokens' labels (OmniBioTE ``evals/PDB_contact_eval.py``: a linear
  head per token, binary cross-entropy on the protein tokens).
* `AttentionContactProbe`: OmniBioTE's ``ContactPredictor`` (``evals/attn_to_contact_eval.py``:
  four 3×3 convolutions, ELU, on the stacked softmaxed attention maps of every layer and head,
  then the maximum over one axis) reading the protein-token × nucleic-acid-token block of the
  maps, both directions (protein → nucleic acid and nucleic acid → protein, transposed) as
  channels. Padding is zeroed after every convolution, so a protein's output does not depend on
  the others in its batch.
"""

import keras
import numpy as np
from keras import ops

from deepbio.multiomic.backbone import MultiomicBackbone
from deepbio.multiomic.heads import MultiomicTokenClassifier


@keras.saving.register_keras_serializable(package="deepbio")
class AttentionContactProbe(keras.layers.Layer):
    """Per-residue contact logits from attention maps (protein tokens × nucleic-acid tokens).

    Args:
        filters: int, channels of the hidden convolutions (OmniBioTE: 64).
        depth: int, hidden convolutions (OmniBioTE: 3), then one to a single channel.
        kernel_size: int (OmniBioTE: 3).
        **kwargs: `keras.layers.Layer` arguments.

    Call arguments:
        inputs: list ``[attention, mask]``: float32 (batch, P, N, channels) and float32
            (batch, P, N), 1 on real protein-token × nucleic-token cells.

    Returns:
        float32 (batch, P, 1): per protein token, the maximum over real nucleic-acid tokens of
        the last convolution (a logit; padded rows read −1e9).
    """

    def __init__(self, filters=16, depth=3, kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.depth, self.kernel_size = int(filters), int(depth), int(kernel_size)

    def build(self, input_shape):
        attention_shape = tuple(input_shape[0])
        self.convolutions = []
        channels = attention_shape[-1]
        for i in range(self.depth + 1):
            width = self.filters if i < self.depth else 1
            conv = keras.layers.Conv2D(width, self.kernel_size, padding="same",
                                       activation="elu" if i < self.depth else None,
                                       dtype=self.dtype_policy, name=f"conv_{i}")
            conv.build(attention_shape[:-1] + (channels,))
            self.convolutions.append(conv)
            channels = width
        self.built = True

    def call(self, inputs):
        attention, mask = inputs
        cells = ops.expand_dims(ops.cast(mask, self.compute_dtype), -1)
        x = ops.cast(attention, self.compute_dtype) * cells
        for conv in self.convolutions:
            x = conv(x) * cells
        logits = ops.where(ops.cast(mask, "bool"), ops.squeeze(x, -1), -1e9)
        return ops.expand_dims(ops.max(logits, axis=2), -1)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0])
        return (shape[0], shape[1], 1)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "depth": self.depth,
                       "kernel_size": self.kernel_size})
        return config


def build_probe(channels, filters=16, depth=3, seed=0):
    """A functional model around `AttentionContactProbe`.

    Args:
        channels: int, attention channels (2 · layers · heads).
        filters, depth: see `AttentionContactProbe`.
        seed: int, weight initialisation.

    Returns:
        `keras.Model` with inputs ``{"attention", "mask"}`` and output (batch, P, 1) logits.
    """
    keras.utils.set_random_seed(seed)
    attention = keras.Input((None, None, channels), name="attention")
    mask = keras.Input((None, None), name="mask")
    logits = AttentionContactProbe(filters, depth, name="contact_probe")([attention, mask])
    return keras.Model({"attention": attention, "mask": mask}, logits, name="attention_probe")


def attention_backbone(backbone):
    """A copy of ``backbone`` (same weights, full attention) that also outputs attention maps."""
    config = backbone.get_config()
    config.update(return_attention=True, isolated_segment_token_id=None)
    clone = MultiomicBackbone.from_config(config)
    clone.set_weights(backbone.get_weights())
    return clone


def attention_features(backbone, encoded, batch_size=8):
    """The protein × nucleic-acid block of every layer's and head's attention, both directions.

    Examples of similar length are run together (eagerly: no retracing per shape); padding
    keys are masked, so each example's maps equal its own unpadded run.

    Args:
        backbone: `MultiomicBackbone` with ``return_attention``.
        encoded: list of `EncodedExample`.
        batch_size: int.

    Returns:
        list of float32 arrays (P, N, 2 · layers · heads): channels ``[protein → nucleic
        acid, nucleic acid → protein]``, each layer-major, as probabilities × the example's
        token count (1 = uniform attention; raw probabilities of long inputs are ~1e-3, which
        leaves the probe's first convolution reading almost nothing but its bias).
    """
    features = [None] * len(encoded)
    order = np.argsort([len(e.token_ids) for e in encoded], kind="stable")
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        length = max(len(encoded[i].token_ids) for i in rows)
        ids = np.zeros((len(rows), length), np.int32)
        mask = np.zeros((len(rows), length), np.int32)
        for k, i in enumerate(rows):
            ids[k, :len(encoded[i].token_ids)], mask[k, :len(encoded[i].token_ids)] = \
                encoded[i].token_ids, 1
        maps = ops.convert_to_numpy(backbone({"token_ids": ids, "padding_mask": mask},
                                             training=False)["attention"])
        for k, i in enumerate(rows):
            p, n = encoded[i].protein_tokens, encoded[i].nucleic_tokens
            forward = maps[k][:, p][:, :, n]
            backward = np.swapaxes(maps[k][:, n][:, :, p], 1, 2)
            scale = len(encoded[i].token_ids)  # × keys per row: a uniform row reads 1
            features[i] = (scale * np.concatenate([forward, backward])).transpose(1, 2, 0).astype(
                np.float32)
    return features


def token_classifier(backbone, head_scale=1.0):
    """`MultiomicTokenClassifier` with two classes (no contact / contact) on ``backbone``."""
    return MultiomicTokenClassifier(backbone, 2, 0.0, head_scale, name="contact_token_classifier")
