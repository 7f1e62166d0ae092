"""RoPE, attention and the segment mask of the multi-omic transformer."""

import math

import keras
import numpy as np
import pytest

from deepbio.layers import (MultiomicAttention, MultiomicTransformerLayer, RotaryEmbedding,
                            SegmentAttentionMask)
from deepbio.layers.multiomic_attention import attention_scale_value


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
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-5)
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
    layer.set_weights([np.zeros_like(w) if w.ndim == 2 else w for w in layer.get_weights()])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), x, atol=1e-6)
