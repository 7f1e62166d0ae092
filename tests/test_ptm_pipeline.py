import keras
import numpy as np
import pytest

import Feature_extraction_algorithms as fea
from deepbio.models.ptm.features import residue_features
from deepbio.models.ptm.sequence_model import ptm_sequence_model
from deepbio.tasks import ptm
from deepbio.training.ptm import build_classifier, decode, pstaap_features, tune_thresholds

ALPHABET = fea.PROTEIN_ALPHABET


def _windows(n, seed=0):
    rng = np.random.default_rng(seed)
    letters = rng.choice(list(ALPHABET), size=(n, 49))
    letters[:, 24] = "K"
    return ["".join(row) for row in letters]


def test_decode_never_returns_an_empty_set():
    p = np.array([[0.9, 0.2, 0.1, 0.1], [0.3, 0.45, 0.1, 0.2], [0.6, 0.7, 0.1, 0.8]])
    out = decode(p, np.array([0.5, 0.5, 0.5, 0.5]))
    assert out.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 1]]


def test_tune_thresholds_finds_the_separating_cut():
    # Label 1 is positive exactly when its probability exceeds 0.3: a 0.5 cut misses two.
    labels = np.array([[1, 0], [1, 1], [1, 1], [1, 0], [1, 0]])
    p = np.array([[0.9, 0.1], [0.9, 0.35], [0.9, 0.4], [0.9, 0.2], [0.9, 0.25]])
    assert (decode(p, np.array([0.5, 0.5])) == labels).all(axis=1).mean() == pytest.approx(0.6)
    thresholds = tune_thresholds(labels, p)
    assert 0.25 < thresholds[1] <= 0.35
    assert (decode(p, thresholds) == labels).all(axis=1).mean() == 1.0


def test_pstaap_cross_fit_gives_out_of_fold_values():
    windows = _windows(60)
    labels = np.zeros((60, 3), np.int32)  # unbalanced: two complementary labels alone cancel in Fr
    labels[:20, 0] = 1
    labels[20:, 1] = 1
    labels[:10, 2] = 1
    encoder, in_fold, (other,) = pstaap_features(windows, labels, [windows[:3]], cross_fit=False, seed=0)
    _, out_of_fold, (other_cf,) = pstaap_features(windows, labels, [windows[:3]], cross_fit=True, seed=0)
    np.testing.assert_array_equal(other, other_cf)  # held-out rows: the same full-data table
    np.testing.assert_array_equal(in_fold, encoder.transform(windows))
    assert not np.allclose(in_fold, out_of_fold)
    # Random windows share almost no tripeptide at a position, so a row's in-sample value is
    # its own label's contribution (positive for the rare labels), its out-of-fold value ~0.
    assert (in_fold[:10] > 0).mean() > 0.9
    assert np.abs(out_of_fold[:10]).mean() < 0.2 * np.abs(in_fold[:10]).mean()


def test_protein_windows_pads_the_ends():
    positions, windows = ptm.protein_windows("MKAK")
    assert positions == [2, 4]
    assert windows[0] == "-" * 23 + "MKAK" + "-" * 22
    assert windows[1] == "-" * 21 + "MKAK" + "-" * 24
    assert all(len(w) == 49 for w in windows)


def test_exported_model_equals_feature_pipeline(tmp_path):
    """model.keras (tokens in) gives what the classifier gives on NumPy features."""
    windows = _windows(40, seed=1)
    labels = np.eye(4, dtype=np.int32)[np.arange(40) % 4]
    encoders = ("physicochemical", "blosum62", "one_hot")
    encoder = fea.PSTAAP().fit(windows, labels)
    raw = encoder.transform(windows)
    mean, std = raw.mean(axis=0), raw.std(axis=0) + 1e-12
    config = ptm.PTMConfig(conv_filters=4, hidden_dim=8, num_heads=2, gru_units=4, intermediate_dim=8,
                           residue_encoders=encoders)
    residues = residue_features(windows, encoders)
    classifier = build_classifier(config, residues.shape[-1])
    expected = classifier.predict([((raw - mean) / std)[:, :, None], residues], verbose=0)
    model = ptm_sequence_model(classifier, encoder, (mean, std ** 2), encoders)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    tokens = ptm.encode_windows(windows)
    np.testing.assert_allclose(loaded.predict(tokens, verbose=0), expected, rtol=1e-4, atol=1e-5)


def test_config_rejects_unknown_encoder():
    with pytest.raises(ValueError, match="residue_encoders"):
        ptm.PTMConfig(residue_encoders=("physicochemical", "word2vec"))
