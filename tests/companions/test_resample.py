"""Tests of the Resample package: adaptive cluster under-sampler, baselines, powerset."""

import numpy as np
import pytest
from scipy.interpolate import BSpline, splrep

from Resample import (
    SAMPLERS,
    AdaptiveClusterUnderSampler,
    HardClusterCentroids,
    LabelPowerset,
    make_sampler,
    resample_multilabel,
)
from Resample._reference import reference_sample_indices
from Resample.adaptive_cluster import apportion, minmax_rows, smooth_curves


def _curves(class_sizes=(60, 40, 20), n_features=20, seed=0):
    """Noisy sine curves of random frequency and phase, classes of given sizes."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(class_sizes)), class_sizes)
    t = np.linspace(0.0, 1.0, n_features)
    frequency = rng.integers(1, 4, size=(len(y), 1))
    phase = rng.random((len(y), 1))
    X = np.sin(2 * np.pi * (frequency * t + phase))
    return X + 0.3 * rng.standard_normal(X.shape), y


@pytest.fixture(scope="module")
def curves():
    return _curves()


def test_dict_strategy_gives_exact_counts_for_several_classes(curves):
    X, y = curves
    sampler = AdaptiveClusterUnderSampler(sampling_strategy={0: 15, 1: 10}, random_state=0)
    _, y_res = sampler.fit_resample(X, y)
    assert np.bincount(y_res).tolist() == [15, 10, 20]


def test_auto_strategy_reduces_every_class_to_the_minority(curves):
    X, y = curves
    _, y_res = AdaptiveClusterUnderSampler(random_state=0).fit_resample(X, y)
    assert np.bincount(y_res).tolist() == [20, 20, 20]


def test_float_strategy_on_binary_target(curves):
    X, y = curves
    binary = y[y != 1] // 2
    _, y_res = AdaptiveClusterUnderSampler(sampling_strategy=0.5, random_state=0).fit_resample(
        X[y != 1], binary
    )
    assert np.bincount(y_res).tolist() == [40, 20]


def test_sample_indices_select_the_returned_rows(curves):
    X, y = curves
    sampler = AdaptiveClusterUnderSampler(sampling_strategy={0: 15, 1: 10}, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    indices = sampler.sample_indices_
    np.testing.assert_array_equal(X_res, X[indices])
    np.testing.assert_array_equal(y_res, y[indices])
    assert len(np.unique(indices)) == len(indices)
    np.testing.assert_array_equal(indices[y_res == 2], np.flatnonzero(y == 2))


def test_same_random_state_gives_same_indices(curves):
    X, y = curves

    def indices(seed):
        sampler = AdaptiveClusterUnderSampler(
            sampling_strategy={0: 15, 1: 10}, subset_size=12, random_state=seed
        )
        sampler.fit_resample(X, y)
        return sampler.sample_indices_

    np.testing.assert_array_equal(indices(7), indices(7))
    assert len({indices(seed).tobytes() for seed in range(5)}) > 1


@pytest.mark.parametrize("smooth_factor", [10.0, 1.5, 0.0])
def test_matches_per_sample_reference(curves, smooth_factor):
    X, y = curves
    strategy = {0: 15, 1: 10, 2: 7}
    params = dict(max_k=6, subset_size=30, smooth_factor=smooth_factor, random_state=3)
    sampler = AdaptiveClusterUnderSampler(sampling_strategy=strategy, **params)
    sampler.fit_resample(X, y)
    expected = reference_sample_indices(X, y, strategy, **params)
    np.testing.assert_array_equal(sampler.sample_indices_, expected)


def test_matches_pure_python_dtw_reference():
    X, y = _curves(class_sizes=(20, 10), n_features=10, seed=1)
    sampler = AdaptiveClusterUnderSampler(sampling_strategy={0: 8}, random_state=0)
    sampler.fit_resample(X, y)
    expected = reference_sample_indices(X, y, {0: 8}, random_state=0, use_c=False)
    np.testing.assert_array_equal(sampler.sample_indices_, expected)


def test_thread_count_does_not_change_indices(curves):
    X, y = curves
    indices = []
    for n_jobs in (None, 2):
        sampler = AdaptiveClusterUnderSampler(
            sampling_strategy={0: 15}, random_state=0, n_jobs=n_jobs
        )
        sampler.fit_resample(X, y)
        indices.append(sampler.sample_indices_)
    np.testing.assert_array_equal(indices[0], indices[1])


def test_quotas_follow_cluster_sizes():
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.0, 1.0, 16)
    rising = ramp + 0.05 * rng.standard_normal((40, 16))
    falling = ramp[::-1] + 0.05 * rng.standard_normal((20, 16))
    X = np.vstack([rising, falling, rng.random((30, 16))])
    y = np.repeat([0, 1], [60, 30])
    sampler = AdaptiveClusterUnderSampler(sampling_strategy={0: 15}, random_state=0)
    sampler.fit_resample(X, y)
    kept = sampler.sample_indices_[:15]
    assert np.count_nonzero(kept < 40) == 10
    assert np.count_nonzero((kept >= 40) & (kept < 60)) == 5


def test_apportion_is_proportional_and_exact():
    np.testing.assert_array_equal(apportion([50, 30, 20], 10), [5, 3, 2])
    np.testing.assert_array_equal(apportion([7, 2, 1], 5), [3, 1, 1])
    np.testing.assert_array_equal(apportion([1000, 1, 1, 1], 4), [1, 1, 1, 1])
    np.testing.assert_array_equal(apportion([5, 0, 3], 2), [1, 0, 1])
    rng = np.random.default_rng(0)
    for _ in range(200):
        sizes = rng.integers(0, 60, size=rng.integers(1, 9))
        sizes[0] += 1
        n_keep = int(rng.integers(0, sizes.sum() + 1))
        quotas = apportion(sizes, n_keep)
        assert quotas.sum() == n_keep
        assert np.all((quotas >= 0) & (quotas <= sizes))
        assert np.all(np.abs(quotas - sizes * n_keep / sizes.sum()) < 2)


def test_minmax_rows_spans_unit_interval_and_zeroes_constant_rows():
    Z = minmax_rows([[2.0, 4.0, 3.0], [5.0, 5.0, 5.0]])
    np.testing.assert_array_equal(Z, [[0.0, 1.0, 0.5], [0.0, 0.0, 0.0]])


def test_smooth_curves_equal_per_row_splrep():
    rng = np.random.default_rng(0)
    Z = minmax_rows(rng.random((200, 20)))
    x, x_eval = np.linspace(0, 1, 20), np.linspace(0, 1, 40)
    residuals = np.polyfit(x, Z.T, 3, full=True)[1]
    smooth_factor = float(np.median(residuals))
    assert (residuals < smooth_factor).any() and (residuals > smooth_factor).any()
    expected = [BSpline(*splrep(x, z, k=3, s=smooth_factor))(x_eval) for z in Z]
    np.testing.assert_allclose(smooth_curves(Z, smooth_factor), expected, rtol=0, atol=1e-12)


_X = np.random.default_rng(0).random((10, 6))
_Y = np.repeat([0, 1], 5)


@pytest.mark.parametrize(
    "X, y, params, message",
    [
        (_X[:, 0], _Y, {}, "2D"),
        (_X, _Y[:9], {}, "inconsistent numbers of samples"),
        (_X, _Y, {"sampling_strategy": {0: 6}}, "less or equal"),
        (_X, _Y, {"max_k": 1}, "max_k"),
        (_X[:, :3], _Y, {}, "at least 4 features"),
        (np.full_like(_X, np.nan), _Y, {}, "NaN"),
    ],
)
def test_bad_input_raises_value_error(X, y, params, message):
    with pytest.raises(ValueError, match=message):
        AdaptiveClusterUnderSampler(**params).fit_resample(X, y)


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_name_returns_indices(curves, name):
    X, y = curves
    sampler = make_sampler(name, random_state=0, sampling_strategy={0: 15, 1: 10})
    X_res, y_res = sampler.fit_resample(X, y)
    expected = [60, 40, 20] if name == "none" else [15, 10, 20]
    assert np.bincount(y_res).tolist() == expected
    np.testing.assert_array_equal(X_res, X[sampler.sample_indices_])
    np.testing.assert_array_equal(y_res, y[sampler.sample_indices_])


def test_unknown_sampler_name_raises(curves):
    with pytest.raises(ValueError, match="Unknown sampler 'smote'"):
        make_sampler("smote")


def test_cluster_centroids_indices_with_duplicated_rows(curves):
    X, y = curves
    X, y = np.vstack([X, X]), np.concatenate([y, y])
    sampler = HardClusterCentroids(sampling_strategy={0: 15}, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    np.testing.assert_array_equal(X_res, X[sampler.sample_indices_])
    np.testing.assert_array_equal(y_res, y[sampler.sample_indices_])
    assert np.all(y[sampler.sample_indices_[:15]] == 0)


def test_cluster_centroids_rejects_soft_voting(curves):
    X, y = curves
    with pytest.raises(ValueError, match="voting"):
        HardClusterCentroids(voting="soft").fit_resample(X, y)


def test_label_powerset_round_trip():
    Y = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 0], [1, 1, 1], [0, 0, 0]])
    powerset = LabelPowerset().fit(Y)
    codes = powerset.transform(Y)
    np.testing.assert_array_equal(codes, [2, 1, 2, 3, 0])
    np.testing.assert_array_equal(powerset.inverse_transform(codes), Y)
    np.testing.assert_array_equal(powerset.combinations_, np.unique(Y, axis=0))


@pytest.mark.parametrize(
    "Y, message",
    [
        (np.array([[0, 1], [1, 1]]), "not seen in fit"),
        (np.array([[0, 2]]), "binary"),
        (np.array([0, 1]), "2-D"),
        (np.array([[0, 1, 0]]), "3 labels"),
    ],
)
def test_label_powerset_rejects_bad_matrices(Y, message):
    powerset = LabelPowerset().fit([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match=message):
        powerset.transform(Y)


def test_resample_multilabel_keeps_rows_and_labels_together(curves):
    X, _ = curves
    rng = np.random.default_rng(0)
    Y = (rng.random((len(X), 3)) < [0.8, 0.3, 0.1]).astype(int)
    codes = LabelPowerset().fit_transform(Y)
    majority = int(np.argmax(np.bincount(codes)))
    sampler = make_sampler("random", random_state=0, sampling_strategy={majority: 5})
    X_res, Y_res, indices = resample_multilabel(sampler, X, Y)
    np.testing.assert_array_equal(X_res, X[indices])
    np.testing.assert_array_equal(Y_res, Y[indices])
    counts = np.bincount(LabelPowerset().fit(Y).transform(Y_res), minlength=codes.max() + 1)
    expected = np.bincount(codes)
    expected[majority] = 5
    np.testing.assert_array_equal(counts, expected)
