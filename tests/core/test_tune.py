"""deepbio tune: keras-tuner search on validation data, resumable, chief/worker, best params reusable."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

from conftest import ROOT

TINY_MOTIF = ["--max-sequences", "30", "--ensemble", "1", "--epochs", "2", "--motif-length", "5", "--jaspar-top", "0",
              "--tuner", "random"]


def _tune(out, data_dir, *extra, env=None, wait=True):
    argv = [sys.executable, "-m", "deepbio", "tune", "motif", *TINY_MOTIF, "--output", str(out),
            "--data-dir", str(data_dir), "--verbose", "0", *extra]
    environment = {**os.environ, "DEEPBIO_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    if not wait:
        return subprocess.Popen(argv, cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    result = subprocess.run(argv, cwd=ROOT, env=environment, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _completed(out):
    path = out / "trials.csv"
    return pd.read_csv(path) if path.exists() else None


def test_search_resumes_after_a_kill_and_writes_reusable_params(tmp_path, data_dir):
    out = tmp_path / "search"
    process = _tune(out, data_dir, "--trials", "3", wait=False)
    deadline = time.monotonic() + 300
    while not (out / "trials" / "0" / "report.json").exists():  # the first trial has finished
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1][-2000:]
        time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    first = json.loads((out / "trials" / "0" / "report.json").read_text())["model"]["best_val_auroc"]
    _tune(out, data_dir, "--trials", "3")
    trials = _completed(out)
    assert list(trials["trial"]) == [0, 1, 2] and (trials["status"] == "COMPLETED").all()
    assert trials.loc[0, "objective"] == pytest.approx(first)  # the finished trial was kept
    summary = json.loads((out / "tuning.json").read_text())
    assert summary["best"]["objective"] == pytest.approx(trials["objective"].max())
    assert (out / "trials.png").stat().st_size > 0
    # The best configuration is a params file that `deepbio run motif --config` accepts.
    from deepbio import cli
    from deepbio.core import task as base

    argv = ["run", "motif", "--config", str(out / "best_params.json")]
    config = cli.build_config(base.get_task("motif"), cli.build_parser(argv).parse_args(argv))
    best = summary["best"]["values"]
    assert config.learning_rate == pytest.approx(best["learning_rate"])
    assert config.filters == (best["cnn_filters"],) * 3 and config.max_sequences == 30
    # More trials later: the search continues from where it stopped.
    _tune(out, data_dir, "--trials", "4")
    assert len(_completed(out)) == 4


def test_chief_and_two_workers(tmp_path, data_dir):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    out = tmp_path / "distributed"
    env = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": port}
    chief = _tune(out, data_dir, "--trials", "3", env={**env, "KERASTUNER_TUNER_ID": "chief"},
                  wait=False)
    time.sleep(5)
    workers = [_tune(out, data_dir, "--trials", "3", env={**env, "KERASTUNER_TUNER_ID": f"tuner{i}"},
                     wait=False) for i in range(2)]
    try:
        for process in workers + [chief]:
            _, err = process.communicate(timeout=400)
            assert process.returncode == 0, err[-3000:]
    finally:
        for process in workers + [chief]:
            if process.poll() is None:
                process.kill()
    trials = _completed(out)
    assert len(trials) == 3 and (trials["status"] == "COMPLETED").all()
    ran_by = {json.loads((out / "trials" / str(t) / "params.json").read_text())["run"]["output_dir"]
              for t in trials["trial"]}
    assert len(ran_by) == 3


def test_tasks_without_a_search_space_say_so(capsys):
    from deepbio import cli

    assert cli.main(["tune", "binding"]) == 2
    assert "task binding has no tune mode" in capsys.readouterr().err
