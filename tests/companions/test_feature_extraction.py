"""Tests for the Feature_extraction_algorithms package (encoders and Keras layers)."""

import inspect

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from Feature_extraction_algorithms import (
    DEFAULT_SCALES,
    DNA_ALPHABET,
    PROTEIN_ALPHABET,
    PSTAAP,
    RNA_ALPHABET,
    BLOSUM62Encoder,
    OneHotEncoding,
    PhysicochemicalEmbedding,
    PhysicochemicalEncoder,
    PSTAAPEncoding,
    available_scales,
    blosum62,
    encode_residues,
    one_hot,
)

# ----------------------------------------------------------------------------- alphabets / one-hot


def test_alphabet_constants():
    assert PROTEIN_ALPHABET == "ACDEFGHIKLMNPQRSTVWY"
    assert DNA_ALPHABET == "ACGT"
    assert RNA_ALPHABET == "ACGU"


@pytest.mark.parametrize(
    "seqs, alphabet, expected",
    [
        (["ACGT"], "dna", [[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]]),
        (["TTA", "gca"], "dna", [[[0, 0, 0, 1], [0, 0, 0, 1], [1, 0, 0, 0]], [[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0]]]),
        (["ACGU"], "rna", [[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]]),
        (["ban"], "nab", [[[0, 0, 1], [0, 1, 0], [1, 0, 0]]]),
    ],
)
def test_one_hot_exact(seqs, alphabet, expected):
    out = one_hot(seqs, alphabet)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array(expected, dtype=np.float32))


def test_one_hot_protein_channels_follow_alphabet():
    out = one_hot(["WAK", "kyc"])
    assert out.shape == (2, 3, 20)
    assert out.sum() == 6
    hot = np.argmax(out, axis=-1)
    assert hot.tolist() == [[18, 0, 8], [8, 19, 1]]  # W=18 A=0 K=8 / K=8 Y=19 C=1


def test_one_hot_dtype():
    assert one_hot(["AC"], "dna", dtype="int8").dtype == np.int8


def test_n_is_all_zero_row_for_nucleotides():
    out = one_hot(["ANnT"], "dna")
    np.testing.assert_array_equal(out[0, 1], 0)
    np.testing.assert_array_equal(out[0, 2], 0)
    np.testing.assert_array_equal(out[0, 0], [1, 0, 0, 0])
    assert encode_residues(["ANT"], "rna").tolist() == [[0, -1, 3]]  # T read as U (index 3)


def test_unknown_value_fills_n_rows_only():
    out = one_hot(["ANnU"], "rna", unknown_value=0.25)
    np.testing.assert_array_equal(out[0, 1:3], 0.25)
    np.testing.assert_array_equal(out[0, [0, 3]], [[1, 0, 0, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(one_hot(["AT"], "rna", unknown_value=0.25), one_hot(["AU"], "rna"))


def test_n_is_asparagine_for_protein():
    # N is asparagine in protein, so it must be a real channel there.
    assert encode_residues(["N"]).tolist() == [[PROTEIN_ALPHABET.index("N")]]


def test_u_and_t_interchange():
    np.testing.assert_array_equal(one_hot(["ACGU"], "dna"), one_hot(["ACGT"], "dna"))
    np.testing.assert_array_equal(one_hot(["ACGT"], "rna"), one_hot(["ACGU"], "rna"))
    assert encode_residues(["u"], "dna").tolist() == [[3]]


def test_unknown_letter_names_record_id_position_letter():
    with pytest.raises(ValueError, match=r"record 1 \(id 'seq2'\): invalid letter 'X' at position 3"):
        one_hot(["ACGT", "ACXT"], "dna", ids=["seq1", "seq2"])
    with pytest.raises(ValueError, match=r"record 0: invalid letter 'B' at position 2"):
        one_hot(["AB"])
    with pytest.raises(ValueError, match=r"record 1: invalid letter 'é' at position 1"):
        one_hot(["AA", "éA"])


def test_unequal_lengths_name_first_offending_record():
    with pytest.raises(ValueError, match=r"record 2 has length 3 but record 0 has length 4"):
        one_hot(["ACGT", "ACGA", "ACG", "A"], "dna")
    with pytest.raises(ValueError, match=r"record 0 \(id 'a'\) has length 4, expected length=3"):
        one_hot(["ACGT"], "dna", length=3, ids=["a"])
    with pytest.raises(ValueError, match=r"record 1 has length 2, expected length=3"):
        one_hot(["ACG", "AC"], "dna", length=3)  # shorter ones are not padded either


def test_encode_residues_indices_and_validation():
    idx = encode_residues(["ACDY", "wvtk"])
    assert idx.dtype == np.int32
    assert idx.tolist() == [[0, 1, 2, 19], [18, 17, 16, 8]]
    with pytest.raises(ValueError, match="ids has 1 entries"):
        encode_residues(["A", "C"], ids=["x"])
    with pytest.raises(TypeError, match="record 1"):
        encode_residues(["A", 5])
    with pytest.raises(ValueError, match="repeats a letter"):
        encode_residues(["A"], "AbB")
    assert encode_residues([], "dna", length=5).shape == (0, 5)


# ----------------------------------------------------------------------------- physicochemical


def test_default_scales_are_omnik_descriptors():
    enc = PhysicochemicalEncoder()
    assert enc.scale_ids == DEFAULT_SCALES == ("FASG760101", "ZIMJ680104", "HYDROPHOBIC_CLASS")
    out = enc.transform(["GWK", "DRA"])
    assert out.shape == (2, 3, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, :, 0], [75.07, 204.24, 146.19], rtol=1e-6)  # molecular weight, Da
    np.testing.assert_allclose(out[1, :, 1], [2.77, 10.76, 6.00], rtol=1e-6)  # isoelectric point
    np.testing.assert_array_equal(out[0, :, 2], [-1, 1, -1])  # G hydrophilic, W hydrophobic, K hydrophilic


@pytest.mark.parametrize(
    "scale, residue, value",
    [
        ("KYTJ820101", "I", 4.5),
        ("kyte_doolittle", "R", -4.5),
        ("HOPT810101", "W", -3.4),
        ("hopp_woods", "D", 3.0),
        ("GRAR740102", "D", 13.0),
        ("grantham_polarity", "L", 4.9),
        ("GRAR740103", "W", 170.0),
        ("ZIMJ680102", "G", 3.40),
        ("bulkiness", "W", 21.67),
        ("VINM940101", "K", 1.102),
        ("flexibility", "W", 0.904),
        ("ZIMJ680103", "R", 52.00),
        ("EISD840101", "R", -1.76),
    ],
)
def test_published_scale_values(scale, residue, value):
    out = PhysicochemicalEncoder([scale]).transform([residue])
    assert out.shape == (1, 1, 1)
    assert out[0, 0, 0] == pytest.approx(value, rel=1e-6)


def test_standardize_zscore_and_minmax():
    raw = PhysicochemicalEncoder(["KYTJ820101", "FASG760101"]).table
    z = PhysicochemicalEncoder(["KYTJ820101", "FASG760101"], standardize=True).table
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-12)
    # Kyte-Doolittle: mean -0.49 over the 20 residues; I = 4.5
    i = PROTEIN_ALPHABET.index("I")
    assert z[i, 0] == pytest.approx((4.5 - (-0.49)) / raw[:, 0].std())
    mm = PhysicochemicalEncoder(["KYTJ820101"], standardize="minmax").table[:, 0]
    assert mm[i] == 1.0 and mm[PROTEIN_ALPHABET.index("R")] == 0.0
    with pytest.raises(ValueError, match="standardize"):
        PhysicochemicalEncoder(standardize="log")


def test_unknown_scale_lists_available():
    assert len(available_scales()) >= 6
    with pytest.raises(ValueError, match=r"(?s)unknown scale 'nope'.*KYTJ820101"):
        PhysicochemicalEncoder(["nope"])


def test_physicochemical_rejects_nonstandard_residue():
    with pytest.raises(ValueError, match=r"record 0: invalid letter 'X' at position 2"):
        PhysicochemicalEncoder().transform(["AX"])


# ----------------------------------------------------------------------------- BLOSUM62


def test_blosum62_rows():
    out = blosum62(["WA"])
    assert out.shape == (1, 2, 20) and out.dtype == np.float32
    w = PROTEIN_ALPHABET.index("W")
    assert out[0, 0, w] == 11  # W-W
    assert out[0, 0, PROTEIN_ALPHABET.index("C")] == -2  # W-C
    # BLOSUM62 row of A over ACDEFGHIKLMNPQRSTVWY
    assert out[0, 1].tolist() == [4, 0, -2, -1, -2, 0, -2, -1, -1, -1, -1, -2, -1, -1, -1, 1, 0, 0, -3, -2]
    np.testing.assert_array_equal(BLOSUM62Encoder().fit_transform(["WA"]), out)


# ----------------------------------------------------------------------------- PSTAAP

# Tiny hand-computed case: window_length=5, center=2, so 4 residues remain and
# there are 2 tripeptide positions. AAA=0, AAC=1, ACA=20, CAA=400.
SMALL = ["AAKAA", "ACKAA", "AAKCA", "CAKAA"]
#        pos0/pos1: AAA/AAA, ACA/CAA, AAC/ACA, CAA/AAA


def test_pstaap_hand_computed_single_label():
    # classes: w0,w1 -> 0 ; w2 -> 1 ; w3 -> 2  (n_c = 2, 1, 1; n_not_c = 2, 3, 3)
    enc = PSTAAP(window_length=5, center=2).fit(SMALL, [0, 0, 1, 2])
    fr = enc.fr_
    assert fr.shape == (8000, 2)
    # Fr(AAA, 0): only w0 (class 0): [(1/2-0) + (0-1/3) + (0-1/3)] / 3 = -1/18
    assert fr[0, 0] == pytest.approx(-1 / 18)
    # Fr(AAA, 1): w0 (class 0), w3 (class 2): [(1/2-1/2) + (0-2/3) + (1-1/3)] / 3 = 0
    assert fr[0, 1] == pytest.approx(0, abs=1e-12)
    # Fr(AAC, 0): only w2 (class 1): [(0-1/2) + (1-0) + (0-1/3)] / 3 = 1/18
    assert fr[1, 0] == pytest.approx(1 / 18)
    # Fr(CAA, 0): only w3 (class 2): [(0-1/2) + (0-1/3) + (1-0)] / 3 = 1/18
    assert fr[400, 0] == pytest.approx(1 / 18)
    # Fr(ACA, 1): only w2 -> 1/18 ; Fr(CAA, 1): only w1 -> -1/18
    assert fr[20, 1] == pytest.approx(1 / 18)
    assert fr[400, 1] == pytest.approx(-1 / 18)
    # tripeptides never seen have Fr = 0 exactly
    seen = {(0, 0), (0, 1), (20, 0), (400, 1), (1, 0), (20, 1), (400, 0)}
    mask = np.ones_like(fr, dtype=bool)
    for t, i in seen:
        mask[t, i] = False
    assert np.all(fr[mask] == 0)
    X = enc.transform(SMALL)
    assert X.dtype == np.float32 and X.shape == (4, 2)
    np.testing.assert_allclose(X, np.array([[-1, 0], [-1, -1], [1, 1], [1, 0]]) / 18, atol=1e-7)
    assert enc.classes_.tolist() == [0, 1, 2]
    assert enc.class_counts_.tolist() == [2, 1, 1]


def test_pstaap_hand_computed_multilabel():
    # Y columns: c0 = {w0, w1}, c1 = {w1, w2}
    Y = np.array([[1, 0], [1, 1], [0, 1]])
    enc = PSTAAP(window_length=5, center=2).fit(SMALL[:3], Y)
    # Fr(AAA,0), w0 only: c0: 1/2 - 0 ; c1: 0 - 1/1  -> mean -1/4
    assert enc.fr_[0, 0] == pytest.approx(-0.25)
    # Fr(ACA,0), w1 only: c0: 1/2 - 0 ; c1: 1/2 - 0 -> 1/2
    assert enc.fr_[20, 0] == pytest.approx(0.5)
    # Fr(AAC,0), w2 only: c0: 0 - 1 ; c1: 1/2 - 0 -> -1/4
    assert enc.fr_[1, 0] == pytest.approx(-0.25)


def test_pstaap_1d_codes_equal_their_one_hot():
    codes = np.array([3, 3, 7, 1])
    a = PSTAAP(window_length=5, center=2).fit(SMALL, codes)
    b = PSTAAP(window_length=5, center=2).fit(SMALL, np.eye(3)[[1, 1, 2, 0]])
    np.testing.assert_allclose(a.fr_, b.fr_, atol=1e-15)
    assert a.classes_.tolist() == [1, 3, 7]


def _random_windows(rng, n, length=49, center=24, letters=PROTEIN_ALPHABET):
    letters = np.array(list(letters))
    arr = letters[rng.integers(0, len(letters), size=(n, length))]
    arr[:, center] = "K"
    return ["".join(row) for row in arr]


def _loop_reference(windows, Y, center=24):
    """Straightforward per-window, per-position implementation of the definition."""
    Y = np.asarray(Y)
    stripped = [w[:center] + w[center + 1 :] for w in windows]
    P = len(stripped[0]) - 2
    C = Y.shape[1]
    fr = np.zeros((8000, P))
    for c in range(C):
        fc, fn = np.zeros((8000, P)), np.zeros((8000, P))
        for w, y in zip(stripped, Y[:, c]):
            for i in range(P):
                a, b, d = (PROTEIN_ALPHABET.index(ch) for ch in w[i : i + 3])
                (fc if y else fn)[400 * a + 20 * b + d, i] += 1
        fr += fc / Y[:, c].sum() - fn / (1 - Y[:, c]).sum()
    fr /= C
    feats = np.zeros((len(windows), P))
    for r, w in enumerate(stripped):
        for i in range(P):
            a, b, d = (PROTEIN_ALPHABET.index(ch) for ch in w[i : i + 3])
            feats[r, i] = fr[400 * a + 20 * b + d, i]
    return fr, feats


def test_pstaap_vectorised_equals_loop_reference():
    rng = np.random.default_rng(0)
    windows = _random_windows(rng, 40)
    Y = rng.integers(0, 2, size=(40, 4))
    Y[:4] = np.eye(4, dtype=int)  # every class present and absent
    held_out = _random_windows(rng, 5) + windows[:3]
    enc = PSTAAP().fit(windows, Y)
    fr_ref, feats_ref = _loop_reference(windows, Y)
    np.testing.assert_allclose(enc.fr_, fr_ref, atol=1e-12)
    np.testing.assert_allclose(enc.transform(windows), feats_ref, atol=1e-7)
    # held-out windows: the same table lookup
    stripped = [w[:24] + w[25:] for w in held_out]
    loop = [
        [fr_ref[sum(PROTEIN_ALPHABET.index(ch) * m for ch, m in zip(w[i : i + 3], (400, 20, 1))), i] for i in range(46)]
        for w in stripped
    ]
    np.testing.assert_allclose(enc.transform(held_out), loop, atol=1e-7)
    assert enc.transform(held_out).shape == (8, 46)


def _split_features(train, y_train, test, y_test):
    """The intended CV usage: table fitted on the training part only, applied to the test part."""
    enc = PSTAAP().fit(train, y_train)
    return enc.transform(train), enc.transform(test)


def _leakage_setup():
    # Two-letter windows so that tripeptides recur across windows, and unbalanced
    # classes: with equal class sizes, single-label Fr is identically zero.
    rng = np.random.default_rng(1)
    train = _random_windows(rng, 30, letters="AC")
    y_train = np.repeat([0, 1, 2], [15, 10, 5])
    w = _random_windows(rng, 1, letters="AC")
    return rng, train, y_train, w


def test_pstaap_transform_never_sees_labels():
    rng, train, y_train, w = _leakage_setup()
    held_out = w + _random_windows(rng, 3, letters="AC")
    # transform takes windows only: there is no way to hand it labels
    assert list(inspect.signature(PSTAAP.transform).parameters) == ["self", "windows"]
    enc = PSTAAP().fit(train, y_train)
    with pytest.raises(TypeError):
        enc.transform(w, [0])
    alone = enc.transform(w)
    assert np.count_nonzero(alone) > 40  # w's tripeptides do occur in the fit set A
    # w labelled 0, then relabelled 2, in a held-out set B (not in A): same features
    _, as0 = _split_features(train, y_train, held_out, [0, 1, 1, 2])
    _, as2 = _split_features(train, y_train, held_out, [2, 1, 1, 2])
    np.testing.assert_array_equal(as0[:1], alone)
    np.testing.assert_array_equal(as2[:1], alone)


def test_pstaap_fitted_labels_do_change_features():
    """Counterpart of the leakage test, showing it can fail: once w's label is in the
    fit set (what upstream did with its test set), relabelling w moves its own feature."""
    _, train, y_train, w = _leakage_setup()
    as0 = PSTAAP().fit(train + w, np.r_[y_train, 0]).transform(w)
    as2 = PSTAAP().fit(train + w, np.r_[y_train, 2]).transform(w)
    assert np.abs(as0 - as2).mean() > 0.01
    assert np.all(as2 > as0)  # labelled with the minority class, every position moves up


def test_pstaap_validation_errors():
    good = "A" * 24 + "K" + "A" * 24
    enc = PSTAAP()
    with pytest.raises(NotFittedError):
        enc.transform([good])
    with pytest.raises(ValueError, match=r"record 1 has length 48, expected length=49"):
        enc.fit([good, good[:-1]], [0, 1])
    with pytest.raises(ValueError, match=r"record 1: centre residue \(position 25, 1-based\) is 'R', expected 'K'"):
        enc.fit([good, good[:24] + "R" + good[25:]], [0, 1])
    with pytest.raises(ValueError, match=r"record 0: invalid letter 'X' at position 3"):
        enc.fit(["AAX" + good[3:]], [0])
    with pytest.raises(ValueError, match="has every window"):
        enc.fit([good, good], [1, 1])
    with pytest.raises(ValueError, match=r"column 1\) has no windows"):
        enc.fit([good, good], np.array([[1, 0], [0, 0]]))
    with pytest.raises(ValueError, match="Y has 1 labels but there are 2 windows"):
        enc.fit([good, good], [1])
    with pytest.raises(ValueError, match="center must be"):
        PSTAAP(center=49).fit([good], [0])


def test_pstaap_sklearn_params():
    enc = PSTAAP(window_length=31, center=15)
    assert enc.get_params() == {"window_length": 31, "center": 15, "center_residue": "K"}
    assert clone(enc).get_params() == enc.get_params()
    assert PSTAAP().n_positions == 46


# ----------------------------------------------------------------------------- Keras layers


def _round_trip(model, inputs, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    a = keras.ops.convert_to_numpy(model(inputs))
    b = keras.ops.convert_to_numpy(loaded(inputs))
    np.testing.assert_array_equal(a, b)
    return loaded, b


def test_one_hot_layer_matches_numpy_and_round_trips(tmp_path):
    seqs = ["ACGNT", "TTGCA"]
    tokens = encode_residues(seqs, "dna")
    inp = keras.Input(shape=(5,), dtype="int32")
    model = keras.Model(inp, OneHotEncoding(4, name="oh")(inp))
    loaded, out = _round_trip(model, tokens, tmp_path)
    np.testing.assert_array_equal(out, one_hot(seqs, "dna"))
    assert loaded.get_layer("oh").get_config()["alphabet_size"] == 4


def test_physicochemical_layer_matches_numpy_and_round_trips(tmp_path):
    seqs = ["ACDKW", "YVTRG"]
    scales = ["KYTJ820101", "flexibility"]
    inp = keras.Input(shape=(5,), dtype="int32")
    layer = PhysicochemicalEmbedding(scales=scales, standardize="zscore", name="pc")
    model = keras.Model(inp, layer(inp))
    assert layer.non_trainable_weights and not layer.trainable_weights
    loaded, out = _round_trip(model, encode_residues(seqs), tmp_path)
    expected = PhysicochemicalEncoder(scales, standardize="zscore").transform(seqs)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    assert loaded.get_layer("pc").get_config()["scales"] == ["KYTJ820101", "VINM940101"]
    # default scales reproduce the default encoder exactly
    default = PhysicochemicalEmbedding()(encode_residues(seqs))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(default), PhysicochemicalEncoder().transform(seqs))


def test_pstaap_layer_matches_numpy_and_round_trips(tmp_path):
    rng = np.random.default_rng(2)
    train = _random_windows(rng, 60)
    enc = PSTAAP().fit(train, rng.integers(0, 2, size=(60, 4)))
    held_out = _random_windows(rng, 6)
    layer = PSTAAPEncoding.from_encoder(enc, name="pstaap")
    inp = keras.Input(shape=(49,), dtype="int32")
    model = keras.Model(inp, layer(inp))
    assert not layer.trainable_weights
    loaded, out = _round_trip(model, encode_residues(held_out), tmp_path)
    np.testing.assert_array_equal(out, enc.transform(held_out))
    assert np.abs(out).max() > 0  # the table travelled through the weights file
    config = loaded.get_layer("pstaap").get_config()
    assert config["window_length"] == 49 and config["center"] == 24 and "table" not in config
    # set_table on a built layer replaces the table
    layer.set_table(np.zeros((8000, 46)))
    assert np.all(keras.ops.convert_to_numpy(model(encode_residues(held_out))) == 0)
    with pytest.raises(ValueError, match="table must have shape"):
        layer.set_table(np.zeros((8000, 45)))
    with pytest.raises(NotFittedError):
        PSTAAPEncoding.from_encoder(PSTAAP())


def test_pstaap_layer_padding_tokens_give_zero():
    rng = np.random.default_rng(3)
    enc = PSTAAP().fit(_random_windows(rng, 40, letters="AC"), np.repeat([0, 1, 2, 3], [20, 10, 5, 5]))
    window = _random_windows(rng, 1, letters="AC")
    tokens = encode_residues(window)
    reference = enc.transform(window)[0]
    assert np.all(reference[:2] != 0)  # so that zeros below come from the padding
    padded = tokens.copy()
    padded[0, :2] = 20  # padding at the protein start: residues 0 and 1
    out = keras.ops.convert_to_numpy(PSTAAPEncoding.from_encoder(enc)(padded))[0]
    # tripeptides 0 and 1 touch a padded residue, tripeptide 2 starts at residue 2
    np.testing.assert_array_equal(out[:2], 0)
    np.testing.assert_array_equal(out[2:], reference[2:])
