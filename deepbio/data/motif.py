"""Sequences of the motif task: DeepASMM's Basset 8988T set and user CSV/FASTA files."""

from pathlib import Path

import pandas as pd

from deepbio.data.registry import fetch

#: Registry path of DeepASMM's Basset demo: 1,497 accessible 600-bp sequences of 8988T.
DATA_FILE = "deepasmm/basset_8988T.csv"


def default_input(data_dir=None):
    """Path of DeepASMM's Basset 8988T sequences (through the data registry)."""
    return fetch(DATA_FILE, data_dir=data_dir)


def load_sequences(path):
    """Reads sequences from a CSV or FASTA file.

    A CSV needs a column ``Seqs`` (DeepASMM's format) or ``sequence``; an
    ``id``/``name`` column, if present, names the records (else ``seq<i>``).
    FASTA (``.fa``, ``.fasta``, ``.fna``, optionally ``.gz``) is read with
    Biopython. Sequences are upper-cased.

    Args:
        path: str or path-like.

    Returns:
        DataFrame with ``id`` and ``sequence``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown format, no sequence column, an empty record, or
            no records (the message names the file and the record).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sequence file {path} not found")
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".fa", ".fasta", ".fna")):
        import gzip

        from Bio import SeqIO

        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt") as handle:
            records = [(r.id, str(r.seq).upper()) for r in SeqIO.parse(handle, "fasta")]
        frame = pd.DataFrame(records, columns=["id", "sequence"])
    elif name.endswith((".csv", ".tsv")):
        frame = pd.read_csv(path, sep="\t" if name.endswith(".tsv") else ",")
        column = next((c for c in ("Seqs", "sequence", "seq", "Sequence") if c in frame.columns), None)
        if column is None:
            raise ValueError(f"{path}: no sequence column (expected 'Seqs' or 'sequence'), "
                             f"found {list(frame.columns)}")
        ids = next((c for c in ("id", "name", "ID") if c in frame.columns), None)
        frame = pd.DataFrame({
            "id": frame[ids].astype(str) if ids else [f"seq{i}" for i in range(len(frame))],
            "sequence": frame[column].astype(str).str.strip().str.upper()})
    else:
        raise ValueError(f"{path}: unknown sequence format (use .csv with a 'Seqs' column or FASTA)")
    if frame.empty:
        raise ValueError(f"{path}: no sequences")
    empty = frame["sequence"].str.len() == 0
    if empty.any():
        raise ValueError(f"{path}: record {frame['id'][empty.idxmax()]!r} is empty")
    return frame
