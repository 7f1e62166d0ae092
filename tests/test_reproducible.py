"""The same command with the same seed gives the same report (timings aside), for every task."""

import json

import pytest

from conftest import ROOT
from conftest import run_script as _run

TINY = {
    "ptm": ["--max-windows", "700", "--folds", "2", "--epochs", "2", "--saliency-windows", "0",
            "--residue-encoders", "one_hot", "--conv-filters", "8", "--hidden-dim", "16",
            "--gru-units", "8", "--intermediate-dim", "16"],
    "rnamod": ["--modifications", "Am", "--max-windows-per-split", "40", "--epochs", "2",
               "--no-multitask", "--ism-windows", "0", "--saliency-windows", "0",
               "--encoder-filters", "16,32", "--num-embeddings", "32"],
    "motif": ["--max-sequences", "30", "--epochs", "2", "--motif-length", "5", "--jaspar-top", "0",
              "--cnn-filters", "8,8,8"],
    "pretrain": ["--epochs", "1", "--max-per-source", "20", "--crop-length", "32"],
    "binding": ["--max-complexes", "40", "--folds", "2", "--epochs", "1", "--pretrain-epochs", "1",
                "--max-per-source", "20", "--crop-length", "32", "--no-jaspar"],
}


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items()
                if k not in ("seconds", "seconds_per_epoch") and not k.endswith("_seconds")}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.mark.parametrize("task", list(TINY))
def test_same_seed_same_report(task, tmp_path, data_dir):
    reports = []
    for run in ("first", "second"):
        out = tmp_path / run
        _run([str(ROOT / "main.py"), "--task", task, *TINY[task], "--seed", "3", "--output",
              str(out), "--data-dir", str(data_dir), "--verbose", "0"], cwd=tmp_path)
        reports.append(json.loads((out / "report.json").read_text()))
        params = json.loads((out / "params.json").read_text())
        assert params["seed"] == 3 and params["deterministic"] is True
    first, second = map(_without_timings, reports)
    assert first == second
