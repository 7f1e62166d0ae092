"""Issue 23: motif ensembles (mean and sd of the members' scores), the fixed split, the benchmark."""

import dataclasses
import json
import sys

import keras
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from conftest import ROOT
from conftest import run_script as _run
from deepbio.motif.aggregate import (SCORE_COLUMNS, SD_COLUMNS, ensemble_table,
                                               score_motifs, score_motifs_ensemble)
from deepbio.motif.model import basset_cnn
from deepbio.motif.task import MotifConfig, member_config
from deepbio.motif.training import pair_data, pair_splits, predict_strands, reverse_complement

sys.path.insert(0, str(ROOT / "benchmarks"))
import motif_stability  # noqa: E402

RNG = np.random.default_rng(23)
SEQUENCES = ["".join(RNG.choice(list("ACGT"), 40)) for _ in range(12)]


def _toy(seed):
    keras.utils.set_random_seed(seed)
    return basset_cnn(sequence_length=40, filters=(3, 4), kernel_sizes=(5, 3), pool_sizes=(2, 2),
                      dense_units=(5,), dropout=0.0, output_activation="linear")


def test_ensemble_table_pinned_values():
    a = pd.DataFrame({"motif": ["AC", "GT"], "count": [3, 5], "af_score": [0.2, 1.0],
                      "scs_score": [0.0, 2.0], "autonomous_functionality_score": [0.0, 1.0],
                      "sequence_context_synergy_score": [0.0, 0.5]})
    b = a.copy()
    b["af_score"], b["autonomous_functionality_score"] = [0.4, 1.0], [0.0, 0.25]
    table = ensemble_table([a, b])
    assert tuple(table.columns) == SCORE_COLUMNS + SD_COLUMNS
    np.testing.assert_allclose(table["af_score"], [0.3, 1.0])
    np.testing.assert_allclose(table["af_score_sd"], [np.sqrt(0.02), 0.0])  # ddof=1
    np.testing.assert_allclose(table["autonomous_functionality_score"], [0.0, 0.625])
    np.testing.assert_allclose(table["autonomous_functionality_score_sd"], [0.0, np.sqrt(0.28125)])
    np.testing.assert_allclose(table["scs_score_sd"], [0.0, 0.0])
    assert (ensemble_table([a])[list(SD_COLUMNS)].to_numpy() == 0).all()
    with pytest.raises(ValueError, match="member 1 scores other motifs"):
        ensemble_table([a, b.iloc[::-1]])
    with pytest.raises(ValueError, match="at least one"):
        ensemble_table([])


def test_ensemble_of_toy_models_is_the_mean_of_the_members():
    models = [_toy(seed) for seed in (0, 1, 2)]
    kwargs = dict(motif_length=3, min_motif_count=4, top_r="all", batch_size=64)
    singles = [score_motifs(m, SEQUENCES, **kwargs).table for m in models]
    result = score_motifs_ensemble(models, SEQUENCES, **kwargs)
    assert len(result.members) == 3 and len(result.table) > 10
    for column in SCORE_COLUMNS[2:]:
        values = np.stack([t[column].to_numpy() for t in singles])
        assert values.std(axis=0).max() > 1e-3  # the members differ
        np.testing.assert_allclose(result.table[column], values.mean(axis=0), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(result.table[f"{column}_sd"], values.std(axis=0, ddof=1),
                                   rtol=1e-5, atol=1e-9)
        for member, single in zip(result.members, singles):
            np.testing.assert_allclose(member[column], single[column], rtol=1e-6, atol=1e-9)
    # one model repeated: the mean is that model's scores and the sd is 0
    twice = score_motifs_ensemble([models[0], models[0]], SEQUENCES, **kwargs).table
    np.testing.assert_allclose(twice["af_score"], singles[0]["af_score"], rtol=1e-6)
    assert np.abs(twice[list(SD_COLUMNS)].to_numpy()).max() == 0.0
    with pytest.raises(ValueError, match="at least one model"):
        score_motifs_ensemble([], SEQUENCES, **kwargs)


def test_split_does_not_depend_on_the_training_seed():
    sequences = SEQUENCES * 5  # 60 pairs
    config = MotifConfig(max_sequences=60)
    first = pair_data(sequences, config)
    for seed in (1, 7):
        other = pair_data(sequences, member_config(config, seed))
        assert member_config(config, seed).seed == seed
        assert member_config(config, seed).split_seed == config.split_seed
        for part in ("train", "val", "test"):
            np.testing.assert_array_equal(first[part][0], other[part][0])
            np.testing.assert_array_equal(first[part][1], other[part][1])
    train, val, test = pair_splits(60, 0.2, 0.1, split_seed=0)
    assert (len(train), len(val), len(test)) == (43, 5, 12)
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    assert not np.array_equal(test, pair_splits(60, 0.2, 0.1, split_seed=1)[2])
    moved = pair_data(sequences, dataclasses.replace(config, split_seed=3))
    assert not np.array_equal(first["test"][0], moved["test"][0])


def test_strand_average_is_invariant_to_reverse_complement():
    model = _toy(4)
    x = np.eye(4, dtype=np.float32)[RNG.integers(0, 4, (6, 40))]
    both = predict_strands(model, x, both=True)
    np.testing.assert_allclose(both, predict_strands(model, reverse_complement(x).copy(), both=True),
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(predict_strands(model, x, both=False), both)
    np.testing.assert_array_equal(reverse_complement(x)[0, 0], x[0, -1, ::-1])


def test_compare_counts_overlap_and_spearman():
    motifs = [f"M{i}" for i in range(30)]
    a = pd.DataFrame({"motif": motifs, "count": np.arange(30),
                      "autonomous_functionality_score": np.linspace(0, 1, 30),
                      "sequence_context_synergy_score": np.linspace(1, 0, 30)})
    b = a.iloc[::-1].copy()  # the same values, rows in another order
    b.loc[b["motif"].isin(["M29", "M28"]), "autonomous_functionality_score"] = [-1.0, -2.0]
    result = motif_stability.compare(a, b, top=5)
    assert result["AF"]["overlap"] == 3 and result["SCS"]["overlap"] == 5
    assert result["SCS"]["spearman"] == pytest.approx(1.0)
    assert result["AF"]["spearman"] == pytest.approx(spearmanr(
        a["autonomous_functionality_score"],
        b.set_index("motif").loc[motifs, "autonomous_functionality_score"]).statistic)
    with pytest.raises(ValueError, match="different motifs"):
        motif_stability.compare(a, b.iloc[1:], top=5)


def test_stability_benchmark_tiny(tmp_path, data_dir):
    out = tmp_path / "stability"
    _run([str(ROOT / "benchmarks" / "motif_stability.py"), "--ensemble", "2", "--output", str(out),
          "--data-dir", str(data_dir), "--min-motif-count", "8", "--top", "5", "--",
          "--max-sequences", "30", "--epochs", "1", "--motif-length", "5", "--jaspar-top", "0",
          "--cnn-filters", "8,8,8"], cwd=tmp_path)
    result = json.loads((out / "stability.json").read_text())
    assert result["seeds_a"] == [0, 1] and result["seeds_b"] == [2, 3]
    assert result["single_pairs"] == 4 and len(result["heldout_auroc"]["members"]) == 4
    tables = {run: pd.read_csv(out / run / "motif_scores.csv") for run in ("a", "b")}
    assert result["motifs"] == len(tables["a"]) > 20 and (tables["a"]["count"] >= 8).all()
    assert set(tables["a"].columns) == set(SCORE_COLUMNS + SD_COLUMNS)
    recomputed = motif_stability.compare(tables["a"], tables["b"], 5)
    assert result["ensembles"] == recomputed
    members = [pd.read_csv(out / "a" / "ensemble" / f"member{i}_scores.csv") for i in range(2)]
    np.testing.assert_allclose(tables["a"]["af_score"],
                               (members[0]["af_score"] + members[1]["af_score"]) / 2, rtol=1e-9)
    for run in ("a", "b"):
        report = json.loads((out / run / "report.json").read_text())
        assert report["model"]["split_seed"] == 0 and report["model"]["ensemble"] == 2
        assert report["model"]["splits"] == {"train": 42, "val": 6, "test": 12}
