"""FASTA reading through Biopython, with validation that names the record."""

from pathlib import Path

from Bio import SeqIO

PROTEIN_RESIDUES = "ACDEFGHIKLMNPQRSTVWY"


def read_fasta(path):
    """Reads a FASTA file into ``(ids, sequences)``.

    Args:
        path: str or path-like. A FASTA file (Biopython's ``"fasta"`` format).

    Returns:
        Tuple ``(ids, sequences)`` of two lists of str; sequences upper-cased
        with surrounding whitespace removed.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file holds no record, or a record has an empty sequence.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FASTA file not found: {path}")
    ids, sequences = [], []
    with open(path) as handle:
        for number, record in enumerate(SeqIO.parse(handle, "fasta"), start=1):
            sequence = str(record.seq).strip().upper()
            if not sequence:
                raise ValueError(f"{path}: record {number} ({record.id!r}) has an empty sequence")
            ids.append(record.id)
            sequences.append(sequence)
    if not sequences:
        raise ValueError(f"{path}: no FASTA record found (empty file or not FASTA)")
    return ids, sequences


def check_ptm_windows(windows, ids=None, source="input", length=49, center=24):
    """Checks lysine-centred protein windows.

    Args:
        windows: sequence of str, each ``length`` residues.
        ids: optional sequence of str, record names used in messages.
        source: str. Where the windows come from (a file name), for messages.
        length: int. Required window length (OmniK-PTM: 49).
        center: int. 0-based index of the residue that must be K (24).

    Raises:
        ValueError: naming the source, the record and the problem, for a
            window of the wrong length, a centre residue other than K, or a
            residue outside the 20 standard ones.
    """
    allowed = set(PROTEIN_RESIDUES)
    for number, window in enumerate(windows):
        name = f"record {number + 1}" + (f" ({ids[number]!r})" if ids is not None else "")
        if len(window) != length:
            raise ValueError(f"{source}: {name} has length {len(window)}, expected {length}")
        if window[center] != "K":
            raise ValueError(f"{source}: {name} has {window[center]!r} at its centre "
                             f"(position {center + 1}), expected K")
        bad = set(window) - allowed
        if bad:
            position = min(window.index(c) for c in bad)
            raise ValueError(f"{source}: {name} has non-standard residue {window[position]!r} "
                             f"at position {position + 1}; only {PROTEIN_RESIDUES} are allowed")
