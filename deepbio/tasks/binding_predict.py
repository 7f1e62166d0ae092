"""Predicting ΔG of new complexes with a trained binding model (``deepbio predict binding``).

The file-based `predict_pairs` (the command line) and the web page share
`predict_complex_dg`; inputs are checked before the model loads.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from deepbio.utils import write_csv


def _binding_model_check(model):
    names = {t.name.split(":")[0] for t in model.inputs}
    if not {"token_ids", "padding_mask"} <= names or tuple(model.outputs[0].shape[1:]) != (1,):
        return "it does not map token_ids/padding_mask to one ΔG; train one with 'deepbio train binding'"
    return None


def _read_pairs(pairs_path):
    """The complexes of a pairs CSV, checked; raises ValueError naming the file and the row."""
    import io

    from deepbio.data.fasta import read_text

    pairs_path = Path(pairs_path)
    text = read_text(pairs_path, "pairs file")
    try:
        pairs = pd.read_csv(io.StringIO(text), keep_default_na=False, dtype=str)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{pairs_path}: empty file; expected a header line with protein, "
                         f"nucleic_acid, type") from None
    except (pd.errors.ParserError, ValueError) as error:
        raise ValueError(f"{pairs_path}: not a valid CSV file ({' '.join(str(error).split())[:160]})") \
            from None
    missing = {"protein", "nucleic_acid", "type"} - set(pairs.columns)
    if missing:
        raise ValueError(f"{pairs_path}: missing column(s) {sorted(missing)}; found "
                         f"{list(pairs.columns)} (expected protein, nucleic_acid, type[, "
                         f"complementary])")
    if pairs.empty:
        raise ValueError(f"{pairs_path}: no complexes (a header line but no rows)")
    if "complementary" not in pairs.columns:
        pairs["complementary"] = ""
    for column in ("protein", "nucleic_acid", "type", "complementary"):
        pairs[column] = pairs[column].str.strip()
    for i, row in enumerate(pairs.itertuples(index=False)):
        for column in ("protein", "nucleic_acid"):
            if not getattr(row, column):
                raise ValueError(f"{pairs_path}: row {i + 2} has an empty {column}; fill it in or "
                                 f"remove the row")
        if row.type.upper() not in ("DNA", "RNA"):
            raise ValueError(f"{pairs_path}: row {i + 2} has type {row.type!r}; expected DNA or RNA")
    pairs["type"] = pairs["type"].str.upper()
    return pairs


def encode_pairs(tokenizer, pairs, source="input", max_protein_length=None):
    """Token ids of the complexes in ``pairs`` (``protein``, ``nucleic_acid``, ``type``,
    ``complementary``); raises ValueError naming ``source`` and the row for a letter the
    tokenizer rejects."""
    return [tokenizer.encode_complex(r.protein, r.nucleic_acid, r.type, r.complementary or None,
                                     name=f"{source} row {i + 2}",
                                     max_protein_length=max_protein_length)
            for i, r in enumerate(pairs.itertuples(index=False))]


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
        ValueError: a letter the tokenizer rejects (naming ``source`` and the row).
    """
    sequences = encode_pairs(tokenizer, pairs, source, max_protein_length)
    ids, mask = tokenizer.pad(sequences)
    pairs = pairs.copy()
    pairs["predicted_dg"] = model.predict({"token_ids": ids, "padding_mask": mask.astype(np.int32)},
                                          batch_size=batch_size, verbose=0)[:, 0]
    return pairs


def predict_pairs(model_path, pairs_path, output_path, max_protein_length=None):
    """ΔG of the complexes in a CSV (``protein``, ``nucleic_acid``, ``type``, optional ``complementary``).

    The CSV is checked (and every row tokenized) before the model is loaded;
    sequences may be lower case, ``type`` is DNA or RNA (any case).

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: the pairs file is a folder, binary, not CSV, misses a
            column or has no rows, a row has an empty sequence, a bad
            ``type`` or a letter the tokenizer rejects (the message names the
            file and the row); or the model is not a binding model.
    """
    from deepbio.models.loading import load_task_model
    from deepbio.models.multiomic import make_tokenizer

    if max_protein_length is not None and max_protein_length < 1:
        raise ValueError(f"--max-protein-length must be at least 1, got {max_protein_length}")
    pairs_path = Path(pairs_path)
    pairs = _read_pairs(pairs_path)
    tokenizer = make_tokenizer()
    encode_pairs(tokenizer, pairs, pairs_path, max_protein_length)  # checked before the model loads
    model = load_task_model(model_path, "binding", _binding_model_check)
    pairs = predict_complex_dg(model, tokenizer, pairs, pairs_path, max_protein_length)
    write_csv(pairs, output_path)
    return pairs
