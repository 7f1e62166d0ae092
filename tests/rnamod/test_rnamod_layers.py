"""VectorQuantizer and TransformerEncoder: nearest code, straight-through, losses, EMA, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from deepbio.layers import TransformerEncoder, VectorQuantizer

CODEBOOK = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
POINTS = np.array([[[0.9, 0.2], [0.1, 0.8], [0.45, 0.4], [1.2, 0.7]]], np.float32)  # (1, 4, 2)


def _quantizer(**kwargs):
    layer = VectorQuantizer(4, 2, **kwargs)
    layer.build((None, 4, 2))
    layer.embeddings.assign(CODEBOOK)
    if layer.use_ema:
        layer.ema_dw.assign(CODEBOOK)
    return layer


def test_picks_the_nearest_code_of_a_hand_built_codebook():
    layer = _quantizer(return_indices=True)
    quantized, indices = layer(POINTS)
    assert np.asarray(indices).tolist() == [[1, 2, 0, 3]]
    np.testing.assert_array_equal(np.asarray(quantized), CODEBOOK[[[1, 2, 0, 3]]])
    np.testing.assert_array_equal(np.asarray(layer.code_indices(POINTS)), [[1, 2, 0, 3]])


def test_straight_through_gradient_is_the_identity():
    layer = _quantizer()
    x = tf.constant(POINTS)
    weights = tf.constant(np.random.default_rng(0).normal(size=POINTS.shape).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(layer(x) * weights)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), weights.numpy(), rtol=1e-6)


def test_loss_values_on_a_tiny_case():
    squared = np.mean((CODEBOOK[[1, 2, 0, 3]] - POINTS[0]) ** 2)
    assert squared == pytest.approx((0.05 + 0.05 + 0.3625 + 0.13) / 8, abs=1e-7)
    layer = _quantizer(commitment_cost=0.25, loss_weight=0.5)
    layer(POINTS)
    assert float(layer.losses[0]) == pytest.approx(0.5 * 1.25 * squared, rel=1e-5)
    ema = _quantizer(commitment_cost=0.25, loss_weight=0.5, use_ema=True)
    ema(POINTS)
    assert float(ema.losses[0]) == pytest.approx(0.5 * 0.25 * squared, rel=1e-5)


def test_codebook_gradient_moves_codes_only_through_the_codebook_loss():
    layer = _quantizer(commitment_cost=0.25)
    with tf.GradientTape() as tape:
        layer(POINTS)
        loss = layer.losses[0]
    grad = tape.gradient(loss, layer.embeddings).numpy()
    # d/dc mean((c - x)^2) over the 8 scalars: 2 (c - x) / 8 for each assigned vector.
    expected = np.zeros_like(CODEBOOK)
    for code, point in zip([1, 2, 0, 3], POINTS[0]):
        expected[code] += 2.0 * (CODEBOOK[code] - point) / 8.0
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7)


def test_ema_update_and_metrics():
    layer = _quantizer(use_ema=True, decay=0.5, epsilon=0.0)
    layer.ema_cluster_size.assign(np.ones(4, np.float32))
    layer(POINTS, training=True)
    # One vector per code: cluster size stays 1, dw = 0.5 * old + 0.5 * vector.
    np.testing.assert_allclose(layer.ema_cluster_size.numpy(), np.ones(4), rtol=1e-6)
    expected = 0.5 * CODEBOOK + 0.5 * POINTS[0][np.argsort([1, 2, 0, 3])]
    np.testing.assert_allclose(layer.embeddings.numpy(), expected, rtol=1e-5)
    assert float(layer.perplexity_tracker.result()) == pytest.approx(4.0, rel=1e-5)
    assert float(layer.usage_tracker.result()) == pytest.approx(1.0)


def test_perplexity_of_a_single_code_is_one():
    layer = _quantizer()
    layer(np.zeros((1, 4, 2), np.float32), training=True)
    assert float(layer.perplexity_tracker.result()) == pytest.approx(1.0, abs=1e-5)
    assert float(layer.usage_tracker.result()) == pytest.approx(0.25)


def test_dead_codes_are_restarted_on_batch_vectors():
    layer = VectorQuantizer(4, 2, dead_code_threshold=0.9, dead_code_decay=0.5, seed=1)
    layer.build((None, 4, 2))
    layer.embeddings.assign(CODEBOOK + 10.0)  # every vector goes to one far code
    x = np.array([[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]]], np.float32)
    layer(x, training=True)
    codes = layer.embeddings.numpy()
    restarted = [row for row in codes if np.any(np.all(np.isclose(row, x[0]), axis=1))]
    assert len(restarted) == 3  # usage 0.5 < 0.9 for the three unused codes; the used one keeps 2.5


def test_initialize_codebook_from_vectors():
    layer = VectorQuantizer(3, 2)
    layer.build((None, 5, 2))
    vectors = np.arange(20, dtype=np.float32).reshape(10, 2)
    layer.initialize_codebook(vectors, seed=0)
    codes = layer.embeddings.numpy()
    distances = np.abs(codes[:, None, :] - vectors[None]).max(axis=-1).min(axis=1)
    assert (distances < 0.01).all()
    with pytest.raises(ValueError, match="need"):
        layer.initialize_codebook(np.zeros((4, 3)))


def test_bad_input_width_is_rejected():
    with pytest.raises(ValueError, match="embedding_dim=2"):
        VectorQuantizer(4, 2)(np.zeros((1, 3, 5), np.float32))


@pytest.mark.parametrize("use_ema", [False, True])
def test_quantizer_keras_round_trip(tmp_path, use_ema):
    inputs = keras.Input((4, 2))
    outputs = VectorQuantizer(4, 2, use_ema=use_ema, dead_code_threshold=0.1, seed=3,
                              name="vq")(keras.layers.Dense(2)(inputs))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).normal(size=(3, 4, 2)).astype(np.float32)
    model.save(tmp_path / "vq.keras")
    loaded = keras.models.load_model(tmp_path / "vq.keras")
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(loaded(x)))
    assert loaded.get_layer("vq").get_config() == model.get_layer("vq").get_config()


@pytest.mark.parametrize("normalize_first", [False, True])
def test_transformer_encoder_padding_mask_and_round_trip(tmp_path, normalize_first):
    keras.utils.set_random_seed(0)
    layer = TransformerEncoder(intermediate_dim=8, num_heads=2, normalize_first=normalize_first)
    x = np.random.default_rng(1).normal(size=(2, 5, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    y = np.asarray(layer(x, padding_mask=mask))
    changed = x.copy()
    changed[0, 3:] += 5.0  # padded positions of window 0 must not matter to the others
    y2 = np.asarray(layer(changed, padding_mask=mask))
    np.testing.assert_allclose(y[0, :3], y2[0, :3], rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(layer(changed))[0, :3], y[0, :3])
    inputs = keras.Input((5, 4))
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "encoder.keras")
    loaded = keras.models.load_model(tmp_path / "encoder.keras")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)
    with pytest.raises(ValueError, match="divisible"):
        TransformerEncoder(8, 3)(x)


def _layer_norm(x, gamma, beta, epsilon=1e-5):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + epsilon) * gamma + beta


def _mha(x, weights, mask):
    """NumPy Keras MultiHeadAttention(x, x, x) with a (b, L, L) boolean mask."""
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    q = np.einsum("bld,dhk->blhk", x, wq) + bq
    k = np.einsum("bld,dhk->blhk", x, wk) + bk
    v = np.einsum("bld,dhk->blhk", x, wv) + bv
    logits = np.einsum("bqhk,bshk->bhqs", q, k) / np.sqrt(wq.shape[-1])
    logits = np.where(mask[:, None], logits, -1e9)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return np.einsum("bhqs,bshk,hkd->bqd", p, v, wo) + bo


@pytest.mark.parametrize("normalize_first", [False, True])
def test_transformer_encoder_equals_its_residual_formula(normalize_first):
    """Post-norm: y = LN₂(h + FFN(h)), h = LN₁(x + MHA(x)); pre-norm: h = x + MHA(LN₁ x),
    y = h + FFN(LN₂ h); recomputed in NumPy from random weights (LayerNorm γ / β included)."""
    rng = np.random.default_rng(5)
    layer = TransformerEncoder(intermediate_dim=6, num_heads=2, normalize_first=normalize_first)
    x = rng.normal(size=(2, 5, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    layer(x, padding_mask=mask)
    for sub in (layer.attention, layer.attention_norm, layer.intermediate, layer.output_dense,
                layer.output_norm):
        sub.set_weights([rng.normal(0.0, 0.5, w.shape).astype(np.float32)
                         for w in sub.get_weights()])
    ln1, ln2 = layer.attention_norm.get_weights(), layer.output_norm.get_weights()
    w1, b1 = layer.intermediate.get_weights()
    w2, b2 = layer.output_dense.get_weights()
    ffn = lambda h: np.maximum(h @ w1 + b1, 0.0) @ w2 + b2  # noqa: E731
    pairs = mask[:, :, None] & mask[:, None, :]
    attention = layer.attention.get_weights()
    if normalize_first:
        h = x + _mha(_layer_norm(x, *ln1), attention, pairs)
        expected = h + ffn(_layer_norm(h, *ln2))
    else:
        h = _layer_norm(x + _mha(x, attention, pairs), *ln1)
        expected = _layer_norm(h + ffn(h), *ln2)
    y = np.asarray(layer(x, padding_mask=mask))
    np.testing.assert_allclose(y[0, :3], expected[0, :3], rtol=1e-4, atol=1e-5)  # real positions
    np.testing.assert_allclose(y[1], expected[1], rtol=1e-4, atol=1e-5)
