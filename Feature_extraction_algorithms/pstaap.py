"""PSTAAP: position-specific tripeptide amino acid propensity, fitted on training data only.

Definition (multi-label PSTAAP as in MLysPRED / MlyPredCSED / OmniK-PTM)
--------------------------------------------------------------------------
A window is a ``window_length`` (49) residue string centred on the modified
lysine (0-based position ``center`` = 24, i.e. position 25 1-based). The centre
residue is removed, leaving ``window_length - 1`` (48) residues, which give
``P = window_length - 3`` (46) overlapping tripeptides ``t_i = r_i r_{i+1} r_{i+2}``
for ``i = 0..P-1``, each indexed ``400*a + 20*b + c`` with ``a, b, c`` positions
in ``ACDEFGHIKLMNPQRSTVWY``.

For each class ``c`` (a column of the binary label matrix ``Y``)::

    F_c(t, i)     = #{windows in c with t_i = t} / #{windows in c}
    F_not_c(t, i) = #{windows not in c with t_i = t} / #{windows not in c}
    Fr(t, i)      = mean over classes c of (F_c(t, i) - F_not_c(t, i))

``Fr`` is an ``(8000, P)`` table and the feature vector of a window is
``[Fr(t_0, 0), ..., Fr(t_{P-1}, P-1)]``.

Upstream (``PSTAAP_train.m`` in MlyPredCSED, ``Feature_extraction_algorithms/PSTAAP.py``
in OmniK-PTM) uses the 11 single-label combination codes (1 = a, ..., 11 = acms) as
the classes: pass the 1-D code vector to reproduce that; pass the ``(n, 4)``
multi-label matrix for the per-modification variant.

Leakage note
------------
OmniK-PTM computes the *test* features from a table (``Fr_test.mat``) fitted on
the *test* windows with their *test labels*, so each test feature encodes its
own label (target leakage); it also fits the training table once on the whole
training set, before cross-validation. Here ``fit`` is the only method that sees
labels, ``transform`` takes none, and the table must be fitted on the training
part of each split (inside every CV fold) and then applied unchanged to the
held-out windows.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .alphabets import PROTEIN_ALPHABET, encode_residues

__all__ = ["PSTAAP", "N_TRIPEPTIDES", "tripeptide_indices"]

#: Number of distinct tripeptides over the 20 standard residues.
N_TRIPEPTIDES = 20**3


def tripeptide_indices(residue_idx: np.ndarray, center: int) -> np.ndarray:
    """Tripeptide indices of windows with the centre residue removed.

    Args:
        residue_idx: Integer array ``(n, W)`` of residue indices in
            ``PROTEIN_ALPHABET`` order (0..19), e.g. from ``encode_residues``.
        center: 0-based column of the centre residue to drop.

    Returns:
        np.ndarray: ``int64`` array ``(n, W - 3)``; entry ``[r, i]`` is
        ``400*a + 20*b + c`` for residues ``a, b, c`` at positions ``i, i+1, i+2``
        of the centre-removed window.
    """
    r = np.delete(np.asarray(residue_idx, dtype=np.int64), center, axis=1)
    return 400 * r[:, :-2] + 20 * r[:, 1:-1] + r[:, 2:]


class PSTAAP(TransformerMixin, BaseEstimator):
    """Position-specific tripeptide amino acid propensity (multi-label), scikit-learn style.

    See the module docstring for the formula and the leakage note: ``fit`` sees
    labels, ``transform`` never does; fit on training windows only.

    Args:
        window_length: Residues per window (default 49).
        center: 0-based index of the centre residue, removed before the
            tripeptides are formed (default 24, the 25th residue).
        center_residue: Required centre residue (default ``"K"``); ``None``
            disables the check.

    Attributes:
        fr_ (np.ndarray): ``float64`` table ``(8000, window_length - 3)``;
            ``fr_[t, i]`` is ``Fr`` of tripeptide index ``t`` at position ``i``.
        classes_ (np.ndarray): The class values when ``Y`` was 1-D, else
            ``arange(C)`` (column indices).
        class_counts_ (np.ndarray): Number of windows in each class.
        n_windows_ (int): Number of windows used in ``fit``.

    Example:
        >>> enc = PSTAAP().fit(train_windows, train_codes)   # doctest: +SKIP
        >>> X_test = enc.transform(test_windows)  # (n_test, 46) float32  # doctest: +SKIP
    """

    def __init__(self, window_length: int = 49, center: int = 24, center_residue: str | None = "K"):
        self.window_length = window_length
        self.center = center
        self.center_residue = center_residue

    # ----------------------------------------------------------------- helpers
    @property
    def n_positions(self) -> int:
        """int: Tripeptide positions per window, ``window_length - 3``."""
        return int(self.window_length) - 3

    def _check_params(self):
        w, c = self.window_length, self.center
        if int(w) != w or w < 4:
            raise ValueError(f"window_length must be an integer >= 4, got {w!r}")
        if int(c) != c or not 0 <= c < w:
            raise ValueError(f"center must be an integer in [0, {w - 1}], got {c!r}")
        if self.center_residue is not None and (
            not isinstance(self.center_residue, str) or self.center_residue.upper() not in PROTEIN_ALPHABET
            or len(self.center_residue) != 1
        ):
            raise ValueError(f"center_residue must be one of {PROTEIN_ALPHABET!r} or None, got {self.center_residue!r}")

    def _tripeptides(self, windows: Iterable[str]) -> np.ndarray:
        """Validate windows and return their ``(n, P)`` tripeptide indices."""
        self._check_params()
        try:
            idx = encode_residues(windows, "protein", length=int(self.window_length))
        except ValueError as err:
            raise ValueError(f"PSTAAP window check failed: {err}") from None
        if self.center_residue is not None and len(idx):
            want = PROTEIN_ALPHABET.index(self.center_residue.upper())
            bad = np.flatnonzero(idx[:, self.center] != want)
            if bad.size:
                i = int(bad[0])
                got = PROTEIN_ALPHABET[idx[i, self.center]]
                raise ValueError(
                    f"PSTAAP window check failed: record {i}: centre residue (position {self.center + 1}, "
                    f"1-based) is {got!r}, expected {self.center_residue.upper()!r}"
                )
        return tripeptide_indices(idx, int(self.center))

    @staticmethod
    def _label_matrix(Y, n: int):
        Y = np.asarray(Y)
        if Y.ndim == 1:
            if Y.shape[0] != n:
                raise ValueError(f"Y has {Y.shape[0]} labels but there are {n} windows")
            classes, inverse = np.unique(Y, return_inverse=True)
            onehot = np.zeros((n, classes.size), dtype=bool)
            onehot[np.arange(n), inverse] = True
            return onehot, classes
        if Y.ndim != 2:
            raise ValueError(f"Y must be a 1-D class vector or a 2-D (n, C) binary matrix, got shape {Y.shape}")
        if Y.shape[0] != n:
            raise ValueError(f"Y has {Y.shape[0]} rows but there are {n} windows")
        if not np.isin(Y, (0, 1)).all():
            raise ValueError("a 2-D Y must be a binary (0/1) label matrix")
        return Y.astype(bool), np.arange(Y.shape[1])

    # --------------------------------------------------------------- estimator
    def fit(self, windows: Iterable[str], Y) -> "PSTAAP":
        """Fit the ``Fr`` table on labelled training windows.

        Vectorised: two ``np.bincount`` calls over the flattened
        ``tripeptide * P + position`` indices (no per-window loop), using
        ``F_not_c = (total - count_c) / (n - n_c)``.

        Args:
            windows: ``n`` strings of length ``window_length`` over the 20
                standard residues (lowercase accepted), centre residue
                ``center_residue``.
            Y: Either an ``(n, C)`` binary label matrix (multi-label, one column
                per class) or a 1-D vector of ``n`` class values (one-hot
                encoded over its sorted unique values).

        Returns:
            PSTAAP: ``self``, with ``fr_``, ``classes_``, ``class_counts_`` and
            ``n_windows_`` set.

        Raises:
            ValueError: If a window has the wrong length, a non-standard residue
                or the wrong centre residue (naming the record index and the
                problem); if ``Y`` has the wrong shape or is not binary; or if a
                class has no windows, or contains every window (its
                ``F_not_c`` would be undefined).
        """
        trip = self._tripeptides(windows)
        n, P = trip.shape
        if n == 0:
            raise ValueError("PSTAAP.fit needs at least one window")
        onehot, classes = self._label_matrix(Y, n)
        n_c = onehot.sum(axis=0).astype(np.float64)
        n_not = n - n_c
        for k in range(onehot.shape[1]):
            if n_c[k] == 0 or n_not[k] == 0:
                which = "no windows" if n_c[k] == 0 else "every window"
                raise ValueError(
                    f"class {classes[k]!r} (column {k}) has {which}; F_c - F_not_c is undefined. "
                    "Drop that label column or fit on a split that contains both cases."
                )
        C = onehot.shape[1]
        flat = (trip * P + np.arange(P)).ravel()
        size = N_TRIPEPTIDES * P
        total = np.bincount(flat, minlength=size).astype(np.float64)
        # sum_c (count_c/n_c - (total - count_c)/n_not_c)
        #   = sum_c count_c * (1/n_c + 1/n_not_c) - total * sum_c 1/n_not_c
        per_window = onehot.astype(np.float64) @ (1.0 / n_c + 1.0 / n_not)
        weighted = np.bincount(flat, weights=np.repeat(per_window, P), minlength=size)
        fr = (weighted - total * np.sum(1.0 / n_not)) / C
        self.fr_ = fr.reshape(N_TRIPEPTIDES, P)
        self.classes_ = classes
        self.class_counts_ = n_c.astype(np.int64)
        self.n_windows_ = int(n)
        return self

    def transform(self, windows: Iterable[str]) -> np.ndarray:
        """Look up each window's tripeptides in the fitted table. Takes no labels.

        Args:
            windows: ``n`` strings of length ``window_length`` (see :meth:`fit`).

        Returns:
            np.ndarray: ``float32`` array ``(n, window_length - 3)``; entry
            ``[r, i] = fr_[t_i(r), i]``.

        Raises:
            sklearn.exceptions.NotFittedError: If called before :meth:`fit`.
            ValueError: If a window fails validation (record index and problem).
        """
        check_is_fitted(self, "fr_")
        trip = self._tripeptides(windows)
        if self.fr_.shape[1] != trip.shape[1]:
            raise ValueError(
                f"fitted table has {self.fr_.shape[1]} positions but windows give {trip.shape[1]}; "
                "window_length was changed after fit"
            )
        return self.fr_[trip, np.arange(trip.shape[1])].astype(np.float32)

    def fit_transform(self, windows: Iterable[str], Y) -> np.ndarray:
        """``fit(windows, Y)`` then ``transform(windows)``.

        Only for the training windows themselves; never call this on held-out
        data (that would fit the table on held-out labels).

        Returns:
            np.ndarray: ``float32`` array ``(n, window_length - 3)``.
        """
        return self.fit(windows, Y).transform(windows)
