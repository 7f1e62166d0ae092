"""FASTA reading through Biopython, with validation that names the file and the record.

Conventions shared by every task's input:

* lower-case letters are accepted and upper-cased (soft-masked sequences are
  common and the case carries no meaning for the models);
* ``-`` is kept as read: the PTM windows use it as padding beyond a protein's
  ends; every other input rejects it (naming the record and the position);
* a header without a sequence, a file that is not text or not FASTA, a
  folder, and (where records are reported by id: ``unique_ids=True``) two
  records with one id are errors that name the file and the record.
"""

import io
from pathlib import Path

from Bio import SeqIO

PROTEIN_RESIDUES = "ACDEFGHIKLMNPQRSTVWY"


def check_input_file(path, what="input file"):
    """Checks that ``path`` is an existing, readable regular file.

    Args:
        path: str or path-like.
        what: str, what the file is, for messages (``"FASTA file"``).

    Returns:
        `pathlib.Path`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: ``path`` is a folder.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder; give the path of the file itself")
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found")
    return path


def read_text(path, what="input file"):
    """The text of ``path``, refusing binary and compressed files with a message naming it.

    Raises:
        FileNotFoundError / ValueError: see `check_input_file`; a gzip / zip
            file, NUL bytes, or bytes that are not UTF-8 text.
    """
    path = check_input_file(path, what)
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        raise ValueError(f"{what} {path} is gzip-compressed; decompress it first (gunzip)")
    if data[:4] == b"PK\x03\x04":
        raise ValueError(f"{what} {path} is a zip archive, not a text file")
    nul = data.find(b"\x00")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        nul = error.start if nul < 0 else min(nul, error.start)
        text = None
    if text is None or nul >= 0:
        raise ValueError(f"{what} {path} is not a text file (binary byte 0x{data[nul]:02x} at offset "
                         f"{nul}); give a plain-text (UTF-8) file")
    return text


def read_fasta(path, unique_ids=False):
    """Reads a FASTA file into ``(ids, sequences)``.

    Lower-case letters are upper-cased; nothing else is changed (``-`` and
    other letters are checked by each task, see the module docstring).

    Args:
        path: str or path-like. A FASTA file (Biopython's ``"fasta"`` format).
        unique_ids: bool. Refuse records without a name or with the same name
            as an earlier one (inputs whose outputs are reported by id).

    Returns:
        Tuple ``(ids, sequences)`` of two lists of str; sequences upper-cased
        with surrounding whitespace removed.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: naming the file (and the record): a folder, a binary or
            compressed file, text that is not FASTA, no record, a record
            with an empty sequence, or (``unique_ids``) a missing or
            repeated id.
    """
    path = Path(path)
    return parse_fasta_text(read_text(path, "FASTA file"), path, unique_ids)


def parse_fasta_text(text, path, unique_ids=False):
    """`read_fasta` of text already read from ``path`` (used in messages); same checks."""
    first = next((line for line in text.splitlines() if line.strip()), None)
    if first is None:
        raise ValueError(f"{path}: no FASTA record found (the file is empty)")
    if not first.lstrip().startswith(">"):
        raise ValueError(f"{path}: not FASTA: the first line must be a '>' header, found "
                         f"{first.strip()[:40]!r}")
    ids, sequences, seen = [], [], {}
    try:
        records = list(SeqIO.parse(io.StringIO(text), "fasta"))
    except ValueError as error:  # Biopython's own format errors
        raise ValueError(f"{path}: not a valid FASTA file ({' '.join(str(error).split())[:120]})") \
            from None
    for number, record in enumerate(records, start=1):
        sequence = str(record.seq).strip().upper()
        if not sequence:
            raise ValueError(f"{path}: record {number} ({record.id!r}) has an empty sequence; "
                             f"remove its header or add its sequence")
        if unique_ids:
            if not record.id:
                raise ValueError(f"{path}: record {number} has no name after '>'; give every "
                                 f"record a unique name")
            if record.id in seen:
                raise ValueError(f"{path}: record {number} repeats the name {record.id!r} of "
                                 f"record {seen[record.id]}; give every record a unique name")
            seen[record.id] = number
        ids.append(record.id)
        sequences.append(sequence)
    if not sequences:
        raise ValueError(f"{path}: no FASTA record found (empty file or not FASTA)")
    return ids, sequences


def check_ptm_windows(windows, ids=None, source="input", length=49, center=24, padding=False):
    """Checks lysine-centred protein windows.

    Args:
        windows: sequence of str, each ``length`` residues.
        ids: optional sequence of str, record names used in messages.
        source: str. Where the windows come from (a file name), for messages.
        length: int. Required window length (OmniK-PTM: 49).
        center: int. 0-based index of the residue that must be K (24).
        padding: bool. Allow ``-`` at the window's ends (beyond a protein's
            first or last residue), never between residues.

    Raises:
        ValueError: naming the source, the record and the problem, for a
            window of the wrong length, a centre residue other than K, a
            residue outside the 20 standard ones, or a misplaced ``-``.
    """
    allowed = set(PROTEIN_RESIDUES)
    for number, window in enumerate(windows):
        name = f"record {number + 1}" + (f" ({ids[number]!r})" if ids is not None else "")
        if len(window) != length:
            raise ValueError(f"{source}: {name} has length {len(window)}, expected {length} "
                             f"(the K at position {center + 1}, {center} residues on each side)")
        if window[center] != "K":
            raise ValueError(f"{source}: {name} has {window[center]!r} at its centre "
                             f"(position {center + 1}), expected K")
        core = window
        if padding:
            left, right = window[:center], window[center + 1:]
            core = left.lstrip("-") + "K" + right.rstrip("-")
            offset = len(left) - len(left.lstrip("-"))
        else:
            offset = 0
        bad = set(core) - allowed
        if bad:
            position = min(core.index(c) for c in bad) + offset
            if window[position] == "-":
                hint = ("'-' may only pad the window's ends" if padding else
                        "gaps are not allowed")
                raise ValueError(f"{source}: {name} has a gap '-' at position {position + 1}; "
                                 f"{hint}")
            raise ValueError(f"{source}: {name} has non-standard residue {window[position]!r} "
                             f"at position {position + 1}; only {PROTEIN_RESIDUES} are allowed")
