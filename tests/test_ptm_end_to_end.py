"""End-to-end: ``main.py --task ptm`` on a slice of the real data, by subprocess."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from conftest import run_script as _run

METRIC_KEYS = {"aiming", "coverage", "accuracy", "absolute_true", "absolute_false",
               "per_class_absolute_true", "per_label"}


@pytest.fixture(scope="module")
def ptm_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("ptm")
    result = _run([str(ROOT / "main.py"), "--task", "ptm", "--epochs", "1", "--folds", "2",
                   "--max-windows", "700", "--sampler", "adaptive", "--saliency-windows", "24",
                   "--residue-encoders", "physicochemical,blosum62", "--output", str(out),
                   "--data-dir", str(data_dir), "--verbose", "2"], cwd=out)
    return out, result


def test_report_has_the_agreed_keys(ptm_run):
    out, result = ptm_run
    report = json.loads((out / "report.json").read_text())
    assert report["task"] == "ptm"
    assert report["data"]["train"] == 700 and report["data"]["test"] is None
    assert report["test"] is None and report["baseline_test"] is None  # held out of the mirror
    assert METRIC_KEYS <= set(report["cv"])
    assert set(report["cv"]["per_class_absolute_true"]) == {str(k) for k in range(1, 12)}
    assert set(report["cv"]["per_label"]) == {"a", "c", "m", "s"}
    assert set(report["cv"]["per_label"]["a"]) == {"auroc", "auprc", "mcc"}
    for key in ("aiming", "coverage", "accuracy", "absolute_true", "absolute_false"):
        assert 0.0 <= report["cv"][key] <= 1.0
    assert set(report["seconds"]) == {"features", "resample", "train", "total"}
    # The always-"a" baseline on the stratified slice: class 1 is 71.5 % of it.
    assert report["baseline_cv"]["absolute_true"] == pytest.approx(500 / 700, abs=0.01)
    assert len(report["cv_folds"]) == 2
    # The adaptive sampler kept ~10 % of class 1 in each training part (700*0.5*0.9*0.715 ≈ 225 → 22).
    assert all(f["n_train_resampled"] < 150 for f in report["cv_folds"])
    params = json.loads((out / "params.json").read_text())
    assert params["sampler"] == "adaptive" and params["epochs"] == 1
    for name in ("model.keras", "thresholds.json", "cv_per_class_absolute_true.png",
                 "training_history.png", "cv_saliency_residues.png", "cv_smoothgrad_pstaap.png"):
        assert (out / name).stat().st_size > 0, name
    assert "absolute_true" in result.stdout


def test_predict_proteins_and_saliency(ptm_run, tmp_path):
    out, _ = ptm_run
    fasta = tmp_path / "proteins.fasta"
    fasta.write_text(">P1\nMKAAAAK" + "A" * 53 + "K\n>P2\nGGKGG\n")  # K at 2, 7, 61
    _run([str(ROOT / "main.py"), "--task", "ptm", "--predict", str(fasta), "--model",
          str(out / "model.keras"), "--output", str(tmp_path)], cwd=tmp_path)
    frame = pd.read_csv(tmp_path / "predictions.csv")
    assert frame[["protein", "position"]].values.tolist() == [["P1", 2], ["P1", 7], ["P1", 61], ["P2", 3]]
    assert (frame["window"].str.len() == 49).all() and frame["window"][0].startswith("-" * 23 + "MK")
    probabilities = frame[["acetylation", "crotonylation", "methylation", "succinylation"]].to_numpy()
    assert ((probabilities > 0) & (probabilities < 1)).all()
    windows = tmp_path / "windows.fasta"
    windows.write_text("".join(f">w{i}\n{w}\n" for i, w in enumerate(frame["window"][1:2])))
    _run([str(ROOT / "main.py"), "--task", "ptm", "--saliency", str(windows), "--model",
          str(out / "model.keras"), "--output", str(tmp_path)], cwd=tmp_path)
    table = pd.read_csv(tmp_path / "fasta_saliency_residues.csv")
    assert table.shape == (4, 50) and np.isfinite(table.iloc[:, 1:].to_numpy()).all()


def test_predict_rejects_bad_input(ptm_run, tmp_path):
    out, _ = ptm_run
    fasta = tmp_path / "bad.fasta"
    fasta.write_text(">good\nMKV\n>weird\nMKBZ\n")
    result = _run([str(ROOT / "main.py"), "--task", "ptm", "--predict", str(fasta), "--model",
                   str(out / "model.keras"), "--output", str(tmp_path)], cwd=tmp_path, ok=False)
    assert result.returncode != 0
    assert "'weird'" in result.stderr and "non-standard" in result.stderr
    assert not (tmp_path / "predictions.csv").exists()


def test_ptm_demo_runs(ptm_run, tmp_path, data_dir):
    out, _ = ptm_run
    result = _run([str(ROOT / "demo" / "ptm" / "predict_p53.py"), "--model", str(out / "model.keras"),
                   "--output", str(tmp_path), "--data-dir", str(data_dir), "--top", "4"], cwd=tmp_path)
    frame = pd.read_csv(tmp_path / "predictions.csv")
    assert set(frame["protein"]) == {"P04637", "P09429", "P25490"}
    assert (frame[frame["protein"] == "P04637"]["position"] == 382).any()  # p53 K382
    assert (tmp_path / "fasta_smoothgrad_residues.png").stat().st_size > 0
    assert "Cellular tumor antigen p53" in result.stdout
