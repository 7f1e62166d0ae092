"""Under-sampling for imbalanced biological sequence data sets.

`AdaptiveClusterUnderSampler` reimplements OmniK-PTM's adaptive DTW-clustering
sampler as an imbalanced-learn under-sampler; `make_sampler` builds it or one of
the baselines by name (`SAMPLERS`); `LabelPowerset` and `resample_multilabel`
apply any of them to multi-label targets.
"""

from Resample.adaptive_cluster import AdaptiveClusterUnderSampler
from Resample.baselines import SAMPLERS, HardClusterCentroids, NoUnderSampler, make_sampler
from Resample.label_powerset import LabelPowerset, resample_multilabel

__all__ = [
    "SAMPLERS",
    "AdaptiveClusterUnderSampler",
    "HardClusterCentroids",
    "LabelPowerset",
    "NoUnderSampler",
    "make_sampler",
    "resample_multilabel",
]
