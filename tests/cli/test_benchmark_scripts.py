"""Smoke tests of `benchmarks/gpu_check.py` and `benchmarks/readme_tables.py` (issue 14).

Both scripts run by subprocess. `gpu_check.py` runs on the CPU
(``CUDA_VISIBLE_DEVICES`` empty, so the result is the same on a GPU machine)
with the small ``cpu`` profile for two seconds per task; its OOM retry is
tested in-process with a stand-in for the measurement. `readme_tables.py`
runs the tiny motif run for two seeds and its table is checked against the
two ``report.json`` files, and against what ``--docs`` writes into a copy of
the results page (``docs/results.md``).
"""

import json
import os
import re
import statistics
import subprocess
import sys

import pytest

from conftest import ROOT

GPU_CHECK = ROOT / "benchmarks" / "gpu_check.py"
README_TABLES = ROOT / "benchmarks" / "readme_tables.py"


def _run(args, cwd, quiet=True, timeout=600):
    """Runs a script on the CPU, offline; ``quiet`` keeps TF_CPP_MIN_LOG_LEVEL=2 set."""
    env = {**os.environ, "DEEPBIO_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    if quiet:
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    else:  # the script silences TensorFlow's start-up log itself
        env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_gpu_check_cpu_profile(tmp_path):
    out = tmp_path / "gpu_check.json"
    result = _run([GPU_CHECK, "--profile", "cpu", "--seconds", "2", "--tasks", "motif,ptm",
                   "--output", out], tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert [t["task"] for t in data["tasks"]] == ["motif", "ptm"]
    assert data["machine"]["cores"] >= 1 and data["mixed_precision"] is False
    for task in data["tasks"]:
        assert task["status"] == "ok", task
        assert task["steps"] > 0 and task["steps_per_second"] > 0
        assert task["examples_per_second"] == pytest.approx(
            task["steps_per_second"] * task["batch_size"], rel=1e-3)
        assert task["variable_device"].endswith("CPU:0") and task["output_device"].endswith("CPU:0")
        assert task["on_gpu"] is False and "peak_gpu_mib" not in task
        assert task["peak_rss_mib"] > 0 and task["parameters"] > 0
        assert task["precision_policy"] == "float32" and task["deterministic"] is True
    ptm = data["tasks"][1]
    assert ptm["inputs"]["residues"][1] == 49 and ptm["inputs"]["pstaap"][1:] == [46, 1]
    assert re.search(r"^\| motif \| ok \| 64 \|", result.stdout, re.M)
    assert re.search(r"^\| ptm \| ok \| 128 \|", result.stdout, re.M)


def test_gpu_check_require_gpu_without_gpu(tmp_path):
    result = _run([GPU_CHECK, "--require-gpu", "--tasks", "motif"], tmp_path, quiet=False)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gpu_check: error: --require-gpu: TensorFlow sees no GPU")
    assert not (tmp_path / "gpu_check.json").exists()


def test_gpu_check_bad_usage_is_one_line(tmp_path):
    result = _run([GPU_CHECK, "--tasks", "motif,nope"], tmp_path, quiet=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "gpu_check: error: --tasks: unknown task(s) ['nope']; choose from "
        "ptm,rnamod,motif,pretrain,binding"]


def _row(markdown, metric):
    """The cells of the table row of ``metric``."""
    line = next(l for l in markdown.splitlines() if l.startswith(f"| {metric} |"))
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_readme_tables_tiny_motif(tmp_path, data_dir):
    runs, markdown = tmp_path / "runs", tmp_path / "tables.md"
    args = [README_TABLES, "--tiny", "--tasks", "motif", "--seeds", "0,1", "--runs", runs,
            "--markdown", markdown]
    result = _run(args, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = markdown.read_text()
    assert text == result.stdout
    reports = [json.loads((runs / "motif" / f"seed{s}" / "report.json").read_text())
               for s in (0, 1)]
    for metric, values in (("CNN held-out AUROC", [r["heldout"]["auroc"] for r in reports]),
                           ("CNN best validation AUROC",
                            [r["model"]["best_val_auroc"] for r in reports])):
        cells = _row(text, metric)
        mean, sd = re.fullmatch(r"(-?\d+\.\d+) ± (\d+\.\d+)", cells[1]).groups()
        assert float(mean) == pytest.approx(statistics.fmean(values), abs=1e-4)
        assert float(sd) == pytest.approx(statistics.stdev(values), abs=1e-4)
        assert [float(c) for c in cells[2:]] == pytest.approx(values, abs=1e-4)
    assert _row(text, "constant score (baseline): held-out AUROC")[1] == "0.5000 ± 0.0000"
    assert "| metric | mean ± sd | seed 0 | seed 1 |" in text
    assert "`python main.py --task motif --seed S --output " in text and "seedS --verbose 0" in text
    record = json.loads((runs / "motif" / "seed0.json").read_text())
    assert re.fullmatch(r"[0-9a-f]{40}", record["commit"])
    assert record["commit"] in text  # "Commit: X", or "Commits: ..." when HEAD moved between seeds
    assert f"{record['machine']['cores']} cores" in text and "fewer than 3" in text

    again = _run(args, tmp_path)  # every report exists: nothing runs again, same tables
    assert again.returncode == 0 and "[motif seed" not in again.stderr
    assert markdown.read_text() == text

    other = _run([*args[:-2], "--extra", "motif=--epochs 1"], tmp_path)  # other flags: refused
    assert other.returncode == 2 and "readme_tables: error:" in other.stderr

    # --docs: the motif section goes between its markers on (a copy of) the results page
    page = tmp_path / "results.md"
    original = (ROOT / "docs" / "results.md").read_text()
    page.write_text(original)
    docs = _run([*args[:-2], "--no-run", "--docs", page], tmp_path)
    assert docs.returncode == 0, docs.stderr[-3000:]
    written = page.read_text()
    begin, end = "<!-- readme_tables:begin motif -->", "<!-- readme_tables:end motif -->"
    assert written.split(begin, 1)[1].split(end, 1)[0].strip() == text.strip()
    assert written.split(begin, 1)[0] == original.split(begin, 1)[0]  # the rest is as it was
    assert written.split(end, 1)[1] == original.split(end, 1)[1]
    bare = tmp_path / "bare.md"
    bare.write_text("# no markers\n")
    refused = _run([*args[:-2], "--docs", bare, "--runs", tmp_path / "other_runs"], tmp_path)
    assert refused.returncode == 2 and "readme_tables:begin motif" in refused.stderr
    assert bare.read_text() == "# no markers\n" and not (tmp_path / "other_runs").exists()


def test_gpu_check_halves_the_batch_on_oom(monkeypatch):
    import importlib.util

    import tensorflow as tf

    spec = importlib.util.spec_from_file_location("gpu_check", GPU_CHECK)
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    tried = []

    def measure(name, config, seconds, gpu):
        tried.append(config.batch_size)
        if config.batch_size > 16:
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
        return {"task": name, "status": "ok", "batch_size": config.batch_size}

    monkeypatch.setattr(gpu_check, "measure", measure)
    result = gpu_check.check_task("motif", "gpu", 1, gpu=False, mixed_precision=False)
    assert tried == [64, 32, 16]
    assert result["status"] == "ok" and result["batch_size"] == 16
    assert result["requested_batch_size"] == 64 and result["oom_retries"] == [64, 32]
    failed = gpu_check.check_task("motif", "gpu", 1, gpu=False, mixed_precision=False,
                                  halve_on_oom=False)
    assert failed["status"] == "error" and failed["error"].startswith("ResourceExhaustedError: OOM")
