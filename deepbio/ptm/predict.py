"""Predicting PTMs of whole proteins with a trained PTM model (``deepbio predict ptm``).

Every K of every protein is scored from its 49-residue window (``-`` beyond
the protein's ends). The file-based `predict_proteins` (the command line;
streamed in chunks, see `deepbio.core.predict_stream`) and the web page
(`deepbio.serve`) share `predict_protein_sites`; inputs are checked before
the model loads. Probabilities are conditional on the lysine being modified.
"""

import re

import numpy as np
import pandas as pd

import Feature_extraction_algorithms as fea
from deepbio.ptm.data import PTM_LABELS
from deepbio.ptm.protocol import CALL_COLUMNS, PROBABILITY_COLUMNS
from deepbio.ptm.predictor import decide, load_ptm_predictor
from deepbio.data.fasta import iter_fasta
from deepbio.core.predict_stream import CSVStream, DEFAULT_CHUNK_SIZE, Streamed, chunked, in_shard, progress, select_shard


MAX_PROTEIN_RECORD_BYTES = 200_000
"""The most bytes of one protein record of ``deepbio predict ptm`` (titin, the longest known
protein, has about 35,000 residues): a protein is scored in one piece, so this bounds a chunk's
memory beyond ``--chunk-size``."""


def protein_windows(protein, half=24, pad="-"):
    """Every K of a full-length protein as a 49-residue window.

    Args:
        protein: str, residues of one protein.
        half: int, residues on each side of the K (24).
        pad: str, one character put beyond the protein's ends.

    Returns:
        ``(positions, windows)``: 1-based positions of the K residues and
        the windows, padded with ``pad`` at the ends.
    """
    padded = pad * half + protein + pad * half
    positions = [i for i, residue in enumerate(protein) if residue == "K"]
    return [p + 1 for p in positions], [padded[p:p + 2 * half + 1] for p in positions]


_NOT_RESIDUE = re.compile(f"[^{fea.PROTEIN_ALPHABET}]")


def check_protein(name, protein, source="input", number=1):
    """Checks one full-length protein; returns its number of lysines.

    Args:
        name: str, the record's name.
        protein: str, upper-case residues.
        source: str, where it comes from (a file name), for messages.
        number: int, the record's 1-based number in ``source``.

    Returns:
        int ≥ 0, the K residues (sites) of ``protein`` (0: a protein without
        lysine simply has no site to score).

    Raises:
        ValueError: a gap or a non-standard residue (the message names
            ``source`` and the record).
    """
    bad = _NOT_RESIDUE.search(protein)
    if bad:
        residue = bad.group()
        what = "a gap '-'" if residue == "-" else f"non-standard residue {residue!r}"
        hint = ("give ungapped full-length proteins" if residue == "-" else
                f"only the 20 standard residues {fea.PROTEIN_ALPHABET} are allowed")
        raise ValueError(f"{source}: record {number} ({name!r}) has {what} at position "
                         f"{bad.start() + 1}; {hint}")
    return protein.count("K")


def protein_site_windows(ids, proteins, source="input"):
    """Checks full-length proteins and cuts a window around every K.

    Args:
        ids: sequence of str, protein names.
        proteins: sequence of str (upper case).
        source: str, where the proteins come from (a file name), for messages.

    Returns:
        ``(rows, windows)``: ``(protein, 1-based position)`` of every K and
        its 49-residue window (``-`` beyond the protein's ends); a protein
        without lysine adds nothing.

    Raises:
        ValueError: a protein with a gap or a non-standard residue (the
            message names ``source`` and the record).
    """
    rows, windows = [], []
    for number, (name, protein) in enumerate(zip(ids, proteins), start=1):
        check_protein(name, protein, source, number)
        positions, protein_windows_ = protein_windows(protein)
        rows += [(name, p) for p in positions]
        windows += protein_windows_
    return rows, windows


def prediction_columns():
    """The columns of `predict_protein_sites` (and of ``deepbio predict ptm``'s CSV), in order."""
    return ["protein", "position", "window", *PROBABILITY_COLUMNS, "predicted", *CALL_COLUMNS]


def predict_protein_sites(predictor, ids, proteins, source="input"):
    """Per-site PTM probabilities for every K of proteins held in memory.

    The one prediction path of `predict_proteins` (``deepbio predict ptm``,
    one chunk of proteins at a time) and of the web page (`deepbio.serve`).
    Each site's row depends on its window only, so the rows do not depend
    on how the proteins are chunked.

    Args:
        predictor: a loaded PTM model (`deepbio.ptm.predictor.load_ptm_predictor`:
            trees / linear / stack ensemble or the network), with its thresholds.
        ids, proteins: sequences of str, names and full-length proteins.
        source: str, where they come from, for messages.

    Returns:
        DataFrame ``protein, position, window``, ``p_<ptm>_given_modified``
        for the four PTMs (calibrated, rounded to 6 decimals), ``predicted``
        (label letters called at the run's thresholds) and ``call_<ptm>``
        (0/1), one row per K (`prediction_columns`).

    Raises:
        ValueError: see `protein_site_windows`.
    """

    rows, windows = protein_site_windows(ids, proteins, source)
    if not windows:  # proteins without lysine: no site, no row
        return pd.DataFrame({column: pd.Series(dtype=object if column in ("protein", "window",
                                                                           "predicted") else float)
                             for column in prediction_columns()})
    probabilities = np.asarray(predictor.predict_proba(windows), np.float64)
    calls = decide(predictor, probabilities)
    frame = pd.DataFrame(rows, columns=["protein", "position"])
    frame["window"] = windows
    for j, column in enumerate(PROBABILITY_COLUMNS):
        frame[column] = np.round(probabilities[:, j], 6)
    frame["predicted"] = ["".join(l for l, c in zip(PTM_LABELS, row) if c) for row in calls]
    for j, column in enumerate(CALL_COLUMNS):
        frame[column] = calls[:, j]
    return frame


def predict_proteins(fasta, model_path, output_csv, chunk_size=None, shard=None, verbose=0):
    """Per-site PTM probabilities for every K of every protein in a FASTA, streamed.

    Every window of the OmniK-PTM benchmark is a modified site, so the
    probabilities say *which* of the four PTMs a lysine carries if it is
    modified; they are not the probability that it is modified at all.

    The FASTA (plain or gzip, any size) is read twice as a stream: first to
    check every record (before the model loads), then to score about
    ``chunk_size`` sites at a time, each chunk's rows appended to a hidden
    temporary file renamed to ``output_csv`` at the end (see
    `deepbio.core.predict_stream`). Memory holds one chunk; the rows are
    those of `predict_protein_sites` on all the proteins at once.

    Args:
        fasta: path of a protein FASTA (full-length sequences, 20 standard
            residues), plain or gzip-compressed.
        model_path: a PTM run folder (``ptm_model.skops`` or
            ``model.keras`` with ``thresholds.json``) or one of those files.
        output_csv: path of the CSV written (atomically), the columns of
            `predict_protein_sites`.
        chunk_size: int ≥ 1, sites scored at a time (default
            `DEFAULT_CHUNK_SIZE`, 4096); a protein is never split.
        shard: optional ``(i, n)``: only proteins k (0-based) with
            ``k % n == i - 1`` (every record is still checked).
        verbose: int, 0 silent, otherwise a progress bar over sites on stderr.

    Returns:
        `Streamed`: ``records`` (proteins scored), ``rows`` (sites written),
        ``path`` and ``without_sites`` (proteins of the shard without a
        lysine: they have no row).

    Raises:
        FileNotFoundError: missing FASTA or model.
        ValueError: a FASTA that is empty, binary, corrupt gzip or not
            FASTA, a repeated id, a protein with a gap, a non-standard
            residue (the message names the file and the record; checked
            before the model loads, nothing written), a
            ``chunk_size`` below 1, or a model that is not a PTM model.
    """

    chunk_size = DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size
    if chunk_size < 1:
        raise ValueError(f"--chunk-size must be at least 1, got {chunk_size}")
    records = sites = without = 0
    for index, (name, protein) in enumerate(iter_fasta(fasta, unique_ids=True,
                                                       max_record=MAX_PROTEIN_RECORD_BYTES)):
        count = check_protein(name, protein, fasta, index + 1)  # before the model loads
        if in_shard(index, shard):
            records, sites, without = records + 1, sites + count, without + (count == 0)
    predictor = load_ptm_predictor(model_path)
    proteins = select_shard(iter_fasta(fasta, unique_ids=True, max_record=MAX_PROTEIN_RECORD_BYTES),
                            shard)
    with CSVStream(output_csv, prediction_columns()) as out, \
            progress(sites, "site", verbose) as bar:  # a lysine-free protein still weighs 1
        for chunk in chunked(proteins, chunk_size, weight=lambda record: max(1, record[1].count("K"))):
            names, sequences = zip(*chunk)
            frame = predict_protein_sites(predictor, names, sequences, fasta)
            out.write(frame)
            bar.update(len(frame))
    return Streamed(records, out.rows, output_csv, without)
