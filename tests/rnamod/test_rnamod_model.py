"""VQRNA: shapes as upstream, loss composition, .keras round trip, masked loss, data helpers."""

import keras
import numpy as np
import pytest

from deepbio.rnamod.data import (check_rna_windows, load_rnamod, modification_index, one_hot_rna)
from deepbio.losses import masked_binary_crossentropy
from deepbio.rnamod.model import VQRNA
from deepbio.rnamod.model import latent_centre, latent_length
from deepbio.rnamod.task import RNAModConfig
from deepbio.rnamod.training import compile_model

TINY = dict(encoder_filters=(8, 16), hidden_dim=16, num_embeddings=32, num_layers=1, num_heads=2,
            intermediate_dim=16, head_dim=8)


def _windows(n, length, seed=0):
    return one_hot_rna(["".join(np.random.default_rng(seed + i).choice(list("ACGU"), length))
                        for i in range(n)])


def test_upstream_geometry():
    assert latent_length(501) == 42 and latent_centre(501) == 21  # upstream x[:, 21, :]
    assert [latent_length(n) for n in (51, 101, 201, 1001)] == [5, 9, 17, 84]
    model = VQRNA(501)
    assert model.get_layer("latents").output.shape == (None, 42, 64)
    assert model.get_layer("quantizer").embeddings.shape == (512, 64)
    assert model.output["reconstruction"].shape == (None, 501, 4)
    assert model.output["modification"].shape == (None, 1)
    assert sum(isinstance(l, keras.layers.Layer) and l.name.startswith("transformer_layer")
               for l in model.layers) == 6
    with pytest.raises(ValueError, match="51..1001"):
        VQRNA(41)


@pytest.mark.parametrize("length", [51, 101, 201, 1001])
def test_every_length_reconstructs_its_own_length(length):
    model = VQRNA(length, **TINY)
    outputs = model(_windows(2, length))
    assert outputs["reconstruction"].shape == (2, length, 4)
    reconstruction = np.asarray(outputs["reconstruction"])
    # Two different windows give two different reconstructions (the decoder reads its input).
    assert np.abs(reconstruction[0] - reconstruction[1]).max() > 1e-6


def test_loss_is_the_weighted_sum_of_its_parts():
    keras.utils.set_random_seed(0)
    config = RNAModConfig(sequence_length=51, ce_weight=0.0582, vq_weight=0.0419, rec_weight=0.6804)
    model = compile_model(VQRNA(51, vq_loss_weight=config.vq_weight, **TINY), config)
    x = _windows(6, 51)
    y = np.array([[0], [1], [0], [1], [1], [0]], np.float32)
    result = model.evaluate(x, {"modification": y, "reconstruction": x}, batch_size=6, verbose=0,
                            return_dict=True)
    outputs = model(x)
    p = np.clip(np.asarray(outputs["modification"]), 1e-7, 1 - 1e-7)
    ce = float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))
    mse = float(np.mean((np.asarray(outputs["reconstruction"]) - x) ** 2))
    vq = float(model.get_layer("quantizer").losses[0])
    assert result["modification_loss"] == pytest.approx(ce, rel=1e-4)
    assert result["reconstruction_loss"] == pytest.approx(mse, rel=1e-4)
    assert result["loss"] == pytest.approx(0.0582 * ce + 0.6804 * mse + vq, rel=1e-4)


def test_masked_binary_crossentropy_ignores_missing_labels():
    y_true = np.array([[1.0, -1.0, -1.0], [-1.0, 0.0, -1.0], [-1.0, -1.0, -1.0]], np.float32)
    y_pred = np.array([[0.8, 0.01, 0.99], [0.3, 0.25, 0.5], [0.5, 0.5, 0.5]], np.float32)
    loss = np.asarray(masked_binary_crossentropy(y_true, y_pred))
    np.testing.assert_allclose(loss, [-np.log(0.8), -np.log(0.75), 0.0], rtol=1e-5)


def test_multitask_keras_round_trip_gives_identical_outputs(tmp_path):
    keras.utils.set_random_seed(0)
    model = VQRNA(101, num_modifications=3, modification_names=["Am", "m5C", "Psi"],
                  use_ema=True, dead_code_threshold=0.1, positional_embedding=True, **TINY)
    compile_model(model, RNAModConfig(sequence_length=101))
    x = _windows(5, 101)
    y = np.full((5, 3), -1, np.float32)
    y[:, 0] = [0, 1, 0, 1, 1]
    model.fit(x, {"modification": y, "reconstruction": x}, epochs=1, batch_size=5, verbose=0)
    model.save(tmp_path / "vqrna.keras")
    loaded = keras.models.load_model(tmp_path / "vqrna.keras")
    assert isinstance(loaded, VQRNA) and loaded.modification_names == ["Am", "m5C", "Psi"]
    assert loaded.get_config() == model.get_config()
    for key in ("modification", "reconstruction"):
        np.testing.assert_array_equal(np.asarray(loaded(x)[key]), np.asarray(model(x)[key]))
    np.testing.assert_array_equal(loaded.code_indices(x), model.code_indices(x))
    classifier = loaded.classifier()
    assert classifier.output.shape == (None, 3)
    np.testing.assert_allclose(classifier.predict(x, verbose=0), np.asarray(model(x)["modification"]),
                               rtol=1e-6)


def test_one_hot_and_window_checks():
    x = one_hot_rna(["ACGUNAC", "TTTTTTT"], length=5)
    assert x.shape == (2, 5, 4)
    np.testing.assert_array_equal(x[0, :2], [[0, 1, 0, 0], [0, 0, 1, 0]])  # centre crop: CGUNA
    np.testing.assert_array_equal(x[0, 3], [0.25] * 4)
    np.testing.assert_array_equal(x[1, :, 3], np.ones(5))  # T is U
    with pytest.raises(ValueError, match=r"record 2 \('bad'\) has invalid base 'X' at position 3"):
        check_rna_windows(["A" * 51, "AAX" + "A" * 48], ["ok", "bad"], min_length=51)
    with pytest.raises(ValueError, match=r"\('short'\) has length 49"):
        check_rna_windows(["A" * 49], ["short"], min_length=51)
    with pytest.raises(ValueError, match="odd length"):
        check_rna_windows(["A" * 52], min_length=51)
    assert [modification_index(m) for m in ("Am", "psi", "Ψ", "m6am", 7, "10")] == [1, 10, 10, 9, 7, 10]
    with pytest.raises(ValueError, match="unknown RNA modification"):
        modification_index("m7G")


def test_load_rnamod_real_counts(data_dir):
    train = load_rnamod("train", "Am", 201, data_dir)
    valid = load_rnamod("valid", "Psi", 51, data_dir)
    assert len(train.labels) == 2545 and int(train.labels.sum()) == 1272
    assert {len(s) for s in train.sequences} == {201}
    assert all(s[100] == "A" for s in train.sequences)  # 2'-O-methyl-A at the centre
    assert len(valid.labels) == 618 and int(valid.labels.sum()) == 305
    assert all(s[25] == "U" for s in valid.sequences)  # pseudouridine sites are U
    with pytest.raises(KeyError):
        load_rnamod("train", "m6A", 201, data_dir)
    with pytest.raises(ValueError, match="odd"):
        load_rnamod("train", "Am", 200, data_dir)
