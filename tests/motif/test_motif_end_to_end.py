"""End-to-end: ``main.py --task motif`` and the demo on a slice of the real data, by subprocess."""

import collections
import json
import math

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, run_cli
from conftest import run_script as _run
from deepbio.motif.aggregate import SCORE_COLUMNS, SD_COLUMNS


@pytest.fixture(scope="module")
def motif_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("motif")
    result = _run([str(ROOT / "main.py"), "--task", "motif", "--max-sequences", "60", "--epochs", "1",
                   "--motif-length", "6", "--min-motif-count", "5", "--jaspar-top", "3",
                   "--ensemble", "2", "--output", str(out), "--data-dir", str(data_dir), "--verbose", "0"], cwd=out)
    return out, result


def _minmax(values):
    values = np.asarray(values, np.float64)
    return (values - values.min()) / (values.max() - values.min())


def test_outputs_and_report(motif_run):
    out, result = motif_run
    report = json.loads((out / "report.json").read_text())
    assert report["task"] == "motif" and report["sequences"] == 60
    # 60 (accessible, shuffled) pairs; scikit-learn's test_size rounds up: test ceil(0.2 × 60) = 12
    # pairs, validation ceil(0.1 × 48) = 5, train 43; two sequences per pair.
    test_pairs = math.ceil(0.2 * 60)
    val_pairs = math.ceil(0.1 * (60 - test_pairs))
    assert report["model"]["trained_here"] and report["model"]["splits"] == {
        "train": 2 * (60 - test_pairs - val_pairs), "val": 2 * val_pairs, "test": 2 * test_pairs}
    assert 0.0 <= report["heldout"]["auroc"] <= 1.0
    # two members, training seeds 0 and 1 on the split of split seed 0
    assert report["model"]["seeds"] == [0, 1] and report["model"]["split_seed"] == 0
    members = report["heldout_members"]["auroc"]
    assert len(members) == 2 and report["heldout_members"]["auroc_mean"] == pytest.approx(
        np.mean(members)) and report["heldout_members"]["auroc_sd"] == pytest.approx(
        np.std(members, ddof=1))
    assert report["model"]["best_val_auroc"] == pytest.approx(
        np.mean(report["model"]["best_val_auroc_members"]))
    assert set(report["seconds"]) == {"load", "train", "locate", "scs", "af", "aggregate", "plot",
                                      "jaspar", "total"}
    table = pd.read_csv(out / "motif_scores.csv")
    assert tuple(table.columns) == SCORE_COLUMNS + SD_COLUMNS
    # the ensemble's scores are the mean and sample sd of its members' scores
    member_tables = [pd.read_csv(out / "ensemble" / f"member{i}_scores.csv") for i in range(2)]
    for column in SCORE_COLUMNS[2:]:
        values = np.stack([m[column].to_numpy() for m in member_tables])
        np.testing.assert_allclose(table[column], values.mean(axis=0), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(table[f"{column}_sd"], values.std(axis=0, ddof=1), rtol=1e-9,
                                   atol=1e-12)
    assert report["scoring"]["motifs"] == len(table) and report["scoring"]["members"] == 2
    assert report["scoring"]["occurrences"] == table["count"].sum()
    for column in ("autonomous_functionality_score", "sequence_context_synergy_score"):
        assert table[column].min() == 0.0 and table[column].max() <= 1.0
    # Each member's combined scores are upstream's minmax(count) × minmax(score).
    for member in member_tables:
        np.testing.assert_allclose(member["autonomous_functionality_score"],
                                   _minmax(member["count"]) * _minmax(member["af_score"]),
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(member["sequence_context_synergy_score"],
                                   _minmax(member["count"]) * _minmax(member["scs_score"]),
                                   rtol=1e-9, atol=1e-12)
    # The top motifs per combined score are the table's, ranked by that score (then by count).
    top = pd.read_csv(out / "top_motifs.csv")
    assert len(top) == 6 and top["jaspar_id"].str.startswith("MA").all()
    for column, label in (("autonomous_functionality_score", "autonomous_functionality"),
                          ("sequence_context_synergy_score", "sequence_context_synergy")):
        best = table.sort_values([column, "count"], ascending=False, kind="stable")["motif"][:3]
        assert top[top["ranked_by"] == label]["motif"].tolist() == best.tolist()
    params = json.loads((out / "params.json").read_text())
    assert params["motif_length"] == 6 and params["epochs"] == 1 and params["top_r"] == "0.1"
    for name in ("model.keras", "ensemble/member0.keras", "ensemble/member1.keras",
                 "motif_scores.png", "training_history.png"):
        assert (out / name).stat().st_size > 0, name
    assert "held-out AUROC" in result.stdout


def test_kmer_counts_recomputed_from_the_raw_csv(motif_run, data_dir):
    """Every overlapping 6-mer of the first 60 raw sequences, counted with a Counter."""
    out, _ = motif_run
    report = json.loads((out / "report.json").read_text())
    table = pd.read_csv(out / "motif_scores.csv")
    sequences = pd.read_csv(data_dir / "deepasmm" / "basset_8988T.csv")["Seqs"].str.upper()[:60]
    counts, first_seen = collections.Counter(), {}
    for s in sequences:
        for i in range(len(s) - 5):
            kmer = s[i:i + 6]
            if set(kmer) <= set("ACGT"):  # k-mers with N are dropped
                counts[kmer] += 1
                first_seen.setdefault(kmer, len(first_seen))
    kept = sorted((k for k, c in counts.items() if c >= 5), key=first_seen.get)
    assert report["scoring"]["motifs"] == len(kept)
    assert report["scoring"]["occurrences"] == sum(counts[k] for k in kept)
    # in order of first appearance, as upstream
    assert table["motif"].tolist() == kept
    assert table["count"].tolist() == [counts[k] for k in kept]


def test_user_model_and_fasta_fast_equals_naive(motif_run, tmp_path, data_dir):
    out, _ = motif_run
    from deepbio.motif.data import default_input, load_sequences

    sequences = load_sequences(default_input(data_dir))["sequence"][:6]
    fasta = tmp_path / "seqs.fasta"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(sequences)))
    tables = {}
    for engine in ("fast", "naive"):
        target = tmp_path / engine
        _run([str(ROOT / "main.py"), "--task", "motif", "--model", str(out / "model.keras"),
              "--input", str(fasta), "--engine", engine, "--motif-length", "5",
              "--min-motif-count", "4", "--top-r", "all", "--output-index", "0",
              "--jaspar-top", "0", "--output", str(target), "--verbose", "0"], cwd=tmp_path)
        tables[engine] = pd.read_csv(target / "motif_scores.csv")
        report = json.loads((target / "report.json").read_text())
        assert report["heldout"] is None and not report["model"]["trained_here"]
    assert len(tables["fast"]) > 100
    assert (tables["fast"]["motif"] == tables["naive"]["motif"]).all()
    for column in SCORE_COLUMNS[2:]:
        np.testing.assert_allclose(tables["fast"][column], tables["naive"][column], rtol=1e-4,
                                   atol=1e-6)


def test_bad_record_is_named(tmp_path, motif_run):
    out, _ = motif_run
    fasta = tmp_path / "bad.fasta"
    fasta.write_text(">good\n" + "ACGT" * 150 + "\n>weird\n" + "ACGX" * 150 + "\n")
    status, _, err = run_cli(["--task", "motif", "--model", out / "model.keras", "--input", fasta,
                              "--output", tmp_path / "o"], script="main.py")  # in this process
    assert status == 2  # bad input
    assert "'weird'" in err and "'X' at position 4" in err
    assert err.count("deepbio: error: ") == 1 and "Traceback" not in err
    assert not (tmp_path / "o" / "motif_scores.csv").exists()


def test_demo_runs_on_a_slice(tmp_path, data_dir):
    result = _run([str(ROOT / "demo" / "motif" / "run_basset_demo.py"), "--max-sequences", "40",
                   "--motif-length", "6", "--min-motif-count", "6", "--output",
                   str(tmp_path), "--data-dir", str(data_dir)], cwd=tmp_path)
    table = pd.read_csv(tmp_path / "motif_scores.csv")
    assert len(table) > 100 and (table["count"] >= 6).all()
    assert "top motifs by autonomous functionality" in result.stdout and " 1. " in result.stdout
    assert (tmp_path / "motif_scores.png").stat().st_size > 0
    report = json.loads((tmp_path / "report.json").read_text())  # the preset, no training step
    assert report["model"]["trained_here"] is False and "motif-basset" in report["model"]["path"]
