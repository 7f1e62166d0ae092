"""Protein–nucleic-acid complexes read from PDB files, with residue distances and contact maps.

A complex is read with Biopython's ``PDBParser(QUIET=True)`` (first model only). Every chain is
classified from its residues: a residue is an amino acid when its name is in Biopython's extended
3→1 protein table (``MSE`` → ``M``, ``SEP`` → ``S``, …), a nucleotide when it is in the extended
nucleic table (``DA`` → ``A``, ``PSU`` → ``U``, …); a chain is protein or nucleic by the majority of
its standard (ATOM) residues, then DNA or RNA by its deoxy/ribo residue names (``O2'`` atoms for
modified ones). Within a chain, HETATM residues count as polymer residues only when they map in
that chain's table (so an ``ADP`` ligand in a protein chain is a ligand, not a nucleotide);
waters, ions and other ligands are counted and left out. Hydrogens (element H or D) are left out
of every distance.

What is not a plain standard residue is counted, not dropped silently (`ChainRecord`): modified
residues (by name), gaps (a chain break: peptide C–N or nucleotide O3'–P over 2.0 Å, or a jump in
residue numbering when those atoms are missing), alternate locations and unknown residues
(``X``). Every alternate location of an atom is kept as its own coordinate row, so a residue
contacts a nucleotide when any of its locations does (as the protein–DNA benchmark's own
``contacts_b.dat`` lists them); for a residue with alternative residue names (point mutations)
Biopython's default residue is read. Both are counted (`ComplexRecord`). Sequences hold the residues present in the ATOM/HETATM records, in
file order; residues missing from the model (gaps) are not filled in.

Source: OmniBioTE (github.com/nyuolab/OmniBioTE, ``evals/PDB_contact_eval.py``) labels a protein
residue a contact when its closest nucleotide atom lies within 8 Å; the same distance is
`residue_distances` here.
"""

import collections
import dataclasses
import os
from pathlib import Path

import numpy as np
from Bio.Data import PDBData
from Bio.PDB import PDBParser
from scipy.spatial import cKDTree

PROTEIN_3TO1 = {k.strip(): v for k, v in PDBData.protein_letters_3to1_extended.items()}
NUCLEIC_3TO1 = {k.strip(): v for k, v in PDBData.nucleic_letters_3to1_extended.items()}
STANDARD_PROTEIN = {k.strip() for k in PDBData.protein_letters_3to1}
DNA_NAMES = {"DA", "DC", "DG", "DT", "DU", "DI"}
RNA_NAMES = {"A", "C", "G", "U", "I"}
WATER_NAMES = {"HOH", "WAT", "DOD", "H2O"}
BOND_BREAK_A = 2.0
DEFAULT_CUTOFF = 8.0


@dataclasses.dataclass
class ChainRecord:
    """One polymer chain of a complex.

    Attributes:
        chain_id: str, the PDB chain identifier.
        kind: str, ``"protein"``, ``"DNA"`` or ``"RNA"``.
        sequence: str, one letter per residue present in the file (``X`` unknown).
        residue_ids: list of (int, str), residue number and insertion code per letter.
        coordinates: float32 array (atoms, 3), heavy-atom coordinates in Å; an atom with
            alternate locations has one row per location.
        atom_residue: int array (atoms,), index into ``sequence`` of each row.
        atom_names: list of str (atoms,), PDB atom name of each row.
        atom_altlocs: list of str (atoms,), alternate-location identifier of each row (``""``
            for an ordered atom).
        modified: dict str → int, non-standard residue names read, with counts.
        gaps: int, chain breaks.
        missing_residues: int, residues missing by the numbering at the gaps.
        unknown: int, residues written ``X`` (no one-letter code).
    """

    chain_id: str
    kind: str
    sequence: str
    residue_ids: list
    coordinates: np.ndarray
    atom_residue: np.ndarray
    atom_names: list
    atom_altlocs: list
    modified: dict
    gaps: int
    missing_residues: int
    unknown: int

    def residue_index(self, number, insertion=""):
        """Position in ``sequence`` of residue ``number`` (insertion code ``insertion``).

        Raises:
            KeyError: no such residue in the chain.
        """
        key = (int(number), insertion.strip())
        index = {rid: i for i, rid in enumerate(self.residue_ids)}
        if key not in index:
            raise KeyError(f"chain {self.chain_id} has no residue {number}{insertion.strip()}")
        return index[key]


@dataclasses.dataclass
class ComplexRecord:
    """A protein–nucleic-acid complex read from one PDB file.

    Attributes:
        name: str, e.g. the PDB code.
        path: str, the file read.
        chains: list of `ChainRecord` (protein and nucleic-acid chains, file order).
        altloc_atoms: int, atoms with alternate locations (every location kept).
        altloc_residues: int, residues with alternative residue names (one kept each).
        ligands: dict str → int, hetero residues left out (not water), by name.
        waters: int, water molecules left out.
        hydrogens: int, hydrogen atoms left out.
    """

    name: str
    path: str
    chains: list
    altloc_atoms: int
    altloc_residues: int
    ligands: dict
    waters: int
    hydrogens: int

    @property
    def protein_chains(self):
        """list of `ChainRecord`: the protein chains."""
        return [c for c in self.chains if c.kind == "protein"]

    @property
    def nucleic_chains(self):
        """list of `ChainRecord`: the DNA and RNA chains."""
        return [c for c in self.chains if c.kind != "protein"]

    def chain(self, chain_id):
        """The `ChainRecord` named ``chain_id``.

        Raises:
            KeyError: no polymer chain of that name.
        """
        for record in self.chains:
            if record.chain_id == chain_id:
                return record
        raise KeyError(f"{self.path}: no protein or nucleic-acid chain {chain_id!r}")


def _bad(path, problem):
    return ValueError(f"{path}: {problem}")


def _parse(path, name):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such structure file")
    if os.path.getsize(path) == 0:
        raise _bad(path, "empty file")
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if b"\0" in head:
        raise _bad(path, "not a PDB text file (binary content)")
    try:
        structure = PDBParser(QUIET=True).get_structure(name, str(path))
    except (ValueError, UnicodeDecodeError, IndexError) as error:
        raise _bad(path, f"not a readable PDB file ({error})") from None
    models = list(structure)
    if not models or not any(True for _ in models[0].get_atoms()):
        raise _bad(path, "not a PDB file (no ATOM/HETATM records)")
    return models[0]


def _classify_chain(residues):
    """'protein', 'nucleic' or None from the standard (ATOM) residue names of a chain."""
    counts = collections.Counter()
    for residue in residues:
        hetero, name = residue.id[0], residue.get_resname().strip()
        if hetero != " ":
            continue
        if name in PROTEIN_3TO1:
            counts["protein"] += 1
        elif name in NUCLEIC_3TO1:
            counts["nucleic"] += 1
    if not counts:
        for residue in residues:  # a chain of modified residues only (HETATM)
            name = residue.get_resname().strip()
            if name in PROTEIN_3TO1 and "CA" in residue:
                counts["protein"] += 1
            elif name in NUCLEIC_3TO1 and "P" in residue:
                counts["nucleic"] += 1
    return counts.most_common(1)[0][0] if counts else None


def _nucleic_kind(residues):
    names = [r.get_resname().strip() for r in residues]
    deoxy = sum(n in DNA_NAMES for n in names)
    ribo = sum(n in RNA_NAMES for n in names)
    if deoxy == ribo:
        ribo = sum("O2'" in r for r in residues)
        deoxy = len(residues) - ribo
    return "DNA" if deoxy > ribo else "RNA"


def _is_break(previous, residue, kind):
    tail, head = ("C", "N") if kind == "protein" else ("O3'", "P")
    if tail in previous and head in residue:
        return float(previous[tail] - residue[head]) > BOND_BREAK_A
    return residue.id[1] - previous.id[1] > 1


def _chain_record(chain, kind, residues):
    table = PROTEIN_3TO1 if kind == "protein" else NUCLEIC_3TO1
    standard = STANDARD_PROTEIN if kind == "protein" else DNA_NAMES | RNA_NAMES
    letters, ids, coords, owner, names, altlocs = [], [], [], [], [], []
    modified, gaps, missing, previous = collections.Counter(), 0, 0, None
    for residue in residues:
        name = residue.get_resname().strip()
        letter = table.get(name, "X")
        if name not in standard:
            modified[name] += 1
        if previous is not None:
            if _is_break(previous, residue, kind):
                gaps, missing = gaps + 1, missing + max(residue.id[1] - previous.id[1] - 1, 0)
        for atom in residue.get_atoms():
            if atom.element in ("H", "D"):
                continue
            for location in (atom.disordered_get_list() if atom.is_disordered() else [atom]):
                coords.append(location.coord)
                owner.append(len(letters))
                names.append(atom.get_id())
                altlocs.append(location.get_altloc().strip())
        letters.append(letter)
        ids.append((int(residue.id[1]), residue.id[2].strip()))
        previous = residue
    nucleic_kind = kind if kind == "protein" else _nucleic_kind(residues)
    return ChainRecord(chain.id, nucleic_kind, "".join(letters), ids,
                       np.asarray(coords, np.float32).reshape(-1, 3), np.asarray(owner, np.int64),
                       names, altlocs, dict(modified), gaps, missing, letters.count("X"))


def _polymer_residues(chain, kind, ligands):
    table = PROTEIN_3TO1 if kind == "protein" else NUCLEIC_3TO1
    kept = []
    for residue in chain:
        name = residue.get_resname().strip()
        if residue.id[0] == "W" or name in WATER_NAMES:
            continue
        if residue.id[0] == " " or name in table:
            kept.append(residue)
        else:
            ligands[name] += 1
    return kept


def _count_atoms(model):
    altloc_atoms = hydrogens = 0
    for atom in model.get_atoms():
        altloc_atoms += bool(atom.is_disordered())
        hydrogens += atom.element in ("H", "D")
    altloc_residues = sum(residue.is_disordered() == 2 for residue in model.get_residues())
    return altloc_atoms, altloc_residues, hydrogens


def read_complex(path, name=None):
    """Reads a protein–nucleic-acid complex from a PDB file.

    Args:
        path: str or path-like, a PDB-format file.
        name: str, optional; defaults to the file name without suffix.

    Returns:
        `ComplexRecord` with its protein and nucleic-acid `ChainRecord` s.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is empty, not a PDB file, or holds no protein chain or no
            nucleic-acid chain; one line naming the file and the problem.
    """
    name = name or Path(path).stem
    model = _parse(path, name)
    ligands, waters, chains = collections.Counter(), 0, []
    for chain in model:
        waters += sum(r.id[0] == "W" or r.get_resname().strip() in WATER_NAMES for r in chain)
        kind = _classify_chain(list(chain))
        if kind is None:
            for residue in chain:
                if residue.id[0] != "W" and residue.get_resname().strip() not in WATER_NAMES:
                    ligands[residue.get_resname().strip()] += 1
            continue
        residues = _polymer_residues(chain, kind, ligands)
        if residues:
            chains.append(_chain_record(chain, kind, residues))
    altloc_atoms, altloc_residues, hydrogens = _count_atoms(model)
    record = ComplexRecord(name, str(path), chains, altloc_atoms, altloc_residues, dict(ligands),
                           waters, hydrogens)
    if not record.protein_chains:
        raise _bad(path, "no protein chain (no amino-acid residues in the ATOM records)")
    if not record.nucleic_chains:
        raise _bad(path, "no nucleic-acid chain (no nucleotide residues in the ATOM records)")
    return record


def _nucleic_atoms(record, nucleic_ids=None):
    chains = [c for c in record.nucleic_chains if nucleic_ids is None or c.chain_id in nucleic_ids]
    if not chains:
        raise _bad(record.path, f"no nucleic-acid chain among {sorted(nucleic_ids)}")
    return np.concatenate([c.coordinates for c in chains])


def residue_distances(record, protein_id, nucleic_ids=None):
    """Distance from each residue of a protein chain to its closest nucleotide heavy atom.

    Args:
        record: `ComplexRecord`.
        protein_id: str, the protein chain.
        nucleic_ids: iterable of str, optional; the nucleic-acid chains (default: all).

    Returns:
        float32 array (residues,) in Å: per residue, the minimum over its heavy atoms of the
        distance to the nearest heavy atom of those nucleic-acid chains (a KD-tree query).
        OmniBioTE's label is ``distances <= 8``.

    Raises:
        KeyError: no chain ``protein_id``.
    """
    protein = record.chain(protein_id)
    tree = cKDTree(_nucleic_atoms(record, None if nucleic_ids is None else set(nucleic_ids)))
    nearest, _ = tree.query(protein.coordinates, k=1)
    distances = np.full(len(protein.sequence), np.inf, np.float64)
    np.minimum.at(distances, protein.atom_residue, nearest)
    return distances.astype(np.float32)


def residue_pair_distances(record, protein_id, nucleic_id, max_distance=DEFAULT_CUTOFF):
    """Minimum heavy-atom distance of every residue–nucleotide pair, up to ``max_distance``.

    Args:
        record: `ComplexRecord`.
        protein_id: str, the protein chain.
        nucleic_id: str, the nucleic-acid chain.
        max_distance: float, Å; pairs farther apart read ``inf``.

    Returns:
        float32 array (protein residues, nucleotides) in Å.

    Raises:
        KeyError: no such chain.
    """
    protein, nucleic = record.chain(protein_id), record.chain(nucleic_id)
    pairs = cKDTree(protein.coordinates).sparse_distance_matrix(
        cKDTree(nucleic.coordinates), max_distance, output_type="ndarray")
    out = np.full((len(protein.sequence), len(nucleic.sequence)), np.inf, np.float64)
    np.minimum.at(out, (protein.atom_residue[pairs["i"]], nucleic.atom_residue[pairs["j"]]),
                  pairs["v"])
    return out.astype(np.float32)


def contact_map(record, protein_id, nucleic_id, cutoff=DEFAULT_CUTOFF):
    """Residue–nucleotide contacts: any heavy-atom pair within ``cutoff`` Å.

    Args:
        record: `ComplexRecord`.
        protein_id: str, the protein chain.
        nucleic_id: str, the nucleic-acid chain.
        cutoff: float, Å (inclusive).

    Returns:
        bool array (protein residues, nucleotides).

    Raises:
        ValueError: ``cutoff`` is not positive.
        KeyError: no such chain.
    """
    if not cutoff > 0:
        raise ValueError(f"cutoff must be a positive distance in Å, got {cutoff!r}")
    return residue_pair_distances(record, protein_id, nucleic_id, cutoff) <= cutoff


def chain_summary(record):
    """Counts of what the reader handled, per chain and per complex (for reports).

    Returns:
        dict: ``chains`` (list of dicts: chain, kind, length, gaps, missing_residues,
        modified, unknown), ``altloc_atoms``, ``altloc_residues``, ``ligands``, ``waters``,
        ``hydrogens``.
    """
    chains = [{"chain": c.chain_id, "kind": c.kind, "length": len(c.sequence), "gaps": c.gaps,
               "missing_residues": c.missing_residues, "modified": c.modified,
               "unknown": c.unknown} for c in record.chains]
    return {"chains": chains, "altloc_atoms": record.altloc_atoms,
            "altloc_residues": record.altloc_residues, "ligands": record.ligands,
            "waters": record.waters, "hydrogens": record.hydrogens}
