"""OmniK-PTM multi-label lysine-PTM classifier as a Keras 3 functional model."""

import keras

from deepbio.layers import CrossAttention


def _conv_tower(x, first_filters, first_kernel, tower_filters, kernel_size, dropout, prefix):
    """Conv1D → ReLU → MaxPool, then a tower of conv / dropout / pool blocks."""
    x = keras.layers.Conv1D(first_filters, first_kernel, activation="relu",
                            kernel_initializer="glorot_uniform", name=f"{prefix}_conv0")(x)
    x = keras.layers.MaxPooling1D(2, name=f"{prefix}_pool0")(x)
    for i, filters in enumerate(tower_filters, start=1):
        x = keras.layers.Conv1D(filters, kernel_size, activation="relu",
                                kernel_initializer="glorot_uniform", name=f"{prefix}_conv{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"{prefix}_dropout{i}")(x)
        x = keras.layers.MaxPooling1D(2, name=f"{prefix}_pool{i}")(x)
    return x


@keras.saving.register_keras_serializable(package="deepbio")
class PTMClassifier(keras.Model):
    """Multi-label lysine-PTM classifier after OmniK-PTM (its ``CAFN``).

    Two CNN branches, one over the PSTAAP vector and one over per-residue
    features (physicochemical scales, optionally BLOSUM62 / one-hot columns),
    are fused by bidirectional cross-attention (each branch queries the other;
    residual and layer norm), concatenated on the feature axis, read by a
    bidirectional GRU, and mapped by an MLP to one sigmoid per PTM
    (acetylation, crotonylation, methylation, succinylation).

    Args:
        pstaap_length: int. Length of the PSTAAP vector (46 for 49-residue
            windows).
        residue_length: int. Window length (49).
        residue_channels: int. Features per residue (3 for the OmniK-PTM
            physicochemical scales).
        num_labels: int. Number of sigmoid outputs (4).
        conv_filters: int. Filters of each branch's first convolution (32).
        tower_filters: tuple of int. Filters of the following conv blocks;
            the last one is the attention width (``(32, 64)`` as upstream).
        hidden_dim: int. Attention width; must equal ``tower_filters[-1]``.
        num_heads: int. Attention heads (8).
        gru_units: int. Units of each GRU direction (64).
        intermediate_dim: int. Width of the MLP hidden layer (64).
        dropout: float. Dropout in the conv towers and attention (0.2).
        head_dropout: float. Dropout before the output layer (0.35).
        **kwargs: `keras.Model` arguments (``name``, ``trainable``).

    Inputs:
        list ``[pstaap, residues]``: ``pstaap`` float32 (batch,
        pstaap_length, 1) and ``residues`` float32 (batch, residue_length,
        residue_channels).

    Outputs:
        float32 (batch, num_labels): probabilities of each PTM.

    Raises:
        ValueError: when ``hidden_dim != tower_filters[-1]`` or the two
            branches end at different lengths (their features are
            concatenated position by position).

    References:
        OmniK-PTM, github.com/jiyuzhaoo/OmniK-PTM (``model/model.py``).
    """

    def __init__(self, pstaap_length=46, residue_length=49, residue_channels=3, num_labels=4,
                 conv_filters=32, tower_filters=(32, 64), hidden_dim=64, num_heads=8,
                 gru_units=64, intermediate_dim=64, dropout=0.2, head_dropout=0.35, **kwargs):
        tower_filters = tuple(tower_filters)
        if hidden_dim != tower_filters[-1]:
            raise ValueError(f"hidden_dim ({hidden_dim}) must equal tower_filters[-1] ({tower_filters[-1]})")
        pstaap = keras.Input((pstaap_length, 1), name="pstaap")
        residues = keras.Input((residue_length, residue_channels), name="residues")
        a = _conv_tower(pstaap, conv_filters, 3, tower_filters, 3, dropout, "pstaap")
        b = _conv_tower(residues, conv_filters, 5, tower_filters, 3, dropout, "residue")
        if a.shape[1] != b.shape[1]:
            raise ValueError(
                f"branch lengths differ (PSTAAP {a.shape[1]}, residues {b.shape[1]}); choose "
                "pstaap_length/residue_length/tower_filters so that both towers end equally long")
        a_to_b = CrossAttention(num_heads, hidden_dim, dropout, name="pstaap_queries_residues")(a, b)
        b_to_a = CrossAttention(num_heads, hidden_dim, dropout, name="residues_query_pstaap")(b, a)
        x = keras.layers.Concatenate(axis=-1, name="fusion")([a_to_b, b_to_a])
        x = keras.layers.Bidirectional(keras.layers.GRU(gru_units), name="bigru")(x)
        x = keras.layers.Dense(intermediate_dim, activation="relu", name="mlp_dense")(x)
        x = keras.layers.Dropout(head_dropout, name="mlp_dropout")(x)
        x = keras.layers.Dense(num_labels, name="logits")(x)
        outputs = keras.layers.Activation("sigmoid", dtype="float32", name="probabilities")(x)
        super().__init__(inputs=[pstaap, residues], outputs=outputs, **kwargs)
        self.pstaap_length = pstaap_length
        self.residue_length = residue_length
        self.residue_channels = residue_channels
        self.num_labels = num_labels
        self.conv_filters = conv_filters
        self.tower_filters = tower_filters
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.gru_units = gru_units
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.head_dropout = head_dropout

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable,
            "pstaap_length": self.pstaap_length, "residue_length": self.residue_length,
            "residue_channels": self.residue_channels, "num_labels": self.num_labels,
            "conv_filters": self.conv_filters, "tower_filters": list(self.tower_filters),
            "hidden_dim": self.hidden_dim, "num_heads": self.num_heads,
            "gru_units": self.gru_units, "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout, "head_dropout": self.head_dropout,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
