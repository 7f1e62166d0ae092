"""ISM (batched == naive), logo matrix, TF-IDF feature spectrum."""

import keras
import numpy as np
import pandas as pd
import pytest

from deepbio.rnamod.data import one_hot_rna
from deepbio.interpret.ism import ism_importance, naive_ism, plot_ism, reference_logo_matrix, saturation_mutagenesis
from deepbio.rnamod.feature_spectrum import sort_by_specificity, term_frequencies, tf_idf_matrix, write_feature_spectrum
from deepbio.rnamod.model import VQRNA


def _toy_model(length=21):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((length, 4))
    x = keras.layers.Conv1D(6, 5, activation="relu")(inputs)
    x = keras.layers.GlobalMaxPooling1D()(x)
    outputs = keras.layers.Dense(2, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


def _windows(n, length, seed=0):
    rng = np.random.default_rng(seed)
    return one_hot_rna(["".join(rng.choice(list("ACGU"), length)) for _ in range(n)])


def test_batched_ism_equals_naive_ism():
    model = _toy_model()
    X = _windows(3, 21)
    fast = saturation_mutagenesis(model, X, start=4, end=15, output_index=1, batch_size=7)
    slow = naive_ism(model, X, start=4, end=15, output_index=1)
    assert fast.shape == (3, 11, 4)
    np.testing.assert_allclose(fast, slow, atol=1e-6)
    assert np.abs(slow).max() > 1e-3  # the toy model does respond to mutations
    np.testing.assert_array_equal(fast[X[:, 4:15] == 1], 0.0)  # reference bases score 0


def test_ism_of_a_linear_model_is_the_weight_difference():
    # y_j = Σ_{l,b} w[l, b, j] x[l, b] + c_j: mutating position l from base r to b changes y_j by
    # w[l, b, j] − w[l, r, j], whatever the rest of the window.
    rng = np.random.default_rng(2)
    w = rng.normal(size=(9, 4, 2))
    inputs = keras.Input((9, 4))
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    dense.set_weights([w.reshape(36, 2).astype("float32"), np.array([0.3, -1.0], "float32")])
    X = _windows(3, 9, seed=4)
    result = saturation_mutagenesis(model, X, start=2, end=8, output_index=1, batch_size=5)
    reference = np.einsum("nlb,lb->nl", X, w[:, :, 1])  # weight of each window's own base
    expected = w[None, 2:8, :, 1] - reference[:, 2:8, None]
    np.testing.assert_allclose(result, expected, atol=1e-5)


def test_ism_does_not_depend_on_batch_size_and_works_on_vqrna():
    model = VQRNA(51, encoder_filters=(8, 16), hidden_dim=16, num_embeddings=32, num_layers=1,
                  num_heads=2, intermediate_dim=16, head_dim=8).classifier()
    X = _windows(2, 51, seed=3)
    a = saturation_mutagenesis(model, X, batch_size=32)
    b = saturation_mutagenesis(model, X, batch_size=1000)
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(a[:, 20:26], naive_ism(model, X, start=20, end=26), atol=1e-6)


def test_ism_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(n, length, 4\)"):
        saturation_mutagenesis(_toy_model(), np.zeros((2, 21)))
    with pytest.raises(ValueError, match="start"):
        saturation_mutagenesis(_toy_model(), _windows(1, 21), start=5, end=3)


def test_importance_and_logo_matrix_pinned():
    attributions = np.zeros((2, 2, 4))
    attributions[0, 0] = [0.0, -0.3, -0.3, -0.3]   # window 0, A at position 0: mutating it costs 0.3
    attributions[1, 0] = [0.6, 0.0, 0.0, 0.3]      # window 1, C at position 0: mutating it helps
    X = one_hot_rna(["AG", "CG"])
    np.testing.assert_allclose(ism_importance(attributions), [(0.9 + 0.9) / 2, 0.0])
    logo = reference_logo_matrix(attributions, X)
    np.testing.assert_allclose(logo[0], [0.15, -0.15, 0.0, 0.0])
    np.testing.assert_allclose(logo[1], 0.0)


def test_plot_ism_writes_files(tmp_path):
    X = _windows(3, 41)
    attributions = np.random.default_rng(0).normal(size=(3, 41, 4))
    files = plot_ism(attributions, X, tmp_path, "Am", flank=5)
    assert {f.name for f in files} == {"Am_importance.svg", "Am_importance.png", "Am_importance.csv",
                                       "Am_logo.svg", "Am_logo.png"}
    assert all(f.stat().st_size > 0 for f in files)
    assert pd.read_csv(tmp_path / "Am_importance.csv")["position"].tolist() == list(range(-20, 21))


def test_tf_idf_pinned_and_sorted():
    assert term_frequencies(np.array([[0, 0, 2], [2, 2, 2]]), 4).tolist() == [2 / 2, 0.0, 4 / 2, 0.0]
    with pytest.raises(ValueError, match="0..3"):
        term_frequencies(np.array([[4]]), 4)
    tf = np.array([[1.0, 0.0], [2.0, 2.0], [0.0, 0.0], [0.0, 3.0]])
    matrix, kept = tf_idf_matrix(tf)
    assert kept.tolist() == [0, 1, 3]
    raw = np.array([[1 * np.log(3), 0.0], [2 * np.log(2), 2 * np.log(2)], [0.0, 3 * np.log(3)]])
    z = (raw - raw.mean(1, keepdims=True)) / np.where(raw.std(1, ddof=1) > 0, raw.std(1, ddof=1), 1)[:, None]
    np.testing.assert_allclose(matrix, z)
    order = sort_by_specificity(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.95, 0.05]]))
    assert order.tolist() == [3, 1, 0, 2]


def test_feature_spectrum_files(tmp_path):
    codes = {"Am": np.array([[0, 1, 1], [0, 0, 1]]), "Cm": np.array([[2, 2, 1]])}
    files = write_feature_spectrum(codes, 4, tmp_path)
    frame = pd.read_csv(tmp_path / "tf_idf_matrix_sorted.csv")
    assert list(frame.columns) == ["code", "specific_to", "Am", "Cm"]
    # codes 0 and 1 lean to Am (z = ±0.707 with two columns, a tie), code 2 to Cm
    assert sorted(frame["code"][:2]) == [0, 1] and frame["code"][2] == 2
    assert frame["specific_to"].tolist() == ["Am", "Am", "Cm"]
    assert (tmp_path / "feature_spectrum.svg").stat().st_size > 0 and len(files) == 2
