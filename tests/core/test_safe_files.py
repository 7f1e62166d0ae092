"""Nothing deepbio opens runs code: hostile model files and tampered checkpoints are refused.

Each hostile file carries a payload that would create a marker file if the file were opened the
unsafe way (unpickled, loaded with skops' ``trusted=True``, NumPy's ``allow_pickle=True`` or
Keras's ``safe_mode=False``); the control lines show each payload is live. deepbio must refuse the
file with one line ``deepbio: error: ...`` and exit status 2, and the marker must not exist.
"""

import io
import json
import pickle
import shutil
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
import skops.io as sio

from conftest import ROOT, run_script
from deepbio import cli
from deepbio.core.resume import read_state, write_state
from deepbio.core.safe_files import TRUSTED_TYPES, read_tree, write_tree
from tiny_flags import TINY

PTM_LOADER = r"""
import json, sys

import deepbio
from deepbio.ptm.predictor import load_ptm_predictor

predictor = load_ptm_predictor(sys.argv[1])
print("RESULT " + json.dumps(predictor.predict_proba(json.loads(sys.argv[2])).tolist()))
"""
PROTEINS = ">P1\nMSKAAKLLKEEGKKPRSAKTWEEKAAAKLLKKEGNPSQRKTAL\n"


class Payload:
    """Unpickling it opens ``marker`` for writing (creates the file)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


class SetStatePayload:
    """Building it from a skops file (its ``__setstate__``) creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __setstate__(self, state):
        Path(state["marker"]).touch()


def _lambda_model(marker, tokens=True):
    """A Keras model whose Lambda layer creates ``marker`` when the model is rebuilt.

    ``tokens``: int residue tokens in, as a PTM model takes (else floats, for legacy HDF5).
    """
    path = str(marker)  # a closure cell: Keras stores it with the lambda's bytecode
    touch = lambda x: __import__("pathlib").Path(path).touch() or x  # noqa: E731
    inputs = keras.Input((49,), dtype="int32" if tokens else "float32")
    x = keras.ops.cast(inputs, "float32") if tokens else inputs
    return keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Lambda(touch)(x)))


def _pickle_bytes(marker):
    return pickle.dumps(Payload(marker))


def _object_npy(marker):
    buffer = io.BytesIO()
    np.save(buffer, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def test_the_payloads_are_live(tmp_path):
    """Controls: each payload runs when its file is opened the unsafe way."""
    markers = [tmp_path / f"m{i}" for i in range(4)]
    pickle.loads(_pickle_bytes(markers[0]))
    np.load(io.BytesIO(_object_npy(markers[1])), allow_pickle=True)
    sio.loads(sio.dumps(SetStatePayload(markers[2])), trusted=[f"{__name__}.SetStatePayload"])
    _lambda_model(markers[3]).save(tmp_path / "evil.keras")
    markers[3].unlink()  # building the model ran the lambda once
    keras.models.load_model(tmp_path / "evil.keras", safe_mode=False)
    assert [m.exists() for m in markers] == [True] * 4


def _predict(tmp_path, monkeypatch, capsys, task, model, text=PROTEINS):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "input.fa").write_text(text)
    capsys.readouterr()
    status = cli.main(["predict", task, "--model", str(model), "--input", "input.fa",
                       "--output", "out.csv"])
    return status, capsys.readouterr().err


def _assert_refused(status, err, marker, *words):
    """Exit 2, one error line (after any progress bars), naming ``words``; the payload never ran."""
    last = err.rstrip("\n").split("\n")[-1]
    assert status == 2, err
    assert last.startswith("deepbio: error: ") and err.count("deepbio: error") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in last, err
    assert not marker.exists()
    print(last)


@pytest.mark.parametrize("name", ["ptm_model.joblib", "model.pkl"])
def test_pickled_ptm_model_is_refused_unopened(name, tmp_path, monkeypatch, capsys):
    marker = tmp_path / "marker"
    (tmp_path / name).write_bytes(_pickle_bytes(marker))
    status, err = _predict(tmp_path, monkeypatch, capsys, "ptm", tmp_path / name)
    _assert_refused(status, err, marker, name, "does not open pickles", "deepbio train ptm")
    assert not (tmp_path / "out.csv").exists()


def test_run_folder_with_a_pickled_model_is_refused(tmp_path, monkeypatch, capsys):
    marker = tmp_path / "marker"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "ptm_model.joblib").write_bytes(_pickle_bytes(marker))
    status, err = _predict(tmp_path, monkeypatch, capsys, "ptm", tmp_path / "run")
    _assert_refused(status, err, marker, "ptm_model.joblib", "retrain")


def test_skops_file_with_an_untrusted_type_is_refused(tmp_path, monkeypatch, capsys):
    marker = tmp_path / "marker"
    (tmp_path / "ptm_model.skops").write_bytes(sio.dumps(SetStatePayload(marker)))
    status, err = _predict(tmp_path, monkeypatch, capsys, "ptm", tmp_path / "ptm_model.skops")
    _assert_refused(status, err, marker, "ptm_model.skops", "SetStatePayload", "does not trust",
                    "not loaded")


@pytest.mark.parametrize("task", ["ptm", "rnamod"])
def test_keras_model_with_a_lambda_layer_is_refused(task, tmp_path, monkeypatch, capsys):
    marker = tmp_path / "marker"
    _lambda_model(marker).save(tmp_path / "model.keras")
    marker.unlink()  # building the model ran the lambda once
    text = PROTEINS if task == "ptm" else ">r1\n" + "ACGUA" * 10 + "A\n"  # a 51-nt window
    status, err = _predict(tmp_path, monkeypatch, capsys, task, tmp_path / "model.keras", text)
    _assert_refused(status, err, marker, "model.keras", "Lambda layer", "does not run")


# -- run checkpoints ---------------------------------------------------------------------------
# The tiny PTM run, made cheaper: its checkpoint units are the same kind (trees CV folds), with
# no grouped CV and no model beside the trees.
RUN_FLAGS = [*TINY["ptm"], "--no-grouped-cv", "--compare", "none"]


def _run_ptm(out, data_dir, capsys):
    capsys.readouterr()
    status = cli.main(["run", "ptm", *RUN_FLAGS, "--output", str(out), "--data-dir",
                       str(data_dir), "--verbose", "0"])
    return status, capsys.readouterr().err


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, data_dir):
    """A tiny PTM run stopped after its first CV fold: ``checkpoints/`` holds that unit."""
    import deepbio.ptm.training as training

    out = tmp_path_factory.mktemp("interrupted") / "run"
    def stop(*args, **kwargs):
        raise RuntimeError("stopped after the first fold")

    original, training.pooled_metrics = training.pooled_metrics, stop
    try:
        status = cli.main(["run", "ptm", *RUN_FLAGS, "--output", str(out), "--data-dir",
                           str(data_dir), "--verbose", "0"])
    finally:
        training.pooled_metrics = original
    assert status == 1
    unit = out / "checkpoints" / "stratified_trees_fold1.zip"
    assert unit.is_file()
    return out


def _rewrite(unit, change):
    """Rewrites the unit archive with ``change(tree, members)`` applied."""
    with zipfile.ZipFile(unit) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    tree = json.loads(members.pop("tree.json"))
    change(tree["value"], members)
    with zipfile.ZipFile(unit, "w") as archive:
        archive.writestr("tree.json", json.dumps(tree))
        for name, data in members.items():
            archive.writestr(name, data)


def _swap_array(marker):
    def change(value, members):
        members[value["probabilities"]["$array"]] = _object_npy(marker)
    return change


def _swap_object(marker):
    def change(value, members):  # a first fold keeps scores only; a skops object is planted
        members["objects/evil.skops"] = sio.dumps(SetStatePayload(marker))
        value["raw"] = {"$skops": "objects/evil.skops"}
    return change


def _swap_keras(marker, folder):
    def change(value, members):
        _lambda_model(marker).save(folder / "evil.keras")
        marker.unlink()
        members["models/evil.keras"] = (folder / "evil.keras").read_bytes()
        value["raw"] = {"$keras": "models/evil.keras"}
    return change


def test_interrupted_run_resumes_from_its_unit(interrupted, tmp_path, data_dir, monkeypatch,
                                               capsys):
    out = tmp_path / "run"
    shutil.copytree(interrupted, out)
    fold = read_tree(out / "checkpoints" / "stratified_trees_fold1.zip", "")
    assert "model" not in fold  # only the last stratified fold keeps its trees (CV maps)
    assert fold["probabilities"].shape[1] == 4 and fold["thresholds"].shape == (4,)
    status, err = _run_ptm(out, data_dir, capsys)
    assert status == 0, err
    assert (out / "ptm_model.skops").is_file() and not (out / "checkpoints").exists()
    # a fresh process reads the saved trees model (skops, allow-list) and predicts as here
    import pandas as pd

    from deepbio.ptm.predictor import load_ptm_predictor

    windows = pd.read_csv(out / "cv_predictions.csv")["window"].head(25).tolist()
    expected = load_ptm_predictor(out).predict_proba(windows)
    result = run_script(["-c", PTM_LOADER, str(out), json.dumps(windows)], cwd=ROOT)
    line = next(l for l in result.stdout.splitlines() if l.startswith("RESULT "))
    np.testing.assert_array_equal(np.array(json.loads(line[len("RESULT "):])), expected)
    assert np.ptp(expected[:, 0]) > 0


@pytest.mark.parametrize("tamper", ["array", "object", "keras", "pickle"])
def test_tampered_unit_checkpoint_is_refused(tamper, interrupted, tmp_path, data_dir, monkeypatch,
                                             capsys):
    out, marker = tmp_path / "run", tmp_path / "marker"
    shutil.copytree(interrupted, out)
    unit = out / "checkpoints" / "stratified_trees_fold1.zip"
    if tamper == "pickle":  # the unit as an older deepbio pickled it
        unit.unlink()
        unit.with_suffix(".pkl").write_bytes(_pickle_bytes(marker))
    else:
        change = {"array": _swap_array, "object": _swap_object,
                  "keras": lambda m: _swap_keras(m, tmp_path)}[tamper](marker)
        _rewrite(unit, change)
    status, err = _run_ptm(out, data_dir, capsys)
    _assert_refused(status, err, marker, "stratified_trees_fold1", "--restart")


# -- epoch states ------------------------------------------------------------------------------
def _state():
    return {"epoch": 3, "history": {"loss": [0.5, 0.25, float("nan")]},
            "variables": [np.arange(6, dtype=np.float32).reshape(2, 3), np.float32(2.0)],
            "optimizer": [np.zeros(3)], "callbacks": [None, {"best": np.float64(0.25),
                                                             "best_weights": None, "wait": 1}],
            "rng": np.random.default_rng(7).bit_generator.state}


def test_epoch_state_round_trip(tmp_path):
    state = _state()
    write_state(state, tmp_path / "state.zip")
    back = read_state(tmp_path / "state.zip")
    assert back["epoch"] == 3 and back["history"]["loss"][:2] == [0.5, 0.25]
    assert np.isnan(back["history"]["loss"][2])
    np.testing.assert_array_equal(back["variables"][0], state["variables"][0])
    assert back["variables"][1].dtype == np.float32 and back["variables"][1] == 2.0
    assert back["callbacks"] == [None, {"best": 0.25, "best_weights": None, "wait": 1}]
    rng = np.random.default_rng()
    rng.bit_generator.state = back["rng"]
    assert rng.random() == np.random.default_rng(7).random()
    with zipfile.ZipFile(tmp_path / "state.zip") as archive:  # JSON and .npy members only
        assert {n.rsplit(".", 1)[-1] for n in archive.namelist()} == {"json", "npy"}


@pytest.mark.parametrize("tamper", ["array", "object", "pickle", "garbage"])
def test_tampered_epoch_state_is_refused(tamper, tmp_path):
    marker, path = tmp_path / "marker", tmp_path / "fit1" / "state.zip"
    write_state(_state(), path)
    if tamper == "pickle":
        path.unlink()
        path.with_suffix(".pkl").write_bytes(_pickle_bytes(marker))
    elif tamper == "garbage":
        path.write_bytes(b"PK\x03\x04 not really")
    else:
        def change(value, members):
            if tamper == "array":
                members[value["variables"][0]["$array"]] = _object_npy(marker)
            else:
                members["objects/x.skops"] = sio.dumps(SetStatePayload(marker))
                value["optimizer"] = {"$skops": "objects/x.skops"}
        _rewrite(path, change)
    with pytest.raises(ValueError, match="--restart") as error:
        read_state(path)
    assert str(path.parent) in str(error.value) and "\n" not in str(error.value)
    assert not marker.exists()


def test_values_without_a_safe_form_are_refused_when_saved(tmp_path):
    with pytest.raises(ValueError, match="object array"):
        write_tree({"x": np.array([object()], dtype=object)}, tmp_path / "x.zip")
    with pytest.raises(ValueError, match="does not trust"):
        write_tree({"x": SetStatePayload(tmp_path / "m")}, tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


def test_allow_list_is_fixed_and_names_no_code_runner():
    assert all(isinstance(name, str) and "." in name for name in TRUSTED_TYPES)
    assert not any(word in name for name in TRUSTED_TYPES
                   for word in ("builtins", "os.", "subprocess", "eval", "exec", "pickle"))


def test_legacy_h5_model_with_a_lambda_layer_is_refused(tmp_path, monkeypatch, capsys):
    marker = tmp_path / "marker"
    _lambda_model(marker, tokens=False).save(tmp_path / "model.h5")
    marker.unlink()
    status, err = _predict(tmp_path, monkeypatch, capsys, "ptm", tmp_path / "model.h5")
    _assert_refused(status, err, marker, "model.h5", "Lambda layer")
    keras.models.load_model(tmp_path / "model.h5", safe_mode=False)  # control: the payload is live
    assert marker.exists()
