"""OmniBioTE's ProNAB protocol (``--protocol paper``): filter, BLOSUM62 similarity, folds, a tiny run.

Counts on the ProNAB JSON OmniBioTE distributes (``datasets/pronab_no_mutations.json``, 757
UniProt accessions, 752 distinct sequences, 14,582 binding entries): every protein holds only the
20 standard residues and every strand only A/C/G/T/U, so the paper's filter keeps all 14,582
entries of 752 proteins (the paper's 850 proteins / 15,994 complexes come from the ProNAB release
the authors had; this file is keyed by accession and holds fewer). OmniBioTE's ``evals/pronab.py``
then skips the 96 entries of type "Other" and the 910 with ΔG = 0, and two entries have an empty
strand: 14,582 − 96 − 910 − 2 = 13,574 measurements of 739 proteins, one ΔG each (the merged
protocol averages them into 3,604 complexes).
"""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from conftest import run_script as _run
from deepbio.multiomic.pronab import (_upper_bounds, blosum62_score, blosum62_similarity,
                                 load_pronab_measurements, paper_folds)


@pytest.fixture(scope="module")
def measurements(data_dir):
    return load_pronab_measurements(data_dir)


def test_paper_filter_counts(measurements):
    counts = measurements.counts
    assert counts["entries"] == 14582
    assert counts["paper_filter"] == {"entries": 14582, "proteins": 752}
    assert counts["dropped_nonstandard_residue"] == counts["dropped_nonstandard_base"] == 0
    assert (counts["dropped_type"], counts["dropped_zero_dg"],
            counts["dropped_empty_nucleic_acid"]) == (96, 910, 2)
    assert counts["kept_entries"] == 14582 - 96 - 910 - 2 == 13574
    assert counts["proteins"] == 739
    frame = measurements.frame
    assert len(frame) == 13574 and (frame["n_entries"] == 1).all()
    # duplicates are kept: the first record (P-element transposase) has 8 identical entries
    first = frame[frame["accession"] == "Q7M3K2"]
    assert len(first) == 8 and (first["dg"] == -9.27).all()
    assert set("".join(frame["nucleic_acid"] + frame["complementary"])) <= set("ACGT")


def test_blosum62_score_by_hand(measurements):
    # identical: the mean BLOSUM62 diagonal entry, M5 K5 V4 L4 A4 A4 G6 I4 W11 = 47 / 9
    assert blosum62_score("MKVLAAGIW", "MKVLAAGIW") == pytest.approx(47 / 9)
    # a substitution: M–M 5, K–R 2, V–V 4 = 11 over 3 residues
    assert blosum62_score("MKV", "MRV") == pytest.approx(11 / 3)
    # a gap: M–M 5 + K–K 5 + gap (open −10) + L–L 4 = 4 over the longer length 4
    assert blosum62_score("MKVL", "MKL") == pytest.approx(1.0)
    assert blosum62_score("MKL", "MKVL") == blosum62_score("MKVL", "MKL")
    # the paper: identical sequences score about 5.2 (ProNAB's proteins, residue-weighted)
    proteins = measurements.frame["protein"].unique()
    letters = "".join(proteins)
    total = sum(blosum62_score(r, r) * letters.count(r) for r in set(letters))
    assert total / len(letters) == pytest.approx(5.23, abs=0.01)
    assert np.mean([blosum62_score(p, p) for p in proteins[:40]]) == pytest.approx(5.2, abs=0.15)


@pytest.fixture(scope="module")
def sample(measurements):
    """30 short real proteins, two point-mutated copies and one fragment (planted homologs)."""
    proteins = sorted(p for p in measurements.frame["protein"].unique() if len(p) < 160)[:30]
    rng = np.random.default_rng(0)
    mutated = []
    for source, rate in ((proteins[0], 0.1), (proteins[1], 0.5)):
        letters = list(source)
        for at in rng.choice(len(letters), int(rate * len(letters)), replace=False):
            letters[at] = "W" if letters[at] != "W" else "A"
        mutated.append("".join(letters))
    return proteins + mutated + [proteins[2][: len(proteins[2]) // 2]]


def test_similarity_with_the_bound_equals_all_pairs(sample, tmp_path):
    fast = blosum62_similarity(sample, 1.5, workers=1, cache_dir=tmp_path)
    slow = blosum62_similarity(sample, 1.5, workers=1, cache_dir=False, prune=False)
    assert fast["pruned_pairs"] > 0 and slow["pruned_pairs"] == 0
    np.testing.assert_array_equal(fast["similar"], slow["similar"])
    np.testing.assert_array_equal(fast["pairs"], slow["pairs"])
    np.testing.assert_allclose(fast["scores"], slow["scores"])
    n = len(sample)
    assert [0, n - 3] in fast["pairs"].tolist()  # the 10 % mutant of protein 0
    # the bound holds for every pair, and every pair it rules out scores at most 1.5
    bound = _upper_bounds(sample)
    scores = np.array([[blosum62_score(a, b) if i < j else np.nan for j, b in enumerate(sample)]
                       for i, a in enumerate(sample)])
    upper = np.triu_indices(n, 1)
    assert (scores[upper] <= bound[upper] + 1e-9).all()
    assert (scores[upper][bound[upper] <= 1.5] <= 1.5).all()
    cached = blosum62_similarity(sample, 1.5, cache_dir=tmp_path)  # read back from the cache
    np.testing.assert_array_equal(cached["pairs"], fast["pairs"])
    with pytest.raises(ValueError, match="distinct"):
        blosum62_similarity(sample + sample[:1])


def test_paper_folds(measurements):
    frame = measurements.frame
    groups = np.unique(frame["group"])
    train_only = set(groups[::7].tolist())
    folds, fold_of = paper_folds(frame, 10, seed=0, train_only=train_only)
    excluded = frame["group"].isin(train_only).to_numpy()
    assert (fold_of[excluded] == 0).all() and (fold_of[~excluded] > 0).all()
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == sorted(np.flatnonzero(~excluded))
    per_fold = [frame["group"].iloc[test].nunique() for _, test in folds]
    assert sum(per_fold) == len(groups) - len(train_only) and max(per_fold) - min(per_fold) <= 1
    for train, test in folds:
        assert set(np.flatnonzero(excluded)) <= set(train)  # train-only rows train every fold
        assert not set(frame["group"].iloc[test]) & set(frame["group"].iloc[train])
    again, _ = paper_folds(frame, 10, seed=0, train_only=train_only)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again))
    with pytest.raises(ValueError, match="cannot make 10 folds"):
        paper_folds(frame[frame["group"] < 5], 10)


def test_paper_protocol_end_to_end(tmp_path, data_dir):
    out = tmp_path / "run"
    result = _run([str(ROOT / "main.py"), "--task", "binding", "--protocol", "paper",
                   "--max-complexes", "150", "--folds", "2", "--epochs", "1", "--no-pretrain",
                   "--no-jaspar", "--output", str(out), "--data-dir", str(data_dir),
                   "--verbose", "2"], cwd=tmp_path)
    report = json.loads((out / "report.json").read_text())
    protocol = report["protocol"]
    assert protocol["name"] == "paper" and protocol["similarity"]["threshold"] == 1.5
    assert protocol["paper"]["cv_interactions"] == 12282
    assert report["arms"] == ["scratch", "protein_only", "nucleic_acid_only"]
    assert set(report["fold_mean"]) == {"scratch", "protein_only", "nucleic_acid_only", "ridge",
                                        "training_mean"}
    assert set(report["single_omic_controls"]) >= {"protein_only", "nucleic_acid_only"}
    predictions = pd.read_csv(out / "predictions.csv", keep_default_na=False,
                              na_values=[""])
    assert len(predictions) == report["data"]["used_complexes"]
    tested = predictions[predictions["fold"] > 0]
    assert len(tested) == protocol["cv_interactions"] == sum(f["n_test"] for f in report["folds"])
    assert predictions.loc[predictions["fold"] == 0, "scratch"].isna().all()
    from scipy.stats import pearsonr

    for number, fold in enumerate(report["folds"], 1):
        rows = tested[tested["fold"] == number]
        for arm in ("scratch", "ridge", "training_mean"):
            assert fold[arm]["mae"] == pytest.approx(np.abs(rows["dg"] - rows[arm]).mean())
        assert fold["ridge"]["pearson_r"] == pytest.approx(pearsonr(rows["dg"], rows["ridge"])[0])
    for arm in ("scratch", "ridge"):
        assert report["fold_mean"][arm]["mae"] == pytest.approx(
            np.mean([f[arm]["mae"] for f in report["folds"]]))
    assert report["overall"]["n"] == len(tested)
    assert "fold mean scratch: pearson_r=" in result.stdout


def test_converted_backbone_encodes_with_its_tokenizer(tmp_path, data_dir):
    """--backbone of convert_omnibiote: complexes in OmniBioTE's ids, fine-tuned end to end."""
    reference = pytest.importorskip("test_omnibiote_convert")  # the PyTorch reference classes
    from deepbio.multiomic.convert import convert_omnibiote
    from deepbio.multiomic.omnibiote_tokenizer import OmniBioTETokenizer
    from deepbio.multiomic.finetune_task import backbone_tokenizer
    from deepbio.core.run_folder import run_task
    from deepbio.multiomic.fine_tuning import encode_complexes

    model = reference.OmniBioTA(reference.OmniBioTAConfig(context_length=160))
    reference.save_as_upstream(model, tmp_path / "omnibiota.pt")
    convert_omnibiote(tmp_path / "omnibiota.pt", tmp_path / "converted")
    backbone = tmp_path / "converted" / "backbone.keras"
    tokenizer, converted = backbone_tokenizer(backbone)
    assert converted
    pairs = pd.DataFrame({"accession": ["x", "y"], "protein": ["MKV", "MEEP"],
                          "nucleic_acid": ["ACGT", "TTGA"], "type": ["DNA", "RNA"],
                          "complementary": ["ACGT", ""], "group": [0, 1]})
    encoded = encode_complexes(pairs, tokenizer, None)
    char = OmniBioTETokenizer("char")
    assert encoded.full(0) == char.encode("<protein>MKV<EOS>", "prot") + char.encode(
        "<DNA>ACGT<EOS><DNA>ACGT<EOS>", "nuc")  # upstream evals/pronab.py's layout
    assert encoded.full(1) == char.encode("<protein>MEEP<EOS>", "prot") + char.encode(
        "<RNA>TTGA<EOS>", "nuc")
    report = run_task("binding", tmp_path / "run", data_dir=data_dir, verbose=0,
                      backbone=str(backbone), protocol="paper", max_complexes=40, folds=2,
                      epochs=1, max_protein_length=100, jaspar=False, scratch_comparison=False,
                      single_omic_controls=False)
    assert report["arms"] == ["pretrained"] and report["tokenizer"].startswith("OmniBioTE (char)")
    assert np.isfinite(report["overall"]["mae"])
    assert json.loads((tmp_path / "run" / "tokenizer.json").read_text())["mode"] == "char"
