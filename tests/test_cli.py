"""The CLI fills unset shared flags with each task's own defaults."""

import dataclasses

from deepbio import cli
from deepbio.tasks.motif import MotifConfig
from deepbio.tasks.ptm import PTMConfig


def _args(*argv):
    return cli.build_parser("main.py").parse_args(list(argv))


def test_defaults_are_the_task_configs():
    assert cli.ptm_config(_args("--task", "ptm")) == PTMConfig()
    assert cli.motif_config(_args("--task", "motif")) == MotifConfig()


def test_shared_flags_reach_each_task():
    ptm = cli.ptm_config(_args("--task", "ptm", "--epochs", "3", "--folds", "0", "--hidden-dim", "16",
                               "--seed", "7"))
    assert (ptm.epochs, ptm.folds, ptm.hidden_dim, ptm.seed) == (3, 0, 16, 7)
    motif = cli.motif_config(_args("--task", "motif", "--epochs", "2", "--seed", "5"))
    assert (motif.epochs, motif.seed) == (2, 5)
    assert dataclasses.replace(motif, epochs=MotifConfig().epochs, seed=0) == MotifConfig()
