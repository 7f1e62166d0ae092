"""VQ-RNA: a VQ-VAE with a transformer classifier for RNA modification sites."""

import keras

from deepbio.layers import TransformerEncoder, VectorQuantizer

# Encoder convolutions as upstream: (kernel, stride, symmetric zero padding).
ENCODER_CONVS = ((4, 2, 1), (4, 2, 1), (4, 3, 2))


def latent_length(sequence_length):
    """Latent positions the encoder makes of ``sequence_length`` nt (501 → 42)."""
    length = int(sequence_length)
    for kernel, stride, pad in ENCODER_CONVS:
        length = (length + 2 * pad - kernel) // stride + 1
    return length


def latent_centre(sequence_length):
    """Index of the latent position whose receptive field is centred nearest the site.

    Latent position k of the three convolutions is centred on input position
    ``12 k - 0.5`` (0-based), so the site at ``L // 2`` maps to
    ``round((L // 2 + 0.5) / 12)``: 21 of 42 for 501 nt, as upstream's
    ``x[:, 21, :]``.
    """
    return min(int(round((sequence_length // 2 + 0.5) / 12)), latent_length(sequence_length) - 1)


def _decoder(quantized, encoder_filters, sequence_length):
    """VQ-RNA's decoder: quantized latents → (batch, L, 4) base probabilities (``reconstruction``).

    Transposed convolutions with the encoder's (kernel, stride, padding) in
    the same order, as upstream; "padding p" of PyTorch's ConvTranspose1d is
    a crop of p on both sides (42 → 84 → 168 → 501); the result is cropped
    or zero-padded to ``sequence_length``.
    """
    layers = keras.layers
    r = quantized
    for i, ((kernel, stride, pad), width) in enumerate(
            zip(ENCODER_CONVS, encoder_filters[::-1] + (4,)), start=1):
        r = layers.Conv1DTranspose(width, kernel, strides=stride,
                                   activation="relu" if i < 3 else None,
                                   name=f"decoder_deconv{i}")(r)
        r = layers.Cropping1D(pad, name=f"decoder_crop{i}")(r)
    surplus = r.shape[1] - sequence_length
    if surplus > 0:
        r = layers.Cropping1D((surplus // 2, surplus - surplus // 2), name="decoder_fit")(r)
    elif surplus < 0:
        deficit = -surplus
        r = layers.ZeroPadding1D((deficit // 2, deficit - deficit // 2), name="decoder_fit")(r)
    return layers.Softmax(axis=-1, dtype="float32", name="reconstruction")(r)


def _heads(site, names, head_dim):
    """One head per modification on the site's latent → (batch, M) probabilities (``modification``).

    Each head: Dense ``head_dim`` → LayerNorm → SiLU → Dense 1; the logits
    are concatenated (layer ``logits``) and passed through a sigmoid.
    """
    layers = keras.layers
    logits = []
    for name in names:
        z = layers.Dense(head_dim, name=f"head_{name}_dense")(site)
        z = layers.LayerNormalization(name=f"head_{name}_norm")(z)
        z = layers.Activation("silu", name=f"head_{name}_silu")(z)
        logits.append(layers.Dense(1, name=f"head_{name}_logit")(z))
    logits = (layers.Concatenate(name="logits")(logits) if len(logits) > 1
              else layers.Identity(name="logits")(logits[0]))
    return layers.Activation("sigmoid", dtype="float32", name="modification")(logits)


@keras.saving.register_keras_serializable(package="deepbio")
class VQRNA(keras.Model):
    """VQ-RNA after Gao et al. (github.com/1gao2/VQ-RNA, ``models/VQRNA.py``).

    One-hot RNA (batch, L, 4) → convolutional encoder (Conv1D 4→256, k4 s2;
    256→512, k4 s2; 512→64, k4 s3; ReLU between; 501 nt → 42 latent
    positions) → `VectorQuantizer` (512 codes × 64) → two branches:

    * a transposed-convolution decoder (64→512→256→4; kernel 4, strides 2,
      2, 3; softmax over the four bases) that reconstructs the input (output
      ``"reconstruction"``, cropped or zero-padded to L);
    * ``num_layers`` non-causal `TransformerEncoder` blocks (post-norm,
      ``hidden_dim`` 64, 8 heads, feed-forward 64, dropout 0.2) over the
      quantized latents; the latent position at the site (`latent_centre`)
      feeds one head per modification (Dense 32 → LayerNorm → SiLU → Dense
      1) → sigmoid (output ``"modification"``, layer ``"logits"`` before it).

    With ``num_modifications=1`` this is upstream's per-modification model
    (a 2-way softmax there, one sigmoid here: the same binary classifier).
    With more, the encoder, codebook and transformer are shared and each
    modification has its own head (the multi-task variant).

    The quantizer adds ``vq_loss_weight * (codebook + β commitment)`` with
    ``add_loss``; compile with ``loss={"modification": ..., "reconstruction":
    "mse"}`` and ``loss_weights`` w_ce / w_rec to get upstream's total loss
    ``w_ce·CE + w_vq·VQ + w_rec·MSE`` (upstream 0.0582 / 0.0419 / 0.6804).

    Args:
        sequence_length: int. Input length L in nt (51 to 1001; 501 upstream).
        num_modifications: int. Heads M.
        modification_names: optional list of M str (head layer names).
        encoder_filters: tuple of two int. Widths of the first two encoder
            convolutions (and, mirrored, of the decoder), ``(256, 512)``.
        hidden_dim: int. Latent / code / transformer width (64).
        num_embeddings: int. Codebook size (512).
        commitment_cost: float. β (0.25).
        vq_loss_weight: float. w_vq (0.0419).
        use_ema: bool. EMA codebook updates (upstream: False).
        dead_code_threshold: float. Dead-code restart threshold of the
            quantizer (upstream: 0, off).
        num_layers: int. Transformer blocks (6).
        num_heads: int. Attention heads (8).
        intermediate_dim: int. Transformer feed-forward width (64).
        dropout: float. Transformer dropout (0.2).
        head_dim: int. Hidden width of each head (32).
        positional_embedding: bool. Add a learned position embedding to the
            quantized latents (upstream: no position information).
        **kwargs: `keras.Model` arguments (``name``, ``trainable``).

    Inputs:
        float32 (batch, sequence_length, 4): one-hot A, C, G, U (N = 0.25
        each), the site at index ``sequence_length // 2``.

    Outputs:
        dict ``{"modification": float32 (batch, M) probabilities,
        "reconstruction": float32 (batch, L, 4) base probabilities}``.

    Raises:
        ValueError: ``sequence_length`` outside 51..1001, or
            ``modification_names`` of the wrong length.

    References:
        Gao et al., "VQ-RNA: a VQ-VAE-based deep learning model for
        comprehensive prediction and interpretation of multiple types of RNA
        modification"; van den Oord et al. 2017, arXiv:1711.00937.
    """

    def __init__(self, sequence_length=501, num_modifications=1, modification_names=None,
                 encoder_filters=(256, 512), hidden_dim=64, num_embeddings=512,
                 commitment_cost=0.25, vq_loss_weight=0.0419, use_ema=False,
                 dead_code_threshold=0.0, num_layers=6,
                 num_heads=8, intermediate_dim=64, dropout=0.2, head_dim=32,
                 positional_embedding=False, **kwargs):
        if not 51 <= int(sequence_length) <= 1001:
            raise ValueError(f"sequence_length must lie in 51..1001, got {sequence_length}")
        names = list(modification_names) if modification_names else [
            str(i) for i in range(num_modifications)]
        if len(names) != num_modifications:
            raise ValueError(f"modification_names has {len(names)} names for "
                             f"{num_modifications} modifications")
        encoder_filters = tuple(int(f) for f in encoder_filters)
        layers = keras.layers
        inputs = keras.Input((sequence_length, 4), name="sequence")
        x = inputs
        widths = encoder_filters + (hidden_dim,)
        for i, ((kernel, stride, pad), width) in enumerate(zip(ENCODER_CONVS, widths), start=1):
            x = layers.ZeroPadding1D(pad, name=f"encoder_pad{i}")(x)
            x = layers.Conv1D(width, kernel, strides=stride, activation="relu" if i < 3 else None,
                              name=f"encoder_conv{i}" if i < 3 else "latents")(x)
        latents = x
        quantized = VectorQuantizer(num_embeddings, hidden_dim, commitment_cost=commitment_cost,
                                    loss_weight=vq_loss_weight, use_ema=use_ema,
                                    dead_code_threshold=dead_code_threshold,
                                    name="quantizer")(latents)
        reconstruction = _decoder(quantized, encoder_filters, sequence_length)

        h = quantized
        if positional_embedding:
            h = _PositionEmbedding(name="position_embedding")(h)
        for i in range(num_layers):
            h = TransformerEncoder(intermediate_dim, num_heads, dropout=dropout,
                                   name=f"transformer_layer_{i}")(h)
        centre = latent_centre(sequence_length)
        site = _TakePosition(centre, name="site_latent")(h)
        probabilities = _heads(site, names, head_dim)
        super().__init__(inputs=inputs,
                         outputs={"modification": probabilities, "reconstruction": reconstruction},
                         **kwargs)
        self.sequence_length = int(sequence_length)
        self.num_modifications = int(num_modifications)
        self.modification_names = names
        self.encoder_filters = encoder_filters
        self.hidden_dim = hidden_dim
        self.num_embeddings = num_embeddings
        self.commitment_cost = commitment_cost
        self.vq_loss_weight = vq_loss_weight
        self.use_ema = use_ema
        self.dead_code_threshold = dead_code_threshold
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.head_dim = head_dim
        self.positional_embedding = positional_embedding

    def classifier(self, logits=False):
        """The classification path only (no decoder): one-hot → (batch, M).

        Args:
            logits: bool. Return pre-sigmoid logits instead of probabilities.

        Returns:
            A functional `keras.Model` sharing this model's layers and weights.
        """
        output = self.get_layer("logits" if logits else "modification").output
        return keras.Model(self.input, output, name=f"{self.name}_classifier")

    def code_indices(self, one_hot, batch_size=256):
        """Codebook index of every latent position.

        Args:
            one_hot: float32 array (n, sequence_length, 4).
            batch_size: int.

        Returns:
            int32 NumPy array (n, latent positions).
        """
        import numpy as np

        encoder = keras.Model(self.input, self.get_layer("latents").output)
        quantizer = self.get_layer("quantizer")
        out = []
        for start in range(0, len(one_hot), batch_size):
            latents = encoder(np.asarray(one_hot[start:start + batch_size], np.float32), training=False)
            out.append(keras.ops.convert_to_numpy(quantizer.code_indices(latents)))
        return np.concatenate(out).astype(np.int32) if out else np.zeros((0, latent_length(
            self.sequence_length)), np.int32)

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable,
            "sequence_length": self.sequence_length, "num_modifications": self.num_modifications,
            "modification_names": list(self.modification_names),
            "encoder_filters": list(self.encoder_filters), "hidden_dim": self.hidden_dim,
            "num_embeddings": self.num_embeddings, "commitment_cost": self.commitment_cost,
            "vq_loss_weight": self.vq_loss_weight, "use_ema": self.use_ema,
            "dead_code_threshold": self.dead_code_threshold,
            "num_layers": self.num_layers, "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim, "dropout": self.dropout,
            "head_dim": self.head_dim, "positional_embedding": self.positional_embedding,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="deepbio")
class _TakePosition(keras.layers.Layer):
    """(batch, length, d) → (batch, d) at a fixed position."""

    def __init__(self, position, **kwargs):
        super().__init__(**kwargs)
        self.position = int(position)

    def call(self, inputs):
        return inputs[:, self.position, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "position": self.position}


@keras.saving.register_keras_serializable(package="deepbio")
class _PositionEmbedding(keras.layers.Layer):
    """Adds a learned (length, d) position embedding."""

    def build(self, input_shape):
        self.embeddings = self.add_weight(shape=tuple(input_shape[1:]), name="embeddings",
                                          initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, inputs):
        return inputs + self.embeddings[None]

    def compute_output_shape(self, input_shape):
        return input_shape


def vqrna_from_config(config, names):
    """A `VQRNA` with one head per name, sized by a run config.

    Args:
        config: `deepbio.rnamod.task.RNAModConfig` (or any object with its
            size fields).
        names: list of str, the modification of each head.

    Returns:
        An unbuilt `VQRNA` named ``vqrna_<name>`` or ``vqrna_multitask``.
    """
    return VQRNA(sequence_length=config.sequence_length, num_modifications=len(names),
                 modification_names=list(names), encoder_filters=config.encoder_filters,
                 hidden_dim=config.hidden_dim, num_embeddings=config.num_embeddings,
                 commitment_cost=config.commitment_cost, vq_loss_weight=config.vq_weight,
                 use_ema=config.use_ema, dead_code_threshold=config.dead_code_threshold,
                 num_layers=config.num_layers, num_heads=config.num_heads,
                 intermediate_dim=config.intermediate_dim, dropout=config.dropout,
                 name="vqrna_" + ("multitask" if len(names) > 1 else names[0]))
