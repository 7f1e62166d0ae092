"""Adaptive DTW-clustering under-sampling of functional representations.

Reimplementation of the adaptive sampler of OmniK-PTM
(https://github.com/jiyuzhaoo/OmniK-PTM, ``Resample/adaptive_sampler.py``) as an
imbalanced-learn under-sampler. Each feature vector is treated as a curve: it is
min-max normalised, smoothed with a cubic B-spline, and compared with dynamic time
warping (DTW; Sakoe & Chiba, 1978, IEEE Trans. ASSP 26(1):43-49). The classes to
reduce are clustered on a random subset with average-linkage agglomerative
clustering whose number of clusters maximises the silhouette score (Rousseeuw,
1987), and the samples nearest to their cluster medoid are kept, with per-cluster
quotas proportional to the cluster sizes.
"""

import numbers

import numpy as np
from dtaidistance import dtw
from imblearn.under_sampling.base import BaseUnderSampler
from joblib import effective_n_jobs
from scipy.interpolate import BSpline, splrep
from scipy.spatial.distance import squareform
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import silhouette_score
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval
from threadpoolctl import threadpool_limits

# Relative tolerance FITPACK's curfit (behind ``scipy.interpolate.splrep``) allows
# on the smoothing condition ``sum((y - s(x))**2) <= smooth_factor``.
_FITPACK_TOL = 1e-3
_DEGREE = 3
# Row bands of the pairwise DTW triangle, to balance dtaidistance's OpenMP threads.
_DTW_BANDS = 16


def minmax_rows(X):
    """Min-max normalises every sample (row) to [0, 1].

    Args:
        X: Array of shape `(n_samples, n_features)`.

    Returns:
        float64 array of shape `(n_samples, n_features)`. Constant rows map to 0.
    """
    X = np.asarray(X, dtype=np.float64)
    low = X.min(axis=1, keepdims=True)
    span = X.max(axis=1, keepdims=True) - low
    span[span == 0] = 1.0
    return (X - low) / span


def smooth_curves(Z, smooth_factor):
    """Fits a smoothing cubic B-spline to every row and samples it on a finer grid.

    Row `i` is read as the function values `Z[i, j]` at `x_j = j / (n_features - 1)`
    and fitted exactly as `scipy.interpolate.splrep(x, Z[i], k=3, s=smooth_factor)`
    would (Dierckx's FITPACK smoothing spline, whose residual sum of squares is
    at most `smooth_factor`). The spline is then evaluated at `2 * n_features`
    equally spaced points, as in OmniK-PTM.

    FITPACK returns the least-squares cubic polynomial (a B-spline without interior
    knots) whenever that polynomial already meets the smoothing condition. All such
    rows share one linear map, so they are fitted and evaluated at once with a single
    `(2 * n_features, n_features)` matrix; only the remaining rows go through
    `splrep` one by one. On the 46 PSTAAP features of the PTM training set with the
    default `smooth_factor=10.0`, every row takes the vectorised path (the largest
    polynomial residual sum of squares of a normalised row is about 4).

    Args:
        Z: float64 array of shape `(n_samples, n_features)`, `n_features >= 4`.
        smooth_factor: Non-negative float, the `s` of `splrep`.

    Returns:
        C-contiguous float64 array of shape `(n_samples, 2 * n_features)`.
    """
    n_features = Z.shape[1]
    x = np.linspace(0.0, 1.0, n_features)
    x_eval = np.linspace(0.0, 1.0, 2 * n_features)
    knots = np.r_[np.zeros(_DEGREE + 1), np.ones(_DEGREE + 1)]
    basis = BSpline.design_matrix(x, knots, _DEGREE).toarray()
    basis_eval = BSpline.design_matrix(x_eval, knots, _DEGREE).toarray()
    fit = np.linalg.pinv(basis)
    curves = Z @ (basis_eval @ fit).T
    residual = Z - Z @ (basis @ fit).T
    excess = np.einsum("ij,ij->i", residual, residual) - smooth_factor
    for row in np.flatnonzero(excess >= _FITPACK_TOL * smooth_factor):
        curves[row] = BSpline(*splrep(x, Z[row], k=_DEGREE, s=smooth_factor))(x_eval)
    return np.ascontiguousarray(curves)


def apportion(sizes, n_keep):
    """Splits `n_keep` over clusters proportionally to their sizes.

    Largest-remainder (Hamilton) apportionment in exact integer arithmetic. As in
    OmniK-PTM, every non-empty cluster gets at least one sample when `n_keep`
    allows it; the surplus this creates is taken back one sample at a time from
    the largest quota. Ties go to the lower cluster index.

    Args:
        sizes: int array of shape `(n_clusters,)`, the cluster sizes.
        n_keep: int, `0 <= n_keep <= sizes.sum()`.

    Returns:
        int64 array of shape `(n_clusters,)` with `0 <= quotas <= sizes` summing
        exactly to `n_keep`.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    quotas, remainders = np.divmod(sizes * n_keep, sizes.sum())
    non_empty = sizes > 0
    if n_keep >= np.count_nonzero(non_empty):
        raised = non_empty & (quotas == 0)
        quotas[raised] = 1
        remainders[raised] = -1
    missing = n_keep - quotas.sum()
    if missing > 0:
        quotas[np.argsort(-remainders, kind="stable")[:missing]] += 1
    for _ in range(-missing):
        quotas[np.argmax(quotas)] -= 1
    return quotas


def _dtw_pairwise(curves):
    """Symmetric DTW distance matrix of shape `(m, m)` with dtaidistance's C code.

    The upper triangle is computed in `_DTW_BANDS` row bands of equal pair counts,
    one `distance_matrix_fast` call each. dtaidistance hands rows to its OpenMP
    threads with guided scheduling, whose first chunk (half the rows for two
    threads) holds the longest rows of a triangle: one call on the whole triangle
    keeps one of two threads busy with 3/4 of the pairs, while rows within a narrow
    band have nearly equal lengths.
    """
    m = len(curves)
    pairs = np.cumsum(np.arange(m - 1, -1, -1))
    cuts = np.searchsorted(pairs, pairs[-1] * np.arange(1, _DTW_BANDS) / _DTW_BANDS)
    edges = np.unique(np.r_[0, cuts, m])
    condensed = [
        dtw.distance_matrix_fast(curves, block=((start, stop), (0, m)), compact=True)
        for start, stop in zip(edges[:-1], edges[1:])
    ]
    return squareform(np.concatenate(condensed))


def _dtw_to_references(curves, references):
    """DTW distances of shape `(n, k)` from every curve to every reference curve."""
    n, k = len(curves), len(references)
    condensed = dtw.distance_matrix_fast(
        np.concatenate([curves, references]),
        block=((0, n), (n, n + k)),
        compact=True,
    )
    return np.asarray(condensed).reshape(n, k)


def _cluster_subset(distances, max_k):
    """Average-linkage clusters of a precomputed distance matrix, k by silhouette.

    Returns:
        int array of shape `(m,)` with labels `0..k-1`; all zeros (one cluster)
        when the subset has fewer than 3 samples and no silhouette can be computed.
    """
    best_labels = np.zeros(len(distances), dtype=np.int64)
    best_score = -np.inf
    for n_clusters in range(2, min(max_k, len(distances) - 1) + 1):
        labels = AgglomerativeClustering(
            n_clusters=n_clusters, metric="precomputed", linkage="average"
        ).fit_predict(distances)
        score = silhouette_score(distances, labels, metric="precomputed")
        if score > best_score:
            best_score, best_labels = score, labels
    return best_labels


def _medoids(distances, labels):
    """Index of each cluster's medoid (smallest summed distance to its cluster)."""
    medoids = []
    for label in range(labels.max() + 1):
        members = np.flatnonzero(labels == label)
        within = distances[np.ix_(members, members)].sum(axis=1)
        medoids.append(members[np.argmin(within)])
    return np.array(medoids)


def adaptive_cluster_select(X, n_keep, *, max_k, subset_size, smooth_factor, random_state):
    """Selects `n_keep` representative samples of one class.

    Args:
        X: Array of shape `(n_samples, n_features)`, the samples of one class,
            `n_features >= 4`.
        n_keep: int, `0 <= n_keep <= n_samples`.
        max_k: int >= 2, largest number of clusters tried.
        subset_size: int >= 2, size of the random subset that is clustered.
        smooth_factor: Non-negative float, the smoothing condition of `splrep`.
        random_state: `numpy.random.RandomState` drawing the subset.

    Returns:
        Sorted int64 array of shape `(n_keep,)` of row indices into `X`.
    """
    n_samples = len(X)
    if n_keep in (0, n_samples):
        return np.arange(n_keep)
    curves = smooth_curves(minmax_rows(X), smooth_factor)
    if subset_size < n_samples:
        subset = np.sort(random_state.choice(n_samples, size=subset_size, replace=False))
    else:
        subset = np.arange(n_samples)
    distances = _dtw_pairwise(curves[subset])
    medoids = subset[_medoids(distances, _cluster_subset(distances, max_k))]
    to_medoids = _dtw_to_references(curves, curves[medoids])
    labels = np.argmin(to_medoids, axis=1)
    to_own_medoid = to_medoids[np.arange(n_samples), labels]
    quotas = apportion(np.bincount(labels, minlength=len(medoids)), n_keep)
    keep = []
    for label, quota in enumerate(quotas):
        members = np.flatnonzero(labels == label)
        nearest = np.argsort(to_own_medoid[members], kind="stable")[:quota]
        keep.append(members[nearest])
    return np.sort(np.concatenate(keep))


class AdaptiveClusterUnderSampler(BaseUnderSampler):
    """Under-samples classes to the samples nearest their DTW-cluster medoids.

    For every class to reduce (OmniK-PTM's ``EfficientAdaptiveClusterSampler``):

    1. min-max normalise each sample (row) to [0, 1];
    2. smooth each row as a cubic B-spline function of the feature position
       (`scipy.interpolate.splrep` with `s=smooth_factor`) sampled at
       `2 * n_features` points (see `smooth_curves` for the vectorised fit);
    3. compute DTW distances (dtaidistance, C/OpenMP) between the curves of a
       random subset of `subset_size` samples;
    4. cluster the subset with average-linkage agglomerative clustering for
       `k = 2..max_k` and keep the `k` with the best silhouette score;
    5. take each cluster's medoid and assign every sample of the class to its
       DTW-nearest medoid;
    6. keep, from each cluster, the samples nearest its medoid, with quotas
       proportional to the cluster sizes that sum exactly to the class target.

    Unlike the upstream function it reduces several classes in one call, honours
    `random_state` (same seed, same `sample_indices_`) and returns the kept indices
    of each class in ascending order, classes in `np.unique(y)` order. It scales
    each sample (row) to [0, 1], where upstream scales each feature (column) over
    the class with `MinMaxScaler`, and subsets of fewer than 3 samples form a
    single cluster instead of falling back to random under-sampling.

    Args:
        sampling_strategy: float, str, dict or callable, default="auto".
            Target counts, as in imbalanced-learn's under-samplers; a dict maps
            class to the number of samples to keep, e.g. `{1: 927}`.
        max_k: int >= 2, default=8. Largest number of clusters tried.
        subset_size: int >= 2, default=1500. Number of samples per class drawn
            (without replacement) for the pairwise DTW matrix and the clustering;
            the whole class when it is smaller.
        smooth_factor: float >= 0, default=10.0. Smoothing condition `s` of
            `splrep`: the residual sum of squares allowed per normalised row.
        random_state: int, `RandomState` instance or None, default=None. Seeds
            the subset draw.
        n_jobs: int or None, default=None. Threads for the DTW computations; None
            means 1 unless in a `joblib.parallel_config` context, -1 means all
            processors. The subset's DTW matrix dominates the run time (PTM class
            1, 9,279 -> 927 rows of 46 features: ~38 s on one thread; see
            `benchmarks/README.md`).

    Attributes:
        sampling_strategy_: dict, class to number of samples kept.
        sample_indices_: int64 array of shape `(n_samples_new,)`, indices of the
            kept samples in the input.
        n_features_in_: int, number of features seen in `fit_resample`.

    Raises:
        ValueError: From `fit_resample`, when `X` is not 2-D, has fewer than 4
            features or contains NaN/inf, `X` and `y` differ in length, a target
            count exceeds its class size, or a parameter is out of range
            (e.g. `max_k < 2`).

    Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((300, 20))
    >>> y = np.repeat([0, 1], [250, 50])
    >>> sampler = AdaptiveClusterUnderSampler(sampling_strategy={0: 60}, random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> np.bincount(y_res).tolist()
    [60, 50]
    >>> bool((X_res == X[sampler.sample_indices_]).all())
    True
    """

    _parameter_constraints: dict = {
        **BaseUnderSampler._parameter_constraints,
        "max_k": [Interval(numbers.Integral, 2, None, closed="left")],
        "subset_size": [Interval(numbers.Integral, 2, None, closed="left")],
        "smooth_factor": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [numbers.Integral, None],
    }

    def __init__(
        self,
        *,
        sampling_strategy="auto",
        max_k=8,
        subset_size=1500,
        smooth_factor=10.0,
        random_state=None,
        n_jobs=None,
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.max_k = max_k
        self.subset_size = subset_size
        self.smooth_factor = smooth_factor
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check_X_y(self, X, y):
        X, y, binarize_y = super()._check_X_y(X, y, accept_sparse=False)
        if X.shape[1] <= _DEGREE:
            raise ValueError(
                f"AdaptiveClusterUnderSampler fits a cubic spline to each sample and "
                f"needs at least {_DEGREE + 1} features; got {X.shape[1]}."
            )
        return X, y, binarize_y

    def _fit_resample(self, X, y):
        random_state = check_random_state(self.random_state)
        n_threads = effective_n_jobs(self.n_jobs)
        indices = []
        # dtaidistance's distance_matrix_fast runs on OpenMP threads; set their number.
        with threadpool_limits(limits=n_threads, user_api="openmp"):
            for target_class in np.unique(y):
                class_indices = np.flatnonzero(y == target_class)
                if target_class in self.sampling_strategy_:
                    keep = adaptive_cluster_select(
                        X[class_indices],
                        self.sampling_strategy_[target_class],
                        max_k=self.max_k,
                        subset_size=self.subset_size,
                        smooth_factor=self.smooth_factor,
                        random_state=random_state,
                    )
                    class_indices = class_indices[keep]
                indices.append(class_indices)
        self.sample_indices_ = np.concatenate(indices)
        return _safe_indexing(X, self.sample_indices_), _safe_indexing(y, self.sample_indices_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.sampler_tags.sample_indices = True
        return tags
