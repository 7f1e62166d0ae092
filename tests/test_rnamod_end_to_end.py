"""End-to-end: ``main.py --task rnamod --epochs 1`` on a slice of the real data, by subprocess."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

import deepbio.models  # noqa: F401  (registers VQRNA for load_model)
from conftest import ROOT
from conftest import run_script as _run

METRICS = {"acc", "sensitivity", "specificity", "mcc", "auroc", "auprc"}


@pytest.fixture(scope="module")
def rnamod_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("rnamod")
    result = _run([str(ROOT / "main.py"), "--task", "rnamod", "--epochs", "1", "--modifications",
                   "Am,m5U", "--max-windows-per-split", "80", "--sequence-length", "101",
                   "--ism-windows", "2", "--saliency-windows", "4", "--output", str(out),
                   "--data-dir", str(data_dir), "--verbose", "2"], cwd=out)
    return out, result


def test_report_and_outputs(rnamod_run):
    out, result = rnamod_run
    report = json.loads((out / "report.json").read_text())
    assert report["task"] == "rnamod" and report["modifications"] == ["Am", "m5U"]
    assert set(report["untrainable"]) == {"m1A", "m6A"}
    for name in ("Am", "m5U"):
        entry = report["per_modification"][name]
        assert set(entry["valid"]) == METRICS and entry["test"] is None  # test is held out
        assert set(entry["multitask"]["valid"]) == METRICS
        assert set(entry["baseline_kmer"]["valid"]) == METRICS
        assert 0.0 <= entry["valid"]["auroc"] <= 1.0
        assert entry["training"]["epochs_run"] == 1
        assert report["data"][name]["train"] == {"windows": 80, "positives": 40}
    assert set(report["mean"]) >= {"valid", "test", "multitask_valid", "baseline_kmer_valid"}
    assert report["mean"]["test"] is None
    assert set(report["seconds"]) >= {"train_per_modification", "train_multitask", "total"}
    params = json.loads((out / "params.json").read_text())
    assert params["epochs"] == 1 and params["sequence_length"] == 101 and params["preset"] == "cpu"
    for name in ("Am/model.keras", "m5U/model.keras", "multitask/model.keras", "valid_roc_curves.png",
                 "valid_pr_curves.png", "tf_idf_matrix_sorted.csv", "feature_spectrum.svg",
                 "ism/Am_importance.svg", "ism/m5U_logo.png", "saliency_valid.png",
                 "predictions_valid.csv", "comparison_valid_auroc.csv"):
        assert (out / name).stat().st_size > 0, name
    spectrum = pd.read_csv(out / "tf_idf_matrix_sorted.csv")
    assert list(spectrum.columns) == ["code", "specific_to", "Am", "m5U"]
    saliency = pd.read_csv(out / "saliency_valid.csv")
    assert saliency.shape == (2, 102) and np.isfinite(saliency.iloc[:, 1:].to_numpy()).all()
    model = keras.models.load_model(out / "multitask" / "model.keras", compile=False)
    assert model.modification_names == ["Am", "m5U"] and model.sequence_length == 101
    assert "mean valid AUROC" in result.stdout and "not trained: m1A" in result.stdout


def test_predict_csv_and_bad_input(rnamod_run, tmp_path, data_dir):
    out, _ = rnamod_run
    fasta = tmp_path / "sites.fasta"
    fasta.write_text(">s1\n" + "ACGU" * 25 + "A\n>s2 long\n" + "T" * 301 + "\n")
    _run([str(ROOT / "main.py"), "--task", "rnamod", "--predict", str(fasta), "--model", str(out),
          "--output", str(tmp_path)], cwd=tmp_path)
    frame = pd.read_csv(tmp_path / "predictions.csv")
    assert list(frame.columns) == ["id", "length", "Am", "m5U"] and frame["id"].tolist() == ["s1", "s2"]
    assert ((frame[["Am", "m5U"]] > 0) & (frame[["Am", "m5U"]] < 1)).all().all()
    _run([str(ROOT / "main.py"), "--task", "rnamod", "--predict", str(fasta), "--model",
          str(out / "multitask" / "model.keras"), "--output", str(tmp_path / "mt")], cwd=tmp_path)
    assert list(pd.read_csv(tmp_path / "mt" / "predictions.csv").columns) == ["id", "length", "Am", "m5U"]
    for text, message in ((">ok\n" + "A" * 101 + "\n>weird\n" + "A" * 50 + "X" + "A" * 50 + "\n",
                           "('weird') has invalid base 'X' at position 51"),
                          (">short\n" + "A" * 99 + "\n", "('short') has length 99")):
        bad = tmp_path / "bad.fasta"
        bad.write_text(text)
        result = _run([str(ROOT / "main.py"), "--task", "rnamod", "--predict", str(bad), "--model",
                       str(out), "--output", str(tmp_path / "bad")], cwd=tmp_path, ok=False)
        assert result.returncode != 0 and message in result.stderr
        assert not (tmp_path / "bad" / "predictions.csv").exists()


def test_demo_scores_real_windows_and_draws_a_logo(tmp_path, data_dir):
    result = _run([str(ROOT / "demo" / "rnamod" / "score_windows.py"), "--modification", "m5U",
                   "--train-quick", "--length", "101", "--windows", "2", "--output", str(tmp_path),
                   "--data-dir", str(data_dir)], cwd=ROOT)
    assert "quick model" in result.stdout and "most important positions" in result.stdout
    for name in ("m5U_logo.svg", "m5U_logo.png", "m5U_importance.svg", "m5U_importance.csv"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert len(pd.read_csv(tmp_path / "m5U_importance.csv")) == 101
