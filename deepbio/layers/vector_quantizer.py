"""Vector quantizer: a learned codebook with straight-through gradients (VQ-VAE)."""

import keras
from keras import ops


def _replica_context():
    """TensorFlow's replica context when the step runs on several replicas, else None."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    return context if context is not None and context.num_replicas_in_sync > 1 else None


def _all_replicas_sum(value):
    """``value`` summed over the replicas of a `tf.distribute` step (itself on one replica)."""
    context = _replica_context()
    if context is None:
        return value
    import tensorflow as tf

    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def _first_replica(value):
    """The first replica's ``value`` on every replica (itself on one replica)."""
    context = _replica_context()
    if context is None:
        return value
    import tensorflow as tf

    first = tf.cast(tf.equal(context.replica_id_in_sync_group, 0), value.dtype)
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value * first)


@keras.saving.register_keras_serializable(package="deepbio")
class VectorQuantizer(keras.layers.Layer):
    """Maps each input vector to its nearest code of a learned codebook.

    The codebook is a ``(num_embeddings, embedding_dim)`` weight created in
    ``build()``. Every vector of the input's last axis is replaced by the
    code at the smallest Euclidean distance; gradients pass straight through
    (``inputs + stop_gradient(quantized - inputs)``, so d output / d input is
    the identity). The layer adds, with ``add_loss``,

    ``loss_weight * (codebook_loss + commitment_cost * commitment_loss)``

    where ``codebook_loss = mean((quantized - stop_gradient(inputs))**2)``
    moves the codes towards the encoder outputs and ``commitment_loss =
    mean((stop_gradient(quantized) - inputs)**2)`` keeps the encoder close to
    its codes. With ``use_ema=True`` the codebook is not trained by gradient
    but updated in training by exponential moving averages of the vectors
    assigned to each code (van den Oord et al. 2017, appendix A.1), and only
    the commitment term is added.

    Under a `tf.distribute` strategy with several replicas the EMA statistics
    and dead-code usage are summed over the replicas and restarted codes are
    taken from the first replica's batch, so every replica keeps the same
    codebook (Keras 3 does not synchronise assigned non-trainable weights).

    While training it tracks two metrics: ``perplexity`` (exp of the entropy
    of the batch's code-usage distribution; equals the number of codes used
    when they are used equally) and ``codebook_usage`` (the fraction of codes
    used at least once in the batch).

    Args:
        num_embeddings: int. Number of codes K (VQ-RNA: 512).
        embedding_dim: int. Code width D; the input's last axis must equal it
            (VQ-RNA: 64).
        commitment_cost: float. β, weight of the commitment loss (0.25).
        loss_weight: float. Factor on everything the layer adds with
            ``add_loss`` (VQ-RNA's w_vq = 0.0419 when the total loss is
            w_ce·CE + w_vq·VQ + w_rec·reconstruction).
        use_ema: bool. EMA codebook updates instead of the codebook loss.
        decay: float. EMA decay (0.99).
        epsilon: float. Laplace smoothing of the EMA cluster sizes.
        dead_code_threshold: float. When > 0, a code whose moving average of
            assignments per batch (decay ``dead_code_decay``) drops below it
            is moved onto a random input vector of the batch while training
            (dead-code restart; 0 = off, as upstream).
        dead_code_decay: float. Decay of that moving average (0.9: a code
            unused for ~22 batches is restarted with threshold 0.1).
        return_indices: bool. Also return the int32 code indices.
        seed: int or None. Seed of the dead-code restarts.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor (..., embedding_dim), e.g. (batch, length, D).
        training: bool. EMA updates and metrics happen only when True.

    Returns:
        float tensor shaped like ``inputs`` (the quantized vectors), or the
        tuple ``(quantized, indices)`` with int32 ``indices`` of shape
        ``inputs.shape[:-1]`` when ``return_indices``.

    Raises:
        ValueError: a non-positive size, ``decay`` outside (0, 1), or an
            input whose last axis is not ``embedding_dim``.

    References:
        van den Oord et al. 2017, "Neural Discrete Representation Learning",
        arXiv:1711.00937; VQ-RNA (github.com/1gao2/VQ-RNA,
        ``models/VQRNA.py::VectorQuantizer``, codebook initialised uniform in
        ±1/K); KerasHub ``models/rqvae/rqvae_layers.py::VectorQuantizerEMA``.
    """

    def __init__(self, num_embeddings, embedding_dim, commitment_cost=0.25, loss_weight=1.0,
                 use_ema=False, decay=0.99, epsilon=1e-5, dead_code_threshold=0.0,
                 dead_code_decay=0.9, return_indices=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        if num_embeddings < 1 or embedding_dim < 1:
            raise ValueError(f"num_embeddings and embedding_dim must be positive, got "
                             f"{num_embeddings} and {embedding_dim}")
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must lie in (0, 1), got {decay}")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.commitment_cost = float(commitment_cost)
        self.loss_weight = float(loss_weight)
        self.use_ema = bool(use_ema)
        self.decay = float(decay)
        self.epsilon = float(epsilon)
        self.dead_code_threshold = float(dead_code_threshold)
        self.dead_code_decay = float(dead_code_decay)
        self.return_indices = bool(return_indices)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.perplexity_tracker = keras.metrics.Mean(name="perplexity")
        self.usage_tracker = keras.metrics.Mean(name="codebook_usage")

    def build(self, input_shape):
        if input_shape[-1] != self.embedding_dim:
            raise ValueError(f"{self.name}: the input's last axis must be embedding_dim="
                             f"{self.embedding_dim}, got input shape {input_shape}")
        limit = 1.0 / self.num_embeddings
        self.embeddings = self.add_weight(
            shape=(self.num_embeddings, self.embedding_dim), name="embeddings",
            initializer=keras.initializers.RandomUniform(-limit, limit),
            trainable=not self.use_ema)
        if self.use_ema:
            self.ema_cluster_size = self.add_weight(
                shape=(self.num_embeddings,), name="ema_cluster_size", initializer="zeros",
                trainable=False)
            self.ema_dw = self.add_weight(
                shape=(self.num_embeddings, self.embedding_dim), name="ema_dw",
                initializer="zeros", trainable=False)
            self.ema_dw.assign(self.embeddings)
            self.ema_cluster_size.assign(ops.ones((self.num_embeddings,)))
        if self.dead_code_threshold > 0:
            self.code_usage = self.add_weight(shape=(self.num_embeddings,), name="code_usage",
                                              initializer="ones", trainable=False)

    def initialize_codebook(self, vectors, seed=None):
        """Data-dependent initialisation: codes = randomly chosen input vectors.

        Avoids the collapse onto one code that a codebook initialised near
        the origin (±1/K) suffers when encoder outputs are much larger (a
        common VQ-VAE remedy; cf. k-means initialisation in Jukebox /
        SoundStream). Call after ``build`` and before training.

        Args:
            vectors: float array (n, embedding_dim) or (..., embedding_dim),
                e.g. encoder outputs of training windows.
            seed: int or None, for the choice of vectors.

        Raises:
            ValueError: vectors of the wrong width, or none.
        """
        import numpy as np

        vectors = np.asarray(keras.ops.convert_to_numpy(vectors), np.float32)
        vectors = vectors.reshape(-1, vectors.shape[-1])
        if vectors.shape[-1] != self.embedding_dim or not len(vectors):
            raise ValueError(f"need (n, {self.embedding_dim}) vectors, got {vectors.shape}")
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(vectors), self.num_embeddings, replace=len(vectors) < self.num_embeddings)
        codes = vectors[pick] + rng.normal(0.0, 1e-3, (self.num_embeddings, self.embedding_dim))
        self.embeddings.assign(codes.astype(np.float32))
        if self.use_ema:
            self.ema_dw.assign(codes.astype(np.float32))
            self.ema_cluster_size.assign(np.ones(self.num_embeddings, np.float32))

    def code_indices(self, inputs):
        """Nearest-code indices: int32 tensor ``inputs.shape[:-1]``."""
        flat = ops.reshape(inputs, (-1, self.embedding_dim))
        return ops.reshape(self._nearest(flat), ops.shape(inputs)[:-1])

    def _nearest(self, flat):
        codebook = ops.cast(self.embeddings, flat.dtype)
        distances = (ops.sum(flat ** 2, axis=1, keepdims=True)
                     - 2.0 * ops.matmul(flat, ops.transpose(codebook))
                     + ops.sum(codebook ** 2, axis=1)[None, :])
        return ops.cast(ops.argmin(distances, axis=1), "int32")

    def call(self, inputs, training=None):
        flat = ops.reshape(inputs, (-1, self.embedding_dim))
        indices = self._nearest(flat)
        encodings = ops.one_hot(indices, self.num_embeddings, dtype=inputs.dtype)
        quantized = ops.reshape(ops.matmul(encodings, ops.cast(self.embeddings, inputs.dtype)),
                                ops.shape(inputs))
        commitment = ops.mean((ops.stop_gradient(quantized) - inputs) ** 2)
        if training and self.dead_code_threshold > 0:
            self._restart_dead_codes(ops.cast(flat, "float32"), ops.cast(encodings, "float32"))
        if self.use_ema:
            loss = self.commitment_cost * commitment
            if training:
                self._ema_update(ops.cast(flat, "float32"), ops.cast(encodings, "float32"))
        else:
            codebook = ops.mean((quantized - ops.stop_gradient(inputs)) ** 2)
            loss = codebook + self.commitment_cost * commitment
        self.add_loss(self.loss_weight * loss)
        if training:
            probabilities = ops.mean(encodings, axis=0)
            self.perplexity_tracker.update_state(
                ops.exp(-ops.sum(probabilities * ops.log(probabilities + 1e-10))))
            self.usage_tracker.update_state(ops.mean(ops.cast(probabilities > 0, "float32")))
        outputs = inputs + ops.stop_gradient(quantized - inputs)
        if self.return_indices:
            return outputs, ops.reshape(indices, ops.shape(inputs)[:-1])
        return outputs

    def _ema_update(self, flat, encodings):
        counts = _all_replicas_sum(ops.sum(encodings, axis=0))
        sums = _all_replicas_sum(ops.matmul(ops.transpose(encodings), flat))
        cluster_size = self.ema_cluster_size * self.decay + (1.0 - self.decay) * counts
        dw = self.ema_dw * self.decay + (1.0 - self.decay) * sums
        total = ops.sum(cluster_size)
        smoothed = (cluster_size + self.epsilon) / (total + self.num_embeddings * self.epsilon) * total
        self.ema_cluster_size.assign(cluster_size)
        self.ema_dw.assign(dw)
        self.embeddings.assign(dw / smoothed[:, None])

    def _restart_dead_codes(self, flat, encodings):
        """Codes whose EMA usage (vectors per batch) fell below the threshold
        are moved onto random vectors of the batch (Dhariwal et al. 2020,
        Jukebox, arXiv:2005.00341)."""
        usage = (self.code_usage * self.dead_code_decay
                 + (1.0 - self.dead_code_decay) * _all_replicas_sum(ops.sum(encodings, axis=0)))
        dead = usage < self.dead_code_threshold
        rows = keras.random.randint((self.num_embeddings,), 0, ops.shape(flat)[0],
                                    seed=self.seed_generator)
        fresh = _first_replica(ops.take(flat, rows, axis=0))
        self.embeddings.assign(ops.where(dead[:, None], fresh, self.embeddings))
        if self.use_ema:
            self.ema_dw.assign(ops.where(dead[:, None], fresh, self.ema_dw))
            self.ema_cluster_size.assign(ops.where(dead, ops.ones_like(usage), self.ema_cluster_size))
        self.code_usage.assign(ops.where(dead, ops.ones_like(usage), usage))

    def compute_output_shape(self, input_shape):
        if self.return_indices:
            return tuple(input_shape), tuple(input_shape[:-1])
        return tuple(input_shape)

    def compute_output_spec(self, inputs, training=None):
        quantized = keras.KerasTensor(inputs.shape, dtype=inputs.dtype)
        if self.return_indices:
            return quantized, keras.KerasTensor(inputs.shape[:-1], dtype="int32")
        return quantized

    def get_config(self):
        config = super().get_config()
        config.update({"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                       "commitment_cost": self.commitment_cost, "loss_weight": self.loss_weight,
                       "use_ema": self.use_ema, "decay": self.decay, "epsilon": self.epsilon,
                       "dead_code_threshold": self.dead_code_threshold,
                       "dead_code_decay": self.dead_code_decay,
                       "return_indices": self.return_indices, "seed": self.seed})
        return config
