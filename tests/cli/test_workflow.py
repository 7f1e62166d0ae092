"""demo/workflow: Snakemake scatters `deepbio predict --shard i/N` and gathers one CSV."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT

PROTEIN = "MSTNPKPQRKTKRNTNRRPQDVKFPGG"


def test_snakemake_scatter_gather_equals_one_predict(tmp_path, monkeypatch):
    snakemake = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    if not Path(snakemake).exists():
        pytest.fail("snakemake is not installed (pip install -e '.[test]' installs it)")
    fasta = tmp_path / "proteins.fasta"
    fasta.write_text("".join(f">p{i}\n{PROTEIN * (1 + i % 3)}\n" for i in range(7)))
    env = {**os.environ, "DEEPBIO_OFFLINE": "1",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    result = subprocess.run([snakemake, "--profile", str(ROOT / "demo/workflow/profiles/local"),
                             "--snakefile", str(ROOT / "demo/workflow/Snakefile"),
                             "--directory", str(tmp_path / "work"),
                             "--config", f"input={fasta}", "task=ptm", "shards=2"],
                            env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    gathered = pd.read_csv(tmp_path / "work" / "predictions.csv")
    # the whole file in one predict (in this process: the shards were the fresh processes)
    from deepbio import cli

    monkeypatch.setenv("DEEPBIO_OFFLINE", "1")
    assert cli.main(["predict", "ptm", "--input", str(fasta), "--output", str(tmp_path / "whole.csv"),
                     "--verbose", "0"]) == 0
    expected = pd.read_csv(tmp_path / "whole.csv")
    # shard i holds records i-1, i-1+N, ... (4 and 3 of the 7): the whole file's rows, regrouped
    order = [f"p{i}" for s in range(2) for i in range(s, 7, 2)]
    assert order == ["p0", "p2", "p4", "p6", "p1", "p3", "p5"]
    expected = pd.concat([expected[expected["protein"] == p] for p in order], ignore_index=True)
    assert len(expected) == sum(PROTEIN.count("K") * (1 + i % 3) for i in range(7))
    pd.testing.assert_frame_equal(gathered, expected)
    assert sorted(p.name for p in (tmp_path / "work" / "logs").iterdir()) == [
        "shard_1.log", "shard_2.log"]
    assert not (tmp_path / "work" / "shards").exists() or not list((tmp_path / "work" / "shards").iterdir())
