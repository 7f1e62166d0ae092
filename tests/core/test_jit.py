"""``--jit-compile``: XLA really compiles the training steps, and the model stays the same."""

import json
import os

import pytest

from conftest import ROOT, run_script
from test_reproducible import _without_timings
from tiny_flags import TINY


@pytest.fixture(scope="module")
def motif_runs(tmp_path_factory, data_dir):
    runs = {}
    for mode in ("off", "on"):
        out = tmp_path_factory.mktemp(f"jit_{mode}")
        dump = out / "xla_dump"
        os.environ["XLA_FLAGS"] = f"--xla_dump_to={dump}"
        try:
            run_script([str(ROOT / "main.py"), "--task", "motif", *TINY["motif"], "--ensemble", "1",
                        "--jit-compile", mode, "--no-deterministic", "--output", str(out / "run"), "--data-dir",
                        str(data_dir), "--verbose", "0"], cwd=out)
        finally:
            del os.environ["XLA_FLAGS"]
        runs[mode] = {"report": json.loads((out / "run" / "report.json").read_text()),
                      "params": json.loads((out / "run" / "params.json").read_text()),
                      "compiled": {p.name.split(".")[1] for p in dump.glob("*before_optimizations*")},
                      "model": out / "run" / "model.keras"}
    return runs


def test_jit_compile_on_compiles_with_xla(motif_runs):
    on, off = motif_runs["on"], motif_runs["off"]
    assert on["params"]["jit_compile"] == "on" and off["params"]["jit_compile"] == "off"
    # the motif scorer is always compiled; "on" adds the training and evaluation steps
    assert len(on["compiled"]) > len(off["compiled"]) >= 1


def test_jit_compile_keeps_the_model(motif_runs):
    import keras
    import numpy as np

    on, off = (keras.models.load_model(motif_runs[m]["model"]) for m in ("on", "off"))
    length = on.input_shape[1]
    x = np.eye(4, dtype="float32")[np.random.default_rng(0).integers(0, 4, (16, length))]
    # same seeds and data: only XLA's arithmetic (and non-deterministic kernels) differ
    np.testing.assert_allclose(on.predict(x, verbose=0), off.predict(x, verbose=0), atol=0.02)
    assert set(_without_timings(motif_runs["on"]["report"])) == \
        set(_without_timings(motif_runs["off"]["report"]))


def test_jit_compile_on_needs_no_deterministic(tmp_path, data_dir):
    result = run_script([str(ROOT / "main.py"), "--task", "motif", "--jit-compile", "on",
                         "--output", str(tmp_path / "run")], cwd=tmp_path, ok=False)
    assert result.returncode == 2 and "--no-deterministic" in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "run").exists()
