"""Which PTM model ranks best: candidate features × models under stratified and grouped CV.

Builds the label-free window feature blocks once (cached as .npy under
``--cache``, /tmp by default, never in the repository), then scores each
candidate ``MODEL:BLOCK+BLOCK`` with 5-fold CV on the training split, both
stratified by label combination (seed 0, as ``main.py --task ptm``) and
accession-grouped (`StratifiedGroupKFold`: no UniProt accession on both
sides). Prints per-label out-of-fold AUROC and their mean, one line per
candidate and protocol; ``--full`` also runs the task's protocol
(`deepbio.ptm.trees.cross_validate_trees`: in-fold calibration and
thresholds) and adds MCC and ECE. Run by hand:

    DEEPBIO_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/ptm_models.py \
        hgb:one_hot+composition lr:one_hot+composition+kspaced --cv both

Models: ``hgb`` (HistGradientBoostingClassifier per label, as ``--model-type
trees``), ``hgbw`` (the same with balanced class weights), ``hgbslow``
(learning rate 0.05, 31 leaves), ``lr`` (logistic regression per label,
standardised features, as ``--model-type linear``), ``hgbpow`` (one
multi-class HGB on the 11 label combinations, per-label probabilities summed
from it: label-correlation-aware). ``--blend`` scores mean-logit blends and a
label-aware stack of saved out-of-fold scores (``--save-oof``, or a run's
``cv_predictions.csv``, e.g. the network's).
Blocks: `deepbio.ptm.features.WINDOW_BLOCKS`, ``one_hotR`` for the
central ±R positions only, and ``pstaap`` (fitted inside each training fold).
"""

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from deepbio.ptm.data import PTM_LABELS, load_ptm


def block(name, windows, cache):
    """One cached feature block (float32 (n, d)); ``one_hotR`` keeps the central ±R positions."""
    from deepbio.ptm.features import window_features

    path = Path(cache) / f"{name}.npy"
    if path.is_file():
        return np.load(path)
    if name.startswith("one_hot") and name != "one_hot":
        radius = int(name[len("one_hot"):])
        full = block("one_hot", windows, cache).reshape(len(windows), 48, 20)
        x = full[:, 24 - radius:24 + radius].reshape(len(windows), -1)
    else:
        x = window_features(windows, (name,))
    Path(cache).mkdir(parents=True, exist_ok=True)
    np.save(path, x)
    return x


def make_model(kind, seed, iterations):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind in ("hgb", "hgbpow", "hgbw", "hgbslow"):
        slow = kind == "hgbslow"  # smaller steps, bigger trees
        return HistGradientBoostingClassifier(
            learning_rate=0.05 if slow else 0.1, max_iter=2 * iterations if slow else iterations,
            max_leaf_nodes=31 if slow else 15, min_samples_leaf=40, l2_regularization=1.0,
            early_stopping=True, validation_fraction=0.1, n_iter_no_change=20,
            class_weight="balanced" if kind == "hgbw" else None, random_state=seed)
    if kind == "lr":
        return make_pipeline(StandardScaler(), LogisticRegression(C=0.002, max_iter=300))
    raise ValueError(f"unknown model {kind!r}")


def splits(protocol, data, folds, seed):
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if protocol == "stratified":
        return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(data.windows,
                                                                                   data.classes))
    return list(StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(
        data.windows, data.classes, data.accessions))


def screen(kind, blocks, data, cache, protocol, folds, seed, iterations):
    """Out-of-fold per-label probabilities of one candidate (no calibration)."""
    from deepbio.ptm.data import combination_to_labels

    fixed = [block(b, data.windows, cache) for b in blocks if b != "pstaap"]
    x_all = np.concatenate(fixed, axis=1) if fixed else np.zeros((len(data.windows), 0), np.float32)
    oof = np.zeros(data.labels.shape)
    for train, test in splits(protocol, data, folds, seed):
        x_train, x_test = x_all[train], x_all[test]
        if "pstaap" in blocks:
            from deepbio.ptm.training import pstaap_features

            windows = data.windows
            _, p_fit, (p_test,) = pstaap_features([windows[i] for i in train], data.labels[train],
                                                  [[windows[i] for i in test]], True, seed)
            x_train, x_test = np.hstack([x_train, p_fit]), np.hstack([x_test, p_test])
        if kind == "hgbpow":
            model = make_model(kind, seed, iterations).fit(x_train, data.classes[train])
            probs = model.predict_proba(x_test)
            oof[test] = probs @ combination_to_labels(model.classes_)
            continue
        for j in range(len(PTM_LABELS)):
            model = make_model(kind, seed, iterations).fit(x_train, data.labels[train, j])
            oof[test, j] = model.predict_proba(x_test)[:, 1]
    return oof


def blend(names, data, cache, protocol, folds, seed):
    """Mean-logit blend and a label-correlation-aware stack of saved out-of-fold scores.

    ``names`` are candidates run with ``--save-oof`` (or ``cv_predictions.csv``
    files of ``main.py --task ptm`` runs). The stack is one logistic
    regression per label on every candidate's logits of all four labels (so a
    label can use the others' evidence), itself scored out of fold on the same
    splits (second-level CV).
    """
    from sklearn.linear_model import LogisticRegression

    from deepbio.ptm.calibration import logit

    parts = []
    for name in names:
        if name.endswith(".csv"):
            import pandas as pd

            frame = pd.read_csv(name)
            frame = frame[frame["protocol"] == protocol]
            assert frame["window"].tolist() == list(data.windows), name
            parts.append(frame[[c for c in frame if c.startswith("p_")]].to_numpy())
        else:
            parts.append(np.load(Path(cache) / f"oof_{name.replace(':', '_')}_{protocol}.npy"))
    logits = [logit(p) for p in parts]
    mean = 1 / (1 + np.exp(-np.mean(logits, axis=0)))
    x = np.hstack(logits)
    stacked = np.zeros(data.labels.shape)
    for train, test in splits(protocol, data, folds, seed):
        for j in range(data.labels.shape[1]):
            model = LogisticRegression(C=1.0, max_iter=1000).fit(x[train], data.labels[train, j])
            stacked[test, j] = model.predict_proba(x[test])[:, 1]
    return {"mean-logit blend": mean, "label-aware stack": stacked}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidates", nargs="+", help="MODEL:BLOCK+BLOCK, e.g. hgb:one_hot+composition")
    parser.add_argument("--cv", choices=("stratified", "grouped", "both"), default="stratified")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=300, help="HGB max_iter")
    parser.add_argument("--cache", default="/tmp/ptm_bench")
    parser.add_argument("--save-oof", action="store_true", help="keep out-of-fold scores in --cache")
    parser.add_argument("--blend", action="store_true",
                        help="score blends of the candidates' saved out-of-fold scores instead")
    args = parser.parse_args()
    data = load_ptm("train")
    protocols = ("stratified", "grouped") if args.cv == "both" else (args.cv,)
    if args.blend:
        for protocol in protocols:
            for name, oof in blend(args.candidates, data, args.cache, protocol, args.folds,
                                   args.seed).items():
                aurocs = [roc_auc_score(data.labels[:, j], oof[:, j]) for j in range(4)]
                print(f"{name:55s} {protocol:10s} mean AUROC {np.mean(aurocs):.4f}  " +
                      " ".join(f"{l} {a:.3f}" for l, a in zip(PTM_LABELS, aurocs)), flush=True)
        return
    for candidate in args.candidates:
        kind, _, spec = candidate.partition(":")
        blocks = tuple(spec.split("+"))
        for protocol in protocols:
            start = time.perf_counter()
            oof = screen(kind, blocks, data, args.cache, protocol, args.folds, args.seed,
                         args.iterations)
            aurocs = [roc_auc_score(data.labels[:, j], oof[:, j]) for j in range(oof.shape[1])]
            if args.save_oof:
                np.save(Path(args.cache) / f"oof_{candidate.replace(':', '_')}_{protocol}.npy", oof)
            print(f"{candidate:55s} {protocol:10s} mean AUROC {np.mean(aurocs):.4f}  " +
                  " ".join(f"{l} {a:.3f}" for l, a in zip(PTM_LABELS, aurocs)) +
                  f"  ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
