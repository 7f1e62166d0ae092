"""End-to-end: ``main.py --task ptm`` on a slice of the real data, by subprocess."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from conftest import run_script as _run

METRIC_KEYS = {"aiming", "coverage", "accuracy", "absolute_true", "absolute_false",
               "per_class_absolute_true", "per_label"}
# OmniK-PTM's combination classes (file prefix "(k)"), written out here, not taken from deepbio.
LABEL_SETS = {1: "a", 2: "c", 3: "m", 4: "s", 5: "ac", 6: "am", 7: "as", 8: "cm", 9: "acm",
              10: "acs", 11: "acms"}
LABEL_COLUMNS = ["acetylation", "crotonylation", "methylation", "succinylation"]
ALPHABET = "ACDEFGHIKLMNPQRSTVWY-"  # token order of model.keras: 20 residues, then padding


def _raw_class_counts(data_dir):
    """Windows per class in the raw training files, ``(k)TrainN.txt`` FASTA, counted by hand."""
    counts = {}
    for path in (data_dir / "omnik_ptm" / "train").glob("(*)Train*.txt"):
        k = int(re.match(r"\((\d+)\)", path.name).group(1))
        counts[k] = sum(line.startswith(">") for line in path.read_text().splitlines())
    return counts


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
    assert len(report["cv_folds"]) == 2
    params = json.loads((out / "params.json").read_text())
    assert params["sampler"] == "adaptive" and params["epochs"] == 1
    assert params["task"] == "ptm" and params["mode"] == "run"
    for name in ("model.keras", "thresholds.json", "cv_per_class_absolute_true.png",
                 "training_history.png", "cv_saliency_residues.png", "cv_smoothgrad_pstaap.png"):
        assert (out / name).stat().st_size > 0, name
    assert "absolute_true" in result.stdout


def test_slice_and_baseline_recomputed_from_the_raw_files(ptm_run, data_dir):
    out, _ = ptm_run
    report = json.loads((out / "report.json").read_text())
    raw = _raw_class_counts(data_dir)
    assert sorted(raw) == list(range(1, 12))
    per_class = {int(k): v for k, v in report["data"]["train_per_class"].items()}
    n = sum(per_class.values())
    assert n == 700
    # --max-windows 700 is a stratified subset: each class keeps its share of the raw training
    # files (class 1: 9279 of 12983 windows, 700 × 0.7147 = 500.3), up to rounding.
    for k, count in raw.items():
        assert abs(per_class[k] - 700 * count / sum(raw.values())) <= 1, k
    per_label = {label: sum(c for k, c in per_class.items() if label in LABEL_SETS[k])
                 for label in "acms"}
    assert report["data"]["train_per_label"] == per_label
    # The always-"a" baseline, Chou's metrics by hand from the class counts (P = {a} always):
    # exact match only for class 1; aiming = share of windows carrying a; coverage = accuracy =
    # mean of 1/|Y| over windows carrying a; absolute_false = mean |Y Δ {a}| / 4.
    base = report["baseline_cv"]
    assert base["absolute_true"] == pytest.approx(per_class[1] / n)
    assert base["aiming"] == pytest.approx(per_label["a"] / n)
    coverage = sum(c / len(LABEL_SETS[k]) for k, c in per_class.items() if "a" in LABEL_SETS[k]) / n
    assert base["coverage"] == pytest.approx(coverage) and base["accuracy"] == pytest.approx(coverage)
    wrong = sum(c * len(set(LABEL_SETS[k]) ^ {"a"}) for k, c in per_class.items())
    assert base["absolute_false"] == pytest.approx(wrong / (4 * n))
    assert base["per_class_absolute_true"] == {str(k): 1.0 if k == 1 else 0.0 for k in range(1, 12)}
    assert base["per_label"]["c"]["auprc"] == pytest.approx(per_label["c"] / n)  # constant score
    # Pooled CV exact match = the class-size-weighted mean of the within-class rates.
    cv = report["cv"]
    pooled = sum(per_class[k] * (cv["per_class_absolute_true"][str(k)] or 0.0) for k in per_class) / n
    assert cv["absolute_true"] == pytest.approx(pooled)
    # Each fold trains on 350 windows, 10 % of them (35) held for validation: 315 fitted, of
    # which class 1 is 500 × 0.5 × 0.9 = 225; the adaptive sampler keeps round(927/9279 × 225)
    # = 22 of those: 315 − 225 + 22 = 112 (± 2 for the stratified rounding).
    keep = round(927 / 9279 * per_class[1] * 0.5 * 0.9)
    expected = round(n * 0.5 * 0.9) - round(per_class[1] * 0.5 * 0.9) + keep
    for fold in report["cv_folds"]:
        assert abs(fold["n_train_resampled"] - expected) <= 2, fold["n_train_resampled"]


def test_predict_proteins_and_saliency(ptm_run, tmp_path):
    out, _ = ptm_run
    fasta = tmp_path / "proteins.fasta"
    fasta.write_text(">P1\nMKAAAAK" + "A" * 53 + "K\n>P2\nGGKGG\n")  # K at 2, 7, 61
    _run([str(ROOT / "main.py"), "--task", "ptm", "--predict", str(fasta), "--model",
          str(out / "model.keras"), "--output", str(tmp_path)], cwd=tmp_path)
    frame = pd.read_csv(tmp_path / "predictions.csv", keep_default_na=False)
    assert frame[["protein", "position"]].values.tolist() == [["P1", 2], ["P1", 7], ["P1", 61], ["P2", 3]]
    # The windows, by hand: 24 residues each side of the K, "-" beyond the protein's ends.
    proteins = {"P1": "MKAAAAK" + "A" * 53 + "K", "P2": "GGKGG"}
    windows = [("-" * 24 + proteins[p] + "-" * 24)[i - 1:i + 48]
               for p, i in frame[["protein", "position"]].values.tolist()]
    assert frame["window"].tolist() == windows and windows[0].startswith("-" * 23 + "MK")
    # The probabilities are what model.keras gives on those tokens, loaded in this process.
    import keras

    import deepbio  # noqa: F401  (registers the custom layers, PSTAAPEncoding among them)

    model = keras.models.load_model(out / "model.keras", compile=False)
    tokens = np.array([[ALPHABET.index(ch) for ch in w] for w in windows], np.int32)
    expected = model.predict(tokens, verbose=0)
    probabilities = frame[LABEL_COLUMNS].to_numpy()
    np.testing.assert_allclose(probabilities, expected, atol=2e-6)  # the CSV rounds to 6 decimals
    assert np.ptp(expected[:, 0]) > 0  # windows differ, so do their scores
    # The calls: labels at or above their threshold; an empty set gets the label furthest above.
    thresholds = np.array(json.loads((out / "thresholds.json").read_text())["thresholds"])
    calls = []
    for row in expected:
        chosen = [l for l, p, t in zip("acms", row, thresholds) if p >= t]
        calls.append("".join(chosen) or "acms"[int(np.argmax(row - thresholds))])
    assert frame["predicted"].tolist() == calls
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
