"""Composition of k-spaced residue pairs (CKSAAP) and of window regions (NumPy).

CKSAAP (Chen et al. 2007, "Prediction of ubiquitination sites by using the
composition of k-spaced amino acid pairs") counts, for each gap ``k``, the pairs
``x . . . y`` with ``k`` residues between ``x`` and ``y``; each of the 400
counts is divided by the number of valid pairs. Padding (``-`` or any
character outside the alphabet) takes part in no pair. Stateless: nothing is
fitted, so nothing can leak across folds.
"""

import numpy as np

from .alphabets import PROTEIN_ALPHABET

__all__ = ["kspaced_pairs", "region_composition", "residue_codes"]


def residue_codes(sequences, alphabet=PROTEIN_ALPHABET):
    """Equal-length sequences → int array (n, L): the letter's index, -1 outside ``alphabet``.

    Raises:
        ValueError: sequences of different lengths (the first one named).
    """
    sequences = list(sequences)
    if not sequences:
        return np.zeros((0, 0), np.int64)
    length = len(sequences[0])
    for number, sequence in enumerate(sequences):
        if len(sequence) != length:
            raise ValueError(f"record {number + 1} has {len(sequence)} residues, the first has "
                             f"{length}; k-spaced pairs need equal-length windows")
    lookup = np.full(256, -1, np.int64)
    lookup[np.frombuffer(alphabet.upper().encode(), np.uint8)] = np.arange(len(alphabet))
    lookup[np.frombuffer(alphabet.lower().encode(), np.uint8)] = np.arange(len(alphabet))
    raw = np.frombuffer("".join(sequences).encode("ascii", "replace"), np.uint8)
    return lookup[raw].reshape(len(sequences), length)


def kspaced_pairs(sequences, ks=(0, 1, 2, 3), alphabet=PROTEIN_ALPHABET):
    """CKSAAP: frequency of each residue pair ``x`` … ``y`` with ``k`` residues between.

    Args:
        sequences: ``n`` equal-length strings.
        ks: tuple of int ≥ 0, the gaps.
        alphabet: str, the letters (default the 20 standard residues).

    Returns:
        float32 (n, len(ks) · |alphabet|²); block ``i`` is gap ``ks[i]``, pairs
        in ``itertools.product(alphabet, repeat=2)`` order; each block sums to 1
        over a sequence's valid pairs (0 where it has none).

    Example:
        >>> kspaced_pairs(["ACA"], ks=(1,), alphabet="AC")[0].tolist()
        [1.0, 0.0, 0.0, 0.0]
    """
    codes = residue_codes(sequences, alphabet)
    n, length = codes.shape
    size = len(alphabet)
    out = np.zeros((n, len(ks), size * size), np.float32)
    rows = np.arange(n)[:, None]
    for block, k in enumerate(ks):
        if k < 0:
            raise ValueError(f"gaps must be >= 0, got {k}")
        if k + 1 >= length:
            continue
        left, right = codes[:, :length - k - 1], codes[:, k + 1:]
        valid = (left >= 0) & (right >= 0)
        flat = (rows * size * size + left * size + right)[valid]
        out[:, block] = np.bincount(flat, minlength=n * size * size).reshape(n, -1)
        totals = valid.sum(axis=1, keepdims=True)
        out[:, block] /= np.maximum(totals, 1)
    return out.reshape(n, -1)


def region_composition(sequences, edges, alphabet=PROTEIN_ALPHABET):
    """Residue composition of each region of the windows (position-specific composition).

    Args:
        sequences: ``n`` equal-length strings.
        edges: sequence of ``(start, stop)`` column slices (0-based, stop
            exclusive), e.g. the flanks of a central residue.
        alphabet: str.

    Returns:
        float32 (n, len(edges) · |alphabet|): per region, the share of each
        letter among its residues in ``alphabet`` (padding not counted; 0
        where a region holds none).
    """
    codes = residue_codes(sequences, alphabet)
    size = len(alphabet)
    blocks = []
    for start, stop in edges:
        part = codes[:, start:stop]
        counts = np.stack([(part == letter).sum(axis=1) for letter in range(size)], axis=1)
        blocks.append(counts / np.maximum(counts.sum(axis=1, keepdims=True), 1))
    return np.concatenate(blocks, axis=1).astype(np.float32)
