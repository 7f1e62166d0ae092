"""End-to-end: ``main.py --task ptm`` on a slice of the real data, by subprocess (bad input: in
this process, the same ``main.py`` entry point)."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, run_cli
from conftest import run_script as _run

METRIC_KEYS = {"aiming", "coverage", "accuracy", "absolute_true", "absolute_false",
               "per_class_absolute_true", "per_label"}
PER_LABEL_KEYS = {"auroc", "auprc", "mcc", "f1", "precision", "recall", "brier", "ece"}
# OmniK-PTM's combination classes (file prefix "(k)"), written out here, not taken from deepbio.
LABEL_SETS = {1: "a", 2: "c", 3: "m", 4: "s", 5: "ac", 6: "am", 7: "as", 8: "cm", 9: "acm",
              10: "acs", 11: "acms"}
NAMES = ["acetylation", "crotonylation", "methylation", "succinylation"]
LABEL_COLUMNS = [f"p_{name}_given_modified" for name in NAMES]
CALL_COLUMNS = [f"call_{name}" for name in NAMES]


def _raw_class_counts(data_dir):
    """Windows per class in the raw training files, ``(k)TrainN.txt`` FASTA, counted by hand."""
    counts = {}
    for path in (data_dir / "omnik_ptm" / "train").glob("(*)Train*.txt"):
        k = int(re.match(r"\((\d+)\)", path.name).group(1))
        counts[k] = sum(line.startswith(">") for line in path.read_text().splitlines())
    return counts


@pytest.fixture(scope="module")
def ptm_run(tmp_path_factory, data_dir):
    """The default model (trees) on a 700-window slice, 2 folds, with the linear model beside it."""
    out = tmp_path_factory.mktemp("ptm")
    result = _run([str(ROOT / "main.py"), "--task", "ptm", "--folds", "2", "--max-windows", "700",
                   "--tree-iterations", "25", "--inner-folds", "2", "--saliency-windows", "60",
                   "--output", str(out), "--data-dir", str(data_dir), "--verbose", "2"], cwd=out)
    return out, result


def test_report_has_the_agreed_keys(ptm_run):
    out, result = ptm_run
    report = json.loads((out / "report.json").read_text())
    assert report["task"] == "ptm"
    assert report["data"]["train"] == 700 and report["data"]["test"] is None
    assert report["test"] is None and report["baseline_test"] is None  # held out of the mirror
    for block in ("cv", "grouped_cv"):
        assert METRIC_KEYS <= set(report[block])
        assert set(report[block]["per_class_absolute_true"]) == {str(k) for k in range(1, 12)}
        assert set(report[block]["per_label"]) == {"a", "c", "m", "s"}
        for values in report[block]["per_label"].values():
            assert set(values) == PER_LABEL_KEYS
            assert 0 <= values["ece"] <= 1 and 0 <= values["brier"] <= 1
        for key in ("aiming", "coverage", "accuracy", "absolute_true", "absolute_false"):
            assert 0.0 <= report[block][key] <= 1.0
    assert report["baseline_grouped_cv"] == report["baseline_cv"]
    assert set(report["seconds"]) == {"features", "resample", "train", "total"}
    assert len(report["cv_folds"]) == len(report["grouped_cv_folds"]) == 2
    assert set(report["models"]) == {"trees", "linear"}
    for protocol in ("stratified", "grouped"):
        figures = report["models"]["trees"][protocol]
        assert figures["mean_auroc"] == pytest.approx(np.mean(list(figures["auroc"].values())))
    assert report["models"]["trees"]["stratified"]["auroc"] == {
        l: v["auroc"] for l, v in report["cv"]["per_label"].items()}
    assert set(report["cv_by_objective"]) == {"mcc", "exact", "precision=0.9"}
    assert set(report["calibration"]["cv"]) == {"a", "c", "m", "s"}
    assert report["calibration"]["method"] == "platt"
    params = json.loads((out / "params.json").read_text())
    assert params["model_type"] == "trees" and params["call_at"] == "mcc"
    assert params["task"] == "ptm" and params["mode"] == "run"
    saved = json.loads((out / "thresholds.json").read_text())
    assert saved["thresholds"] == [report["thresholds"][l] for l in "acms"]
    assert saved["objective"] == "mcc" and saved["model_type"] == "trees"
    for name in ("ptm_model.skops", "thresholds.json", "cv_per_class_absolute_true.png",
                 "reliability_diagram.png", "cv_predictions.csv", "cv_position_importance.png",
                 "cv_position_importance.csv"):
        assert (out / name).stat().st_size > 0, name
    assert not (out / "model.keras").exists()
    assert "absolute_true" in result.stdout and "grouped_cv" in result.stdout


def test_cv_predictions_are_the_pooled_cv(ptm_run):
    """report.json's CV figures recomputed from cv_predictions.csv (sklearn, not deepbio)."""
    from sklearn.metrics import matthews_corrcoef, roc_auc_score

    out, _ = ptm_run
    report = json.loads((out / "report.json").read_text())
    frame = pd.read_csv(out / "cv_predictions.csv")
    assert set(frame["protocol"]) == {"stratified", "grouped"}
    for protocol, block in (("stratified", "cv"), ("grouped", "grouped_cv")):
        rows = frame[frame["protocol"] == protocol]
        assert len(rows) == 700
        for letter, p, call in zip("acms", LABEL_COLUMNS, CALL_COLUMNS):
            figures = report[block]["per_label"][letter]
            assert roc_auc_score(rows[letter], rows[p]) == pytest.approx(figures["auroc"], abs=1e-4)
            assert matthews_corrcoef(rows[letter], rows[call]) == pytest.approx(figures["mcc"])
        truth, calls = rows[list("acms")].to_numpy(), rows[CALL_COLUMNS].to_numpy()
        assert (truth == calls).all(axis=1).mean() == pytest.approx(report[block]["absolute_true"])
    # grouped CV: no accession scored in two folds' test parts is possible to check only through
    # the report's fold sizes; the accession split itself is tested in test_ptm_pipeline.py


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
    for fold in report["cv_folds"]:
        assert fold["n_train"] + fold["n_scored"] == 700


def test_predict_proteins_with_the_run_folder(ptm_run, tmp_path):
    out, _ = ptm_run
    fasta = tmp_path / "proteins.fasta"
    fasta.write_text(">P1\nMKAAAAK" + "A" * 53 + "K\n>P2\nGGKGG\n")  # K at 2, 7, 61
    _run([str(ROOT / "main.py"), "--task", "ptm", "--predict", str(fasta), "--model",
          str(out), "--output", str(tmp_path)], cwd=tmp_path)
    frame = pd.read_csv(tmp_path / "predictions.csv", keep_default_na=False)
    assert frame[["protein", "position"]].values.tolist() == [["P1", 2], ["P1", 7], ["P1", 61], ["P2", 3]]
    # The windows, by hand: 24 residues each side of the K, "-" beyond the protein's ends.
    proteins = {"P1": "MKAAAAK" + "A" * 53 + "K", "P2": "GGKGG"}
    windows = [("-" * 24 + proteins[p] + "-" * 24)[i - 1:i + 48]
               for p, i in frame[["protein", "position"]].values.tolist()]
    assert frame["window"].tolist() == windows and windows[0].startswith("-" * 23 + "MK")
    # The probabilities are what the saved predictor gives on those windows, loaded here.
    from deepbio.ptm.predictor import load_ptm_predictor

    predictor = load_ptm_predictor(out / "ptm_model.skops")
    expected = predictor.predict_proba(windows)
    np.testing.assert_allclose(frame[LABEL_COLUMNS].to_numpy(), expected, atol=2e-6)
    assert np.ptp(expected[:, 0]) > 0  # windows differ, so do their scores
    # The calls: labels at or above their threshold; an empty set gets the label furthest above.
    thresholds = np.array(json.loads((out / "thresholds.json").read_text())["thresholds"])
    np.testing.assert_allclose(predictor.thresholds, thresholds)
    calls = []
    for row in expected:
        chosen = [l for l, p, t in zip("acms", row, thresholds) if p >= t]
        calls.append("".join(chosen) or "acms"[int(np.argmax(row - thresholds))])
    assert frame["predicted"].tolist() == calls
    assert frame[CALL_COLUMNS].to_numpy().tolist() == [[int(l in c) for l in "acms"] for c in calls]
    # saliency maps belong to the network; a tree model says so
    windows_fasta = tmp_path / "windows.fasta"
    windows_fasta.write_text(f">w\n{windows[1]}\n")
    status, _, err = run_cli(["--task", "ptm", "--saliency", windows_fasta, "--model", out,
                              "--output", tmp_path / "saliency"], script="main.py")
    assert status == 2 and "model-type network" in err  # a model of another kind: bad input
    assert not (tmp_path / "saliency").exists()


def test_predict_rejects_bad_input(ptm_run, tmp_path):
    out, _ = ptm_run
    fasta = tmp_path / "bad.fasta"
    fasta.write_text(">good\nMKV\n>weird\nMKBZ\n")
    status, _, err = run_cli(["--task", "ptm", "--predict", fasta, "--model", out, "--output",
                              tmp_path], script="main.py")
    assert status == 2  # bad input
    assert "'weird'" in err and "non-standard" in err
    assert err.count("deepbio: error: ") == 1 and "Traceback" not in err
    assert not (tmp_path / "predictions.csv").exists()


def test_ptm_demo_runs(ptm_run, tmp_path, data_dir):
    out, _ = ptm_run
    result = _run([str(ROOT / "demo" / "ptm" / "predict_p53.py"), "--model", str(out),
                   "--output", str(tmp_path), "--data-dir", str(data_dir), "--top", "4"], cwd=tmp_path)
    frame = pd.read_csv(tmp_path / "predictions.csv")
    assert set(frame["protein"]) == {"P04637", "P09429", "P25490"}
    assert (frame[frame["protein"] == "P04637"]["position"] == 382).any()  # p53 K382
    assert "Cellular tumor antigen p53" in result.stdout
    assert "if it is modified" in result.stdout  # the question the model answers
