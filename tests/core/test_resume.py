"""A run killed with SIGKILL and run again ends with the report of an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT
from deepbio.core.checkpoint import read_state, write_state
from test_reproducible import _without_timings
from tiny_flags import TINY

RNAMOD = ["--modifications", "Am,m5U", "--max-windows-per-split", "40", "--epochs", "2",
          "--ism-windows", "0", "--saliency-windows", "0", "--encoder-filters", "16,32",
          "--num-embeddings", "32"]


def _command(out, data_dir, *extra):
    return [sys.executable, str(ROOT / "train.py"), "--task", "rnamod", *RNAMOD, "--output", str(out),
            "--data-dir", str(data_dir), "--verbose", "0", *extra]


def _run(out, data_dir, *extra, ok=True):
    env = {**os.environ, "DEEPBIO_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(_command(out, data_dir, *extra), capture_output=True, text=True,
                            timeout=600, env=env, cwd=ROOT)
    if ok:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def rnamod_reference(tmp_path_factory, data_dir):
    reference = tmp_path_factory.mktemp("rnamod") / "uninterrupted"
    _run(reference, data_dir)
    assert not (reference / "checkpoints").exists()  # a finished run keeps only its outputs
    return json.loads((reference / "report.json").read_text())


def _kill_when(out, data_dir, marker):
    """Starts the rnamod run into ``out`` and SIGKILLs it as soon as ``marker`` exists."""
    env = {**os.environ, "DEEPBIO_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(_command(out, data_dir), env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 400
    while not marker.exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1][-2000:]
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert not (out / "report.json").exists()


def test_killed_mid_training_resumes_at_its_last_epoch(tmp_path, data_dir, rnamod_reference):
    out = tmp_path / "killed"
    state = out / "checkpoints" / "Am.steps" / "fit1" / "state.zip"
    _kill_when(out, data_dir, state)  # epoch 1 of the first model is done, the model is not
    assert not (out / "checkpoints" / "Am.zip").exists()
    saved = read_state(state)  # JSON and arrays (allow_pickle=False), nothing unpickled
    assert saved["epoch"] == 1 and len(saved["history"]["loss"]) == 1
    assert all(isinstance(v, np.ndarray) for v in saved["variables"])
    _run(out, data_dir)
    resumed = json.loads((out / "report.json").read_text())
    assert _without_timings(resumed) == _without_timings(rnamod_reference)
    assert not (out / "checkpoints").exists()


def test_killed_run_resumes_to_the_same_report(tmp_path, data_dir, rnamod_reference):
    out = tmp_path / "killed"
    _kill_when(out, data_dir, out / "checkpoints" / "Am.zip")  # the first model is done
    (out / "Am").mkdir(exist_ok=True)
    (out / "Am" / ".model.x1y2ab_z.keras").write_bytes(b"half a zip")  # a save cut by a kill
    _run(out, data_dir)
    assert not [p for p in out.rglob(".*")]  # temporaries of an interrupted save are gone
    resumed = json.loads((out / "report.json").read_text())
    assert _without_timings(resumed) == _without_timings(rnamod_reference)
    assert not (out / "checkpoints").exists()


def test_other_parameters_need_restart(tmp_path, data_dir):
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "config.json").write_text(json.dumps({"epochs": 99}))
    result = _run(out, data_dir, ok=False)
    assert result.returncode == 2
    assert "holds checkpoints of an interrupted run with other parameters" in result.stderr
    assert "--restart" in result.stderr
    _run(out, data_dir, "--restart", "--modifications", "Am", "--epochs", "1")  # a cheaper run
    assert json.loads((out / "report.json").read_text())["modifications"] == ["Am"]


FIRST_UNIT = {"ptm": "stratified_trees_fold1.zip"}  # binding: test_custom_loops_resume_at_...


@pytest.mark.parametrize("task", list(FIRST_UNIT))
def test_killed_fold_resumes(task, tmp_path, data_dir, tiny_run):
    """PTM CV folds are checkpoint units too: killed after its first fold, the run resumes to
    the report of the shared uninterrupted tiny run (the same flags and seed)."""
    env = {**os.environ, "DEEPBIO_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}

    def command(out):
        return [sys.executable, str(ROOT / "main.py"), "--task", task, *TINY[task], "--seed", "0",
                "--output", str(out), "--data-dir", str(data_dir), "--verbose", "0"]

    reference = tiny_run(task)
    out = tmp_path / "killed"
    process = subprocess.Popen(command(out), env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 400
    while not (out / "checkpoints" / FIRST_UNIT[task]).exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1][-2000:]
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert not (out / "report.json").exists()
    assert not list((out / "checkpoints").glob("*.pkl"))
    units = sorted(p.name for p in (out / "checkpoints").glob("*.zip"))
    assert FIRST_UNIT[task] in units
    resumed = subprocess.run(command(out), capture_output=True, text=True, timeout=600, env=env,
                             cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected = json.loads((reference / "report.json").read_text())
    assert _without_timings(json.loads((out / "report.json").read_text())) == \
        _without_timings(expected)
    assert not (out / "checkpoints").exists()


BINDING_TWO_EPOCHS = [*TINY["binding"], "--epochs", "2", "--pretrain-epochs", "2"]


def test_custom_loops_resume_at_their_last_epoch(tmp_path, data_dir):
    """Masked-LM pre-training and ΔG fine-tuning (step loops of `deepbio.core.engine.run_loop`)
    killed after their first epoch resume there (the second rerun also loads the finished
    pre-training unit): the run ends with the uninterrupted run's report."""

    env = {**os.environ, "DEEPBIO_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}

    def command(out):
        return [sys.executable, str(ROOT / "main.py"), "--task", "binding", *BINDING_TWO_EPOCHS,
                "--output", str(out), "--data-dir", str(data_dir), "--verbose", "0"]

    reference = tmp_path / "uninterrupted"
    done = subprocess.run(command(reference), capture_output=True, text=True, timeout=600,
                          env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "killed"
    checkpoints = out / "checkpoints"
    markers = [(checkpoints / "pretrain" / "masked_lm.steps" / "fit1" / "state.zip",
                checkpoints / "pretrain" / "masked_lm.zip"),
               (checkpoints / "fold1_pretrained.steps" / "fit1" / "state.zip",
                checkpoints / "fold1_pretrained.zip")]
    for state, unit in markers:  # killed in pre-training, then in the first fold's fine-tuning
        process = subprocess.Popen(command(out), env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 400
        while not state.exists():
            assert process.poll() is None and time.monotonic() < deadline, \
                process.communicate()[1][-2000:]
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        assert not unit.exists() and not (out / "report.json").exists()
        saved = read_state(state)
        assert saved["epoch"] == 1 and len(saved["history"]["loss"]) == 1
        saved["history"]["loss"][0] = 123.0  # shows in the report only if the rerun resumes here
        write_state(saved, state)
    resumed = subprocess.run(command(out), capture_output=True, text=True, timeout=600, env=env,
                             cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected = json.loads((reference / "report.json").read_text())
    report = json.loads((out / "report.json").read_text())
    assert report["folds"][0]["pretrained_history"][0] == 123.0  # resumed after epoch 1
    report["folds"][0]["pretrained_history"][0] = expected["folds"][0]["pretrained_history"][0]
    assert _without_timings(report) == _without_timings(expected)
    pretraining = json.loads((out / "pretrain" / "report.json").read_text())
    assert pretraining["history"][0] == 123.0  # resumed after epoch 1
    assert pretraining["history"][1] == json.loads(
        (reference / "pretrain" / "report.json").read_text())["history"][1]
    assert not checkpoints.exists()
