"""The same command with the same seed gives the same report (timings aside), for every task,
in this process and in a fresh one."""

import json

import pytest

from conftest import ROOT
from conftest import run_script as _run
from tiny_flags import TINY


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items()
                if k not in ("seconds", "seconds_per_epoch") and not k.endswith("_seconds")}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.mark.parametrize("task", list(TINY))
def test_same_seed_same_report(task, tmp_path, data_dir, tiny_run):
    """The shared tiny run (in this process, after whatever ran before it) and the same command
    in a fresh process give the same report."""
    first = tiny_run(task)  # deepbio run TASK <TINY> --seed 0
    second = tmp_path / "second"
    _run([str(ROOT / "main.py"), "--task", task, *TINY[task], "--seed", "0", "--output",
          str(second), "--data-dir", str(data_dir), "--verbose", "0"], cwd=tmp_path)
    reports = [json.loads((out / "report.json").read_text()) for out in (first, second)]
    for out in (first, second):
        params = json.loads((out / "params.json").read_text())
        assert params["seed"] == 0 and params["deterministic"] is True
    first, second = map(_without_timings, reports)
    assert first == second
