import keras
import numpy as np
import pytest

import Feature_extraction_algorithms as fea
from deepbio.ptm.features import residue_features
from deepbio.ptm.sequence_model import ptm_sequence_model
from deepbio.ptm import task as ptm
from deepbio.ptm.training import build_classifier, decode, pstaap_features, tune_thresholds

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


# ---------------------------------------------------------------------------------------------
# Window features, calibration, thresholds, the tree predictor, grouped CV
# ---------------------------------------------------------------------------------------------
def test_kspaced_pairs_and_region_composition_by_hand():
    # "AC-A" with gap 0: only AC is a valid pair ('-' takes part in none); "CCAA": CC, CA, AA
    x = fea.kspaced_pairs(["AC-A", "CCAA"], ks=(0, 1), alphabet="AC")
    np.testing.assert_allclose(x[0], [0, 1, 0, 0, 0, 0, 1, 0])  # gap 1: C.A only
    np.testing.assert_allclose(x[1, :4], [1 / 3, 0, 1 / 3, 1 / 3])
    np.testing.assert_allclose(x[1, 4:], [0, 0, 1, 0])  # C.A twice
    shares = fea.region_composition(["AC-A"], [(0, 2), (2, 4)], alphabet="AC")
    np.testing.assert_allclose(shares, [[0.5, 0.5, 1.0, 0.0]])


def test_window_features_blocks():
    from deepbio.ptm.features import WINDOW_BLOCKS, block_width, window_features

    window = "A" * 23 + "CK" + "D" * 22 + "--"
    for block in WINDOW_BLOCKS:
        assert window_features([window], (block,)).shape == (1, block_width(block)), block
    one_hot = window_features([window], ("one_hot",)).reshape(48, 20)
    assert one_hot[23, ALPHABET.index("C")] == 1 and one_hot[0, 0] == 1  # K column dropped
    assert one_hot[-1].sum() == 0 and one_hot[-3, ALPHABET.index("D")] == 1  # padding: all 0
    composition = window_features([window], ("composition",))[0]
    assert composition[ALPHABET.index("A")] == pytest.approx(23 / 47)
    assert composition[-1] == pytest.approx(2 / 49)  # padding share
    with pytest.raises(ValueError, match="word2vec"):
        window_features([window], ("word2vec",))


def test_platt_and_isotonic_calibration_recover_the_true_probabilities():
    from deepbio.ptm.calibration import LabelCalibrator

    rng = np.random.default_rng(0)
    true_p = rng.uniform(0.02, 0.98, size=(20000, 1))
    labels = (rng.uniform(size=true_p.shape) < true_p).astype(int)
    overconfident = 1 / (1 + np.exp(-3 * np.log(true_p / (1 - true_p))))  # logit × 3
    platt = LabelCalibrator("platt").fit(overconfident, labels)
    assert platt.slopes_[0] == pytest.approx(1 / 3, abs=0.03)
    np.testing.assert_allclose(platt.transform(overconfident), true_p, atol=0.03)
    iso = LabelCalibrator("isotonic").fit(overconfident, labels)
    assert np.abs(iso.transform(overconfident) - true_p).mean() < 0.03
    assert np.array_equal(LabelCalibrator("none").fit(overconfident, labels).transform(overconfident),
                          overconfident)


def test_thresholds_for_each_objective():
    from deepbio.ptm.calibration import choose_thresholds, parse_objective
    from deepbio.ptm.training import decide

    labels = np.array([[1], [1], [0], [1], [0], [0]])
    scores = np.array([[0.9], [0.8], [0.7], [0.6], [0.3], [0.2]])
    # MCC by hand: cut at 0.6 calls 4 (tp 3, fp 1, tn 2): (3·2 − 1·0)/sqrt(4·3·3·2) = 0.707;
    # at 0.8 (tp 2, fp 0, fn 1, tn 3): 6/sqrt(2·3·4·3) = 0.707 too; the lower cut is found first
    assert choose_thresholds(labels, scores, "mcc")[0] == pytest.approx(0.6)
    # precision ≥ 0.9: only 0.9 and 0.8 qualify together (the 0.7 call is wrong): cut 0.8
    assert choose_thresholds(labels, scores, "precision=0.9")[0] == pytest.approx(0.8)
    assert choose_thresholds(labels, scores, "precision=0.99")[0] == pytest.approx(0.8)
    assert choose_thresholds(labels[2:], scores[2:], "precision=0.99")[0] > 1  # out of reach
    with pytest.raises(ValueError, match="precision=P"):
        parse_objective("recall=0.5")
    # under a precision objective a window may get no call; otherwise its best label is called
    p = np.array([[0.2, 0.1]])
    assert decide(p, np.array([0.5, 0.5]), "precision=0.9").tolist() == [[0, 0]]
    assert decide(p, np.array([0.5, 0.5]), "mcc").tolist() == [[1, 0]]


def _tiny_tree_config(**changes):
    return ptm.PTMConfig(tree_iterations=30, inner_folds=2, **changes)


def test_tree_predictor_round_trip_and_in_fold_protocol(tmp_path):
    from deepbio.ptm.predictor import (WindowEnsemble, decide, load_ptm_predictor,
                                              save_ptm_predictor)
    from deepbio.ptm.trees import MODEL_BLOCKS, fit_window_model, window_feature_blocks

    from deepbio.ptm.data import combination_to_labels

    rng = np.random.default_rng(0)
    windows = _windows(400, seed=3)
    # a residue at +1 in DEKR makes the combination "ac" (code 5), else one of a, c, m, s at random
    classes = np.where([w[25] in "DEKR" for w in windows], 5, rng.choice([1, 2, 3, 4], size=400))
    labels = combination_to_labels(classes)
    for kind in ("trees", "powerset", "stack"):
        config = _tiny_tree_config(model_type=kind)
        features = window_feature_blocks(windows[:360], (kind,))
        model, raw, calibrated = fit_window_model(config, features, labels[:360], classes[:360],
                                                  MODEL_BLOCKS)
        assert isinstance(model, WindowEnsemble) and model.thresholds.shape == (4,)
        assert raw.shape == calibrated.shape == (360, 4)
        probabilities = model.predict_proba(windows[360:])
        assert probabilities.shape == (40, 4) and ((0 <= probabilities) & (probabilities <= 1)).all()
        crotonylated = labels[360:, 1] == 1
        assert probabilities[crotonylated, 1].mean() > probabilities[~crotonylated, 1].mean(), kind
        save_ptm_predictor(model, tmp_path / "ptm_model.skops")
        loaded = load_ptm_predictor(tmp_path)
        np.testing.assert_array_equal(loaded.predict_proba(windows[360:]), probabilities)
        np.testing.assert_array_equal(loaded.thresholds, model.thresholds)
        assert decide(loaded, probabilities).sum(axis=1).min() >= 1
    (tmp_path / "bad.skops").write_bytes(b"not a skops file")
    with pytest.raises(ValueError, match="bad.skops is not a skops file saved by deepbio"):
        load_ptm_predictor(tmp_path / "bad.skops")


def test_label_mixer_uses_the_other_labels():
    from deepbio.ptm.calibration import fit_label_mixer, mix_labels

    rng = np.random.default_rng(1)
    # label 1 is exactly "not label 0": its own score is noise, label 0's score tells it
    scores = np.column_stack([rng.uniform(0.05, 0.95, 4000), rng.uniform(0.05, 0.95, 4000)])
    label0 = (rng.uniform(size=4000) < scores[:, 0]).astype(int)
    labels = np.column_stack([label0, 1 - label0])
    weights = fit_label_mixer(scores, labels)
    assert weights.shape == (2, 3)
    assert weights[1, 0] < -0.5 and abs(weights[1, 1]) < 0.2  # label 1 leans on label 0's logit
    mixed = mix_labels(scores, weights)
    np.testing.assert_allclose(mixed[:, 0] + mixed[:, 1], 1.0, atol=0.05)


def test_grouped_cv_keeps_each_accession_on_one_side():
    from deepbio.ptm.data import PTMDataset
    from deepbio.ptm.training import cv_splits

    rng = np.random.default_rng(0)
    n = 300
    accessions = [f"P{i // 3}" for i in range(n)]  # three windows per protein
    classes = rng.choice([1, 2, 3], size=n, p=[0.6, 0.25, 0.15])
    data = PTMDataset(_windows(n), accessions, classes, np.eye(4, dtype=int)[classes - 1])
    for train, test in cv_splits(data, 5, 0, "grouped"):
        assert not {accessions[i] for i in train} & {accessions[i] for i in test}
    shared = [bool({accessions[i] for i in tr} & {accessions[i] for i in te})
              for tr, te in cv_splits(data, 5, 0, "stratified")]
    assert any(shared)  # the stratified folds do split proteins


def test_exported_network_applies_its_platt_calibration(tmp_path):
    from deepbio.ptm.predictor import load_ptm_predictor
    from deepbio.ptm.calibration import LabelCalibrator

    windows = _windows(30, seed=2)
    labels = np.eye(4, dtype=np.int32)[np.arange(30) % 4]
    encoders = ("physicochemical",)
    encoder = fea.PSTAAP().fit(windows, labels)
    raw = encoder.transform(windows)
    mean, var = raw.mean(axis=0), raw.var(axis=0) + 1e-12
    config = ptm.PTMConfig(conv_filters=4, hidden_dim=8, num_heads=2, gru_units=4, intermediate_dim=8,
                           residue_encoders=encoders)
    classifier = build_classifier(config, residue_features(windows, encoders).shape[-1])
    uncalibrated = ptm_sequence_model(classifier, encoder, (mean, var), encoders)
    tokens = ptm.encode_windows(windows)
    p = uncalibrated.predict(tokens, verbose=0)
    calibrator = LabelCalibrator("platt")
    calibrator.slopes_, calibrator.intercepts_ = np.array([2.0, 1, 0.5, 1]), np.array([0, 1.0, 0, -1])
    calibrator.isotonic_ = [None] * 4
    model = ptm_sequence_model(classifier, encoder, (mean, var), encoders, calibration=calibrator)
    model.save(tmp_path / "model.keras")
    (tmp_path / "thresholds.json").write_text(
        '{"labels": ["a", "c", "m", "s"], "thresholds": [0.5, 0.4, 0.3, 0.2], "objective": "mcc"}')
    predictor = load_ptm_predictor(tmp_path)
    np.testing.assert_allclose(predictor.predict_proba(windows), calibrator.transform(p), atol=1e-5)
    assert predictor.thresholds.tolist() == [0.5, 0.4, 0.3, 0.2] and predictor.labels == tuple("acms")


def test_network_model_type_still_runs_end_to_end(tmp_path, data_dir):
    """--model-type network: in-fold calibration and thresholds, model.keras with them inside."""
    import json

    from deepbio.ptm.predictor import KerasPredictor, load_ptm_predictor
    from deepbio.core.run_folder import run_task

    report = run_task("ptm", tmp_path / "run", data_dir=data_dir, verbose=0, model_type="network",
                      epochs=1, folds=2, max_windows=700, conv_filters=4, hidden_dim=8, num_heads=2,
                      gru_units=4, intermediate_dim=8, grouped_cv=False, compare=("none",),
                      saliency_windows=8, call_at="precision=0.9",
                      residue_encoders=("physicochemical",))
    assert report["grouped_cv"] is None and set(report["models"]) == {"network"}
    assert report["cv"]["per_label"]["a"]["ece"] is not None
    assert all("epochs_run" in fold for fold in report["cv_folds"])
    predictor = load_ptm_predictor(tmp_path / "run")
    assert isinstance(predictor, KerasPredictor) and predictor.objective == "precision=0.9"
    saved = json.loads((tmp_path / "run" / "thresholds.json").read_text())
    assert saved["thresholds"] == predictor.thresholds.tolist()
    assert predictor.model.get_layer("calibration") is not None  # Platt layer inside model.keras
    p = predictor.predict_proba(["A" * 24 + "K" + "C" * 24, "-" * 20 + "MA" * 2 + "K" + "G" * 24])
    assert p.shape == (2, 4) and ((p > 0) & (p < 1)).all()
    assert (tmp_path / "run" / "cv_saliency_residues.png").is_file()
    assert (tmp_path / "run" / "reliability_diagram.png").is_file()


@pytest.mark.parametrize("protocol, run_type, kept", [
    ("stratified", "linear", [False, False, True]),  # the last fold's model feeds the CV maps
    ("grouped", "linear", [False, False, False]),
    ("stratified", "trees", [False, False, False])])  # linear compared within a trees run
def test_only_the_last_stratified_fold_keeps_its_model(protocol, run_type, kept):
    """Fold results (checkpointed per fold) carry scores; a model only where the run reads it
    again, so that a fold's save is not a skops dump of its trees."""
    from deepbio.ptm.data import PTMDataset, combination_to_labels
    from deepbio.ptm.training import cross_validate
    from deepbio.ptm.trees import window_feature_blocks

    rng = np.random.default_rng(0)
    n = 240
    classes = rng.choice([1, 2, 3, 4, 5], size=n)
    data = PTMDataset(_windows(n, seed=4), [f"P{i // 2}" for i in range(n)], classes,
                      combination_to_labels(classes))
    saved = {}

    def unit(key, compute):
        saved[key] = compute()
        return saved[key]

    config = ptm.PTMConfig(model_type=run_type, folds=3, inner_folds=2)
    cv = cross_validate(config, data, window_feature_blocks(data.windows, ("linear",)), {},
                        verbose=0, protocol=protocol, model_type="linear", unit=unit)
    keys = [f"{protocol}_linear_fold{k}" for k in (1, 2, 3)]
    assert list(saved) == keys
    assert ["model" in saved[k] for k in keys] == kept
    assert ("model" in cv["last"]) == kept[-1]
    assert cv["probabilities"].shape == (n, 4) and len(cv["folds"]) == 3
