"""ΔG regression head on a `MultiomicBackbone` (OmniBioTE's ProNAB fine-tuning)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="deepbio")
class BindingAffinityRegressor(keras.Model):
    """Binding free energy (kcal/mol) of a protein–nucleic-acid complex.

    The input is ``<cls>``, the protein, the nucleic acid and optionally its
    complementary strand, concatenated (`MultiomicTokenizer.encode_complex`).
    The first token's final embedding goes through a linear layer initialised
    at zero, whose output times ``head_scale`` is a standardised ΔG:
    ``ΔG = out · head_scale · target_std + target_mean`` (statistics of the
    training fold), as OmniBioTE's ``OmniBindER`` head (whose
    ``head_scale`` is μP's ``1024 / n_embd``).

    Args:
        backbone: a `MultiomicBackbone`.
        target_mean: float, kcal/mol.
        target_std: float, kcal/mol.
        dropout: float, on the first-token embedding.
        head_scale: positive float multiplying the head's output (default
            1.0; converted OmniBioTE checkpoints ``1024 / hidden_dim``).
        **kwargs: `keras.Model` arguments.

    Inputs:
        dict ``token_ids`` int32 (batch, length), ``padding_mask`` (batch,
        length).

    Outputs:
        float32 (batch, 1), ΔG in kcal/mol.

    References:
        OmniBioTE ``src/model.py`` (``OmniBindER``) and ``evals/pronab.py``
        (github.com/nyuolab/OmniBioTE).
    """

    def __init__(self, backbone, target_mean=0.0, target_std=1.0, dropout=0.0, head_scale=1.0,
                 **kwargs):
        if not float(head_scale) > 0:
            raise ValueError(f"head_scale must be positive, got {head_scale!r}")
        inputs = backbone.input
        first = backbone(inputs)[:, 0, :]
        head_dropout = keras.layers.Dropout(dropout, name="head_dropout")
        head = keras.layers.Dense(1, kernel_initializer="zeros", dtype="float32",
                                  name="affinity_head")
        scaling = keras.layers.Rescaling(scale=float(target_std) * float(head_scale),
                                         offset=float(target_mean),
                                         dtype="float32", name="kcal_per_mol")
        outputs = scaling(head(head_dropout(first)))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.backbone = backbone
        self.head_dropout = head_dropout
        self.head = head
        self.scaling = scaling
        self.target_mean = float(target_mean)
        self.target_std = float(target_std)
        self.dropout = dropout
        self.head_scale = float(head_scale)

    def standardized_shared(self, batch, training=False):
        """Standardised ΔG (B,) through `MultiomicBackbone.encode_shared_prefix`.

        Args:
            batch: dict with ``prefix_ids``, ``prefix_mask``, ``free_ids``,
                ``free_mask``, ``free_positions``, ``prefix_index`` (see
                `encode_shared_prefix`).
            training: bool.

        Returns:
            float32 tensor (B,), ``(ΔG − target_mean) / target_std``.
        """
        x = self.backbone.encode_shared_prefix(
            batch["prefix_ids"], batch["prefix_mask"], batch["free_ids"], batch["free_mask"],
            batch["free_positions"], batch["prefix_index"], training=training)
        out = ops.squeeze(self.head(self.head_dropout(x[:, 0, :], training=training)), -1)
        return out if self.head_scale == 1.0 else out * self.head_scale

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "backbone": keras.layers.serialize(self.backbone),
                "target_mean": self.target_mean, "target_std": self.target_std,
                "dropout": self.dropout, "head_scale": self.head_scale}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)
