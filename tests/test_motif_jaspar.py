"""Tomtom-style JASPAR annotation of k-mers (pyjaspar, offline)."""

import numpy as np
import pytest

from deepbio.interpret.jaspar import annotate_kmers, compare_motifs, kmer_pfm, load_jaspar


@pytest.fixture(scope="module")
def jaspar():
    return load_jaspar()


def test_known_consensus_sites_find_their_families(jaspar):
    assert len(jaspar) == 1019  # JASPAR2026 CORE vertebrates
    table = annotate_kmers(["TGACTCAT", "AGATAAGA", "CACGTGAC"], jaspar)
    names = dict(zip(table["motif"], table["jaspar_name"].str.upper()))
    assert names["TGACTCAT"] in {"JUNB", "JUN", "JUND", "FOS", "FOSL1", "FOSL2", "BACH1", "FOS::JUN"}
    assert "GATA" in names["AGATAAGA"]
    assert table["jaspar_id"][0] == "MA0490.3" and table["jaspar_score"][0] == pytest.approx(7.9887)
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
