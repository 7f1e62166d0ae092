"""K-mer location for DeepASMM motif scoring: sequence checks, base codes, occurrences.

Part of the reimplementation of DeepASMM (Li et al., "DeepASMM: Decoding
Cis-Regulatory Mechanisms via Quantification of Motif Autonomy and Contextual
Synergy", https://github.com/Jie-Lii/DeepASMM, commit 0f35ebb; the method is
summarised in :mod:`deepbio.motif.aggregate`): every k-mer (without
``N``) with at least ``min_count`` occurrences in the sequences is located, as
upstream's word counting, but vectorised.

Holds :func:`check_sequences` (validation and ``uint8`` base codes A 0, C 1,
G 2, T/U 3, N 4 through a 256-entry byte table, naming the record and
position of a bad letter), :class:`KmerOccurrences` and :func:`locate_kmers`.
The byte table only serves k-mer location and validation; one-hot arrays
(of the k-mers, :meth:`KmerOccurrences.one_hot_kmers`) are built by
:func:`Feature_extraction_algorithms.one_hot`, the project's one encoder.
"""

from __future__ import annotations

import dataclasses

import numpy as np

import Feature_extraction_algorithms as fea

__all__ = ["KmerOccurrences", "check_sequences", "locate_kmers"]

_CODES = np.full(256, 255, dtype=np.uint8)
for _i, _letters in enumerate(("Aa", "Cc", "Gg", "TtUu")):
    for _c in _letters:
        _CODES[ord(_c)] = _i
_CODES[ord("N")] = _CODES[ord("n")] = 4


@dataclasses.dataclass(frozen=True)
class KmerOccurrences:
    """Where each retained k-mer occurs.

    Motifs are listed in order of first appearance (sequence, then position),
    as upstream; occurrences are grouped by motif, then in scanning order.

    Attributes:
        k: int. Motif length.
        kmers: (m,) str array, the retained k-mers.
        counts: (m,) int64, occurrences of each (overlapping ones included).
        motif_index: (n_occ,) int64, index into ``kmers`` of each occurrence.
        sequence_index: (n_occ,) int64, the sequence of each occurrence.
        position: (n_occ,) int64, its 0-based start.
    """

    k: int
    kmers: np.ndarray
    counts: np.ndarray
    motif_index: np.ndarray
    sequence_index: np.ndarray
    position: np.ndarray

    def __len__(self):
        return len(self.motif_index)

    def one_hot_kmers(self):
        """float32 (m, k, 4): one-hot of every retained k-mer."""
        return fea.one_hot(list(self.kmers), alphabet="dna") if len(self.kmers) else \
            np.zeros((0, self.k, 4), np.float32)


def _sequence_codes(sequences, ids=None):
    """uint8 (n, L) codes A0 C1 G2 T3 N4 of equal-length DNA sequences."""
    if isinstance(sequences, str):
        sequences = [sequences]
    sequences = list(sequences)
    if not sequences:
        raise ValueError("no sequences given")
    names = [str(i) if ids is None else repr(ids[i]) for i in range(len(sequences))]
    for i, seq in enumerate(sequences):
        if not isinstance(seq, str):
            raise TypeError(f"record {names[i]}: expected a str, got {type(seq).__name__}")
    length = len(sequences[0])
    for i, seq in enumerate(sequences):
        if len(seq) != length:
            raise ValueError(f"record {names[i]} has length {len(seq)}, expected {length} "
                             f"(all sequences must have the model's input length)")
    raw = np.frombuffer("".join(sequences).encode("ascii", errors="replace"), np.uint8)
    codes = _CODES[raw].reshape(len(sequences), length)
    bad = np.argwhere(codes == 255)
    if len(bad):
        i, j = bad[0]
        raise ValueError(f"record {names[i]}: letter {sequences[i][j]!r} at position {j + 1} is "
                         "not A, C, G, T, U or N")
    return codes


def check_sequences(sequences, ids=None):
    """Validates DNA sequences for motif scoring; returns their uint8 (n, L) codes.

    Args:
        sequences: n str of equal length (A/C/G/T/U/N, any case).
        ids: optional n record names, quoted in error messages.

    Returns:
        uint8 (n, L): A 0, C 1, G 2, T/U 3, N 4.

    Raises:
        TypeError: a record is not a str.
        ValueError: no sequences, unequal lengths, or a letter that is not a
            nucleotide (naming the record and the 1-based position).
    """
    return _sequence_codes(sequences, ids)


def locate_kmers(sequences, k, min_count=1, ids=None):
    """Locates every k-mer occurring at least ``min_count`` times.

    Vectorised: the k-mer code at every position is built from ``k`` shifted
    slices of the ``(n, L)`` base codes; k-mers containing ``N`` are skipped
    (as upstream, which drops the ``N``-containing words after counting).

    Args:
        sequences: n str of equal length L (A/C/G/T/U/N, any case).
        k: int in [1, 31]. Motif length (DeepASMM uses 4..12).
        min_count: int >= 1. Minimum number of occurrences (overlapping ones
            count) for a k-mer to be kept (upstream default 10).
        ids: optional n record names, quoted in error messages.

    Returns:
        `KmerOccurrences`.

    Raises:
        ValueError: k outside [1, 31] or longer than the sequences,
            ``min_count`` < 1, sequences of unequal length, or a letter that
            is not a nucleotide (naming the record and position).
    """
    if not 1 <= int(k) <= 31:
        raise ValueError(f"k must be in [1, 31], got {k}")
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    k = int(k)
    codes = _sequence_codes(sequences, ids)
    n, length = codes.shape
    if k > length:
        raise ValueError(f"k={k} is longer than the sequences ({length} bp)")
    span = length - k + 1
    value = np.zeros((n, span), np.int64)
    valid = np.ones((n, span), bool)
    for j in range(k):
        part = codes[:, j:j + span]
        value = value * 4 + np.minimum(part, 3)
        valid &= part < 4
    seq_idx, pos = np.nonzero(valid)
    flat = value[seq_idx, pos]
    uniq, first, inverse, counts = np.unique(flat, return_index=True, return_inverse=True,
                                             return_counts=True)
    kept = np.flatnonzero(counts >= min_count)
    kept = kept[np.argsort(first[kept], kind="stable")]  # order of first appearance
    new_id = np.full(len(uniq), -1, np.int64)
    new_id[kept] = np.arange(len(kept))
    occ_motif = new_id[inverse.ravel()]
    keep_occ = np.flatnonzero(occ_motif >= 0)
    order = keep_occ[np.argsort(occ_motif[keep_occ], kind="stable")]
    digits = (uniq[kept][:, None] >> (2 * np.arange(k - 1, -1, -1))) & 3
    kmers = np.array(list("ACGT"), dtype="S1")[digits].view(f"S{k}").ravel().astype(str) \
        if len(kept) else np.zeros(0, dtype=f"<U{k}")
    return KmerOccurrences(k=k, kmers=kmers, counts=counts[kept].astype(np.int64),
                           motif_index=occ_motif[order], sequence_index=seq_idx[order].astype(np.int64),
                           position=pos[order].astype(np.int64))
