import numpy as np
import pytest

from deepbio.metrics import (binary_metrics, multilabel_metrics, per_label_metrics,
                             regression_metrics)

Y_TRUE = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [1, 1, 1, 1]])
Y_PRED = np.array([[1, 0, 0, 0], [1, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 0]])


def test_chou_metrics_hand_computed():
    m = multilabel_metrics(Y_TRUE, Y_PRED, classes=[1, 5, 3, 11])
    # Aiming: |Y∩P|/|P| per sample = 1, 1/2, (empty prediction counts 1), 3/3.
    assert m["aiming"] == pytest.approx((1 + 0.5 + 1 + 1) / 4)
    # Coverage: |Y∩P|/|Y| = 1, 1/2, 0, 3/4.
    assert m["coverage"] == pytest.approx((1 + 0.5 + 0 + 0.75) / 4)
    # Accuracy: |Y∩P|/|Y∪P| = 1, 1/3, 0, 3/4.
    assert m["accuracy"] == pytest.approx((1 + 1 / 3 + 0 + 0.75) / 4)
    assert m["absolute_true"] == pytest.approx(0.25)
    # Absolute-False (Hamming loss): wrong cells 0 + 2 + 1 + 1 of 16.
    assert m["absolute_false"] == pytest.approx(4 / 16)
    per_class = m["per_class_absolute_true"]
    assert per_class["1"] == 1.0 and per_class["5"] == 0.0 and per_class["2"] is None
    assert sorted(per_class, key=int) == [str(k) for k in range(1, 12)]


def test_perfect_prediction():
    m = multilabel_metrics(Y_TRUE, Y_TRUE)
    assert m["absolute_true"] == m["aiming"] == m["coverage"] == m["accuracy"] == 1.0
    assert m["absolute_false"] == 0.0


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="differ in shape"):
        multilabel_metrics(Y_TRUE, Y_PRED[:, :3])


def test_binary_metrics_hand_computed():
    y = np.array([1, 1, 0, 0, 1])
    s = np.array([0.9, 0.4, 0.6, 0.1, 0.8])
    m = binary_metrics(y, s, threshold=0.5)
    # Predictions 1,0,1,0,1: tp=2 fn=1 fp=1 tn=1.
    assert m["sensitivity"] == pytest.approx(2 / 3)
    assert m["specificity"] == pytest.approx(1 / 2)
    assert m["acc"] == pytest.approx(3 / 5)
    assert m["mcc"] == pytest.approx((2 * 1 - 1 * 1) / np.sqrt(3 * 3 * 2 * 2))
    # AUROC: positive/negative pairs ranked right: (0.9>0.6,0.1) (0.4>0.1) (0.8>0.6,0.1) = 5 of 6.
    assert m["auroc"] == pytest.approx(5 / 6)
    # Average precision, by descending score 0.9(+) 0.8(+) 0.6(−) 0.4(+) 0.1(−): each recall step
    # of 1/3 times the precision where it happens: 1/3·1 + 1/3·1 + 1/3·3/4 = 11/12.
    assert m["auprc"] == pytest.approx(11 / 12)
    # a stricter threshold: only 0.9 and 0.8 called positive, tp=2 fn=1 fp=0 tn=2
    strict = binary_metrics(y, s, threshold=0.7)
    assert strict["sensitivity"] == pytest.approx(2 / 3) and strict["specificity"] == 1.0
    assert strict["mcc"] == pytest.approx((2 * 2 - 0 * 1) / np.sqrt(2 * 3 * 2 * 3))


def test_per_label_metrics_keys_and_single_class():
    scores = np.array([[0.9, 0.1], [0.8, 0.7], [0.2, 0.3]])
    labels = np.array([[1, 0], [1, 1], [1, 0]])
    m = per_label_metrics(labels, scores, ["a", "c"])
    assert set(m) == {"a", "c"} and set(m["a"]) == {"auroc", "auprc", "mcc"}
    assert m["a"]["auroc"] is None and m["a"]["auprc"] is None  # a single class: undefined
    # c: the positive (0.7) outranks both negatives (0.1, 0.3), and 0.5 splits them exactly
    assert m["c"]["auroc"] == pytest.approx(1.0) and m["c"]["auprc"] == pytest.approx(1.0)
    assert m["c"]["mcc"] == pytest.approx(1.0)
    # one threshold per label: at 0.8 nothing is called for c, and MCC is 0 (undefined → 0)
    strict = per_label_metrics(labels, scores, ["a", "c"], thresholds=[0.5, 0.8])
    assert strict["c"]["mcc"] == 0.0 and strict["c"]["auroc"] == pytest.approx(1.0)


def test_regression_metrics_hand_computed():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([2.0, 2.0, 3.0, 5.0])
    m = regression_metrics(y, p)
    assert m["n"] == 4
    assert m["mae"] == pytest.approx((1 + 0 + 0 + 1) / 4)
    assert m["rmse"] == pytest.approx(np.sqrt(2 / 4))
    # deviations y: −1.5 −0.5 0.5 1.5; p: −1 −1 0 2 → Σ products 5, Σ squares 5 and 6
    assert m["pearson_r"] == pytest.approx(5 / np.sqrt(5 * 6))
    # ranks of p with the tie averaged: 1.5 1.5 3 4 → Σ products 4.5, Σ squares 5 and 4.5
    assert m["spearman_rho"] == pytest.approx(4.5 / np.sqrt(5 * 4.5))
    constant = regression_metrics(y, np.full(4, 2.5))
    assert constant["pearson_r"] is None and constant["spearman_rho"] is None
    assert constant["mae"] == pytest.approx((1.5 + 0.5 + 0.5 + 1.5) / 4)
    with pytest.raises(ValueError, match="equally long"):
        regression_metrics(y, p[:3])


def test_brier_and_expected_calibration_error_hand_computed():
    from deepbio.metrics import brier_score, calibration_bins, expected_calibration_error

    y = np.array([1, 0, 1, 1, 0])
    p = np.array([0.9, 0.1, 0.55, 0.95, 0.5])
    # Brier: mean of 0.01, 0.01, 0.2025, 0.0025, 0.25
    assert brier_score(y, p) == pytest.approx((0.01 + 0.01 + 0.2025 + 0.0025 + 0.25) / 5)
    # bins of 0.1: [0.1] → bin 1 (rate 0), [0.55, 0.5] → bin 5 (rate 1/2, mean 0.525),
    # [0.9, 0.95] → bin 9 (rate 1, mean 0.925)
    counts, mean_p, rate = calibration_bins(y, p)
    assert counts.tolist() == [0, 1, 0, 0, 0, 2, 0, 0, 0, 2]
    assert mean_p[5] == pytest.approx(0.525) and rate[5] == pytest.approx(0.5)
    ece = (1 * 0.1 + 2 * 0.025 + 2 * 0.075) / 5
    assert expected_calibration_error(y, p) == pytest.approx(ece)
    assert expected_calibration_error([0, 1], [0.0, 1.0]) == 0.0


def test_per_label_metrics_calibrated_keys():
    from deepbio.metrics import CALIBRATED_KEYS

    labels = np.array([[1], [1], [0], [0]])
    scores = np.array([[0.9], [0.4], [0.6], [0.1]])
    m = per_label_metrics(labels, scores, ["a"], thresholds=0.5, keys=CALIBRATED_KEYS)["a"]
    assert set(m) == set(CALIBRATED_KEYS)
    # calls 1, 0, 1, 0: tp 1, fn 1, fp 1 → precision = recall = F1 = 1/2
    assert m["precision"] == m["recall"] == m["f1"] == pytest.approx(0.5)
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
    nothing = per_label_metrics(labels, scores, ["a"], thresholds=0.95, keys=("precision", "f1"))
    assert nothing["a"] == {"precision": None, "f1": 0.0}
