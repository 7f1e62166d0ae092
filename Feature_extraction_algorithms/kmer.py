"""k-mer composition: normalised counts of every k-mer of an alphabet (NumPy)."""

import itertools

import numpy as np


def kmer_composition(sequences, k, alphabet):
    """Frequency of each k-mer in each sequence.

    Args:
        sequences: iterable of str (upper case).
        k: int ≥ 1.
        alphabet: str, the letters (e.g. ``"ACGT"``); k-mers holding any
            other letter are skipped.

    Returns:
        float32 array (n, len(alphabet) ** k); each row sums to 1 (0 for a
        sequence shorter than k). Columns in lexicographic order of
        ``itertools.product(alphabet, repeat=k)``.

    Raises:
        ValueError: ``k < 1`` or an empty alphabet.
    """
    if k < 1 or not alphabet:
        raise ValueError(f"need k >= 1 and a non-empty alphabet, got k={k}, alphabet={alphabet!r}")
    size = len(alphabet)
    lookup = np.full(256, -1, np.int64)
    lookup[np.frombuffer(alphabet.encode(), np.uint8)] = np.arange(size)
    sequences = list(sequences)
    out = np.zeros((len(sequences), size ** k), np.float32)
    weights = size ** np.arange(k - 1, -1, -1)
    for row, sequence in enumerate(sequences):
        codes = lookup[np.frombuffer(sequence.encode(), np.uint8)]
        if len(codes) < k:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(codes, k)
        valid = (windows >= 0).all(axis=1)
        if not valid.any():
            continue
        counts = np.bincount(windows[valid] @ weights, minlength=size ** k)
        out[row] = counts / counts.sum()
    return out


def kmer_names(k, alphabet):
    """Column names of `kmer_composition` (list of str)."""
    return ["".join(p) for p in itertools.product(alphabet, repeat=k)]


class KmerComposition:
    """scikit-learn-style encoder: concatenated k-mer compositions for several k.

    Stateless (``fit`` learns nothing), so it can never leak information
    across folds.

    Args:
        ks: tuple of int, the k values (e.g. ``(1, 2, 3)``).
        alphabet: str.

    Example:
        >>> KmerComposition((1, 2), "ACGT").fit_transform(["ACGT"]).shape
        (1, 20)
    """

    def __init__(self, ks=(1, 2, 3), alphabet="ACGT"):
        self.ks = tuple(ks)
        self.alphabet = alphabet

    def fit(self, sequences=None, y=None):
        return self

    def transform(self, sequences):
        """float32 (n, Σ len(alphabet) ** k)."""
        sequences = list(sequences)
        return np.concatenate([kmer_composition(sequences, k, self.alphabet) for k in self.ks], axis=1)

    def fit_transform(self, sequences, y=None):
        return self.fit(sequences, y).transform(sequences)

    def get_feature_names_out(self):
        return np.asarray([f"{name}" for k in self.ks for name in kmer_names(k, self.alphabet)])
