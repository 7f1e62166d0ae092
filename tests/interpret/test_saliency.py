"""`deepbio.interpret.saliency.mean_saliency` against gradients known in closed form.

What `mean_saliency` computes (tf-keras-vis ``Saliency``): for output j and each
window, g = |d y_j / d x|, reduced over the channel axis by max, normalised per
window to (g - min) / (max - min + 1e-7), then averaged over the windows; one
(num_outputs, length) array per model input, each input normalised on its own.
"""

import keras
import numpy as np
import pytest

from deepbio.interpret.saliency import mean_saliency

EPS = 1e-7  # keras.backend.epsilon(), the denominator guard of tf-keras-vis' normalize()


def _normalise(maps):
    """Per-window min-max normalisation of (n, length) maps, as tf-keras-vis."""
    low = maps.min(axis=1, keepdims=True)
    high = maps.max(axis=1, keepdims=True)
    return (maps - low) / (high - low + EPS)


def _expected(gradients):
    """(n, length, channels) per-window gradients of one output → mean normalised map (length,)."""
    return _normalise(np.abs(gradients).max(axis=-1)).mean(axis=0)


def _quadratic_model(length, channels, a, activation=None):
    """y_j = Σ_{l,c} a[l, c, j] x[l, c]²  (→ d y_j / d x = 2 a[..., j] x); optional sigmoid on top."""
    inputs = keras.Input((length, channels))
    squared = keras.layers.Multiply()([inputs, inputs])
    flat = keras.layers.Flatten()(squared)
    logits = keras.layers.Dense(a.shape[-1], use_bias=False, name="logits")(flat)
    outputs = keras.layers.Activation(activation)(logits) if activation else logits
    model = keras.Model(inputs, outputs)
    model.get_layer("logits").set_weights([a.reshape(length * channels, -1)])
    return model


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    length, channels, outputs = 7, 3, 2
    a = rng.normal(size=(length, channels, outputs)).astype(np.float32)
    x = rng.normal(size=(5, length, channels)).astype(np.float32)
    return a, x


def test_vanilla_saliency_is_the_mean_normalised_abs_gradient(toy):
    a, x = toy
    model = _quadratic_model(7, 3, a)
    (result,) = mean_saliency(model, x, num_outputs=2, batch_size=2)  # 3 batches: 2 + 2 + 1
    assert result.shape == (2, 7) and result.dtype == np.float32
    for j in range(2):
        np.testing.assert_allclose(result[j], _expected(2.0 * a[None, :, :, j] * x), rtol=1e-5,
                                   atol=1e-6)
    # the windows differ (the gradient depends on x), so the mean is not one window's map
    first_window_only = _expected(2.0 * a[None, :, :, 0] * x[:1])
    assert np.abs(result[0] - first_window_only).max() > 0.05


def test_logits_layer_differentiates_before_the_sigmoid(toy):
    a, x = toy
    a = 0.1 * a  # |z| of order 1: the sigmoid is far from saturation (σ'(z) ≈ 0.1-0.25)
    model = _quadratic_model(7, 3, a, activation="sigmoid")
    (through_logits,) = mean_saliency(model, x, num_outputs=2, logits_layer="logits")
    expected = np.stack([_expected(2.0 * a[None, :, :, j] * x) for j in range(2)])
    np.testing.assert_allclose(through_logits, expected, rtol=1e-5, atol=1e-6)
    # through the sigmoid every window's gradient is scaled by σ'(z_j) > 0, a per-window factor
    # that the per-window normalisation removes (up to the 1e-7 guard)
    z = np.einsum("nlc,lcj->nj", x ** 2, a)
    assert 0.05 < (np.exp(-z) / (1 + np.exp(-z)) ** 2).min()
    (through_sigmoid,) = mean_saliency(model, x, num_outputs=2)
    np.testing.assert_allclose(through_sigmoid, expected, rtol=1e-4, atol=1e-5)


def test_smoothgrad_without_noise_equals_vanilla(toy):
    a, x = toy
    model = _quadratic_model(7, 3, a)
    (smooth,) = mean_saliency(model, x, num_outputs=2, smooth_samples=4, smooth_noise=0.0)
    np.testing.assert_allclose(smooth[1], _expected(2.0 * a[None, :, :, 1] * x), rtol=1e-5, atol=1e-6)


def test_smoothgrad_of_a_linear_model_is_noise_free_and_inputs_are_separate():
    # Two inputs of different lengths, y = W1·vec(x1) + W2·vec(x2) + b: the gradient is W
    # whatever the noise, so SmoothGrad with noise gives exactly the vanilla map, |W| reduced
    # by max over channels and normalised per input.
    rng = np.random.default_rng(1)
    first, second = keras.Input((6, 2)), keras.Input((4, 1))
    dense = keras.layers.Dense(3, name="logits")
    outputs = dense(keras.layers.Concatenate()([keras.layers.Flatten()(first),
                                                keras.layers.Flatten()(second)]))
    model = keras.Model([first, second], outputs)
    w = rng.normal(size=(16, 3)).astype(np.float32)
    dense.set_weights([w, rng.normal(size=3).astype(np.float32)])
    x = [rng.normal(size=(9, 6, 2)).astype(np.float32), rng.normal(size=(9, 4, 1)).astype(np.float32)]
    for samples, noise in ((0, 0.2), (5, 0.5)):
        maps = mean_saliency(model, x, num_outputs=3, smooth_samples=samples, smooth_noise=noise,
                             batch_size=4)
        assert [m.shape for m in maps] == [(3, 6), (3, 4)]
        for j in range(3):
            w1, w2 = w[:12, j].reshape(1, 6, 2), w[12:, j].reshape(1, 4, 1)
            np.testing.assert_allclose(maps[0][j], _expected(w1), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(maps[1][j], _expected(w2), rtol=1e-5, atol=1e-6)


def test_inputs_of_different_sizes_are_rejected(toy):
    a, x = toy
    with pytest.raises(ValueError, match="differ in number of windows"):
        mean_saliency(_quadratic_model(7, 3, a), [x, x[:3]], num_outputs=2)
