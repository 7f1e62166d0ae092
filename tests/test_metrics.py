import numpy as np
import pytest

from deepbio.metrics import binary_metrics, multilabel_metrics, per_label_metrics

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


def test_per_label_metrics_keys_and_single_class():
    scores = np.array([[0.9, 0.1], [0.8, 0.7], [0.2, 0.3]])
    labels = np.array([[1, 0], [1, 1], [1, 0]])
    m = per_label_metrics(labels, scores, ["a", "c"])
    assert m["a"]["auroc"] is None  # a single class: undefined
    assert m["c"]["auroc"] == pytest.approx(1.0)
