"""Residue alphabets and the vectorised sequence-to-index lookup shared by all encoders.

Every encoder in this package turns a batch of equal-length sequences into an
``int32`` index array of shape ``(n, length)`` through :func:`encode_residues`.
The conversion never loops over characters in Python: all sequences are joined,
viewed as ``uint8`` bytes and pushed through a 256-entry NumPy lookup table.

Alphabets:
    * ``"protein"``: the 20 standard amino acids in the order
      ``ACDEFGHIKLMNPQRSTVWY`` (:data:`PROTEIN_ALPHABET`), the order used by
      OmniK-PTM (``Feature_extraction_algorithms/PSTAAP.py``) and iLearn.
    * ``"dna"``: ``ACGT`` (:data:`DNA_ALPHABET`); ``U`` is read as ``T``.
    * ``"rna"``: ``ACGU`` (:data:`RNA_ALPHABET`); ``T`` is read as ``U``.
    * any other string: a custom alphabet, one ASCII character per channel, in
      the order given.

Lowercase letters are accepted for every alphabet. For the two nucleotide
alphabets the ambiguity code ``N`` maps to index ``-1`` (:data:`UNKNOWN_INDEX`),
which the one-hot encoder turns into an all-zero row; any other letter that is
not in the alphabet raises :class:`ValueError` naming the record, the position
and the letter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "PROTEIN_ALPHABET",
    "DNA_ALPHABET",
    "RNA_ALPHABET",
    "ALPHABETS",
    "UNKNOWN_INDEX",
    "resolve_alphabet",
    "encode_residues",
]

#: The 20 standard amino acids, in the order used by OmniK-PTM / iLearn.
PROTEIN_ALPHABET = "ACDEFGHIKLMNPQRSTVWY"
#: DNA nucleotides; ``U`` is read as ``T`` when encoding with ``"dna"``.
DNA_ALPHABET = "ACGT"
#: RNA nucleotides; ``T`` is read as ``U`` when encoding with ``"rna"``.
RNA_ALPHABET = "ACGU"
#: Named alphabets accepted by :func:`resolve_alphabet`.
ALPHABETS = {"protein": PROTEIN_ALPHABET, "dna": DNA_ALPHABET, "rna": RNA_ALPHABET}
#: Index given to an ``N`` in a nucleotide alphabet (encoded as an all-zero row).
UNKNOWN_INDEX = -1

_INVALID = -2  # internal marker in the lookup table: letter not allowed


def resolve_alphabet(alphabet: str = "protein") -> str:
    """Return the letters of a named or custom alphabet.

    Args:
        alphabet: ``"protein"``, ``"dna"`` or ``"rna"`` (exact, lowercase names),
            or any other non-empty string of distinct ASCII characters, used as a
            custom alphabet in the order given.

    Returns:
        str: The alphabet letters, uppercase for the named alphabets and as given
        for a custom one; its length is the number of one-hot channels.

    Raises:
        TypeError: If ``alphabet`` is not a string.
        ValueError: If a custom alphabet is empty, not ASCII, or repeats a letter
            (case-insensitively).
    """
    if not isinstance(alphabet, str):
        raise TypeError(f"alphabet must be a string, got {type(alphabet).__name__}")
    if alphabet in ALPHABETS:
        return ALPHABETS[alphabet]
    if not alphabet:
        raise ValueError("alphabet must be 'protein', 'dna', 'rna' or a non-empty string of letters")
    if not alphabet.isascii():
        raise ValueError(f"custom alphabet {alphabet!r} must contain ASCII characters only")
    folded = alphabet.upper()
    if len(set(folded)) != len(folded):
        raise ValueError(f"custom alphabet {alphabet!r} repeats a letter (letters are case-insensitive)")
    return alphabet


def _lookup_table(alphabet: str) -> np.ndarray:
    """Build the 256-entry byte -> index table for ``alphabet`` (name or letters)."""
    letters = resolve_alphabet(alphabet)
    table = np.full(256, _INVALID, dtype=np.int32)
    for i, letter in enumerate(letters):
        table[ord(letter.upper())] = i
        table[ord(letter.lower())] = i
    if alphabet == "dna":
        table[ord("U")] = table[ord("u")] = letters.index("T")
    elif alphabet == "rna":
        table[ord("T")] = table[ord("t")] = letters.index("U")
    if alphabet in ("dna", "rna"):
        table[ord("N")] = table[ord("n")] = UNKNOWN_INDEX
    return table


_TABLE_CACHE: dict[str, np.ndarray] = {}


def _cached_table(alphabet: str) -> np.ndarray:
    table = _TABLE_CACHE.get(alphabet)
    if table is None:
        table = _lookup_table(alphabet)
        _TABLE_CACHE[alphabet] = table
    return table


def _record_name(index: int, ids: Sequence | None) -> str:
    if ids is None:
        return f"record {index}"
    return f"record {index} (id {ids[index]!r})"


def _as_list(sequences: str | Iterable[str]) -> list[str]:
    if isinstance(sequences, str):
        return [sequences]
    if isinstance(sequences, np.ndarray) and sequences.ndim != 1:
        raise ValueError(f"sequences must be a 1-D collection of strings, got an array of shape {sequences.shape}")
    return list(sequences)


def encode_residues(
    sequences: str | Iterable[str],
    alphabet: str = "protein",
    *,
    ids: Sequence | None = None,
    length: int | None = None,
) -> np.ndarray:
    """Map equal-length sequences to integer residue indices.

    The conversion is vectorised: the sequences are joined, viewed as ``uint8``
    bytes and looked up in a 256-entry table; no Python loop runs over the
    characters.

    Args:
        sequences: ``n`` strings (list, tuple, 1-D array of ``str``), or a single
            string, treated as one record. Lowercase is accepted.
        alphabet: ``"protein"``, ``"dna"``, ``"rna"`` or a custom string of
            letters (see :func:`resolve_alphabet`).
        ids: Optional ``n`` record identifiers (e.g. FASTA accessions), used only
            to name the offending record in error messages.
        length: Required length of every sequence. If ``None``, every sequence
            must have the length of the first one.

    Returns:
        np.ndarray: ``int32`` array of shape ``(n, length)``; entry ``[r, p]`` is
        the position of residue ``p`` of record ``r`` in the alphabet, or
        :data:`UNKNOWN_INDEX` (``-1``) for an ``N`` in a nucleotide alphabet.

    Raises:
        TypeError: If a record is not a string.
        ValueError: If ``ids`` does not have one entry per record; if a record's
            length differs from ``length`` (or from record 0's length when
            ``length`` is ``None``), naming the first such record; or if a letter
            is not in the alphabet, naming the first such record (index and id),
            the 1-based position and the letter.
    """
    seqs = _as_list(sequences)
    n = len(seqs)
    if ids is not None:
        ids = list(ids)
        if len(ids) != n:
            raise ValueError(f"ids has {len(ids)} entries but there are {n} sequences")
    for i, s in enumerate(seqs):
        if not isinstance(s, str):
            raise TypeError(f"{_record_name(i, ids)} is a {type(s).__name__}, expected str")
    table = _cached_table(alphabet)
    if length is not None and (int(length) != length or length < 0):
        raise ValueError(f"length must be a non-negative integer, got {length!r}")
    if n == 0:
        return np.zeros((0, 0 if length is None else int(length)), dtype=np.int32)

    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=n)
    expected = int(lengths[0]) if length is None else int(length)
    bad = np.flatnonzero(lengths != expected)
    if bad.size:
        i = int(bad[0])
        if length is None:
            raise ValueError(
                f"{_record_name(i, ids)} has length {lengths[i]} but record 0 has length {expected}; "
                "all sequences must have the same length"
            )
        raise ValueError(f"{_record_name(i, ids)} has length {lengths[i]}, expected length={expected}")

    joined = "".join(seqs)
    try:
        raw = joined.encode("ascii")
    except UnicodeEncodeError as err:
        i, p = divmod(err.start, expected)
        raise ValueError(
            f"{_record_name(i, ids)}: invalid letter {joined[err.start]!r} at position {p + 1} (1-based) "
            f"for alphabet {alphabet!r}"
        ) from None
    codes = np.frombuffer(raw, dtype=np.uint8).reshape(n, expected)
    idx = table[codes]
    invalid = idx == _INVALID
    if invalid.any():
        i, p = (int(v) for v in np.argwhere(invalid)[0])
        raise ValueError(
            f"{_record_name(i, ids)}: invalid letter {seqs[i][p]!r} at position {p + 1} (1-based) "
            f"for alphabet {alphabet!r}"
        )
    return idx
