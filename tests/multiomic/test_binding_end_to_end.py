"""End-to-end: ``--task pretrain`` / ``--task binding``, train.py, --predict and the demo, by subprocess."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, run_cli
from conftest import run_script as _run

METRICS = {"pearson_r", "spearman_rho", "mae", "rmse", "n"}


@pytest.fixture(scope="module")
def binding_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("binding")
    result = _run([str(ROOT / "main.py"), "--task", "binding", "--max-complexes", "120",
                   "--folds", "3", "--epochs", "1", "--pretrain-epochs", "1",
                   "--max-per-source", "60", "--jaspar-replicates", "2", "--output", str(out),
                   "--data-dir", str(data_dir), "--verbose", "2"], cwd=out)
    return out, result


def test_binding_report(binding_run):
    out, result = binding_run
    report = json.loads((out / "report.json").read_text())
    assert report["task"] == "binding"
    assert report["arms"] == ["pretrained", "scratch"]
    assert len(report["folds"]) == 3
    assert METRICS <= set(report["overall"]) and report["overall"]["arm"] == "pretrained"
    assert METRICS <= set(report["without_pretraining"])
    assert {"kmer_ridge", "training_mean"} == set(report["baseline"])
    assert {"delta_pearson_r", "delta_mae"} == set(report["pretraining_effect"])
    n = report["data"]["used_complexes"]
    assert n >= 120 and report["overall"]["n"] == n
    assert sum(f["n_test"] for f in report["folds"]) == n
    for fold in report["folds"]:
        assert {"pretrained", "scratch", "ridge", "training_mean"} <= set(fold)
    assert 0 < report["overall"]["mae"] < 10
    assert report["pretraining"]["heldout"]["n_masked"] > 0
    assert {"pretraining", "ridge", "pretrained", "scratch", "total"} <= set(report["seconds"])
    assert set(report["target"]) == {"pearson_r", "mae", "source"}  # the paper's, for reference
    jaspar = report["jaspar"]
    assert set(jaspar) >= {"pretrained", "scratch", "ridge"} and "training_mean" not in jaspar
    # The 120+ complexes of the slice include ProNAB proteins with JASPAR CORE matrices (3
    # proteins, 4 matrices with seed 0), so the specificity test always runs here.
    assert jaspar["matrices"] >= 1 and jaspar["proteins"] >= 1
    assert "overall (pretrained): pearson_r=" in result.stdout
    assert (out / "predicted_vs_measured.png").stat().st_size > 10_000
    assert (out / "pretrain" / "backbone.keras").is_file()


def test_metrics_recomputed_from_the_out_of_fold_predictions(binding_run):
    """report.json's pooled and per-fold metrics = scipy / scikit-learn on predictions.csv."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    out, _ = binding_run
    report = json.loads((out / "report.json").read_text())
    predictions = pd.read_csv(out / "predictions.csv", keep_default_na=False)
    assert len(predictions) == report["overall"]["n"] == report["data"]["used_complexes"]

    def check(block, frame, column):
        y, p = frame["dg"].to_numpy(), frame[column].to_numpy()
        assert block["n"] == len(frame)
        assert block["mae"] == pytest.approx(mean_absolute_error(y, p), abs=1e-9)
        assert block["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, p)), abs=1e-9)
        if np.ptp(p) > 0:
            assert block["pearson_r"] == pytest.approx(pearsonr(y, p)[0], abs=1e-9)
            assert block["spearman_rho"] == pytest.approx(spearmanr(y, p)[0], abs=1e-9)
        else:  # a constant prediction has no correlation
            assert block["pearson_r"] is None

    check(report["overall"], predictions, "pretrained")
    check(report["without_pretraining"], predictions, "scratch")
    check(report["baseline"]["kmer_ridge"], predictions, "ridge")
    check(report["baseline"]["training_mean"], predictions, "training_mean")
    for fold in report["folds"]:
        rows = predictions[predictions["fold"] == fold["fold"]]
        for arm in ("pretrained", "scratch", "ridge", "training_mean"):
            check(fold[arm], rows, arm)
        # the training-mean baseline predicts the mean ΔG of the other folds' complexes
        other = predictions.loc[predictions["fold"] != fold["fold"], "dg"].mean()
        np.testing.assert_allclose(rows["training_mean"], other, rtol=1e-12)
    effect = report["pretraining_effect"]
    assert effect["delta_mae"] == pytest.approx(report["overall"]["mae"]
                                                - report["without_pretraining"]["mae"])


def test_jaspar_summary_recomputed_from_jaspar_csv(binding_run):
    """ΔΔG = mutant − its consensus, per arm, from jaspar.csv (consensus row, then its mutants)."""
    from pyjaspar import jaspardb

    out, _ = binding_run
    report = json.loads((out / "report.json").read_text())
    jaspar = report["jaspar"]
    rows = pd.read_csv(out / "jaspar.csv", keep_default_na=False)
    site = (rows["kind"] == "consensus").cumsum() - 1  # rows are grouped site by site
    consensus = rows[rows["kind"] == "consensus"]
    assert len(consensus) == jaspar["pretrained"]["sites"] and consensus["matrix_id"].nunique() == \
        jaspar["matrices"] and consensus["accession"].nunique() == jaspar["proteins"]
    # --jaspar-replicates 2: two distinct mutants per consensus site, of its length
    assert rows["kind"].tolist() == ["consensus", "mutant", "mutant"] * len(consensus)
    for _, group in rows.groupby(site):
        sites = group["site"].tolist()
        assert len(set(sites)) == 3 and len({len(x) for x in sites}) == 1
    for arm in ("pretrained", "scratch", "ridge"):
        reference = rows[f"dg_{arm}"].where(rows["kind"] == "consensus").groupby(site).transform("max")
        mutants = rows["kind"] == "mutant"
        ddg = (rows[f"dg_{arm}"] - reference)[mutants]
        assert jaspar[arm]["mutants"] == len(ddg) == 2 * jaspar[arm]["sites"]
        assert jaspar[arm]["mean_ddg"] == pytest.approx(ddg.mean(), abs=1e-9)
        assert jaspar[arm]["fraction_weaker"] == pytest.approx((ddg > 0).mean())
    # each consensus is the most frequent base per column of its JASPAR matrix, whose UniProt
    # accessions include the protein's
    database = jaspardb(release="JASPAR2026")
    for row in consensus.itertuples():
        motif = database.fetch_motif_by_id(row.matrix_id)
        assert row.accession in motif.acc
        assert row.site == "".join(max("ACGT", key=lambda b: motif.counts[b][i])
                                   for i in range(motif.length))


def test_binding_folds_never_share_a_protein(binding_run):
    out, _ = binding_run
    predictions = pd.read_csv(out / "predictions.csv", keep_default_na=False)
    folds_of_accession = predictions.groupby("accession")["fold"].nunique()
    assert (folds_of_accession == 1).all()
    assert set(predictions["fold"]) == {1, 2, 3}
    assert predictions[["pretrained", "scratch", "ridge"]].notna().all().all()


def test_fold_model_reloads_and_matches_its_predictions(binding_run):
    out, _ = binding_run
    from deepbio.multiomic.tokenizer import MultiomicTokenizer

    predictions = pd.read_csv(out / "predictions.csv", keep_default_na=False)
    params = json.loads((out / "params.json").read_text())
    held = predictions[predictions["fold"] == 1].head(5)
    from deepbio.multiomic.pronab import load_pronab

    frame = load_pronab().frame.merge(held, on=["accession", "nucleic_acid", "type",
                                                "complementary"])
    tokenizer = MultiomicTokenizer()
    ids, mask = tokenizer.pad([tokenizer.encode_complex(
        r.protein, r.nucleic_acid, r.type, r.complementary or None,
        max_protein_length=params["max_protein_length"]) for r in frame.itertuples()])
    model = keras.models.load_model(out / "model_fold1.keras")
    direct = model.predict({"token_ids": ids, "padding_mask": mask.astype("int32")}, verbose=0)[:, 0]
    # the CV used the shared-protein path; the saved model runs the plain forward
    np.testing.assert_allclose(direct, frame["pretrained"].to_numpy(), atol=1e-3)


def test_pretrain_on_a_user_corpus(tmp_path):
    corpus = tmp_path / "corpus.fasta"
    rng = np.random.default_rng(0)
    corpus.write_text("".join(f">p{i}\n{''.join(rng.choice(list('ACDEFGHIKLMNPQRSTVWY'), 40))}\n"
                              f">n{i}\n{''.join(rng.choice(list('ACGT'), 50))}\n" for i in range(40)))
    result = _run([str(ROOT / "main.py"), "--task", "pretrain", "--corpus", str(corpus),
                   "--epochs", "2", "--output", str(tmp_path / "out"), "--verbose", "0"], cwd=tmp_path)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["corpus"]["sequences"] == 80
    assert report["corpus"]["per_modality"] == {"protein": 40, "DNA": 40}
    assert 0.0 <= report["heldout"]["masked_accuracy"] <= 1.0
    assert report["heldout"]["perplexity"] > 1.0
    assert "held-out masked-token accuracy" in result.stdout
    backbone = keras.models.load_model(tmp_path / "out" / "backbone.keras")
    assert type(backbone).__name__ == "MultiomicBackbone"
    bad = tmp_path / "bad.fasta"
    bad.write_text(">x1\nMKVXB\n")
    status, _, err = run_cli(["--task", "pretrain", "--corpus", bad, "--output", tmp_path / "bad",
                              "--verbose", "0"], script="main.py")  # in this process
    assert status == 2 and "non-standard residue 'X' at position 4" in err  # bad input
    assert err.count("deepbio: error: ") == 1 and not (tmp_path / "bad" / "report.json").exists()


def test_train_then_predict_pairs(tmp_path, data_dir):
    out = tmp_path / "train"
    _run([str(ROOT / "train.py"), "--task", "binding", "--no-pretrain", "--max-complexes", "60",
          "--epochs", "1", "--output", str(out), "--data-dir", str(data_dir), "--verbose", "0"],
         cwd=tmp_path)
    assert (out / "model.keras").is_file()
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"protein": ["MKVLAAGRR", "MSTNPKPQRK"], "nucleic_acid": ["ACGTTG", "GGAUCC"],
                  "type": ["DNA", "RNA"], "complementary": ["CAACGT", ""]}).to_csv(pairs, index=False)
    result = _run([str(ROOT / "main.py"), "--task", "binding", "--model", str(out / "model.keras"),
                   "--predict", str(pairs), "--output", str(tmp_path / "pred"), "--verbose", "0"],
                  cwd=tmp_path)
    predicted = pd.read_csv(tmp_path / "pred" / "predictions.csv", keep_default_na=False)
    assert len(predicted) == 2 and "2 complexes" in result.stdout
    # the CSV holds what the saved model gives on the same tokens, in this process
    from deepbio.multiomic.tokenizer import MultiomicTokenizer

    tokenizer = MultiomicTokenizer()
    ids, mask = tokenizer.pad([tokenizer.encode_complex("MKVLAAGRR", "ACGTTG", "DNA", "CAACGT"),
                               tokenizer.encode_complex("MSTNPKPQRK", "GGAUCC", "RNA")])
    model = keras.models.load_model(out / "model.keras")
    direct = model.predict({"token_ids": ids, "padding_mask": mask.astype("int32")}, verbose=0)[:, 0]
    np.testing.assert_allclose(predicted["predicted_dg"], direct, rtol=1e-6)


def test_demo_runs(tmp_path, data_dir, binding_run):
    out, _ = binding_run
    result = _run([str(ROOT / "demo" / "binding" / "predict_heldout.py"), "--run", str(out),
                   "--examples", "3", "--data-dir", str(data_dir)], cwd=tmp_path)
    assert "measured" in result.stdout and "held-out complexes: Pearson r" in result.stdout
    result = _run([str(ROOT / "demo" / "binding" / "predict_heldout.py"), "--train-here",
                   "--max-complexes", "80", "--epochs", "1", "--examples", "3", "--data-dir",
                   str(data_dir)], cwd=tmp_path)
    assert "fine-tuning a 'tiny' backbone" in result.stdout
    assert sum(("(DNA" in line or "(RNA" in line) for line in result.stdout.splitlines()) == 3


def test_demo_runs_on_the_preset(tmp_path, data_dir):
    """No run folder, no training: the binding-dg preset, labelled in-sample."""
    result = _run([str(ROOT / "demo" / "binding" / "predict_heldout.py"), "--examples", "3",
                   "--data-dir", str(data_dir)], cwd=tmp_path)
    assert "the binding-dg preset; IN-SAMPLE" in result.stdout
    assert "sampled (in-sample) complexes: Pearson r" in result.stdout
    assert sum(("(DNA" in line or "(RNA" in line) for line in result.stdout.splitlines()) == 3
