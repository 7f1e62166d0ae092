"""The PDB reader on structures with known coordinates, and on bad files."""

import numpy as np
import pytest

from deepbio.multiomic.contacts.data import complex_examples
from deepbio.multiomic.contacts.structures import (chain_summary, contact_map, read_complex,
                                                   residue_distances, residue_pair_distances)
from pdb_text import PROTEIN_DNA, PROTEIN_DNA_DISTANCES, PROTEIN_RNA, write_pdb


@pytest.fixture
def protein_dna(tmp_path):
    return read_complex(write_pdb(tmp_path / "toy.pdb", PROTEIN_DNA))


def test_chains_sequences_and_what_was_handled(protein_dna):
    protein, dna = protein_dna.chain("A"), protein_dna.chain("B")
    assert (protein.kind, protein.sequence, dna.kind, dna.sequence) == ("protein", "AMGK",
                                                                        "DNA", "AT")
    assert protein.residue_ids == [(1, ""), (2, ""), (3, ""), (7, "")]
    assert protein.modified == {"MSE": 1} and protein.unknown == 0
    assert (protein.gaps, protein.missing_residues) == (1, 3)
    assert (dna.gaps, dna.modified) == (0, {})
    summary = chain_summary(protein_dna)
    assert summary["altloc_atoms"] == 1 and summary["ligands"] == {"ZN": 1}
    assert summary["waters"] == 1 and summary["hydrogens"] == 2
    # both locations of GLY 3's CA are kept; hydrogens are not
    assert protein.atom_altlocs.count("A") == 1 and protein.atom_altlocs.count("B") == 1
    assert "H" not in protein.atom_names and "H1'" not in dna.atom_names


def test_residue_distances_are_the_closest_heavy_atoms(protein_dna):
    np.testing.assert_allclose(residue_distances(protein_dna, "A"), PROTEIN_DNA_DISTANCES,
                               atol=1e-5)


def test_pair_distances_and_contact_maps(protein_dna):
    pairs = residue_pair_distances(protein_dna, "A", "B", max_distance=8.0)
    np.testing.assert_allclose(pairs[:3], [[4.0, np.inf], [7.5, np.inf],
                                           [np.hypot(1.5, 3.0), 3.0]], atol=1e-5)
    assert np.isinf(pairs[3]).all()
    np.testing.assert_array_equal(contact_map(protein_dna, "A", "B", 8.0),
                                  [[1, 0], [1, 0], [1, 1], [0, 0]])
    np.testing.assert_array_equal(contact_map(protein_dna, "A", "B", 3.5),
                                  [[0, 0], [0, 0], [1, 1], [0, 0]])
    with pytest.raises(ValueError, match="positive distance"):
        contact_map(protein_dna, "A", "B", 0)


def test_examples_label_at_the_cutoff(protein_dna):
    (example,) = complex_examples(protein_dna, "DNA", cutoff=7.5, min_length=1)
    assert (example.name, example.nucleic_chain, example.nucleic) == ("toy_A", "B", "AT")
    np.testing.assert_array_equal(example.labels(7.5), [1, 1, 1, 0])
    np.testing.assert_array_equal(example.labels(5.0), [1, 0, 1, 0])


def test_rna_and_modified_nucleotides(tmp_path):
    record = read_complex(write_pdb(tmp_path / "rna.pdb", PROTEIN_RNA))
    rna = record.chain("R")
    assert (rna.kind, rna.sequence, rna.modified) == ("RNA", "AUU", {"PSU": 1})
    np.testing.assert_allclose(residue_distances(record, "P"), [5.0], atol=1e-5)


@pytest.mark.parametrize("content, problem", [
    ("", "empty file"),
    (b"\x89PNG\r\n\x1a\n\0\0", "binary content"),
    ("hello, this is not a structure\n", "no ATOM/HETATM records"),
    ("protein", "no nucleic-acid chain"),
    ("dna", "no protein chain"),
])
def test_bad_files_are_one_line_errors(tmp_path, content, problem):
    path = tmp_path / "bad.pdb"
    if content == "protein":
        write_pdb(path, PROTEIN_DNA[:16])
    elif content == "dna":
        write_pdb(path, PROTEIN_DNA[18:])
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ValueError, match=problem) as error:
        read_complex(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(FileNotFoundError, match="no such structure file"):
        read_complex(tmp_path / "missing.pdb")
