"""Residue-type propensity baseline: logistic regression on the one-hot residue window.

Each residue is described by the one-hot identities of itself and its ``window`` neighbours on
each side (21 letters: the 20 amino acids and ``X``; positions beyond the chain are all-zero), a
sparse (residues, (2·window + 1)·21) matrix; scikit-learn's ``LogisticRegression`` is fitted on
the training folds' residues. It knows which residue types (arginine, lysine, …) and local
sequence contexts touch nucleic acids, and nothing about the partner or the structure.
"""

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

ALPHABET = "ACDEFGHIKLMNPQRSTVWYX"
_INDEX = {letter: i for i, letter in enumerate(ALPHABET)}


def window_features(sequence, window=3):
    """One-hot residue windows of one protein.

    Args:
        sequence: str (L,), one-letter amino acids; letters outside ``ALPHABET`` count as ``X``.
        window: int ≥ 0, neighbours on each side.

    Returns:
        `scipy.sparse.csr_matrix` float32 (L, (2·window + 1)·21).

    Raises:
        ValueError: negative ``window``.
    """
    if window < 0:
        raise ValueError(f"window must be ≥ 0, got {window!r}")
    codes = np.asarray([_INDEX.get(letter, _INDEX["X"]) for letter in sequence], np.int64)
    length, width = len(codes), 2 * window + 1
    rows, cols = [], []
    for offset in range(-window, window + 1):
        position = np.arange(length) + offset
        inside = (position >= 0) & (position < length)
        rows.append(np.flatnonzero(inside))
        cols.append((offset + window) * len(ALPHABET) + codes[position[inside]])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    return sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                             shape=(length, width * len(ALPHABET)))


class PropensityBaseline:
    """Logistic regression on one-hot residue windows (scikit-learn style ``fit`` / ``predict``).

    Args:
        window: int, neighbours on each side (default 3: a 7-residue window).
        C: float, inverse L2 strength.
        seed: int.
    """

    def __init__(self, window=3, C=1.0, seed=0):
        self.window = window
        self.C = C
        self.seed = seed
        self.model = None

    def _features(self, sequences):
        return sparse.vstack([window_features(s, self.window) for s in sequences]).tocsr()

    def fit(self, sequences, labels):
        """Fits on proteins and their per-residue labels.

        Args:
            sequences: list of str.
            labels: list of binary arrays, one (L,) per sequence.

        Returns:
            self.

        Raises:
            ValueError: a label array's length differs from its sequence.
        """
        for sequence, label in zip(sequences, labels):
            if len(sequence) != len(label):
                raise ValueError(f"{len(label)} labels for a {len(sequence)}-residue protein")
        self.model = LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed)
        self.model.fit(self._features(sequences), np.concatenate(labels).astype(np.int32))
        return self

    def predict(self, sequences):
        """Contact probabilities, one float32 array (L,) per sequence.

        Raises:
            RuntimeError: not fitted.
        """
        if self.model is None:
            raise RuntimeError("PropensityBaseline.predict before fit")
        scores = self.model.predict_proba(self._features(sequences))[:, 1].astype(np.float32)
        return np.split(scores, np.cumsum([len(s) for s in sequences])[:-1])
