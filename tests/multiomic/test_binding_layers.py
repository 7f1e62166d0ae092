"""RoPE, attention and the segment mask of the multi-omic transformer."""

import math

import keras
import numpy as np
import pytest

from deepbio.layers import (MultiomicAttention, MultiomicTransformerLayer, RotaryEmbedding,
                            SegmentAttentionMask)
from deepbio.layers.multiomic_attention import attention_scale_value


def _rope(x, positions, max_wavelength=10000.0):
    """NumPy RoPE, interleaved pairs: (x[2i], x[2i+1]) rotated by position · λ^(-2i/d)."""
    half = x.shape[-1] // 2
    angles = positions[:, :, None] * max_wavelength ** (-np.arange(half) * 2.0 / x.shape[-1])
    cos, sin = np.cos(angles)[:, :, None, :], np.sin(angles)[:, :, None, :]
    even, odd = x[..., 0::2], x[..., 1::2]
    return np.stack([even * cos - odd * sin, even * sin + odd * cos], -1).reshape(x.shape)


def _attention(x, qkv_kernel, output_kernel, heads, scale, mask=None):
    """NumPy multi-head self-attention of MultiomicAttention: (outputs, probabilities)."""
    b, length, _ = x.shape
    qkv = (x @ qkv_kernel).reshape(b, length, 3, heads, -1)
    positions = np.tile(np.arange(length, dtype=np.float64), (b, 1))
    q, k, v = _rope(qkv[:, :, 0], positions), _rope(qkv[:, :, 1], positions), qkv[:, :, 2]
    logits = np.einsum("bqhd,bkhd->bhqk", q, k) * scale
    if mask is not None:
        logits = np.where(mask[:, None], logits, -1e9)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    out = np.einsum("bhqk,bkhd->bqhd", p, v).reshape(b, length, -1) @ output_kernel
    return out, p


def _layer_norm(x, gamma, beta, epsilon=1e-5):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + epsilon) * gamma + beta


def _scores(layer, x, positions):
    return keras.ops.convert_to_numpy(layer(x, positions=positions[None, :],
                                            return_attention_scores=True)[1])


def test_rope_scores_depend_only_on_relative_position():
    rng = np.random.default_rng(0)
    layer = MultiomicAttention(num_heads=2, attention_scale="standard")
    x = rng.normal(size=(1, 7, 16)).astype("float32")
    base = _scores(layer, x, np.arange(7))
    shifted = _scores(layer, x, np.arange(7) + 1000)
    np.testing.assert_allclose(base, shifted, atol=2e-5)
    # a different relative layout changes the scores (the test can fail)
    spread = _scores(layer, x, np.arange(7) * 3)
    assert np.abs(base - spread).max() > 1e-3


def test_rope_dot_product_is_a_function_of_the_offset():
    rng = np.random.default_rng(1)
    rope = RotaryEmbedding()
    q = rng.normal(size=(1, 1, 1, 8)).astype("float32")
    k = rng.normal(size=(1, 1, 1, 8)).astype("float32")
    dot = lambda m, n: float(np.sum(keras.ops.convert_to_numpy(rope(q, np.array([[m]])))
                                    * keras.ops.convert_to_numpy(rope(k, np.array([[n]])))))
    assert dot(3, 1) == pytest.approx(dot(12, 10), abs=1e-4)
    assert dot(0, 0) == pytest.approx(float(np.sum(q * k)), abs=1e-5)  # no rotation at offset 0
    assert abs(dot(3, 1) - dot(1, 3)) > 1e-4
    # interleaved pairs: position 1 rotates (x0, x1) by 1 radian
    x = np.zeros((1, 1, 1, 4), "float32")
    x[..., 0] = 1.0
    out = keras.ops.convert_to_numpy(rope(x, np.array([[1]])))[0, 0, 0]
    np.testing.assert_allclose(out, [math.cos(1), math.sin(1), 0, 0], atol=1e-6)


def test_attention_scale_options():
    assert attention_scale_value("mup", 64) == pytest.approx(1 / 64)
    assert attention_scale_value("standard", 64) == pytest.approx(1 / 8)
    assert attention_scale_value(0.5, 64) == 0.5
    with pytest.raises(ValueError, match="attention_scale"):
        attention_scale_value("cosine", 64)
    with pytest.raises(ValueError, match="divisible"):
        MultiomicAttention(num_heads=3)(np.zeros((1, 2, 8), "float32"))


def test_padding_mask_hides_keys():
    rng = np.random.default_rng(2)
    layer = MultiomicAttention(num_heads=2)
    x = rng.normal(size=(1, 5, 8)).astype("float32")
    mask = np.array([[[1, 1, 1, 0, 0]]], bool)
    out, scores = layer(x, attention_mask=mask, return_attention_scores=True)
    scores = keras.ops.convert_to_numpy(scores)
    assert np.all(scores[..., 3:] < 1e-6)
    # the probabilities and outputs, recomputed in NumPy from the layer's kernels (μP scale 1/d)
    qkv_kernel, output_kernel = (keras.ops.convert_to_numpy(w) for w in
                                 (layer.qkv_kernel, layer.output_kernel))
    expected_out, expected_scores = _attention(x, qkv_kernel, output_kernel, 2, 1 / 4, mask)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), expected_out, rtol=1e-4, atol=1e-5)
    # masking = the unmasked probabilities renormalised over the visible keys
    full = keras.ops.convert_to_numpy(layer(x, return_attention_scores=True)[1])
    np.testing.assert_allclose(scores[..., :3], full[..., :3] / full[..., :3].sum(-1, keepdims=True),
                               rtol=1e-4, atol=1e-6)
    # what a padded key holds does not matter
    x2 = x.copy()
    x2[0, 3:] = 100.0
    out2 = layer(x2, attention_mask=mask)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out)[0, :3],
                               keras.ops.convert_to_numpy(out2)[0, :3], atol=1e-5)


def test_segment_mask_isolates_the_protein():
    # <cls>=1, tags 4 (protein), 5 (DNA); pad 0
    ids = np.array([[1, 4, 10, 11, 2, 5, 20, 2, 0]])
    mask = SegmentAttentionMask([4, 5, 6], 4)(ids, ids != 0)
    mask = keras.ops.convert_to_numpy(mask)[0].astype(int)
    protein = [1, 2, 3, 4]
    expected = np.tile((ids[0] != 0).astype(int), (9, 1))
    for i in protein:
        expected[i] = [1 if j in protein else 0 for j in range(9)]
    np.testing.assert_array_equal(mask, expected)
    plain = keras.ops.convert_to_numpy(SegmentAttentionMask([4, 5, 6], None)(ids, ids != 0))[0]
    np.testing.assert_array_equal(plain, np.tile(ids[0] != 0, (9, 1)))
    with pytest.raises(ValueError, match="isolated_token_id"):
        SegmentAttentionMask([5, 6], 4)


def test_transformer_layer_config_round_trip_and_pre_norm():
    layer = MultiomicTransformerLayer(num_heads=2, intermediate_dim=16, attention_scale="standard",
                                      name="block")
    x = np.random.default_rng(3).normal(size=(2, 4, 8)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    clone = MultiomicTransformerLayer.from_config(layer.get_config())
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(clone(x)), y, atol=1e-6)
    assert len(layer.get_weights()) == 2 + 2 + 2 + 2  # 2 norms × (γ, β), qkv, out, gate_up, down
    # zero projections: the block is the identity (pre-norm residual stream)
    weights = layer.get_weights()
    layer.set_weights([np.zeros_like(w) if w.ndim == 2 else w for w in weights])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), x, atol=1e-6)


def test_transformer_layer_is_x_plus_attention_then_plus_swiglu():
    """y = h + SwiGLU(LN₂(h)), h = x + Attn(LN₁(x)), recomputed in NumPy from the weights."""
    rng = np.random.default_rng(4)
    layer = MultiomicTransformerLayer(num_heads=2, intermediate_dim=16, attention_scale="standard")
    x = rng.normal(size=(2, 4, 8)).astype("float32")
    layer(x)
    # non-trivial LayerNorm γ / β, so no branch reduces to a plain standardisation
    layer.attention_norm.set_weights([rng.normal(1.0, 0.3, 8), rng.normal(0.0, 0.3, 8)])
    layer.mlp_norm.set_weights([rng.normal(1.0, 0.3, 8), rng.normal(0.0, 0.3, 8)])
    w = {v.path.split("/")[-1]: keras.ops.convert_to_numpy(v) for v in layer.weights}
    x64 = x.astype(np.float64)
    attended, _ = _attention(_layer_norm(x64, *layer.attention_norm.get_weights()), w["qkv_kernel"],
                             w["output_kernel"], 2, 1 / np.sqrt(4))
    h = x64 + attended
    gate, up = np.split(_layer_norm(h, *layer.mlp_norm.get_weights()) @ w["gate_up_kernel"], 2, -1)
    swiglu = (up * gate / (1 + np.exp(-gate))) @ w["down_kernel"]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), h + swiglu, rtol=1e-4, atol=1e-5)
