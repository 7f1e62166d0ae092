"""Predicting RNA modifications with trained VQ-RNA models (``deepbio predict rnamod``).

Windows centred on candidate sites, or every position of whole transcripts
(``--scan``). The file-based `predict_windows` (the command line; streamed
in chunks, see `deepbio.core.predict_stream`), `predict_rna_positions` and
the web page (`deepbio.serve`) share `predict_rna_windows`; inputs are
checked before the models load.
"""

import weakref
from pathlib import Path

import numpy as np
import pandas as pd

from deepbio.rnamod.data import check_rna_windows, one_hot_rna
from deepbio.core.loading import load_task_model
from deepbio.data.fasta import iter_fasta
from deepbio.core.predict_stream import CSVStream, DEFAULT_CHUNK_SIZE, Streamed, chunked, in_shard, progress, select_shard


def _models_at(model_path):
    """``[(head names, VQRNA)]`` of a ``.keras`` file, or of every model in a run folder."""
    path = Path(model_path)
    if path.is_dir() and (path / "model.keras").is_file():
        files = [path / "model.keras"]
    elif path.is_dir():
        files = sorted(p for p in path.glob("*/model.keras") if p.parent.name != "multitask")
        if not files:
            files = sorted(path.glob("*/model.keras"))
        if not files:
            raise ValueError(f"model folder {path} holds no model.keras nor */model.keras; give an "
                             f"rnamod run folder or one of its model.keras files")
    else:
        files = [path]
    loaded = [load_task_model(f, "rnamod", _vqrna_check) for f in files]
    return [(m.modification_names, m) for m in loaded]


_CLASSIFIERS = weakref.WeakKeyDictionary()


def _classifier(model):
    """``model.classifier()``, built once per model: a new Keras model per chunk would trace a
    new predict function per chunk."""
    if model not in _CLASSIFIERS:
        _CLASSIFIERS[model] = model.classifier()
    return _CLASSIFIERS[model]


def _probabilities(models, windows, batch_size=512):
    """``[(modification, float32 (n,))]`` of checked windows, every head of every model."""
    columns = []
    for names, model in models:
        x = one_hot_rna(windows, model.sequence_length)
        probabilities = _classifier(model).predict(x, batch_size=batch_size, verbose=0)
        columns += [(name, probabilities[:, j]) for j, name in enumerate(names)]
    return columns


def predict_rna_windows(models, ids, windows, source="input", batch_size=512):
    """Per-modification probabilities of RNA windows held in memory.

    The one prediction path of `predict_windows` (``deepbio predict rnamod``,
    one chunk at a time), `predict_rna_positions` and the web page
    (`deepbio.serve`).

    Args:
        models: ``[(head names, VQRNA)]`` as `_models_at` returns.
        ids: sequence of str, window names.
        windows: sequence of str, odd length ≥ every model's input length
            (longer ones are centre-cropped), bases A, C, G, T/U, N.
        source: str, where the windows come from, for messages.
        batch_size: int.

    Returns:
        DataFrame ``id, length, <one probability column per modification>``
        (rounded to 6 decimals).

    Raises:
        ValueError: a bad base or gap, a wrong length (naming ``source`` and
            the record).
    """
    length = max(m.sequence_length for _, m in models)
    check_rna_windows(windows, ids, source=str(source), min_length=length)
    frame = pd.DataFrame({"id": list(ids), "length": [len(w) for w in windows]})
    for name, probabilities in _probabilities(models, windows, batch_size):
        frame[name] = np.round(probabilities, 6)
    return frame


def position_windows(sequence, length, start=0, stop=None):
    """One window of ``length`` (odd) nt centred on each position of ``sequence``, N beyond its ends.

    Args:
        sequence: str.
        length: int, odd.
        start, stop: 0-based positions, the windows of ``sequence[start:stop]``
            only (default: every position).

    Returns:
        list of str, ``stop - start`` windows.
    """
    half = length // 2
    stop = len(sequence) if stop is None else stop
    padded = "N" * max(half - start, 0) + sequence[max(start - half, 0):stop + half]
    padded += "N" * (stop - start + 2 * half - len(padded))
    return [padded[i:i + length] for i in range(stop - start)]


def check_rna_sequence(sequence, name="sequence", source="input", number=1):
    """Checks a whole RNA/DNA sequence (any length): bases A, C, G, T/U, N only.

    Raises:
        ValueError: a gap or a letter that is not a base (naming ``source``,
            the record and the position).
    """
    odd = sequence if len(sequence) % 2 else sequence + "N"  # only its bases are checked here
    check_rna_windows([odd], [name], source=str(source), min_length=1, start=number)


def predict_rna_positions(models, sequence, name="sequence", source="input", batch_size=512):
    """Per-position probabilities along a whole RNA/DNA sequence (sliding windows).

    Each position is scored as the centre of a window of the longest model
    input length, padded with N beyond the sequence's ends, through
    `predict_rna_windows`.

    Args:
        models: ``[(head names, VQRNA)]`` as `_models_at` returns.
        sequence: str, bases A, C, G, T/U, N (any case).
        name: str, the record name, for messages.
        source: str, where it comes from, for messages.
        batch_size: int.

    Returns:
        DataFrame ``position`` (1-based), ``base``, ``<one probability column
        per modification>``.

    Raises:
        ValueError: an empty sequence, a gap or a letter that is not a base
            (naming ``source``, the record and the position).
    """
    sequence = str(sequence).strip().upper()
    if not sequence:
        raise ValueError(f"{source}: record {name!r} is empty; give an RNA or DNA sequence")
    check_rna_sequence(sequence, name, source)
    length = max(m.sequence_length for _, m in models)
    windows = position_windows(sequence, length)
    frame = predict_rna_windows(models, [f"{name}:{i + 1}" for i in range(len(sequence))], windows,
                                source, batch_size)
    frame = frame.drop(columns=["id", "length"])
    frame.insert(0, "base", list(sequence))
    frame.insert(0, "position", np.arange(1, len(sequence) + 1))
    return frame


def _scan_pieces(records, size):
    """``(name, sequence, start, stop)`` pieces of at most ``size`` positions, in order."""
    for name, sequence in records:
        for start in range(0, len(sequence), size):
            yield name, sequence, start, min(start + size, len(sequence))


def _scan_chunk(models, pieces, length, batch_size):
    """The per-position rows (`predict_windows` with ``scan=True``) of a chunk of pieces."""
    windows, ids, positions, bases = [], [], [], []
    for name, sequence, start, stop in pieces:
        windows += position_windows(sequence, length, start, stop)
        ids += [name] * (stop - start)
        positions.append(np.arange(start + 1, stop + 1))
        bases += sequence[start:stop]
    frame = pd.DataFrame({"id": ids, "position": np.concatenate(positions), "base": bases})
    for name, probabilities in _probabilities(models, windows, batch_size):
        frame[name] = np.round(probabilities, 6)
    return frame


def predict_windows(fasta, model_path, output_csv, batch_size=512, chunk_size=None, shard=None,
                    verbose=0, scan=False):
    """Per-modification probabilities for RNA windows, or along whole transcripts (``scan``), streamed.

    The FASTA (plain or gzip, any size) is read twice as a stream: first to
    check every record (before the models load), then to score about
    ``chunk_size`` windows (positions) at a time, each chunk's rows appended
    to a hidden temporary file renamed to ``output_csv`` at the end (see
    `deepbio.core.predict_stream`). Memory holds one chunk (and one
    record); the rows do not depend on the chunking.

    Args:
        fasta: FASTA of windows centred on the candidate site, odd length
            ≥ the model's input length (longer ones are centre-cropped),
            bases A, C, G, T/U, N; with ``scan``, whole sequences of any
            length.
        model_path: a ``model.keras`` written by `run` (per-modification or
            multi-task), or a run folder (every per-modification model).
        output_csv: the CSV written (atomically): ``id, length, <one
            probability column per modification>``; with ``scan``, ``id,
            position`` (1-based), ``base``, and the probabilities, one row
            per position (the centre of a window of the model's length, N
            beyond the sequence's ends, as `predict_rna_positions`).
        batch_size: int, windows per model call.
        chunk_size: int ≥ 1, windows (positions) scored and written at a
            time (default `DEFAULT_CHUNK_SIZE`, 4096).
        shard: optional ``(i, n)``: only records k (0-based) with
            ``k % n == i - 1`` (every record is still checked).
        verbose: int, 0 silent, otherwise a progress bar on stderr.
        scan: bool, score every position of whole sequences.

    Returns:
        `Streamed`: ``records`` (records scored), ``rows`` (windows or
        positions written) and ``path``.

    Raises:
        FileNotFoundError: missing FASTA or model.
        ValueError: a FASTA that is empty, binary, corrupt gzip or not
            FASTA, a repeated id, a bad base or gap, a wrong length (the
            message names the file and the record; the file is checked before
            the models load, and a window shorter than the model's after
            they load, before anything is written), a ``chunk_size`` below
            1, or a model that is not an rnamod model.
    """

    chunk_size = DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size
    if chunk_size < 1:
        raise ValueError(f"--chunk-size must be at least 1, got {chunk_size}")
    limit = None if scan else MAX_WINDOW_RECORD_BYTES  # chunks of windows stay small
    records, rows, shortest = _check_fasta(fasta, shard, scan, limit)
    models = _models_at(model_path)
    length = max(m.sequence_length for _, m in models)
    for number, name, short in shortest:
        if short < length:  # the first record shorter than the model's input
            check_rna_windows(["N" * short], [name], str(fasta), min_length=length, start=number)
    names = [name for head_names, _ in models for name in head_names]
    columns = ["id", "position", "base", *names] if scan else ["id", "length", *names]
    sequences = select_shard(iter_fasta(fasta, unique_ids=True, max_record=limit), shard)
    with CSVStream(output_csv, columns) as out, \
            progress(rows, "position" if scan else "window", verbose) as bar:
        if scan:
            for chunk in chunked(_scan_pieces(sequences, chunk_size), chunk_size,
                                 weight=lambda piece: piece[3] - piece[2]):
                frame = _scan_chunk(models, chunk, length, batch_size)
                out.write(frame)
                bar.update(len(frame))
        else:
            for chunk in chunked(sequences, chunk_size):
                ids, windows = zip(*chunk)
                frame = predict_rna_windows(models, ids, windows, fasta, batch_size)
                out.write(frame)
                bar.update(len(frame))
    return Streamed(records, out.rows, output_csv)


def _check_fasta(fasta, shard, scan, limit):
    """The first pass of `predict_windows`: checks every record before the models load.

    Args:
        fasta: the FASTA (path or URL, plain or gzip).
        shard: optional ``(i, n)`` (see `predict_windows`).
        scan: bool, whole sequences (else windows).
        limit: optional int, the most bytes of one record.

    Returns:
        ``(records, rows, shortest)``: the records and rows (windows or
        positions) of the shard, and ``(number, name, length)`` of each
        window record shorter than every one before it (empty with ``scan``).

    Raises:
        ValueError: a bad FASTA or record (see `predict_windows`).
    """

    records = rows = 0
    shortest = []  # (number, name, length) of each record shorter than every one before it
    for index, (name, sequence) in enumerate(iter_fasta(fasta, unique_ids=True, max_record=limit)):
        if scan:
            check_rna_sequence(sequence, name, fasta, index + 1)
        else:
            check_rna_windows([sequence], [name], str(fasta), min_length=1, start=index + 1)
            if not shortest or len(sequence) < shortest[-1][2]:
                shortest.append((index + 1, name, len(sequence)))
        if in_shard(index, shard):
            records, rows = records + 1, rows + (len(sequence) if scan else 1)
    return records, rows, shortest


MAX_WINDOW_RECORD_BYTES = 100_000
"""The most bytes of one window record of ``deepbio predict rnamod`` (without ``--scan``): windows
are centre-cropped to the model's length, so a chunk of ``--chunk-size`` windows stays bounded;
whole transcripts go through ``--scan`` (one record at a time, up to the reader's 10 MB)."""


def _vqrna_check(model):
    if not hasattr(model, "modification_names") or not hasattr(model, "classifier"):
        return "it is not a VQ-RNA model; train one with 'deepbio train rnamod'"
    return None
