"""The protein–DNA docking benchmark's atom-level contact lists (``contacts_b.dat``), read and checked.

Each line of ``contacts_b.dat`` is ``residue chain atom residue chain atom distance_Å``; one side
is a protein atom, the other a nucleotide atom, in either order (the side is read from the chain's
kind in the structure, not assumed); lines between two protein chains (contacts inside a dimer)
are skipped. An atom field may carry its alternate location and residue name (``CG2BTHR`` = atom
``CG2``, altloc ``B`` of a threonine), and phosphate oxygens are named either way (``OP1`` /
``O1P``). The benchmark's cutoff is 5 Å (every listed distance is below it).

Source: van Dijk & Bonvin, "A protein–DNA docking benchmark", Nucleic Acids Res. 2008, 36:e88;
github.com/haddocking/Prot-DNABenchmark.
"""

import dataclasses
import re

import numpy as np

from deepbio.multiomic.contacts.structures import residue_distances

BENCHMARK_CUTOFF = 5.0
_ATOM_FIELD = re.compile(r"^(?P<name>.+?)(?P<altloc>[A-Z])(?P<resname>[A-Z]{3})$")
_PHOSPHATE_ALIASES = {"OP1": "O1P", "OP2": "O2P", "O1P": "OP1", "O2P": "OP2", "OP3": "O3P",
                      "O3P": "OP3"}


@dataclasses.dataclass(frozen=True)
class AtomContact:
    """One listed protein–nucleotide atom pair.

    Attributes:
        protein: (chain, residue number, atom name, altloc) of the protein atom.
        nucleic: (chain, residue number, atom name, altloc) of the nucleotide atom.
        distance: float, Å as listed.
    """

    protein: tuple
    nucleic: tuple
    distance: float


def _atom(chain, number, field):
    match = _ATOM_FIELD.match(field)
    if match and len(field) > 4:
        return chain, int(number), match["name"], match["altloc"]
    return chain, int(number), field, ""


def read_contact_list(path, record):
    """Reads ``contacts_b.dat``, keeping the protein–nucleic-acid pairs.

    Args:
        path: str or path-like, the contact list.
        record: `ComplexRecord` of the same complex (gives each chain's kind).

    Returns:
        list of `AtomContact`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line is not 7 fields or names a chain absent from ``record``; one line
            naming the file and line number.
    """
    kinds = {c.chain_id: c.kind for c in record.chains}
    contacts = []
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 7 or fields[1] not in kinds or fields[4] not in kinds:
                raise ValueError(f"{path}:{number}: expected 'residue chain atom residue chain "
                                 f"atom distance' with chains of {record.path}, got {line.strip()!r}")
            first, second = _atom(*fields[1::-1], fields[2]), _atom(*fields[4:2:-1], fields[5])
            first_protein, second_protein = (kinds[fields[1]] == "protein",
                                             kinds[fields[4]] == "protein")
            if first_protein == second_protein:
                continue
            protein, nucleic = (first, second) if first_protein else (second, first)
            contacts.append(AtomContact(protein, nucleic, float(fields[6])))
    return contacts


def _rows(record, chain_id, number, name, altloc):
    chain = record.chain(chain_id)
    index = chain.residue_index(number)
    names = {name, _PHOSPHATE_ALIASES.get(name, name)}
    rows = [k for k in np.flatnonzero(chain.atom_residue == index)
            if chain.atom_names[k] in names and (not altloc or chain.atom_altlocs[k] in ("", altloc))]
    return chain.coordinates[rows]


def reproduce_contact_list(record, contacts):
    """Recomputes every listed atom pair's distance from the structure.

    Args:
        record: `ComplexRecord`.
        contacts: list of `AtomContact` from `read_contact_list`.

    Returns:
        dict: ``errors`` float array (pairs,), |recomputed − listed| in Å (``nan`` where an atom
        is absent from the structure), ``missing`` int (pairs whose atom or residue is absent).
    """
    errors = np.full(len(contacts), np.nan)
    for i, contact in enumerate(contacts):
        try:
            first, second = _rows(record, *contact.protein), _rows(record, *contact.nucleic)
        except KeyError:
            continue
        if len(first) and len(second):
            distances = np.linalg.norm(first[:, None] - second[None], axis=-1)
            errors[i] = np.min(np.abs(distances - contact.distance))
    return {"errors": errors, "missing": int(np.isnan(errors).sum())}


def listed_residues(contacts):
    """The protein residues a contact list names: set of (chain, residue number)."""
    return {contact.protein[:2] for contact in contacts}


def contacting_residues(record, cutoff=BENCHMARK_CUTOFF):
    """The protein residues with a heavy atom within ``cutoff`` Å of any nucleotide heavy atom.

    Returns:
        set of (chain, residue number).
    """
    found = set()
    for chain in record.protein_chains:
        close = np.flatnonzero(residue_distances(record, chain.chain_id) < cutoff)
        found.update((chain.chain_id, chain.residue_ids[i][0]) for i in close)
    return found
