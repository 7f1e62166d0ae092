"""DeepASMM scoring: k-mer location, hand-computed AF/SCS, aggregation, fast == naive."""

from collections import defaultdict

import keras
import numpy as np
import pytest

import Feature_extraction_algorithms as fea
from deepbio.motif.aggregate import aggregate_scores, combine_scores, score_motifs
from deepbio.motif.common import linear_output_model
from deepbio.motif.fast import MotifScorer
from deepbio.motif.kmers import locate_kmers
from deepbio.motif.naive import NaiveMotifScorer
from deepbio.motif.stem import _trace_stem
from deepbio.motif.model import basset_cnn

L = 48


def _random_sequences(n, length, seed, n_rate=0.02):
    rng = np.random.default_rng(seed)
    letters = rng.choice(list("ACGTN"), (n, length), p=[0.26, 0.24, 0.24, 0.26 - n_rate, n_rate])
    return ["".join(row) for row in letters]


def _randomise(model, seed=0):
    """Non-zero biases and BN statistics, so that no prediction sits at 0."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "bias" in w.path or "beta" in w.path or "moving_mean" in w.path:
            w.assign(rng.normal(0.0, 0.3, w.shape).astype("float32"))
        elif "moving_variance" in w.path or "gamma" in w.path:
            w.assign(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
    return model


@pytest.mark.parametrize("k,min_count", [(3, 1), (4, 2), (6, 1)])
def test_locate_kmers_matches_brute_force(k, min_count):
    seqs = _random_sequences(12, 40, seed=k)
    seqs[0] = seqs[0].lower()
    occ = locate_kmers(seqs, k, min_count)
    brute = defaultdict(list)
    for i, s in enumerate(seqs):
        s = s.upper()
        for p in range(len(s) - k + 1):
            if "N" not in s[p:p + k]:
                brute[s[p:p + k]].append((i, p))
    kept = {kmer: where for kmer, where in brute.items() if len(where) >= min_count}
    # Same set, counts and positions; motifs in order of first appearance, as upstream.
    assert list(occ.kmers) == sorted(kept, key=lambda kmer: kept[kmer][0])
    assert dict(zip(occ.kmers, occ.counts.tolist())) == {m: len(w) for m, w in kept.items()}
    for m, kmer in enumerate(occ.kmers):
        rows = occ.motif_index == m
        assert list(zip(occ.sequence_index[rows], occ.position[rows])) == kept[kmer]
    assert len(occ) == sum(len(w) for w in kept.values())


def test_locate_kmers_rejects_bad_records():
    with pytest.raises(ValueError, match=r"'bad'.*'X' at position 3"):
        locate_kmers(["ACGT", "ACXT"], 2, ids=["ok", "bad"])
    with pytest.raises(ValueError, match="record 1 has length 3"):
        locate_kmers(["ACGT", "ACG"], 2)
    with pytest.raises(ValueError, match="k must be"):
        locate_kmers(["ACGT"], 0)


def _linear_model(length, weights, bias):
    inputs = keras.Input((length, 4))
    x = keras.layers.Flatten()(inputs)
    dense = keras.layers.Dense(1, activation="sigmoid", name="out")
    model = keras.Model(inputs, dense(x))
    dense.set_weights([weights.reshape(-1, 1).astype("float32"), np.array([bias], "float32")])
    return model


def test_af_and_scs_on_a_hand_computable_linear_model():
    # y = sigmoid(b + Σ_j w[j, base_j]) with w[j, c] = (j + 1)(c + 1) / 10; the linearised
    # model is the logit. "ACGTAC", k = 2, AC occurs at 0 and 4.
    w = np.array([[(j + 1) * (c + 1) / 10 for c in range(4)] for j in range(6)])
    b = 0.5
    model = _linear_model(6, w, b)
    occ = locate_kmers(["ACGTAC"], 2)
    x = fea.one_hot(["ACGTAC"], alphabet="dna")
    native = b + 0.1 + 0.4 + 0.9 + 1.6 + 0.5 + 1.2  # 5.2
    expected_scs = {(0, 0): (0.1 + 0.4) / native, (0, 4): (0.5 + 1.2) / native,
                    (1, 1): (0.4 + 0.9) / native, (2, 2): (0.9 + 1.6) / native,
                    (3, 3): (1.6 + 0.5) / native}
    expected_af = {(0, 0): 0.5 / b, (0, 4): 1.7 / b, (1, 1): 1.3 / b, (2, 2): (0.9 + 1.6) / b,
                   (3, 3): (1.6 + 0.5) / b}
    for scorer in (MotifScorer(model), NaiveMotifScorer(model)):
        result = scorer.score(x, occ)
        for i in range(len(occ)):
            key = (occ.motif_index[i], occ.position[i])
            assert result.scs[i] == pytest.approx(expected_scs[key], rel=1e-5)
            assert result.af[i] == pytest.approx(expected_af[key], rel=1e-5)
    # Per motif, AC: mean of 0.5/5.2 and 1.7/5.2 with top_r all; top-1 of 2 with top_r 0.5.
    scores = score_motifs(model, ["ACGTAC"], motif_length=2, min_motif_count=1, top_r="all").table
    assert list(scores["motif"]) == ["AC", "CG", "GT", "TA"]
    assert scores["scs_score"][0] == pytest.approx((0.5 + 1.7) / 2 / native, rel=1e-5)
    assert scores["af_score"][0] == pytest.approx((1.0 + 3.4) / 2, rel=1e-5)


def test_aggregation_and_combination_follow_upstream():
    scores = np.array([1.0, 5.0, 3.0, 2.0, 4.0, 10.0, 7.0, 6.0])
    motif = np.array([0, 0, 0, 0, 0, 1, 1, 2])
    counts = np.array([5, 2, 1])
    np.testing.assert_allclose(aggregate_scores(scores, motif, counts, None), [3.0, 8.5, 6.0])
    # top_r 0.4: motif 0 has 5 × 0.4 = 2 >= 2 → mean of its top 2; the others are below the
    # floor of 2, so the sum of what they have is divided by 2, as upstream does.
    np.testing.assert_allclose(aggregate_scores(scores, motif, counts, 0.4, 2), [4.5, 8.5, 3.0])
    np.testing.assert_allclose(aggregate_scores(scores, motif, counts, 1.0, 1), [3.0, 8.5, 6.0])
    af, scs = combine_scores(np.array([10, 20, 30]), np.array([1.0, 3.0, 2.0]), np.array([5, 5, 5]))
    np.testing.assert_allclose(af, [0.0, 0.5, 0.5])
    np.testing.assert_allclose(scs, [0.0, 0.0, 0.0])


def _conv_pool_dense():
    inputs = keras.Input((L, 4))
    x = keras.layers.Conv1D(6, 5, padding="same", activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.MaxPooling1D(3)(x)
    x = keras.layers.Conv1D(5, 3, padding="valid", dilation_rate=2)(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.MaxPooling1D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(8, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="sigmoid")(x))


def _global_pooling_head():
    inputs = keras.Input((L, 4))
    x = keras.layers.Conv1D(8, 7, padding="same", activation="relu")(inputs)
    x = keras.layers.AveragePooling1D(2)(x)
    x = keras.layers.Conv1D(8, 4, padding="same", activation="tanh")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x))


def _skip_connection():
    inputs = keras.Input((L, 4))
    a = keras.layers.Conv1D(4, 5, padding="same", activation="relu")(inputs)
    b = keras.layers.Conv1D(4, 3, padding="same")(a)
    x = keras.layers.Add()([a, b])
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x))


def _strided_and_causal():
    # A causal convolution hands its window to a strided one (flanks from below); the pool
    # after the strided convolution takes its flanks from the cached reference instead.
    inputs = keras.Input((L, 4))
    x = keras.layers.Conv1D(6, 5, padding="causal", activation="relu")(inputs)
    x = keras.layers.Conv1D(5, 4, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling1D(2)(x)
    x = keras.layers.Conv1D(4, 3, padding="same")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x))


def _channels_first_sequential():
    return keras.Sequential([keras.Input((4, L)), keras.layers.Permute((2, 1)),
                             keras.layers.Conv1D(4, 5, activation="relu"),
                             keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(1)])


@pytest.mark.parametrize("build,stem", [
    (_conv_pool_dense, 6), (_global_pooling_head, 3), (_skip_connection, 1),
    (_strided_and_causal, 4), (_channels_first_sequential, 0)])
def test_fast_engine_equals_naive(build, stem):
    keras.utils.set_random_seed(1)
    model = _randomise(build())
    seqs = _random_sequences(16, L, seed=3)
    x = fea.one_hot(seqs, alphabet="dna")
    occ = locate_kmers(seqs, 4, 2)
    levels, _ = _trace_stem(linear_output_model(model), 4)
    assert len(levels) == stem
    naive = NaiveMotifScorer(model).score(x, occ)
    # Small batches and a tiny cache budget: several blocks and a padded last batch.
    fast = MotifScorer(model, batch_size=37, block_bytes=20_000).score(x, occ)
    np.testing.assert_allclose(fast.scs, naive.scs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fast.af, naive.af, rtol=1e-4, atol=1e-5)
    assert fast.forward_rows["af"] < naive.forward_rows["af"] == len(occ)  # AF deduplicated
    again = MotifScorer(model, batch_size=4096).score(x, occ)
    np.testing.assert_allclose(again.scs, fast.scs, rtol=1e-4, atol=1e-5)  # batch-size free


def test_fast_af_shares_the_stem_on_the_zero_background():
    # Few distinct 4-mers, each seen many times along 240-bp sequences: the AF pairs of one
    # k-mer share their rows wherever the windows read constant zero-background values, and
    # the second convolution's change (its costliest stage) runs far fewer times than there
    # are (k-mer, position) pairs. Scores still equal the naive engine's, and do not depend
    # on the batch size (several chunks of whole k-mers, padded batches).
    keras.utils.set_random_seed(4)
    model = _randomise(basset_cnn(sequence_length=240, filters=(8, 6), kernel_sizes=(9, 5),
                                  pool_sizes=(3, 4), dense_units=(16,)))
    rng = np.random.default_rng(7)
    seqs = ["".join(rng.choice(list("ACGT"), 240, p=[0.4, 0.1, 0.1, 0.4])) for _ in range(8)]
    x = fea.one_hot(seqs, alphabet="dna")
    occ = locate_kmers(seqs, 4, 20)
    naive = NaiveMotifScorer(model).score(x, occ)
    fast = MotifScorer(model, batch_size=4096).score(x, occ)
    np.testing.assert_allclose(fast.af, naive.af, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fast.scs, naive.scs, rtol=1e-4, atol=1e-5)
    stages = fast.forward_rows["af_stages"]  # conv1 change/combine, pool1, conv2 change/...
    pairs = fast.forward_rows["af"]
    assert len(stages) == 6 and stages[0] == len(occ.kmers)  # conv1's change: one per k-mer
    assert stages[3] < 0.25 * pairs  # conv2's change: about one per (k-mer, phase mod 3)
    assert all(a <= b for a, b in zip(stages, stages[1:] + [pairs]))
    small = MotifScorer(model, batch_size=64).score(x, occ)
    np.testing.assert_allclose(small.af, fast.af, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(small.scs, fast.scs, rtol=1e-5, atol=1e-6)


def test_outputs_are_linearised_and_selectable():
    keras.utils.set_random_seed(2)
    model = _randomise(_conv_pool_dense())
    x = fea.one_hot(_random_sequences(6, L, seed=5), alphabet="dna")
    probabilities = model.predict(x, verbose=0)
    logits = linear_output_model(model).predict(x, verbose=0)
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), probabilities, rtol=1e-5, atol=1e-6)
    seqs = _random_sequences(6, L, seed=5)
    occ = locate_kmers(seqs, 3, 2)
    both = MotifScorer(model).score(x, occ)
    first = MotifScorer(model, output_index=0).score(x, occ)
    second = MotifScorer(model, output_index=[1]).score(x, occ)
    np.testing.assert_allclose(both.scs, first.scs + second.scs, rtol=1e-5)
    with pytest.raises(ValueError, match="out of range"):
        MotifScorer(model, output_index=2).score(x, occ)


def test_basset_cnn_stem_and_keras_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    model = basset_cnn(sequence_length=120, filters=(8, 6), kernel_sizes=(9, 5), pool_sizes=(3, 4),
                       dense_units=(16,))
    levels, top = _trace_stem(linear_output_model(model), 8)
    assert [level.layer.name for level in levels] == ["conv1", "bn1", "relu1", "pool1", "conv2",
                                                      "bn2", "relu2", "pool2"]
    x = fea.one_hot(_random_sequences(3, 120, seed=0, n_rate=0.0), alphabet="dna")
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [l.get_config() for l in again.layers] == [l.get_config() for l in model.layers]
    with pytest.raises(ValueError, match="equal length"):
        basset_cnn(filters=(8, 8), kernel_sizes=(3,), pool_sizes=(2,))
