"""Under-sampling baselines selectable by name, all exposing `sample_indices_`.

The baselines are those OmniK-PTM compares its adaptive sampler with
(https://github.com/jiyuzhaoo/OmniK-PTM, ``dataProcess.py``): imbalanced-learn's
`ClusterCentroids` (hard voting, mini-batch k-means) and `RandomUnderSampler`,
plus `NearMiss` (Mani & Zhang, 2003) and a no-op sampler that keeps everything.
"""

import numpy as np
from imblearn.under_sampling import ClusterCentroids, NearMiss, RandomUnderSampler
from imblearn.under_sampling.base import BaseUnderSampler
from sklearn.cluster import MiniBatchKMeans
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import StrOptions

from Resample.adaptive_cluster import AdaptiveClusterUnderSampler

SAMPLERS = ("adaptive", "cluster_centroids", "random", "nearmiss", "none")


class HardClusterCentroids(ClusterCentroids):
    """`ClusterCentroids` with hard voting that records `sample_indices_`.

    Each centroid of the clustering is replaced by its nearest real sample of
    the class, so the output rows are rows of `X` and their indices are known
    exactly (no matching of rows, so duplicated rows pose no problem). Two
    centroids may share their nearest sample, which is then kept twice, as in
    imbalanced-learn.

    Args:
        sampling_strategy: float, str, dict or callable, default="auto", as in
            imbalanced-learn.
        random_state: int, `RandomState` instance or None, default=None. Seeds
            the default estimator.
        estimator: Clustering estimator with an `n_clusters` parameter and a
            fitted `cluster_centers_`, default=None:
            `MiniBatchKMeans(n_init=1, random_state=random_state)`, as in OmniK-PTM.
        voting: "hard", the only voting that keeps real samples.

    Attributes:
        sample_indices_: int64 array of shape `(n_samples_new,)`, indices of the
            kept samples in the input.
    """

    _parameter_constraints: dict = {
        **ClusterCentroids._parameter_constraints,
        "voting": [StrOptions({"hard"})],
    }

    def __init__(
        self, *, sampling_strategy="auto", random_state=None, estimator=None, voting="hard"
    ):
        super().__init__(
            sampling_strategy=sampling_strategy,
            random_state=random_state,
            estimator=estimator,
            voting=voting,
        )

    def _validate_estimator(self):
        if self.estimator is None:
            self.estimator_ = MiniBatchKMeans(n_init=1, random_state=self.random_state)
        else:
            super()._validate_estimator()

    def _generate_sample(self, X, y, centroids, target_class):
        nearest = NearestNeighbors(n_neighbors=1).fit(X)
        local = nearest.kneighbors(centroids, return_distance=False).ravel()
        self._local_indices[target_class] = local
        return _safe_indexing(X, local), np.full(len(local), target_class, dtype=y.dtype)

    def _fit_resample(self, X, y):
        self._local_indices = {}
        X_resampled, y_resampled = super()._fit_resample(X, y)
        indices = []
        for target_class in np.unique(y):
            class_indices = np.flatnonzero(y == target_class)
            if target_class in self._local_indices:
                class_indices = class_indices[self._local_indices[target_class]]
            indices.append(class_indices)
        del self._local_indices
        self.sample_indices_ = np.concatenate(indices)
        return X_resampled, y_resampled

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.sampler_tags.sample_indices = True
        return tags


class NoUnderSampler(BaseUnderSampler):
    """Keeps every sample: the "no resampling" baseline with the sampler API.

    `sampling_strategy` is validated like any under-sampler's (so one call site
    can build every baseline with the same arguments) but nothing is removed.

    Args:
        sampling_strategy: float, str, dict or callable, default="auto";
            validated, then ignored.

    Attributes:
        sample_indices_: int64 array `arange(n_samples)`.
    """

    def _fit_resample(self, X, y):
        self.sample_indices_ = np.arange(len(y))
        return X, y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.sampler_tags.sample_indices = True
        return tags


def make_sampler(name, random_state=None, **kwargs):
    """Builds an under-sampler by name.

    Args:
        name: One of `SAMPLERS`:
            - "adaptive": `AdaptiveClusterUnderSampler` (OmniK-PTM);
            - "cluster_centroids": `HardClusterCentroids` (hard-voting
              `ClusterCentroids` with mini-batch k-means);
            - "random": imbalanced-learn's `RandomUnderSampler`;
            - "nearmiss": imbalanced-learn's `NearMiss` (deterministic, so
              `random_state` is not passed to it);
            - "none": `NoUnderSampler` (deterministic).
        random_state: int, `RandomState` instance or None, default=None; passed
            to the randomised samplers.
        **kwargs: Further constructor arguments of the chosen sampler, e.g.
            `sampling_strategy={1: 927}`.

    Returns:
        An imbalanced-learn under-sampler; after `fit_resample(X, y)` its
        `sample_indices_` holds the indices of the kept rows of `X`.

    Raises:
        ValueError: If `name` is not one of `SAMPLERS`.
    """
    if name == "adaptive":
        return AdaptiveClusterUnderSampler(random_state=random_state, **kwargs)
    if name == "cluster_centroids":
        return HardClusterCentroids(random_state=random_state, **kwargs)
    if name == "random":
        return RandomUnderSampler(random_state=random_state, **kwargs)
    if name == "nearmiss":
        return NearMiss(**kwargs)
    if name == "none":
        return NoUnderSampler(**kwargs)
    raise ValueError(f"Unknown sampler {name!r}; expected one of {SAMPLERS}.")
