"""Predicting ΔG of new complexes with a trained binding model (``deepbio predict binding``).

The file-based `predict_pairs` (the command line; streamed, see
`deepbio.core.predict_stream`) and the web page share `predict_complex_dg`;
inputs are checked before the model loads.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from deepbio.data.fasta import InputError, TextStream
from deepbio.core.loading import load_task_model
from deepbio.multiomic.finetune_task import backbone_tokenizer
from deepbio.core.predict_stream import CSVStream, DEFAULT_CHUNK_SIZE, Streamed, in_shard, progress



def _binding_model_check(model):
    names = {t.name.split(":")[0] for t in model.inputs}
    if not {"token_ids", "padding_mask"} <= names or tuple(model.outputs[0].shape[1:]) != (1,):
        return "it does not map token_ids/padding_mask to one ΔG; train one with 'deepbio train binding'"
    return None


PAIR_COLUMNS = ("protein", "nucleic_acid", "type", "complementary")

MAX_COMPLEX_TOKENS = 2048
"""The most tokens of one complex (``<cls>``, residues, nucleotides, tags): attention memory grows
with the square of it, so a longer complex is refused before the model loads (use
``--max-protein-length`` to keep a protein's first residues)."""
MAX_PAIRS_ROW_BYTES = 100_000
"""The most bytes of one row of a pairs CSV (a quoted field spanning lines counts whole): a chunk of
``--chunk-size`` rows stays bounded (proteins up to ~99,000 residues, cut by --max-protein-length)."""
ATTENTION_BUDGET = 32 * 512 ** 2
"""complexes × tokens² per model call: 32 complexes of 512 tokens, or 2 of 2,048 (bounded memory)."""


def iter_pairs(pairs_path, chunk_size=4096):
    """Streams the complexes of a pairs CSV (plain or gzip) in checked chunks.

    Args:
        pairs_path: str or path-like, a CSV with ``protein``, ``nucleic_acid``,
            ``type`` (DNA or RNA, any case) and optionally ``complementary``
            (other columns are kept as they are).
        chunk_size: int ≥ 1, rows per chunk.

    Yields:
        ``(first, frame)``: ``first`` (int) is the 0-based index of the
        chunk's first complex in the file (its CSV row is ``first + 2``);
        ``frame`` a DataFrame of str with the file's columns (and an empty
        ``complementary`` when the file has none), sequences stripped,
        ``type`` upper-cased.

    Raises:
        FileNotFoundError: a missing file.
        ValueError: the file is a folder, binary, corrupt gzip, not CSV,
            misses a column or has no rows, or a row has an empty sequence
            or a bad ``type`` (the message names the file and the row).
    """
    pairs_path = Path(pairs_path)
    with TextStream(pairs_path, "pairs file", max_csv_row=MAX_PAIRS_ROW_BYTES) as text:
        try:
            reader = pd.read_csv(text, keep_default_na=False, dtype=str, chunksize=chunk_size)
            first = 0
            for pairs in reader:
                if not first:
                    missing = {"protein", "nucleic_acid", "type"} - set(pairs.columns)
                    if missing:
                        raise InputError(f"{pairs_path}: missing column(s) {sorted(missing)}; found "
                                         f"{list(pairs.columns)} (expected protein, nucleic_acid, "
                                         f"type[, complementary])")
                yield first, _checked_pairs(pairs, pairs_path, first)
                first += len(pairs)
        except InputError:
            raise
        except pd.errors.EmptyDataError:
            raise ValueError(f"{pairs_path}: empty file; expected a header line with protein, "
                             f"nucleic_acid, type") from None
        except (pd.errors.ParserError, ValueError) as error:
            raise ValueError(f"{pairs_path}: not a valid CSV file "
                             f"({' '.join(str(error).split())[:160]})") from None
    if not first:
        raise ValueError(f"{pairs_path}: no complexes (a header line but no rows)")


def _checked_pairs(pairs, pairs_path, first):
    """``pairs`` (rows ``first + 2``... of ``pairs_path``) checked and normalised (see `iter_pairs`)."""
    from deepbio.data.fasta import InputError

    if "complementary" not in pairs.columns:
        pairs["complementary"] = ""
    for column in PAIR_COLUMNS:
        pairs[column] = pairs[column].str.strip()
    for i, row in enumerate(pairs.itertuples(index=False), start=first + 2):
        for column in ("protein", "nucleic_acid"):
            if not getattr(row, column):
                raise InputError(f"{pairs_path}: row {i} has an empty {column}; fill it in or "
                                 f"remove the row")
        if row.type.upper() not in ("DNA", "RNA"):
            raise InputError(f"{pairs_path}: row {i} has type {row.type!r}; expected DNA or RNA")
    pairs["type"] = pairs["type"].str.upper()
    return pairs


def encode_pairs(tokenizer, pairs, source="input", max_protein_length=None, first=0,
                 max_tokens=MAX_COMPLEX_TOKENS):
    """Token ids of the complexes in ``pairs`` (``protein``, ``nucleic_acid``, ``type``,
    ``complementary``).

    Raises:
        ValueError: naming ``source`` and the row (``first`` + 2 for the
            first): a letter the tokenizer rejects, or a complex of more than
            ``max_tokens`` tokens (None: no limit).
    """
    encoded = []
    for i, r in enumerate(pairs.itertuples(index=False), start=first + 2):
        ids = tokenizer.encode_complex(r.protein, r.nucleic_acid, r.type, r.complementary or None,
                                       name=f"{source} row {i}",
                                       max_protein_length=max_protein_length)
        if max_tokens is not None and len(ids) > max_tokens:
            strands = len(r.nucleic_acid) + len(r.complementary or "")
            raise ValueError(f"{source}: row {i} is a complex of {len(ids):,} tokens (protein "
                             f"{len(r.protein):,} residues, nucleic acid {strands:,} nt); the "
                             f"limit is {max_tokens:,} (attention memory grows with its square): "
                             f"shorten it, or keep each protein's first residues with "
                             f"--max-protein-length")
        encoded.append(ids)
    return encoded


def _batches(sequences, budget=ATTENTION_BUDGET, most=32):
    """Consecutive index ranges of ``sequences`` whose size × longest² stays within ``budget``."""
    start = 0
    while start < len(sequences):
        stop, longest = start, 1
        while stop < len(sequences) and stop - start < most:
            longest_next = max(longest, len(sequences[stop]))
            if stop > start and (stop - start + 1) * longest_next ** 2 > budget:
                break
            stop, longest = stop + 1, longest_next
        yield start, stop
        start = stop


def predict_complex_dg(model, tokenizer, pairs, source="input", max_protein_length=None,
                       batch_size=32):
    """ΔG (kcal/mol) of complexes held in memory.

    The one prediction path of `predict_pairs` (``deepbio predict binding``)
    and of the web page (`deepbio.serve`).

    Args:
        model: a loaded binding model (token_ids / padding_mask → ΔG).
        tokenizer: the `MultiomicTokenizer` of the model.
        pairs: DataFrame with ``protein``, ``nucleic_acid``, ``type`` (DNA or
            RNA) and ``complementary`` ("" for none).
        source: str, where the rows come from, for messages.
        max_protein_length: optional int, residues kept per protein.
        batch_size: int.

    Returns:
        A copy of ``pairs`` with ``predicted_dg``.

    Raises:
        ValueError: a letter the tokenizer rejects, or a complex of more than
            `MAX_COMPLEX_TOKENS` tokens (naming ``source`` and the row).
    """
    sequences = encode_pairs(tokenizer, pairs, source, max_protein_length)
    values = []
    for start, stop in _batches(sequences, most=batch_size):  # each padded to its own longest
        ids, mask = tokenizer.pad(sequences[start:stop])
        values.append(model.predict({"token_ids": ids, "padding_mask": mask.astype(np.int32)},
                                    batch_size=stop - start, verbose=0)[:, 0])
    pairs = pairs.copy()
    pairs["predicted_dg"] = np.concatenate(values) if values else np.zeros(0, np.float32)
    return pairs


def predict_pairs(model_path, pairs_path, output_path, max_protein_length=None, chunk_size=None,
                  shard=None, verbose=0):
    """ΔG of the complexes in a CSV (``protein``, ``nucleic_acid``, ``type``, optional ``complementary``), streamed.

    The CSV (plain or gzip, any size) is read twice as a stream: first to
    check every row and tokenize it (before the model is loaded), then to
    score ``chunk_size`` complexes at a time, each chunk's rows appended to
    a hidden temporary file renamed to ``output_path`` at the end (see
    `deepbio.core.predict_stream`). Sequences may be lower case, ``type``
    is DNA or RNA (any case). Each chunk is padded to its own longest
    complex; the padding is masked, so ΔG does not depend on the chunking
    beyond float32 rounding.

    Args:
        model_path: a binding ``model.keras`` (or its run folder), or the
            ``binding.keras`` of a converted OmniBindER checkpoint (its
            ``tokenizer.json`` beside it encodes the complexes).
        pairs_path: the pairs CSV.
        output_path: the CSV written (atomically): the input's columns (with
            ``complementary``) and ``predicted_dg`` (kcal/mol).
        max_protein_length: optional int ≥ 1, residues kept per protein.
        chunk_size: int ≥ 1, complexes scored at a time (default
            `DEFAULT_CHUNK_SIZE`, 4096).
        shard: optional ``(i, n)``: only complexes k (0-based, file order)
            with ``k % n == i - 1`` (every row is still checked).
        verbose: int, 0 silent, otherwise a progress bar on stderr.

    Returns:
        `Streamed`: ``records`` and ``rows`` (complexes scored) and ``path``.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: the pairs file is a folder, binary, corrupt gzip, not
            CSV, misses a column or has no rows, a row has an empty sequence,
            a bad ``type``, a letter the tokenizer rejects or more than
            `MAX_COMPLEX_TOKENS` tokens (the message names the file and the
            row); a ``max_protein_length`` or
            ``chunk_size`` below 1; or the model is not a binding model.
    """

    if max_protein_length is not None and max_protein_length < 1:
        raise ValueError(f"--max-protein-length must be at least 1, got {max_protein_length}")
    chunk_size = DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size
    if chunk_size < 1:
        raise ValueError(f"--chunk-size must be at least 1, got {chunk_size}")
    pairs_path = Path(pairs_path)
    beside = Path(model_path) / "model.keras" if Path(model_path).is_dir() else model_path
    tokenizer = backbone_tokenizer(beside)[0]  # OmniBioTE's, for a converted checkpoint
    rows, columns = 0, None
    for first, pairs in iter_pairs(pairs_path, chunk_size):  # checked before the model loads
        encode_pairs(tokenizer, pairs, pairs_path, max_protein_length, first)
        rows += sum(in_shard(first + i, shard) for i in range(len(pairs)))
        columns = columns or [*pairs.columns, "predicted_dg"]
    model = load_task_model(model_path, "binding", _binding_model_check)
    with CSVStream(output_path, columns) as out, progress(rows, "complex", verbose) as bar:
        for first, pairs in iter_pairs(pairs_path, chunk_size):
            keep = [in_shard(first + i, shard) for i in range(len(pairs))]
            if any(keep):
                frame = predict_complex_dg(model, tokenizer, pairs[keep], pairs_path,
                                           max_protein_length)
                out.write(frame)
                bar.update(len(frame))
    return Streamed(rows, out.rows, output_path)
