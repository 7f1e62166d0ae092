"""How much signal the PTM windows hold: simple models on the same CV folds as deepbio.

Fits, inside each of 5 stratified folds (seed 0, as ``main.py --task ptm``), a
one-vs-rest logistic regression per label on one-hot windows, and a
label-powerset logistic regression for exact match, and prints per-label AUROC
and Absolute-True beside the always-"a" baseline. Run by hand:

    DEEPBIO_DATA=../shared/data python benchmarks/ptm_signal_probe.py
"""

import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

import Feature_extraction_algorithms as fea
from deepbio.ptm.data import PTM_LABELS, combination_to_labels, load_ptm


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--C", type=float, default=0.05, help="inverse L2 strength")
    args = parser.parse_args()
    data = load_ptm("train")
    x = fea.one_hot(data.windows).reshape(len(data.windows), -1)
    labels, classes = data.labels, data.classes
    scores = np.zeros(labels.shape)
    exact = np.zeros(len(classes), bool)
    start = time.perf_counter()
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(x, classes):
        for j in range(labels.shape[1]):
            model = LogisticRegression(C=args.C, max_iter=500).fit(x[train], labels[train, j])
            scores[test, j] = model.predict_proba(x[test])[:, 1]
        powerset = LogisticRegression(C=args.C, max_iter=500).fit(x[train], classes[train])
        exact[test] = (combination_to_labels(powerset.predict(x[test])) == labels[test]).all(axis=1)
    print(f"one-hot logistic regression, 5-fold CV ({time.perf_counter() - start:.0f} s)")
    for j, name in enumerate(PTM_LABELS):
        print(f"  AUROC {name}: {roc_auc_score(labels[:, j], scores[:, j]):.3f}")
    print(f"  Absolute-True (label powerset): {exact.mean():.4f}")
    print(f"always-'a' baseline Absolute-True: {(classes == 1).mean():.4f}")


if __name__ == "__main__":
    main()
