"""tf.distribute: mirrored training over 2 logical CPUs equals one device, and the tasks run under it.

The engine's step loop for compiled models (`deepbio.core.engine.fit_distributed`) equals
``model.fit``, resumes from its checkpoints, and trains the PTM network across 2 worker processes
(`deepbio.core.engine.fit` picks it there); the multi-omic
custom loops (pre-training, ΔG fine-tuning) give the one-device training under a mirrored
strategy and across 2 workers.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import ROOT
from conftest import run_script as _run

STEP_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from deepbio.core.run_folder import make_strategy
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
    ("motif", ["--max-sequences", "30", "--epochs", "1", "--motif-length", "5", "--jaspar-top", "0",
               "--ensemble", "1"]),
])
def test_tasks_train_under_mirrored_strategy(task, flags, tmp_path, data_dir):
    out = tmp_path / task
    _run([str(ROOT / "train.py"), "--task", task, *flags, "--strategy", "mirrored", "--cpu-replicas",
          "2", "--output", str(out), "--data-dir", str(data_dir), "--verbose", "0"], cwd=tmp_path)
    params = json.loads((out / "params.json").read_text())
    assert params["strategy"] == "mirrored" and params["cpu_replicas"] == 2
    assert json.loads((out / "report.json").read_text())["task"] == task
    assert any(out.rglob("model.keras"))


BINDING = ["--task", "binding", "--max-complexes", "40", "--folds", "2", "--epochs", "2",
           "--pretrain-epochs", "2", "--max-per-source", "20", "--crop-length", "32", "--no-jaspar",
           "--verbose", "0"]


@pytest.fixture(scope="module")
def binding_one_device(tmp_path_factory, data_dir):
    """The tiny binding run (masked-LM pre-training + ΔG fine-tuning, custom loops) on one device."""
    out = tmp_path_factory.mktemp("binding") / "single"
    _run([str(ROOT / "main.py"), *BINDING, "--output", str(out), "--data-dir", str(data_dir)],
         cwd=out.parent)
    return out


def _assert_same_training(out, reference, tolerance):
    """Same pre-training losses, held-out scores and per-fold ΔG losses / predictions."""
    import numpy as np

    def read(folder):
        return (json.loads((folder / "report.json").read_text()),
                json.loads((folder / "pretrain" / "report.json").read_text()))

    (report, pretraining), (expected, expected_pretraining) = read(out), read(reference)
    np.testing.assert_allclose(pretraining["history"], expected_pretraining["history"],
                               rtol=tolerance)
    assert pretraining["heldout"]["masked_accuracy"] == \
        expected_pretraining["heldout"]["masked_accuracy"]
    np.testing.assert_allclose(pretraining["heldout"]["perplexity"],
                               expected_pretraining["heldout"]["perplexity"], rtol=tolerance)
    for fold, expected_fold in zip(report["folds"], expected["folds"], strict=True):
        for arm in ("pretrained", "scratch"):
            np.testing.assert_allclose(fold[f"{arm}_history"], expected_fold[f"{arm}_history"],
                                       rtol=tolerance)
            np.testing.assert_allclose(fold[arm]["mae"], expected_fold[arm]["mae"], rtol=tolerance)


@pytest.mark.parametrize("precision, replicas, tolerance", [
    ([], [], 1e-5),  # a strategy with one replica (mirrored on one device) runs the replica step
    (["--mixed-precision"], ["--cpu-replicas", "2"], 2e-3)])  # loss scaling agreed by all replicas
def test_pretraining_under_mirrored_strategy(precision, replicas, tolerance, tmp_path, data_dir):
    import numpy as np

    flags = ["--task", "pretrain", "--epochs", "2", "--max-per-source", "20", "--crop-length", "32",
             "--verbose", "0", "--data-dir", str(data_dir), *precision]
    for name, extra in (("single", []), ("mirrored", ["--strategy", "mirrored", *replicas])):
        _run([str(ROOT / "main.py"), *flags, *extra, "--output", str(tmp_path / name)],
             cwd=tmp_path)
    single, mirrored = (json.loads((tmp_path / name / "report.json").read_text())
                        for name in ("single", "mirrored"))
    np.testing.assert_allclose(mirrored["history"], single["history"], rtol=tolerance)
    np.testing.assert_allclose(mirrored["heldout"]["perplexity"], single["heldout"]["perplexity"],
                               rtol=tolerance)


def test_custom_loops_train_under_mirrored_strategy(tmp_path, data_dir, binding_one_device):
    """Pre-training and fine-tuning split each global batch over 2 replicas: the same training."""
    out = tmp_path / "mirrored"
    _run([str(ROOT / "main.py"), *BINDING, "--strategy", "mirrored", "--cpu-replicas", "2",
          "--output", str(out), "--data-dir", str(data_dir)], cwd=tmp_path)
    params = json.loads((out / "params.json").read_text())
    assert params["strategy"] == "mirrored" and params["cpu_replicas"] == 2
    assert (out / "pretrain" / "backbone.keras").is_file() and (out / "model_fold1.keras").is_file()
    _assert_same_training(out, binding_one_device, 1e-4)


LOOP_SCRIPT = textwrap.dedent("""
    import json, sys, tempfile
    import numpy as np
    from deepbio.core.run_folder import make_strategy
    import keras
    from deepbio.core.engine import fit_distributed

    strategy = make_strategy(sys.argv[1], cpu_replicas=int(sys.argv[2]))
    if sys.argv[3] == "mixed":
        keras.mixed_precision.set_global_policy("mixed_float16")
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(70, 5)).astype("float32"), rng.normal(size=(70, 3)).astype("float32")]
    y = (np.concatenate(x, axis=1) @ rng.normal(size=(8, 2)) > 0).astype("float32")
    xv = [rng.normal(size=(30, 5)).astype("float32"), rng.normal(size=(30, 3)).astype("float32")]
    yv = (np.concatenate(xv, axis=1)[:, :2] > 0).astype("float32")

    def build():
        with strategy.scope():
            keras.utils.set_random_seed(0)
            a, b = keras.Input((5,)), keras.Input((3,))
            h = keras.layers.Dropout(float(sys.argv[4]))(keras.layers.Dense(8, activation="tanh")(
                keras.layers.Concatenate()([a, b])))
            out = keras.layers.Dense(2, activation="sigmoid", dtype="float32")(h)
            model = keras.Model([a, b], out)
            model.compile(optimizer=keras.optimizers.AdamW(0.05, weight_decay=0.01),
                          loss=keras.losses.BinaryCrossentropy())
        return model

    def loop(epochs, **kwargs):  # the same schedule: Keras callbacks, driven by the step loop
        callbacks = [keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True),
                     keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=1)]
        return fit_distributed(model, x, y, epochs=epochs, batch_size=16,
                               validation_data=(xv, yv), callbacks=callbacks, shuffle=False,
                               strategy=strategy, **kwargs)

    def result(history):
        return {"loss": history["loss"], "val_loss": history["val_loss"],
                "weights": [w.ravel().tolist() for w in model.get_weights()]}

    out = {"replicas": strategy.num_replicas_in_sync}
    model = build()
    out["fit"] = result(model.fit(
        x, y, batch_size=16, epochs=6, shuffle=False, verbose=0, validation_data=(xv, yv),
        callbacks=[keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True),
                   keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=1)]).history)
    model = build()
    out["loop"] = result(loop(6))
    folder = tempfile.mkdtemp()
    model = build()
    loop(2, checkpoint_dir=folder)  # killed after epoch 2 ...
    model = build()
    out["resumed"] = result(loop(6, checkpoint_dir=folder))  # ... and started again
    print(json.dumps(out))
""")


def _loop_results(strategy, replicas, precision, dropout):
    result = subprocess.run([sys.executable, "-c", LOOP_SCRIPT, strategy, str(replicas), precision,
                             str(dropout)],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# Mirrored: no dropout, since model.fit splits the partial last batch (6 rows) 3 + 3 over the
# replicas and the loop pads it to 8 + 8 (weights 0), so the dropout masks differ there.
@pytest.mark.parametrize("strategy, replicas, precision, dropout, tolerance", [
    ("one-device", 0, "float32", 0.3, 1e-5), ("mirrored", 2, "float32", 0.0, 1e-5),
    ("one-device", 0, "mixed", 0.3, 2e-3)])
def test_custom_loop_equals_fit_and_resumes(strategy, replicas, precision, dropout, tolerance):
    """Same losses and weights as model.fit with EarlyStopping + ReduceLROnPlateau, a partial last
    batch (70 rows, batch 16), two inputs, dropout and (mixed) loss scaling; a restart resumes
    exactly (weights, optimizer, dropout seed state and the callbacks' state from the
    checkpoint)."""
    import numpy as np

    out = _loop_results(strategy, replicas, precision, dropout)
    assert out["replicas"] == max(1, replicas)
    fit, loop, resumed = out["fit"], out["loop"], out["resumed"]
    assert len(fit["loss"]) == len(loop["loss"]) < 6  # early stopping ended both at the same epoch
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(loop[key], fit[key], rtol=tolerance)
    for a, b, c in zip(fit["weights"], loop["weights"], resumed["weights"]):
        np.testing.assert_allclose(b, a, rtol=tolerance, atol=tolerance)
        np.testing.assert_allclose(c, b, rtol=1e-6, atol=1e-7)
    assert resumed["loss"] == loop["loss"] and resumed["val_loss"] == loop["val_loss"]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PTM_NETWORK = ["--task", "ptm", "--model-type", "network", "--compare", "none", "--no-grouped-cv",
               "--max-windows", "700", "--folds", "2", "--epochs", "2", "--saliency-windows", "0",
               "--residue-encoders", "one_hot", "--conv-filters", "8", "--hidden-dim", "16",
               "--gru-units", "8", "--intermediate-dim", "16", "--verbose", "0"]
AUROC_TOLERANCE = 0.05  # absolute, per label: other shuffling and reduction order than model.fit


def _two_workers(tmp_path, command, single=None):
    """Runs ``command`` as 2 workers on 127.0.0.1 (and ``single`` alone); returns their logs."""
    workers = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
    env = {**os.environ, "DEEPBIO_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    processes = {}
    if single:
        processes["single"] = subprocess.Popen(single, env=env, cwd=tmp_path,
                                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                               text=True)
    (tmp_path / "worker_tmp").mkdir()
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes[index] = subprocess.Popen(
            command, env={**env, "TF_CONFIG": json.dumps(config),
                          "TMPDIR": str(tmp_path / "worker_tmp")},
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline, logs = time.monotonic() + 400, {}
    try:
        for name, process in processes.items():
            logs[name] = process.communicate(timeout=max(1, deadline - time.monotonic()))[0]
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    for name, process in processes.items():
        assert process.returncode == 0, f"{name}: {logs.get(name, '')[-3000:]}"
    assert not any(p.name.startswith("deepbio-") for p in (tmp_path / "worker_tmp").iterdir())
    return logs


def test_custom_loops_train_on_two_workers(tmp_path, data_dir, binding_one_device):
    """The binding run (pre-training + fine-tuning) across 2 worker processes: the same training."""
    out = tmp_path / "multi"
    logs = _two_workers(tmp_path, [sys.executable, str(ROOT / "main.py"), *BINDING, "--strategy",
                                   "multi-worker", "--output", str(out), "--data-dir",
                                   str(data_dir)])
    assert json.loads((out / "params.json").read_text())["strategy"] == "multi-worker"
    assert not (out / "checkpoints").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["multi", "worker_tmp"]
    assert "written by the chief worker" in logs[1]
    _assert_same_training(out, binding_one_device, 1e-4)


def test_ptm_network_trains_on_two_workers(tmp_path, data_dir):
    """Two worker processes on 127.0.0.1 train in lock-step (the custom loop), only the chief writes
    the run folder, and the CV AUROCs agree with the single-device run (model.fit)."""
    common = [sys.executable, str(ROOT / "main.py"), *PTM_NETWORK, "--data-dir", str(data_dir)]
    logs = _two_workers(tmp_path, [*common, "--strategy", "multi-worker", "--output",
                                   str(tmp_path / "multi")],
                        single=[*common, "--output", str(tmp_path / "single")])
    single = json.loads((tmp_path / "single" / "report.json").read_text())
    multi = json.loads((tmp_path / "multi" / "report.json").read_text())
    params = json.loads((tmp_path / "multi" / "params.json").read_text())
    assert params["strategy"] == "multi-worker"
    assert not (tmp_path / "multi" / "checkpoints").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["multi", "single", "worker_tmp"]
    assert "absolute_true" in logs[1]  # worker 1 ran the whole task too, in a folder now deleted
    for label, metrics in single["cv"]["per_label"].items():
        auroc = multi["cv"]["per_label"][label]["auroc"]
        assert abs(auroc - metrics["auroc"]) <= AUROC_TOLERANCE, (label, auroc, metrics["auroc"])
    epochs_run = [[f["epochs_run"] for f in r["cv_folds"]] for r in (multi, single)]
    assert epochs_run[0] == epochs_run[1]


FIT_TASKS = {  # task: (flags, the held-out / validation AUROC of the report)
    "rnamod": (["--modifications", "Am", "--max-windows-per-split", "200", "--epochs", "3",
                "--no-multitask", "--ism-windows", "0", "--saliency-windows", "0",
                "--encoder-filters", "16,32", "--num-embeddings", "32"],
               lambda report: report["per_modification"]["Am"]["valid"]["auroc"]),
    "motif": (["--max-sequences", "300", "--epochs", "3", "--motif-length", "5", "--jaspar-top",
               "0", "--cnn-filters", "8,8,8", "--top-r", "0.01", "--ensemble", "1"],
              lambda report: report["heldout"]["auroc"]),
}


@pytest.mark.parametrize("task", list(FIT_TASKS))
def test_fit_tasks_train_on_two_workers(task, tmp_path, data_dir):
    """rnamod and motif (``model.fit`` on one process) train across 2 workers with the engine's
    step loop (`deepbio.core.engine.fit_distributed`), driving the same callbacks (best-validation-AUROC selection, plateau
    schedule, early stopping): the same epochs and an AUROC within `AUROC_TOLERANCE`."""
    flags, auroc = FIT_TASKS[task]
    common = [sys.executable, str(ROOT / "main.py"), "--task", task, *flags, "--verbose", "0",
              "--data-dir", str(data_dir)]
    _two_workers(tmp_path, [*common, "--strategy", "multi-worker", "--output",
                            str(tmp_path / "multi")],
                 single=[*common, "--output", str(tmp_path / "single")])
    single, multi = (json.loads((tmp_path / name / "report.json").read_text())
                     for name in ("single", "multi"))
    assert json.loads((tmp_path / "multi" / "params.json").read_text())["strategy"] == "multi-worker"
    assert not (tmp_path / "multi" / "checkpoints").exists()
    assert abs(auroc(multi) - auroc(single)) <= AUROC_TOLERANCE, (auroc(multi), auroc(single))
    assert auroc(multi) > 0.55  # it learned
    if task == "rnamod":
        assert multi["per_modification"]["Am"]["training"]["epochs_run"] == \
            single["per_modification"]["Am"]["training"]["epochs_run"]


def test_multi_worker_needs_a_cluster_and_a_supported_task(capsys, monkeypatch):
    from deepbio import cli
    from deepbio.core.run_folder import make_strategy

    for name in ("TF_CONFIG", "SLURM_JOB_ID", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["run", "finetune", "--strategy", "multi-worker"]) == 2
    assert "multi-worker: the finetune task" in capsys.readouterr().err
    assert cli.main(["run", "motif", "--strategy", "multi-worker"]) == 2  # supported: no cluster
    assert "needs the cluster: set TF_CONFIG" in capsys.readouterr().err
    with pytest.raises(ValueError, match="needs the cluster: set TF_CONFIG"):
        make_strategy("multi-worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not JSON"):
        make_strategy("multi-worker")


def test_slurm_job_without_tf_config_uses_the_slurm_resolver(monkeypatch, tmp_path):
    """Inside a Slurm step (fake ``scontrol``), the cluster is read from Slurm's variables."""
    import tensorflow as tf

    from deepbio.core import run_folder

    scontrol = tmp_path / "scontrol"
    scontrol.write_text("#!/bin/sh\necho node1\necho node2\n")
    scontrol.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    for name, value in {"SLURM_JOB_ID": "7", "SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "2",
                        "SLURM_STEP_NODELIST": "node[1-2]", "SLURM_STEP_TASKS_PER_NODE": "1(x2)",
                        "CUDA_VISIBLE_DEVICES": "0"}.items():
        monkeypatch.setenv(name, value)

    class Recorded:
        def __init__(self, cluster_resolver=None):
            self.cluster_resolver = cluster_resolver

    monkeypatch.setattr(tf.distribute, "MultiWorkerMirroredStrategy", Recorded)
    strategy = run_folder.make_strategy("multi-worker")
    resolver = strategy.cluster_resolver
    assert isinstance(resolver, tf.distribute.cluster_resolver.SlurmClusterResolver)
    assert resolver.cluster_spec().as_dict() == {"worker": ["node1:8888", "node2:8888"]}
    assert (resolver.task_type, resolver.task_id) == ("worker", 1)
    assert not run_folder.is_chief(strategy)


@pytest.mark.parametrize("cluster, task, chief", [
    ({"worker": ["a:1", "b:1"]}, ("worker", 0), True),
    ({"worker": ["a:1", "b:1"]}, ("worker", 1), False),
    ({"chief": ["a:1"], "worker": ["b:1"]}, ("worker", 0), False),
    ({"chief": ["a:1"], "worker": ["b:1"]}, ("chief", 0), True)])
def test_the_chief_writes_the_run_folder(cluster, task, chief):
    import types

    import tensorflow as tf

    from deepbio.core.run_folder import is_chief

    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task[0], task_id=task[1])
    assert is_chief(types.SimpleNamespace(cluster_resolver=resolver)) is chief
    assert is_chief(tf.distribute.get_strategy())  # one process: its own chief


def test_replica_shares_cover_the_batch_once():
    import numpy as np

    from deepbio.core.distribute import replica_shares

    shares = replica_shares(5, 2)
    assert [rows.tolist() for rows, _ in shares] == [[0, 1, 2], [3, 4]]
    assert all(weights.tolist() == [1.0] * len(rows) for rows, weights in shares)
    (rows0, w0), (rows1, w1) = replica_shares(1, 2)  # a last batch of one row
    assert rows0.tolist() == [0] and w0.tolist() == [1.0]
    assert rows1.tolist() == [0] and w1.tolist() == [0.0]  # runs the step, weighs nothing
    assert sum(float(np.sum(w)) for _, w in replica_shares(7, 4)) == 7


def test_a_killed_workers_temporary_folder_is_removed_by_the_next_worker(tmp_path):
    from deepbio.core.run_folder import remove_dead_worker_folders

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout.strip()
    host = socket.gethostname()
    dead = tmp_path / f"deepbio-ptm-worker-{finished}@{host}-x1y2"
    alive = tmp_path / f"deepbio-ptm-worker-{os.getpid()}@{host}-a1b2"
    elsewhere = tmp_path / f"deepbio-ptm-worker-{finished}@{host}-b-x1y2"  # another host's
    other = tmp_path / "deepbio-notes"
    for folder in (dead, alive, elsewhere, other):
        (folder / "checkpoints").mkdir(parents=True)
    assert remove_dead_worker_folders(tmp_path) == [dead]
    assert not dead.exists() and alive.exists() and elsewhere.exists() and other.exists()


VQ_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from deepbio.core.run_folder import make_strategy
    import keras
    from deepbio.layers import VectorQuantizer

    strategy = make_strategy(sys.argv[1], cpu_replicas=int(sys.argv[2]))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 3)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None].astype("float32")
    with strategy.scope():
        keras.utils.set_random_seed(0)
        inputs = keras.Input((6, 3))
        quantizer = VectorQuantizer(8, 4, use_ema=True, dead_code_threshold=0.5, seed=0,
                                    name="quantizer")
        h = quantizer(keras.layers.Dense(4)(inputs))
        model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(h)))
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    replicas = [np.asarray(v).tolist() for v in
                strategy.experimental_local_results(quantizer.ema_cluster_size.value)]
    print(json.dumps({"replicas": replicas,
                      "cluster_size": np.asarray(quantizer.ema_cluster_size.numpy()).tolist()}))
""")


def test_vector_quantizer_keeps_one_codebook_across_replicas():
    """EMA statistics are summed over replicas: every replica keeps the same codebook state, the
    one-device run's (Keras 3 does not synchronise assigned non-trainable weights)."""
    import numpy as np

    def run(strategy, replicas):
        result = subprocess.run([sys.executable, "-c", VQ_SCRIPT, strategy, str(replicas)],
                                capture_output=True, text=True, timeout=300,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    single, mirrored = run("one-device", 0), run("mirrored", 2)
    assert len(mirrored["replicas"]) == 2
    assert mirrored["replicas"][0] == mirrored["replicas"][1]
    assert sum(mirrored["cluster_size"]) == pytest.approx(sum(single["cluster_size"]), rel=1e-4)
    np.testing.assert_allclose(mirrored["cluster_size"], single["cluster_size"], atol=1e-3)
