"""Sequences of the motif task: DeepASMM's Basset 8988T set and user CSV/FASTA files."""

import io

import pandas as pd

from deepbio.data.registry import fetch
from deepbio.data.fasta import check_input_file, parse_fasta_text, read_text

#: Registry path of DeepASMM's Basset demo: 1,497 accessible 600-bp sequences of 8988T.
DATA_FILE = "deepasmm/basset_8988T.csv"


def default_input(data_dir=None):
    """Path of DeepASMM's Basset 8988T sequences (through the data registry)."""
    return fetch(DATA_FILE, data_dir=data_dir)


NUCLEOTIDES = "ACGTUN"


def _read_text(path):
    """The text of a (possibly gzip-compressed) sequence file, with errors naming it.

    Read as a stream that stops past `deepbio.data.fasta.MAX_WHOLE_FILE_BYTES`
    decompressed bytes (a gzip bomb never inflates whole); gzip is recognised
    by its magic bytes.
    """
    return read_text(path, "sequence file")


def _read_table(path, text, sep):
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, keep_default_na=False, na_values=[""],
                           dtype=str)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: empty file, no header line (expected a 'Seqs' or "
                         f"'sequence' column)") from None
    except (pd.errors.ParserError, ValueError) as error:
        raise ValueError(f"{path}: not a valid {'TSV' if sep == chr(9) else 'CSV'} file "
                         f"({' '.join(str(error).split())[:160]})") from None


def check_nucleotides(frame, path, rows):
    """Checks that every sequence is non-empty, of one length, over A, C, G, T, U, N.

    Args:
        frame: DataFrame with ``id`` and ``sequence`` (upper case).
        path: the file, for messages.
        rows: str, how records are numbered in messages (``"row"`` for a CSV
            counting its header line, ``"record"`` for FASTA).

    Raises:
        ValueError: naming the file, the record (number and id), the
            position and the problem.
    """
    allowed = set(NUCLEOTIDES)
    offset = 2 if rows == "row" else 1
    length = None
    for index, (name, sequence) in enumerate(zip(frame["id"], frame["sequence"])):
        where = f"{path}: {rows} {index + offset} ({name!r})"
        if not sequence:
            raise ValueError(f"{where} has an empty sequence; remove it or fill it in")
        bad = set(sequence) - allowed
        if bad:
            position = min(sequence.index(c) for c in bad)
            letter = sequence[position]
            what = "a gap '-'" if letter == "-" else f"letter {letter!r}"
            raise ValueError(f"{where} has {what} at position {position + 1}; only A, C, G, T/U and "
                             f"N are allowed")
        if length is None:
            length = len(sequence)
        elif len(sequence) != length:
            raise ValueError(f"{where} has length {len(sequence)}, but the first record has "
                             f"{length}; all sequences must have one length (the model's input)")


def load_sequences(path):
    """Reads sequences from a CSV or FASTA file.

    A CSV needs a column ``Seqs`` (DeepASMM's format) or ``sequence``; an
    ``id``/``name`` column, if present, names the records (else ``seq<i>``).
    FASTA (``.fa``, ``.fasta``, ``.fna``, optionally ``.gz``) is read with
    Biopython (`deepbio.data.fasta`). Sequences are upper-cased (lower case is
    accepted); they must all have one length and use A, C, G, T/U, N only.
    Repeated ids are allowed (they only name records in messages).

    Args:
        path: str or path-like.

    Returns:
        DataFrame with ``id`` and ``sequence``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a folder, a binary file, unknown format, a CSV that does
            not parse or has no sequence column, an empty record, a letter
            other than A/C/G/T/U/N, unequal lengths, or no records (the
            message names the file and the record).
    """
    path = check_input_file(path, "sequence file")
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".fa", ".fasta", ".fna")):
        ids, sequences = parse_fasta_text(_read_text(path), path)
        frame = pd.DataFrame({"id": ids, "sequence": sequences})
        rows = "record"
    elif name.endswith((".csv", ".tsv")):
        table = _read_table(path, _read_text(path), "\t" if name.endswith(".tsv") else ",")
        column = next((c for c in ("Seqs", "sequence", "seq", "Sequence") if c in table.columns), None)
        if column is None:
            raise ValueError(f"{path}: no sequence column (expected 'Seqs' or 'sequence'), "
                             f"found {list(table.columns)}")
        ids = next((c for c in ("id", "name", "ID") if c in table.columns), None)
        frame = pd.DataFrame({
            "id": table[ids].fillna("").astype(str) if ids else [f"seq{i}" for i in range(len(table))],
            "sequence": table[column].fillna("").astype(str).str.strip().str.upper()})
        rows = "row"
    else:
        raise ValueError(f"{path}: unknown sequence format (use .csv with a 'Seqs' column or FASTA)")
    if frame.empty:
        raise ValueError(f"{path}: no sequences")
    check_nucleotides(frame, path, rows)
    return frame
