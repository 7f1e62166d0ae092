"""``deepbio run contacts`` end to end on a slice of the real complexes, ``--backbone DIR`` with a
tiny converted OmniBioTE checkpoint, ``predict contacts``, and bad files (exit status 2)."""

import contextlib
import importlib.util
import io
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from deepbio import cli
from pdb_text import PROTEIN_DNA, write_pdb

MODELS = ("finetuned", "probe", "random_probe", "propensity")


def run_cli(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(args)
    return status, out.getvalue(), err.getvalue()


def test_tiny_run_on_real_complexes(tiny_run):
    folder = tiny_run("contacts")
    report = json.loads((folder / "report.json").read_text())
    assert report["data"]["complexes"] == 4 and report["data"]["protein_chains"] >= 4
    assert 0 < report["data"]["positive_rate"] < 1
    assert set(report["models"]) == set(MODELS)
    for model in MODELS:
        pooled = report["models"][model]["all"]["pooled"]
        assert 0 <= pooled["auroc"] <= 1 and 0 <= pooled["f1"] <= 1
        assert pooled["residues"] == report["data"]["residues"]
        assert set(report["models"][model]) >= {"all", "DNA", "RNA"}
        assert [f["fold"] for f in report["models"][model]["all"]["folds"]] == [0, 1]
    predictions = pd.read_csv(folder / "predictions.csv")
    assert len(predictions) == report["data"]["residues"]
    assert (predictions["contact"] == (predictions["distance"] <= 8.0)).all()
    folds = pd.read_csv(folder / "folds.csv")
    assert folds.groupby("cluster")["fold"].nunique().max() == 1  # homologues on one side
    pngs = sorted(p.name for p in folder.glob("*.png"))
    assert "attention_top_l.png" in pngs and sum(p.startswith("contacts_") for p in pngs) == 2
    assert 0 <= report["attention"]["top_l"] <= 1
    probe = keras.saving.load_model(folder / "probe_fold1.keras")
    assert probe.get_layer("contact_probe").filters == 8


def test_predict_contacts_and_bad_files_exit_2(tiny_run, tmp_path):
    model = tiny_run("contacts") / "finetuned_fold1.keras"
    good = write_pdb(tmp_path / "toy.pdb", PROTEIN_DNA)
    status, _, err = run_cli(["predict", "contacts", "--model", str(model), "--input", str(good),
                              "--output", str(tmp_path / "toy.csv")])
    assert status == 0, err
    table = pd.read_csv(tmp_path / "toy.csv")
    assert table["residue"].tolist() == list("AMGK")
    np.testing.assert_allclose(table["distance_angstrom"], [4.0, 7.5, 3.0, 30.0], atol=1e-4)
    assert table["probability"].between(0, 1).all()
    (tmp_path / "empty.pdb").write_text("")
    write_pdb(tmp_path / "protein_only.pdb", PROTEIN_DNA[:16])
    (tmp_path / "text.pdb").write_text("not a structure\n")
    for name, problem in (("empty.pdb", "empty file"), ("protein_only.pdb", "no nucleic-acid"),
                          ("text.pdb", "no ATOM/HETATM"), ("missing.pdb", "")):
        status, _, err = run_cli(["predict", "contacts", "--model", str(model), "--input",
                                  str(tmp_path / name), "--output", str(tmp_path / "x.csv")])
        lines = err.strip().splitlines()
        assert status == 2 and len(lines) == 1, err
        assert lines[0].startswith("deepbio: error:") and name in lines[0] and problem in lines[0]
    assert not (tmp_path / "x.csv").exists()


def _convert_tiny_omnibiote(folder):
    """A tiny OmniBioTE checkpoint (the converter tests' PyTorch reference), converted."""
    pytest.importorskip("torch")
    path = Path(__file__).resolve().parents[1] / "test_omnibiote_convert.py"
    spec = importlib.util.spec_from_file_location("omnibiote_reference", path)
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    from deepbio.multiomic.convert import convert_omnibiote

    reference.save_as_upstream(reference.random_binder(0).omnibiota, folder / "tiny.pt")
    convert_omnibiote(folder / "tiny.pt", folder / "converted")
    return folder / "converted"


def test_backbone_dir_from_a_converted_checkpoint(tmp_path, data_dir):
    converted = _convert_tiny_omnibiote(tmp_path)
    status, out, err = run_cli([
        "run", "contacts", "--backbone", str(converted), "--max-complexes", "2", "--folds", "2",
        "--epochs", "1", "--probe-epochs", "1", "--max-protein", "20", "--max-nucleic", "20",
        "--no-finetune", "--output", str(tmp_path / "run"), "--data-dir", str(data_dir),
        "--verbose", "0"])
    assert status == 0, err
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["backbone"]["converted"] and report["backbone"]["layers"] == 2
    assert set(report["models"]) == {"probe", "random_probe", "propensity"}
    # 2 layers × 2 heads × 2 directions of attention read by the probe
    assert len(report["attention"]["channel_auroc"]) == 8
    assert json.loads((tmp_path / "run" / "tokenizer.json").read_text())["mode"] == "char"
