"""Channels-last one-hot encoding of protein, DNA and RNA sequences."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .alphabets import encode_residues, resolve_alphabet

__all__ = ["one_hot"]


def one_hot(
    sequences: str | Iterable[str],
    alphabet: str = "protein",
    dtype="float32",
    *,
    ids: Sequence | None = None,
    length: int | None = None,
    unknown_value: float = 0.0,
) -> np.ndarray:
    """One-hot encode equal-length sequences, channels last.

    Channel ``k`` is the ``k``-th letter of the alphabet: ``ACDEFGHIKLMNPQRSTVWY``
    for ``"protein"``, ``ACGT`` for ``"dna"`` (``U`` read as ``T``), ``ACGU`` for
    ``"rna"`` (``T`` read as ``U``), or the letters of a custom alphabet in the
    order given. Lowercase is accepted. For ``"dna"`` and ``"rna"`` an ``N``
    becomes a row of ``unknown_value`` (default 0: an all-zero row; 0.25 gives
    the uniform row used by the RNA-modification models). Any other letter not
    in the alphabet raises :class:`ValueError`. Vectorised: one table lookup over the ``uint8``
    bytes of all sequences, then one fancy-index into an identity matrix.

    Args:
        sequences: ``n`` strings of equal length (or a single string, treated as
            one record).
        alphabet: ``"protein"`` (default), ``"dna"``, ``"rna"`` or a custom string
            of distinct letters.
        dtype: NumPy dtype of the result (default ``"float32"``).
        ids: Optional ``n`` record identifiers, quoted in error messages.
        length: Required sequence length. If ``None``, all sequences must have
            the length of the first one.
        unknown_value: Value of every channel of an ``N`` row (nucleotide
            alphabets only; default ``0.0``).

    Returns:
        np.ndarray: Array of shape ``(n, length, len(alphabet))`` and dtype
        ``dtype``, with a single 1 per row (``unknown_value`` in every channel
        for ``N`` in nucleotide alphabets).

    Raises:
        TypeError: If a record is not a string.
        ValueError: If sequences differ in length (or differ from ``length``),
            naming the first offending record; or if a letter is not in the
            alphabet, naming the record index (and id when ``ids`` is given), the
            1-based position and the letter.

    Example:
        >>> one_hot(["ACGN"], alphabet="dna")[0].astype(int).tolist()
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
        >>> one_hot("UTN", alphabet="rna", unknown_value=0.25).tolist()
        [[[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0], [0.25, 0.25, 0.25, 0.25]]]
    """
    letters = resolve_alphabet(alphabet)
    idx = encode_residues(sequences, alphabet, ids=ids, length=length)
    size = len(letters)
    # Row `size` (reached through index -1, UNKNOWN_INDEX) is the row used for N.
    eye = np.zeros((size + 1, size), dtype=dtype)
    eye[np.arange(size), np.arange(size)] = 1
    eye[size] = unknown_value
    return eye[idx]
