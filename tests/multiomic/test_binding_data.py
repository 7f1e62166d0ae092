"""ProNAB loading and grouped folds, k-mer features, regression metrics, JASPAR helpers."""

import numpy as np
import pytest

from deepbio.multiomic.pronab import load_pronab, protein_grouped_folds
from deepbio.multiomic import binding_specificity
from deepbio.metrics import regression_metrics
from deepbio.multiomic import binding_task as binding
from Feature_extraction_algorithms.kmer import KmerComposition, kmer_composition, kmer_names


@pytest.fixture(scope="module")
def pronab(data_dir):
    return load_pronab(data_dir)


def test_pronab_filters_and_merges(pronab):
    counts = pronab.counts
    assert counts["entries"] == 14582
    assert counts["dropped_type"] == 96
    assert counts["dropped_zero_kd_or_dg"] == 910
    assert counts["dropped_empty_nucleic_acid"] == 2
    assert counts["kept_entries"] == 14582 - 96 - 910 - 2
    assert counts["complexes"] == 3604
    assert counts["proteins"] == 739
    frame = pronab.frame
    assert not frame.duplicated(["protein", "nucleic_acid", "type", "complementary"]).any()
    assert frame["n_entries"].sum() == counts["kept_entries"]
    assert set(frame["type"]) == {"DNA", "RNA"}
    assert (frame["dg"] != 0).all() and (frame["kd"] > 0).all()
    # the first complex of the file: P-element transposase, 8 identical entries merged
    first = frame.iloc[0]
    assert (first["accession"], first["nucleic_acid"], first["n_entries"]) == \
        ("Q7M3K2", "GAGGTTAAGTGGATGT", 8)
    assert first["dg"] == pytest.approx(-9.27)


def test_grouped_folds_never_share_a_protein(pronab):
    frame = pronab.frame
    folds = protein_grouped_folds(frame["group"].to_numpy(), 10, seed=0)
    assert len(folds) == 10
    seen = set()
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(len(frame)))
    for train, test in folds:
        test_proteins = set(frame["protein"].iloc[test])
        assert not test_proteins & set(frame["protein"].iloc[train])
        assert not test_proteins & seen
        seen |= test_proteins
    sizes = [len(test) for _, test in folds]
    assert min(sizes) > 0.5 * np.mean(sizes) and max(sizes) < 1.5 * np.mean(sizes)
    with pytest.raises(ValueError, match="grouped folds"):
        protein_grouped_folds([0, 0, 1], 3)


def test_kmer_composition_values():
    np.testing.assert_allclose(kmer_composition(["ACGT"], 1, "ACGT"), [[0.25] * 4])
    two = kmer_composition(["AAC", "A"], 2, "ACGT")
    names = kmer_names(2, "ACGT")
    assert two[0, names.index("AA")] == pytest.approx(0.5)
    assert two[0, names.index("AC")] == pytest.approx(0.5)
    assert two[1].sum() == 0  # shorter than k
    skip = kmer_composition(["ACNGT"], 2, "ACGT")  # k-mers over N are skipped
    assert skip[0, names.index("AC")] == pytest.approx(0.5)
    assert skip[0, names.index("GT")] == pytest.approx(0.5)
    encoder = KmerComposition((1, 2), "ACGT")
    assert encoder.fit_transform(["ACGT"]).shape == (1, 20)
    assert len(encoder.get_feature_names_out()) == 20


def test_regression_metrics_pinned():
    m = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.5, 1.5, 3.5, 5.0])
    assert m["mae"] == pytest.approx(0.625)
    assert m["pearson_r"] == pytest.approx(6.25 / np.sqrt(5 * 8.6875))  # 0.9483, by hand
    assert m["spearman_rho"] == pytest.approx(0.9487, abs=1e-4)
    assert m["n"] == 4
    assert regression_metrics([1.0, 2.0], [3.0, 3.0])["pearson_r"] is None
    with pytest.raises(ValueError):
        regression_metrics([1.0], [1.0, 2.0])


def test_mutants_and_reverse_complement():
    rng = np.random.default_rng(0)
    mutants = binding_specificity.mutate("ACGTACGTAC", 0.05, 8, rng)
    assert len(set(mutants)) == 8 and "ACGTACGTAC" not in mutants
    assert all(len(m) == 10 for m in mutants)
    assert binding_specificity.reverse_complement("AACG") == "CGTT"
    with pytest.raises(ValueError, match="distinct mutants"):
        binding_specificity.mutate("A", 0.5, 8, rng)


def test_jaspar_sites_match_pronab_accessions(pronab):
    sites = binding_specificity.jaspar_sites(pronab.accession_proteins)
    assert sites["matrix_id"].nunique() == 138
    assert set(sites["accession"]) <= set(pronab.accession_proteins)
    assert (sites["consensus"].str.fullmatch("[ACGT]+")).all()
    queries = binding_specificity.jaspar_queries(sites.head(3), 8, 0.05, 0)
    assert (queries["kind"] == "consensus").sum() == 3 and (queries["kind"] == "mutant").sum() == 24
    summary = binding_specificity.summarize_jaspar(
        queries, np.where(queries["kind"] == "mutant", -8.0, -9.0))
    assert summary["mean_ddg"] == pytest.approx(1.0) and summary["fraction_weaker"] == 1.0


def test_a_measurement_without_a_number_is_named(tmp_path):
    import json

    from deepbio.multiomic.pronab import load_pronab_measurements

    path = tmp_path / "pronab.json"
    path.write_text(json.dumps({"P1": {"Sequence": "MKV", "binding data": [
        ["ACGT", "DNA", 1.0, -9.5, "TGCA"], ["ACGT", "DNA", 1.0, "oops", "TGCA"]]}}))
    with pytest.raises(ValueError, match=r"'P1' binding row 2 has ΔG 'oops', not a number"):
        load_pronab_measurements(path=path)
