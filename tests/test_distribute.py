"""tf.distribute: mirrored training over 2 logical CPUs equals one device, and the tasks run under it."""

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT
from conftest import run_script as _run

STEP_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from deepbio.tasks.run_folder import make_strategy
    import keras

    strategy = make_strategy(sys.argv[1], cpu_replicas=int(sys.argv[2]))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype("float32")
    y = (x @ rng.normal(size=(5, 1))).astype("float32")
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"),
                                  keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                      "weights": [w.ravel().tolist() for w in model.get_weights()]}))
""")


def _weights(strategy, replicas):
    result = subprocess.run([sys.executable, "-c", STEP_SCRIPT, strategy, str(replicas)],
                            capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_mirrored_training_equals_one_device():
    """The mean loss of a global batch split over 2 replicas has the gradient of the whole batch."""
    import numpy as np

    single, mirrored = _weights("one-device", 0), _weights("mirrored", 2)
    assert single["replicas"] == 1 and mirrored["replicas"] == 2
    for a, b in zip(single["weights"], mirrored["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("task, flags", [
    ("ptm", ["--model-type", "network", "--compare", "none", "--no-grouped-cv", "--max-windows",
             "700", "--folds", "0", "--epochs", "1", "--saliency-windows", "0",
             "--residue-encoders", "one_hot"]),
    ("rnamod", ["--modifications", "Am", "--max-windows-per-split", "40", "--epochs", "1",
                "--no-multitask", "--ism-windows", "0", "--saliency-windows", "0"]),
    ("motif", ["--max-sequences", "30", "--epochs", "1", "--motif-length", "5", "--jaspar-top", "0"]),
])
def test_tasks_train_under_mirrored_strategy(task, flags, tmp_path, data_dir):
    out = tmp_path / task
    _run([str(ROOT / "train.py"), "--task", task, *flags, "--strategy", "mirrored", "--cpu-replicas",
          "2", "--output", str(out), "--data-dir", str(data_dir), "--verbose", "0"], cwd=tmp_path)
    params = json.loads((out / "params.json").read_text())
    assert params["strategy"] == "mirrored" and params["cpu_replicas"] == 2
    assert json.loads((out / "report.json").read_text())["task"] == task
    assert any(out.rglob("model.keras"))


def test_custom_loop_tasks_refuse_mirrored(capsys):
    from deepbio import cli

    assert cli.main(["run", "binding", "--strategy", "mirrored"]) == 2
    assert "does not run under a mirrored strategy yet" in capsys.readouterr().err
