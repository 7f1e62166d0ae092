"""The vectorised MCC threshold search agrees with scikit-learn cut by cut (fast vs naive)."""

import numpy as np
import pytest
from sklearn.metrics import matthews_corrcoef

from deepbio.ptm.calibration import _candidates, _mcc_per_cut, best_mcc_threshold


def naive_best_mcc_threshold(labels, scores):
    """The reference: `matthews_corrcoef` at every candidate cut, the lowest best one."""
    labels = np.asarray(labels).astype(bool)
    best, best_t = -np.inf, 0.5
    for t in _candidates(scores):
        called = scores >= t
        value = matthews_corrcoef(labels, called) if 0 < called.sum() < len(called) else 0.0
        if value > best + 1e-12:
            best, best_t = value, float(t)
    return best_t


@pytest.mark.parametrize("seed", range(6))
def test_fast_threshold_equals_scikit_learn_per_cut(seed):
    rng = np.random.default_rng(seed)
    n = [50, 300, 1200, 7, 2000, 64][seed]
    labels = rng.random(n) < [0.3, 0.05, 0.5, 0.4, 0.2, 0.9][seed]
    scores = np.clip(labels * 0.3 + rng.normal(0.4, 0.25, n), 0, 1)
    if seed % 2:
        scores = np.round(scores, 2)  # ties
    cuts = _candidates(scores)
    expected = [matthews_corrcoef(labels, scores >= t) if 0 < (scores >= t).sum() < n else 0.0
                for t in cuts]
    np.testing.assert_array_equal(_mcc_per_cut(labels, scores, cuts), expected)
    assert best_mcc_threshold(labels, scores) == naive_best_mcc_threshold(labels, scores)


def test_pinned_small_case():
    # scores 0.1..0.4 with labels 0,0,1,1: the cut 0.3 calls exactly the positives (MCC 1)
    labels, scores = np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])
    assert best_mcc_threshold(labels, scores) == 0.3
    np.testing.assert_allclose(_mcc_per_cut(labels.astype(bool), scores, np.array([0.1, 0.3, 0.4, 1.1])),
                               [0.0, 1.0, 1 / np.sqrt(3), 0.0])  # cut 0.4: tp 1, fn 1, tn 2 → 1/√3
