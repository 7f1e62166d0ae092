"""Label powerset: resample multi-label targets with single-label samplers.

Each distinct combination of labels becomes one class (Tsoumakas & Katakis, 2007,
"Multi-label classification: an overview"), so imbalanced-learn samplers, which
accept only one label per sample, can balance label combinations.
"""

import numpy as np
from sklearn.utils import _safe_indexing


def _check_binary_matrix(Y, n_labels=None):
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise ValueError(f"Y must be a 2-D (n_samples, n_labels) matrix; got shape {Y.shape}.")
    if not np.isin(Y, (0, 1)).all():
        raise ValueError("Y must be binary: every entry 0 or 1.")
    if n_labels is not None and Y.shape[1] != n_labels:
        raise ValueError(f"Y has {Y.shape[1]} labels; the powerset was fitted on {n_labels}.")
    return Y.astype(np.int64)


class LabelPowerset:
    """Maps binary label matrices to integer combination codes and back.

    Codes are `0..n_combinations - 1`, numbering the distinct rows seen in `fit`
    in lexicographic order, so refitting on the same `Y` gives the same codes.

    Attributes:
        combinations_: int64 array of shape `(n_combinations, n_labels)`; row
            `c` is the label combination of code `c`.

    Example:

    >>> Y = np.array([[1, 0], [0, 1], [1, 1], [1, 0]])
    >>> powerset = LabelPowerset().fit(Y)
    >>> powerset.transform(Y).tolist()
    [1, 0, 2, 1]
    >>> powerset.inverse_transform([0, 2]).tolist()
    [[0, 1], [1, 1]]
    """

    def fit(self, Y):
        """Records the label combinations present in `Y`.

        Args:
            Y: Binary array of shape `(n_samples, n_labels)`.

        Returns:
            self.

        Raises:
            ValueError: If `Y` is not a 2-D matrix of zeros and ones.
        """
        self.combinations_ = np.unique(_check_binary_matrix(Y), axis=0)
        return self

    def transform(self, Y):
        """Encodes each row of `Y` as its combination code.

        Args:
            Y: Binary array of shape `(n_samples, n_labels)`.

        Returns:
            int64 array of shape `(n_samples,)`.

        Raises:
            ValueError: If `Y` is not binary and 2-D, has another number of
                labels than in `fit`, or holds a combination not seen in `fit`.
        """
        Y = _check_binary_matrix(Y, self.combinations_.shape[1])
        lookup = {row.tobytes(): code for code, row in enumerate(self.combinations_)}
        codes = np.array([lookup.get(row.tobytes(), -1) for row in Y], dtype=np.int64)
        if (codes < 0).any():
            raise ValueError(
                f"Y row {int(np.argmin(codes))} holds a label combination not seen in fit."
            )
        return codes

    def fit_transform(self, Y):
        """Fits on `Y` and returns its codes; see `fit` and `transform`."""
        return self.fit(Y).transform(Y)

    def inverse_transform(self, codes):
        """Decodes combination codes into label rows.

        Args:
            codes: Integer array of shape `(n_samples,)` with values in
                `[0, n_combinations)`.

        Returns:
            int64 array of shape `(n_samples, n_labels)`.

        Raises:
            ValueError: If a code is out of range.
        """
        codes = np.asarray(codes)
        if codes.size and (codes.min() < 0 or codes.max() >= len(self.combinations_)):
            raise ValueError(f"Codes must lie in [0, {len(self.combinations_)}).")
        return self.combinations_[codes]


def resample_multilabel(sampler, X, Y):
    """Resamples a multi-label data set through its label powerset.

    Args:
        sampler: An under-sampler exposing `fit_resample` and, after it,
            `sample_indices_` (e.g. from `make_sampler`). A dict
            `sampling_strategy` must be keyed by powerset codes, those of
            `LabelPowerset().fit(Y)`.
        X: Array of shape `(n_samples, n_features)`.
        Y: Binary array of shape `(n_samples, n_labels)`.

    Returns:
        Tuple `(X_resampled, Y_resampled, indices)`: the kept rows of `X` and of
        `Y` and the int64 array of their indices.

    Raises:
        ValueError: If `Y` is not a binary 2-D matrix, or from the sampler
            (e.g. `X` and `Y` of different lengths).
    """
    codes = LabelPowerset().fit_transform(Y)
    X_resampled, _ = sampler.fit_resample(X, codes)
    indices = sampler.sample_indices_
    return X_resampled, _safe_indexing(np.asarray(Y), indices), indices
