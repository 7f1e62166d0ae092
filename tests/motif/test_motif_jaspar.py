"""Tomtom-style JASPAR annotation of k-mers (pyjaspar, offline)."""

import numpy as np
import pytest

from deepbio.motif.jaspar import annotate_kmers, compare_motifs, kmer_pfm, load_jaspar


@pytest.fixture(scope="module")
def jaspar():
    return load_jaspar()


def _sql_vertebrate_core_count():
    """Latest-version CORE matrices tagged tax_group=vertebrates, counted in pyjaspar's SQLite file."""
    import sqlite3
    from pathlib import Path

    import pyjaspar

    database = Path(pyjaspar.__file__).parent / "data" / "JASPAR2026.sqlite"
    with sqlite3.connect(database) as connection:
        return connection.execute(
            "SELECT COUNT(*) FROM MATRIX m WHERE m.COLLECTION = 'CORE' AND m.ID IN "
            "(SELECT ID FROM MATRIX_ANNOTATION WHERE TAG = 'tax_group' AND VAL = 'vertebrates') "
            "AND m.VERSION = (SELECT MAX(VERSION) FROM MATRIX n WHERE n.BASE_ID = m.BASE_ID "
            "AND n.COLLECTION = 'CORE')").fetchone()[0]


def _best_pcc_alignment(kmer, pfm, min_overlap=5):
    """Max over both strands and offsets (≥ min_overlap columns) of Σ column Pearson r, by hand."""
    query = np.eye(4)[["ACGT".index(b) for b in kmer]]
    best = -np.inf
    for target in (pfm, pfm[::-1, ::-1]):  # the reverse complement: rows reversed, A<->T, C<->G
        for offset in range(-(len(query) - 1), len(target)):
            pairs = [(query[i], target[i + offset]) for i in range(len(query))
                     if 0 <= i + offset < len(target)]
            if len(pairs) >= min(min_overlap, len(query), len(target)):
                best = max(best, sum(np.corrcoef(a, b)[0, 1] for a, b in pairs))
    return best


def test_known_consensus_sites_find_their_families(jaspar):
    assert len(jaspar) == _sql_vertebrate_core_count() == 1019  # JASPAR2026 CORE vertebrates
    table = annotate_kmers(["TGACTCAT", "AGATAAGA", "CACGTGAC"], jaspar)
    names = dict(zip(table["motif"], table["jaspar_name"].str.upper()))
    assert names["TGACTCAT"] in {"JUNB", "JUN", "JUND", "FOS", "FOSL1", "FOSL2", "BACH1", "FOS::JUN"}
    assert "GATA" in names["AGATAAGA"]
    assert table["jaspar_id"][0] == "MA0490.3"
    # the score: the best alignment's sum of column PCCs, recomputed from the matrix's raw counts
    from pyjaspar import jaspardb

    motif = jaspardb(release="JASPAR2026").fetch_motif_by_id("MA0490.3")
    counts = np.array([motif.counts[b] for b in "ACGT"], np.float64).T
    expected = _best_pcc_alignment("TGACTCAT", counts / counts.sum(axis=1, keepdims=True))
    assert table["jaspar_score"][0] == pytest.approx(expected, abs=5e-5)  # reported to 4 decimals
    assert expected == pytest.approx(7.9887, abs=5e-5)
    assert (table["jaspar_e_value"] < 0.05).all() and (table["jaspar_overlap"] == 8).all()
    assert table["jaspar_strand"][1] == "-"  # JASPAR's Gata3 reads TCTTATCT


def test_a_matrix_matches_itself_on_either_strand(jaspar):
    target = next(m for m in jaspar if m.matrix_id.startswith("MA0139"))  # CTCF
    hits = compare_motifs(target.pfm, jaspar)
    assert hits["matrix_id"][0] == target.matrix_id and hits["offset"][0] == 0
    assert hits["score"][0] == pytest.approx(len(target.pfm), abs=1e-9)
    flipped = compare_motifs(target.pfm[::-1, ::-1], jaspar)
    assert flipped["matrix_id"][0] == target.matrix_id and flipped["strand"][0] == "-"
    assert np.all(np.diff(hits["p_value"]) >= 0)


def test_bad_queries():
    with pytest.raises(ValueError, match="'ACGN'"):
        kmer_pfm("ACGN")
    with pytest.raises(ValueError, match="release"):
        load_jaspar(release="JASPAR1999")
