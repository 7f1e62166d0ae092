import keras
import numpy as np
import pytest

from deepbio.layers import CrossAttention
from deepbio.models import PTMClassifier

TINY = dict(residue_channels=3, conv_filters=4, tower_filters=(4, 8), hidden_dim=8, num_heads=2,
            gru_units=4, intermediate_dim=8)


def _inputs(n=5, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, 46, 1)).astype("float32"),
            rng.normal(size=(n, 49, channels)).astype("float32")]


def test_output_shape_and_range():
    model = PTMClassifier(**TINY)
    y = model.predict(_inputs(), verbose=0)
    assert y.shape == (5, 4) and y.dtype == np.float32
    assert ((y > 0) & (y < 1)).all()
    assert model.get_layer("bigru").output.shape == (None, 8)


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


def test_cross_attention_layer_config_and_residual():
    layer = CrossAttention(num_heads=2, hidden_dim=8, dropout=0.0)
    q = np.random.default_rng(0).normal(size=(2, 3, 8)).astype("float32")
    c = np.random.default_rng(1).normal(size=(2, 5, 6)).astype("float32")
    out = np.asarray(layer(q, c))
    assert out.shape == (2, 3, 8)
    # Post-norm output: each position has zero mean and unit variance (LayerNorm, gamma=1, beta=0).
    np.testing.assert_allclose(out.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(-1), 1, atol=1e-2)
    clone = CrossAttention.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="divisible"):
        CrossAttention(num_heads=3, hidden_dim=8)
