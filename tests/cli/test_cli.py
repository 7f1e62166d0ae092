"""The command line: flags come from each task's config, defaults are the configs, bad usage fails well."""

import dataclasses
import json
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from deepbio import cli
from deepbio.core import task as base
from deepbio.multiomic.binding_task import BindingConfig, paper_profile
from deepbio.motif.task import MotifConfig
from deepbio.multiomic.pretrain_task import PretrainConfig
from deepbio.ptm.task import PTMConfig
from deepbio.rnamod.task import RNAModConfig


def config_of(*argv):
    """The config ``deepbio run/train TASK argv...`` would run with."""
    args = cli.build_parser(argv).parse_args(list(argv))
    return cli.build_config(base.get_task(args.task), args)


def test_defaults_are_the_task_configs():
    assert config_of("run", "ptm") == PTMConfig()
    assert config_of("run", "motif") == MotifConfig()
    assert config_of("train", "rnamod") == RNAModConfig() == RNAModConfig.for_profile("cpu")
    assert config_of("run", "pretrain") == PretrainConfig()
    assert config_of("run", "binding") == BindingConfig()


def test_flags_reach_each_task_and_shared_fields_are_declared_once():
    ptm = config_of("run", "ptm", "--epochs", "3", "--folds", "0", "--hidden-dim", "16", "--seed", "7",
                    "--no-threshold-tuning", "--residue-encoders", "one_hot,blosum62")
    assert (ptm.epochs, ptm.folds, ptm.hidden_dim, ptm.seed) == (3, 0, 16, 7)
    assert ptm.tune_thresholds is False and ptm.residue_encoders == ("one_hot", "blosum62")
    motif = config_of("run", "motif", "--epochs", "2", "--seed", "5", "--cnn-filters", "8,8,8",
                      "--top-r", "all")
    assert (motif.epochs, motif.seed, motif.filters, motif.top_r) == (2, 5, (8, 8, 8), "all")
    assert dataclasses.replace(motif, epochs=30, seed=0, filters=(64, 64, 64), top_r="0.1") == MotifConfig()
    # The shared fields are defined once, in TrainingConfig and its mixins.
    for config_class in (PTMConfig, MotifConfig, RNAModConfig, PretrainConfig, BindingConfig):
        for name in ("epochs", "batch_size", "learning_rate", "seed", "mixed_precision"):
            assert base.field_metadata(config_class, name)["help"] == \
                base.field_metadata(base.TrainingConfig, name)["help"]


def test_profiles_and_modifications():
    gpu = config_of("run", "rnamod", "--profile", "gpu", "--epochs", "3", "--modifications", "Am,Psi")
    assert (gpu.sequence_length, gpu.num_layers, gpu.patience, gpu.epochs) == (501, 6, 30, 3)
    assert gpu.modifications == ("Am", "Psi") and gpu.profile == "gpu"
    assert config_of("run", "rnamod", "--modifications", "all").modifications == ()
    paper = config_of("run", "binding", "--profile", "gpu")
    assert (paper.preset, paper.epochs, paper.batch_size, paper.isolate_protein) == ("xl", 32, 256, False)
    assert paper == paper_profile()


def test_binding_flags_reach_the_in_run_pretraining():
    config = config_of("run", "binding", "--epochs", "3", "--folds", "5", "--seed", "7",
                       "--hidden-dim", "64", "--full-attention", "--pretrain-epochs", "1",
                       "--max-per-source", "0")
    assert (config.epochs, config.folds, config.seed, config.hidden_dim) == (3, 5, 7, 64)
    assert not config.isolate_protein and not config.pretraining.isolate_protein
    assert (config.pretraining.epochs, config.pretraining.seed, config.pretraining.hidden_dim) == (1, 7, 64)
    assert config.pretraining.max_per_source is None


def test_config_file_round_trip_and_flags_override(tmp_path):
    config = config_of("run", "binding", "--epochs", "2", "--pretrain-epochs", "3", "--seed", "4")
    params = {"task": "binding", "mode": "run", **dataclasses.asdict(config), "run": {"x": 1}}
    path = tmp_path / "params.json"
    path.write_text(json.dumps(params))
    again = config_of("run", "binding", "--config", str(path))
    assert again == config and again.pretraining.epochs == 3
    assert config_of("run", "binding", "--config", str(path), "--epochs", "5").epochs == 5
    with pytest.raises(ValueError, match="task 'binding', not 'ptm'"):
        config_of("run", "ptm", "--config", str(path))
    path.write_text(json.dumps({"epochs": 2, "colour": "red"}))
    with pytest.raises(ValueError, match="unknown parameter.*colour"):
        config_of("run", "ptm", "--config", str(path))


@pytest.mark.parametrize("argv, message", [
    (["run", "ptm", "--epochs", "0"], r"epochs \(--epochs\) must be at least 1, got 0"),
    (["run", "ptm", "--folds", "1"], r"--folds\) must be 0 .* or at least 2, got 1"),
    (["run", "motif", "--epochs", "-1"], r"must be at least 1, got -1"),
    (["run", "motif", "--top-r", "1.5"], r"top_r \(--top-r\) must be 'all' or a fraction"),
    (["run", "rnamod", "--sequence-length", "100"], r"must be odd, got 100"),
    (["run", "rnamod", "--modifications", "Am,m7G"], r"--modifications 'Am,m7G': unknown RNA modification"),
    (["run", "ptm", "--residue-encoders", "word2vec"], r"must be one of .*got 'word2vec'"),
    (["run", "ptm", "--epochs", "abc"], r"--epochs takes an integer, got 'abc'"),
])
def test_bad_values_are_usage_errors(argv, message):
    with pytest.raises((ValueError, cli.UsageError), match=message):
        config_of(*argv)


def test_a_flag_of_another_task_is_an_error(capsys):
    assert cli.main(["run", "motif", "--sampler", "random"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("deepbio: error: unrecognized arguments: --sampler")
    assert cli.main(["predict", "pretrain", "--model", "m", "--input", "x"]) == 2
    assert "task pretrain has no predict mode" in capsys.readouterr().err
    assert cli.main(["run", "nonsense"]) == 2
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err


@pytest.mark.parametrize("task", base.task_names())
def test_help_lists_only_the_task_flags_with_defaults(task, capsys):
    assert cli.main(["run", task, "--help"]) == 0
    text = capsys.readouterr().out
    assert f"usage: deepbio run {task}" in text and "example:" in text
    assert "--epochs N" in text and "(default " in text
    def flags(name):  # every flag of a task's run config, as `--flag`
        return {"--" + (meta.get("flag") or field.name.replace("_", "-"))
                for field, meta, _ in base.config_fields(base.get_task(name).config_class)}

    def offered(flag):  # an option line of the help, not a mention in a text
        return re.search(rf"^\s+{re.escape(flag)}(?![\w-])", text, re.M) is not None

    own = flags(task)
    assert own and all(offered(flag) for flag in own), [f for f in own if not offered(f)]
    for other in base.task_names():
        if other != task:
            for flag in flags(other) - own:  # another task's flags are not offered here
                assert not offered(flag), (task, other, flag)
    # Every flag has help text.
    for field, meta, _ in base.config_fields(base.get_task(task).config_class):
        assert meta.get("help"), (task, field.name)


def test_legacy_scripts_map_onto_subcommands():
    assert cli.legacy_argv(["--task", "ptm", "--epochs", "2"], "main.py") == ["run", "ptm", "--epochs", "2"]
    assert cli.legacy_argv(["--task=ptm"], "train.py") == ["train", "ptm"]
    assert cli.legacy_argv(["--task", "ptm", "--predict", "p.fa", "--model", "m.keras"], "main.py") == \
        ["predict", "ptm", "--input", "p.fa", "--model", "m.keras"]
    assert cli.legacy_argv(["--task", "ptm", "--saliency", "w.fa", "--model", "m"], "main.py") == \
        ["interpret", "ptm", "--input", "w.fa", "--model", "m"]
    with pytest.raises(cli.UsageError, match="needs --task"):
        cli.legacy_argv(["--epochs", "2"], "main.py")


def test_console_entry_points_print_help_without_traceback():
    for argv in (["-m", "deepbio", "--help"], [str(ROOT / "main.py"), "--help"]):
        result = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and "deepbio" in result.stdout
        assert "ptm" in result.stdout and "Traceback" not in result.stderr
    result = subprocess.run([sys.executable, str(ROOT / "train.py")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == ("deepbio: error: train.py needs --task, one of "
                                     f"{', '.join(base.task_names())} (e.g. python train.py --task ptm)")
    assert base.task_names()[:6] == ["ptm", "rnamod", "motif", "pretrain", "binding", "finetune"]
