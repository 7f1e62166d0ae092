"""Plain per-sample reference of `AdaptiveClusterUnderSampler`.

One `splrep` fit per sample, one `dtw.distance` call per pair of curves and Python
loops everywhere else. It draws the same random subset from the same seed, so it
selects the same indices as the vectorised sampler; the tests check that and the
benchmark times both.
"""

import numpy as np
from dtaidistance import dtw
from scipy.interpolate import BSpline, splrep
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import silhouette_score
from sklearn.utils import check_random_state


def reference_sample_indices(
    X,
    y,
    sampling_strategy,
    *,
    max_k=8,
    subset_size=1500,
    smooth_factor=10.0,
    random_state=None,
    use_c=True,
):
    """Indices kept by the adaptive cluster under-sampler, computed sample by sample.

    Args:
        X: Array of shape `(n_samples, n_features)`, `n_features >= 4`.
        y: Array of shape `(n_samples,)` of class labels.
        sampling_strategy: dict, class to number of samples to keep.
        max_k: int >= 2, largest number of clusters tried.
        subset_size: int >= 2, size of the random subset clustered per class.
        smooth_factor: float >= 0, the `s` of `splrep`.
        random_state: int, `RandomState` instance or None; seeds the subset draw.
        use_c: bool, whether each `dtw.distance` call uses dtaidistance's C
            kernel (True) or its pure-Python one (False, much slower).

    Returns:
        int64 array of shape `(n_samples_new,)`, ordered like
        `AdaptiveClusterUnderSampler.sample_indices_`.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    rng = check_random_state(random_state)
    indices = []
    for target_class in np.unique(y):
        class_indices = np.flatnonzero(y == target_class)
        if target_class in sampling_strategy:
            keep = _select(
                X[class_indices], sampling_strategy[target_class], max_k,
                subset_size, smooth_factor, rng, use_c,
            )
            class_indices = class_indices[keep]
        indices.append(class_indices)
    return np.concatenate(indices)


def _select(X, n_keep, max_k, subset_size, smooth_factor, rng, use_c):
    n_samples, n_features = X.shape
    if n_keep in (0, n_samples):
        return np.arange(n_keep)
    x = np.linspace(0.0, 1.0, n_features)
    x_eval = np.linspace(0.0, 1.0, 2 * n_features)
    curves = []
    for row in X:
        low, high = row.min(), row.max()
        z = (row - low) / (high - low) if high > low else np.zeros(n_features)
        curves.append(BSpline(*splrep(x, z, k=3, s=smooth_factor))(x_eval))

    if subset_size < n_samples:
        subset = sorted(rng.choice(n_samples, size=subset_size, replace=False))
    else:
        subset = list(range(n_samples))
    m = len(subset)
    distances = np.zeros((m, m))
    for a in range(m):
        for b in range(a + 1, m):
            d = dtw.distance(curves[subset[a]], curves[subset[b]], use_c=use_c)
            distances[a, b] = distances[b, a] = d

    labels, best_score = [0] * m, -np.inf
    for n_clusters in range(2, min(max_k, m - 1) + 1):
        candidate = AgglomerativeClustering(
            n_clusters=n_clusters, metric="precomputed", linkage="average"
        ).fit_predict(distances)
        score = silhouette_score(distances, candidate, metric="precomputed")
        if score > best_score:
            labels, best_score = list(candidate), score

    medoids = []
    for label in range(max(labels) + 1):
        members = [a for a in range(m) if labels[a] == label]
        sums = [sum(distances[a, b] for b in members) for a in members]
        medoids.append(subset[members[sums.index(min(sums))]])

    clusters = [[] for _ in medoids]
    for i in range(n_samples):
        to_medoids = [dtw.distance(curves[i], curves[j], use_c=use_c) for j in medoids]
        label = to_medoids.index(min(to_medoids))
        clusters[label].append((to_medoids[label], i))

    quotas = _quotas([len(c) for c in clusters], n_keep)
    keep = []
    for members, quota in zip(clusters, quotas):
        keep.extend(i for _, i in sorted(members)[:quota])
    return np.array(sorted(keep), dtype=np.int64)


def _quotas(sizes, n_keep):
    total = sum(sizes)
    quotas = [size * n_keep // total for size in sizes]
    remainders = [size * n_keep % total for size in sizes]
    if n_keep >= sum(size > 0 for size in sizes):
        for c, size in enumerate(sizes):
            if size > 0 and quotas[c] == 0:
                quotas[c], remainders[c] = 1, -1
    missing = n_keep - sum(quotas)
    by_remainder = sorted(range(len(sizes)), key=lambda c: (-remainders[c], c))
    for c in by_remainder[:max(missing, 0)]:
        quotas[c] += 1
    for _ in range(-missing):
        largest = max(range(len(sizes)), key=lambda c: (quotas[c], -c))
        quotas[largest] -= 1
    return quotas
