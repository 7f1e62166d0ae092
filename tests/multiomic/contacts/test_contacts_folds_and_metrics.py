"""Homology clusters, grouped folds, thresholds, metrics, top-L and the propensity baseline."""

import numpy as np
import pytest

from deepbio.multiomic.contacts.evaluation import (choose_threshold, contact_metrics,
                                                   evaluate_model, summarise_folds,
                                                   top_l_precision)
from deepbio.multiomic.contacts.homology import (cluster_sequences, grouped_folds, is_homologue,
                                                 pronab_overlap, sequence_identity)
from deepbio.multiomic.contacts.propensity import PropensityBaseline, window_features

RNG = np.random.default_rng(0)
AA = np.array(list("ACDEFGHIKLMNPQRSTVWY"))


def random_protein(length, rng=RNG):
    return "".join(rng.choice(AA, length))


def mutate(sequence, fraction, rng=RNG):
    letters = list(sequence)
    for i in rng.choice(len(letters), int(fraction * len(letters)), replace=False):
        letters[i] = rng.choice([a for a in AA if a != letters[i]])
    return "".join(letters)


def test_identity_and_homologues():
    base = random_protein(120)
    assert sequence_identity(base, base) == 1.0
    assert sequence_identity(base, mutate(base, 0.25)) == pytest.approx(0.75, abs=0.02)
    assert sequence_identity(base[10:70], base) == 1.0  # a fragment: over the shorter one
    assert is_homologue(base, mutate(base, 0.6))  # 40 % identical
    assert not is_homologue(base, random_protein(120))
    with pytest.raises(ValueError):
        sequence_identity("", base)


def test_clusters_keep_homologues_together_and_folds_keep_clusters_whole():
    families = [random_protein(100) for _ in range(6)]
    sequences = [mutate(f, 0.4) for f in families for _ in range(3)] + families[:2]
    groups = cluster_sequences(sequences)
    family = np.r_[np.repeat(np.arange(6), 3), [0, 1]]
    assert len(set(groups)) == 6
    assert all(len(set(groups[family == f])) == 1 for f in range(6))
    folds = grouped_folds(groups, np.full(len(groups), 100), n_splits=3, seed=0)
    assert all(len(set(folds[groups == g])) == 1 for g in set(groups))
    assert sorted(np.bincount(folds)) == [6, 7, 7]  # clusters of 4, 4, 3, 3, 3, 3 residues × 100
    with pytest.raises(ValueError, match="cannot make 7 folds"):
        grouped_folds(groups, np.ones(len(groups)), n_splits=7)


def test_pronab_overlap_needs_near_identity():
    reference = [random_protein(80) for _ in range(5)]
    other = random_protein(80)
    queries = [mutate(reference[0], 0.05), mutate(reference[1], 0.3), random_protein(80),
               reference[2][10:60], other]  # a domain of a ProNAB protein counts ...
    reference.append(other[:12])  # ... a ProNAB peptide that is a piece of a structure does not
    np.testing.assert_array_equal(pronab_overlap(queries, reference),
                                  [True, False, False, True, False])


def test_threshold_and_metrics():
    y = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    assert choose_threshold(y, scores) == pytest.approx(0.35)
    m = contact_metrics(y, scores, 0.35)
    assert m["auroc"] == pytest.approx(8 / 9)
    assert m["f1"] == pytest.approx(6 / 7)
    assert m["positive_rate"] == 0.5 and m["residues"] == 6
    assert choose_threshold(np.zeros(3), scores[:3]) == 0.5
    summary = summarise_folds([{"auroc": 0.6}, {"auroc": 0.8}], keys=("auroc",))
    assert summary["auroc"]["mean"] == pytest.approx(0.7)
    assert summary["auroc"]["sd"] == pytest.approx(np.std([0.6, 0.8], ddof=1))


def test_evaluate_model_per_fold_pooled_and_subsets():
    y = np.array([0, 1, 0, 1, 0, 1, 1, 0])
    scores = np.array([0.2, 0.7, 0.1, 0.9, 0.6, 0.4, 0.8, 0.3])
    folds = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    result = evaluate_model(y, scores, folds, {0: 0.5, 1: 0.5}, {"half": np.arange(8) < 4})
    assert [r["auroc"] for r in result["all"]["folds"]] == [1.0, 0.75]
    assert result["all"]["summary"]["auroc"]["mean"] == pytest.approx(0.875)
    assert result["half"]["pooled"]["auroc"] == 1.0 and len(result["half"]["folds"]) == 1
    assert result["all"]["pooled"]["f1"] == pytest.approx(0.75)


def test_top_l_precision():
    true = np.zeros((4, 3), bool)
    true[0, 0] = true[2, 1] = True
    scores = np.zeros((4, 3))
    scores[0, 0], scores[2, 1], scores[3, 2], scores[1, 1] = 0.9, 0.8, 0.7, 0.6
    assert top_l_precision(scores, true, 1.0) == 0.5
    assert top_l_precision(scores, true, 0.5) == 1.0
    with pytest.raises(ValueError):
        top_l_precision(scores, true[:2])


def test_propensity_learns_residue_types():
    features = window_features("ARK", window=1)
    assert features.shape == (3, 63)
    assert features[1].nonzero()[1].tolist() == [0, 21 + 14, 42 + 8]  # A | R | K
    rng = np.random.default_rng(1)
    sequences = [random_protein(60, rng) for _ in range(30)]
    labels = [np.array([c in "RK" for c in s], np.float32) for s in sequences]
    model = PropensityBaseline(window=1).fit(sequences[:20], labels[:20])
    scores = np.concatenate(model.predict(sequences[20:]))
    truth = np.concatenate(labels[20:])
    assert scores[truth == 1].min() > scores[truth == 0].max()
    with pytest.raises(ValueError, match="labels for a"):
        model.fit(["AAA"], [np.zeros(2)])
