import keras
import numpy as np
import pytest

from deepbio.layers import CrossAttention
from deepbio.ptm.model import PTMClassifier

TINY = dict(residue_channels=3, conv_filters=4, tower_filters=(4, 8), hidden_dim=8, num_heads=2,
            gru_units=4, intermediate_dim=8)


def _inputs(n=5, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, 46, 1)).astype("float32"),
            rng.normal(size=(n, 49, channels)).astype("float32")]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_output_is_the_sigmoid_of_the_head_on_the_hidden_features():
    model = PTMClassifier(**TINY)
    x = _inputs()
    y = model.predict(x, verbose=0)
    assert y.shape == (5, 4) and y.dtype == np.float32
    assert model.get_layer("bigru").output.shape == (None, 8)
    # y = σ(h W + b), h the ReLU MLP layer's output (dropout is off at inference)
    hidden = keras.Model(model.inputs, model.get_layer("mlp_dense").output).predict(x, verbose=0)
    kernel, bias = model.get_layer("logits").get_weights()
    np.testing.assert_allclose(y, _sigmoid(hidden @ kernel + bias), rtol=1e-5, atol=1e-6)
    # set weights, hand-computed: a zero kernel leaves σ(b) whatever the input
    model.get_layer("logits").set_weights([np.zeros_like(kernel),
                                           np.array([0.0, np.log(3.0), -np.log(3.0), 2.0])])
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               np.tile([0.5, 0.75, 0.25, 1 / (1 + np.exp(-2.0))], (5, 1)), rtol=1e-6)


def test_keras_round_trip_identical(tmp_path):
    model = PTMClassifier(**TINY, name="ptm")
    x = _inputs()
    path = tmp_path / "ptm.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, PTMClassifier)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_result_independent_of_batch_size():
    model = PTMClassifier(**TINY)
    x = _inputs(n=9)
    np.testing.assert_allclose(model.predict(x, batch_size=2, verbose=0),
                               model.predict(x, batch_size=9, verbose=0), rtol=1e-5, atol=1e-6)


def test_training_fits_a_small_batch():
    keras.utils.set_random_seed(1)
    model = PTMClassifier(**TINY, dropout=0.0, head_dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    x = _inputs(n=32)
    y = (np.random.default_rng(0).random((32, 4)) > 0.5).astype("float32")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=60, batch_size=32, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before - 0.2


def test_mismatched_sizes_raise():
    with pytest.raises(ValueError, match="tower_filters"):
        PTMClassifier(hidden_dim=16, tower_filters=(32, 64))
    with pytest.raises(ValueError, match="branch lengths differ"):
        PTMClassifier(**{**TINY, "residue_length": 101})


def _layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(-1, keepdims=True) + epsilon) * gamma + beta


def test_cross_attention_is_layer_norm_of_query_plus_attention():
    """output = LayerNorm(q + MHA(q, c, c)), recomputed in NumPy from the layer's weights."""
    rng = np.random.default_rng(0)
    layer = CrossAttention(num_heads=2, hidden_dim=8, dropout=0.0)
    q = rng.normal(size=(2, 3, 8)).astype("float32")
    c = rng.normal(size=(2, 5, 6)).astype("float32")
    layer(q, c)
    # random weights everywhere, LayerNorm γ / β included (so the output is not standardised)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32")
                       for w in layer.get_weights()])
    wq, bq, wk, bk, wv, bv, wo, bo, gamma, beta = layer.get_weights()
    query = np.einsum("btd,dhk->bthk", q, wq) + bq
    key = np.einsum("bsd,dhk->bshk", c, wk) + bk
    value = np.einsum("bsd,dhk->bshk", c, wv) + bv
    logits = np.einsum("bthk,bshk->bhts", query, key) / np.sqrt(4.0)  # key_dim = 8 / 2
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    attended = np.einsum("bhts,bshk->bthk", weights, value)
    attended = np.einsum("bthk,hkd->btd", attended, wo) + bo
    expected = _layer_norm(q + attended, gamma, beta, 1e-5)
    np.testing.assert_allclose(np.asarray(layer(q, c)), expected, rtol=1e-4, atol=1e-5)
    # the residual: with a zero attention output the block is LayerNorm(q)
    zeroed = layer.get_weights()
    zeroed[6], zeroed[7] = np.zeros_like(zeroed[6]), np.zeros_like(zeroed[7])
    layer.set_weights(zeroed)
    np.testing.assert_allclose(np.asarray(layer(q, c)), _layer_norm(q, gamma, beta, 1e-5),
                               rtol=1e-4, atol=1e-5)
    clone = CrossAttention.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="divisible"):
        CrossAttention(num_heads=3, hidden_dim=8)
