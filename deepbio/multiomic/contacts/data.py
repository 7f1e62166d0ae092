"""The two structure benchmarks as per-residue contact examples, found through deepbio's data registry.

The 295 files of ``structures/`` (the protein–DNA docking benchmark v1.3 and the protein–RNA
docking benchmark PRDBv3.0) are listed in ``structures.tsv`` beside this module (upstream
repository, commit, path, sha256, size) and registered with `deepbio.data.registry.register` on
import, so ``registry.fetch`` finds and verifies them like every other data set.

One example is one protein chain of a complex that has at least one residue within the cutoff of
a nucleotide: its sequence, the distance of each residue to the closest nucleotide heavy atom of
any nucleic-acid chain (the per-residue label is ``distance <= cutoff``), its partner chain (the
nucleic-acid chain it touches at the most residues) and the residue–nucleotide distances to that
partner (for pair-level scores).
"""

import csv
import dataclasses
from importlib import resources

import numpy as np

from deepbio.data import registry
from deepbio.multiomic.contacts.structures import (DEFAULT_CUTOFF, read_complex,
                                                   residue_distances, residue_pair_distances)

TABLE = "structures.tsv"
DNA_PREFIX = "structures/protein_dna/"
RNA_PREFIX = "structures/protein_rna/"
MIN_PROTEIN_LENGTH = 5


def _load_table():
    text = resources.files(__package__).joinpath(TABLE).read_text()
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t"))
    return [registry.DataFile(r["local_path"], r["repo"], r["commit"], r["upstream_path"],
                              r["sha256"], int(r["size"])) for r in rows]


STRUCTURE_FILES = _load_table()
registry.register(STRUCTURE_FILES)


@dataclasses.dataclass
class ContactExample:
    """One protein chain of a complex with its per-residue distances.

    Attributes:
        name: str, ``"<PDB>_<chain>"``.
        complex_name: str, the PDB code.
        benchmark: str, ``"DNA"`` (protein–DNA benchmark) or ``"RNA"`` (PRDBv3.0).
        protein_chain: str.
        protein: str, the chain's sequence from the ATOM records (L,).
        nucleic_chain: str, the partner chain.
        nucleic: str, its sequence (M,).
        nucleic_kind: str, ``"DNA"`` or ``"RNA"``.
        distances: float32 array (L,), Å to the closest nucleotide heavy atom (any chain).
        pair_distances: float32 array (L, M), Å between residue and nucleotide (``inf`` beyond
            the cutoff the example was made with).
    """

    name: str
    complex_name: str
    benchmark: str
    protein_chain: str
    protein: str
    nucleic_chain: str
    nucleic: str
    nucleic_kind: str
    distances: np.ndarray
    pair_distances: np.ndarray

    def labels(self, cutoff=DEFAULT_CUTOFF):
        """float32 array (L,): 1 where the residue is within ``cutoff`` Å of a nucleotide."""
        return (self.distances <= cutoff).astype(np.float32)


def complex_paths(benchmark="both"):
    """Registry paths of the complexes' PDB files.

    Args:
        benchmark: ``"DNA"``, ``"RNA"`` or ``"both"``.

    Returns:
        list of (pdb code, benchmark, local path), DNA first, each sorted by code.

    Raises:
        ValueError: unknown ``benchmark``.
    """
    if benchmark not in ("DNA", "RNA", "both"):
        raise ValueError(f"benchmark must be 'DNA', 'RNA' or 'both', got {benchmark!r}")
    out = []
    for kind, prefix in (("DNA", DNA_PREFIX), ("RNA", RNA_PREFIX)):
        if benchmark in (kind, "both"):
            for entry in registry.files(prefix):
                parts = entry.local_path[len(prefix):].split("/")
                if len(parts) == 2 and parts[1] in (f"{parts[0]}_target.pdb", f"{parts[0]}.pdb"):
                    out.append((parts[0], kind, entry.local_path))
    return out


def complex_examples(record, benchmark, cutoff=DEFAULT_CUTOFF, min_length=MIN_PROTEIN_LENGTH):
    """The contact examples of one complex.

    Args:
        record: `ComplexRecord`.
        benchmark: str, ``"DNA"`` or ``"RNA"``.
        cutoff: float, Å.
        min_length: int, shorter protein chains are left out (default 5).

    Returns:
        list of `ContactExample` (protein chains of ≥ ``min_length`` residues with ≥ 1
        contact).
    """
    examples = []
    for chain in record.protein_chains:
        if len(chain.sequence) < min_length:
            continue
        distances = residue_distances(record, chain.chain_id)
        if not (distances <= cutoff).any():
            continue
        pairs = {c.chain_id: residue_pair_distances(record, chain.chain_id, c.chain_id, cutoff)
                 for c in record.nucleic_chains}
        partner = max(pairs, key=lambda k: int(np.isfinite(pairs[k]).any(axis=1).sum()))
        nucleic = record.chain(partner)
        examples.append(ContactExample(
            f"{record.name}_{chain.chain_id}", record.name, benchmark, chain.chain_id,
            chain.sequence, partner, nucleic.sequence, nucleic.kind, distances, pairs[partner]))
    return examples


def load_examples(benchmark="both", cutoff=DEFAULT_CUTOFF, data_dir=None, limit=None,
                  download=None):
    """Reads the benchmarks' complexes into contact examples.

    Args:
        benchmark: ``"DNA"``, ``"RNA"`` or ``"both"``.
        cutoff: float, Å.
        data_dir: str, optional local mirror (else ``DEEPBIO_DATA``, the Keras cache, upstream).
        limit: int, optional; the first ``limit`` complexes of each benchmark (for tests).
        download: bool, optional, passed to `registry.fetch`.

    Returns:
        (list of `ContactExample`, dict complex name → `ComplexRecord`).

    Raises:
        FileNotFoundError: a file is in no mirror and cannot be downloaded.
        ValueError: a file's sha256 differs, or it is not a protein–nucleic-acid complex.
    """
    examples, records, taken = [], {}, {}
    for name, kind, local_path in complex_paths(benchmark):
        if limit is not None and taken.get(kind, 0) >= limit:
            continue
        taken[kind] = taken.get(kind, 0) + 1
        record = read_complex(registry.fetch(local_path, data_dir, download), name)
        records[name] = record
        examples.extend(complex_examples(record, kind, cutoff))
    return examples, records
