"""One run folder for every task: seeding, precision, parameters, timers, report, plots.

A task's ``run``/``train`` receives a `RunFolder` and writes through it, so
that the preamble (folder, seed, precision policy, ``params.json`` with
library versions) and the epilogue (``seconds``, atomic ``report.json``) are
written once. Every file goes through `deepbio.core.io.atomic_path`: an
interrupted run never leaves a truncated file.
"""

import contextlib
import dataclasses
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

from deepbio.core.io import atomic_path, save_figure, write_csv, write_json
from deepbio.core.task import discover_tasks, get_task
from deepbio.core.checkpoint import checkpoint_directory, remove_checkpoints
from deepbio.core.safe_files import read_tree, refuse_pickle, write_tree


# `deepbio.core.io.atomic_path` writes ``.<stem>.<8 random characters><suffix>`` beside the target.
TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}(\.[A-Za-z0-9]+)?$")


def library_versions():
    """Versions of the libraries a run depends on, and the GPUs TensorFlow sees."""
    import keras
    import numpy as np
    import sklearn
    import tensorflow as tf

    return {"keras": keras.__version__, "tensorflow": tf.__version__, "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


STRATEGIES = ("auto", "one-device", "mirrored", "multi-worker")
# A task declares whether it trains under `tf.distribute.MultiWorkerMirroredStrategy`
# (`Task.multi_worker`, checked by `RunFolder`): Keras 3's ``model.fit`` does not
# (keras-team/keras#20585), so such a task needs the engine's step loop
# (`deepbio.core.engine`: `fit` picks `fit_distributed` for the PTM network, VQ-RNA and the
# motif CNN; `run_loop` drives masked-LM pre-training and ΔG fine-tuning) or no TensorFlow training
# (the PTM trees).


def make_strategy(name="auto", cpu_replicas=0):
    """The `tf.distribute` strategy of a run.

    Args:
        name: ``auto`` (`tf.distribute.MirroredStrategy` when more than one
            GPU is visible, else the default strategy), ``one-device`` (the
            default strategy), ``mirrored`` (all GPUs, else all logical
            CPUs) or ``multi-worker`` (`multi_worker_strategy`).
        cpu_replicas: int; > 0 splits the first CPU into that many logical
            devices first (must happen before TensorFlow runs any op;
            ignored by ``multi-worker``).

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        ValueError: an unknown name, logical CPUs requested after
            TensorFlow started, or ``multi-worker`` without a cluster.
    """
    import tensorflow as tf

    if name == "multi-worker":
        return multi_worker_strategy()
    if cpu_replicas:
        cpu = tf.config.list_physical_devices("CPU")[0]
        wanted = [tf.config.LogicalDeviceConfiguration()] * cpu_replicas
        current = tf.config.get_logical_device_configuration(cpu)
        if current is None or len(current) != cpu_replicas:
            try:
                tf.config.set_logical_device_configuration(cpu, wanted)
            except RuntimeError:
                raise ValueError("--cpu-replicas can only be set before TensorFlow starts (once "
                                 "per process)") from None
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "one-device":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    raise ValueError(f"unknown strategy {name!r}; choose {', '.join(STRATEGIES)}")


def multi_worker_strategy():
    """`tf.distribute.MultiWorkerMirroredStrategy` over the workers of a cluster.

    The cluster comes from ``TF_CONFIG`` (JSON: ``{"cluster": {"worker":
    ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}``,
    a different ``index`` per process), else, inside a Slurm job
    (``SLURM_JOB_ID`` or ``SLURM_PROCID`` set), from
    `tf.distribute.cluster_resolver.SlurmClusterResolver` (one worker per
    Slurm task, ports from 8888). Every worker must start with the same
    command. After the TensorFlow tutorial "Multi-worker training with Keras".

    Returns:
        A `tf.distribute.MultiWorkerMirroredStrategy`; it waits for every
        worker at its first collective operation.

    Raises:
        ValueError: neither ``TF_CONFIG`` nor Slurm, ``TF_CONFIG`` is not
            JSON, Slurm's variables do not resolve, or TensorFlow already
            ran an op in this process.
    """
    import json

    import tensorflow as tf

    slurm = False
    if os.environ.get("TF_CONFIG"):
        try:
            json.loads(os.environ["TF_CONFIG"])
        except ValueError as error:
            raise ValueError(f"--strategy multi-worker: TF_CONFIG is not JSON ({error})") from None
    elif os.environ.get("SLURM_JOB_ID") or os.environ.get("SLURM_PROCID"):
        slurm = True
    else:
        raise ValueError("--strategy multi-worker needs the cluster: set TF_CONFIG on every "
                         "worker (see README) or run inside a Slurm job")
    try:  # Slurm: hosts from SLURM_STEP_NODELIST, GPUs shared out via CUDA_VISIBLE_DEVICES
        resolver = tf.distribute.cluster_resolver.SlurmClusterResolver() if slurm else None
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    except (RuntimeError, OSError) as error:  # collectives configured late; no scontrol
        raise ValueError(f"--strategy multi-worker: {error}") from None


def is_chief(strategy):
    """Whether this process writes the run folder: the ``chief`` task, else worker 0.

    Any strategy without a cluster (one process) is its own chief.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return (resolver.task_type == "worker" and resolver.task_id == 0
            and "chief" not in resolver.cluster_spec().as_dict())


def remove_dead_worker_folders(folder=None):
    """Deletes the temporary run folders of non-chief workers whose process is gone (SIGKILL).

    A worker's folder is ``deepbio-<task>-worker-<pid>@<host>-<random>`` in
    ``folder`` (default `tempfile.gettempdir`); a worker that exits deletes
    its own, one killed leaves it, and the next worker started on the same
    host removes it (folders of other hosts, on a shared temporary folder,
    are left alone).

    Returns:
        list of the `pathlib.Path` removed.
    """
    removed, host = [], socket.gethostname()
    for path in Path(folder or tempfile.gettempdir()).glob("deepbio-*-worker-*@*-*"):
        pid, _, rest = path.name.split("-worker-", 1)[1].partition("@")
        if not pid.isdigit() or rest.rpartition("-")[0] != host or not path.is_dir():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        except PermissionError:  # another user's live process
            pass
    return removed


def check_output_dir(path):
    """Checks that ``path`` can be a run folder (before any work starts).

    Raises:
        ValueError: ``path`` is an existing file, or its nearest existing
            parent is not a writable folder.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"output {path} is a file, not a folder; choose another --output")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"output {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"output {path}: folder {parent} is not writable")


class RunFolder:
    """The output folder of one run, used as a context manager.

    On entry it seeds Python, NumPy and Keras (``config.seed``), turns on
    TensorFlow op determinism (``config.deterministic``; it stays on for the
    process), sets the precision policy (``config.mixed_precision``) and
    enters the `tf.distribute` strategy's scope (``config.strategy``, see
    `make_strategy`; ``strategy`` attribute), so that models built by the task
    are mirrored and ``model.fit`` splits each global batch over the
    replicas; on exit it leaves the scope and restores the policy. If the run
    fails, every file this run wrote is removed (and the folder, when this
    run created it), so a failed run leaves nothing half-done behind.

    Under ``--strategy multi-worker`` every worker runs the whole task (the
    collective steps must match), but only the chief (`is_chief`) writes
    ``path``; the others write into a `tempfile.mkdtemp` folder deleted on
    exit (``chief`` is False), and resume from the chief's checkpoints.

    Args:
        path: str or path-like, the folder (created on first write).
        task: str, the task name.
        config: the task's config dataclass.
        mode: str, ``run`` or ``train``.
        data_dir: optional data mirror (recorded in ``params.json``).
        verbose: int, Keras verbosity for the task (0, 1 or 2).
        restart: bool. Drop the checkpoints of an interrupted run in
            ``path`` instead of resuming from them.

    Raises:
        ValueError: ``path`` cannot be a folder (see `check_output_dir`), or
            ``multi-worker`` for a task that cannot train under it.
    """

    def __init__(self, path, task, config, mode="run", data_dir=None, verbose=1, restart=False):
        check_output_dir(path)
        if getattr(config, "strategy", None) == "multi-worker":
            multi = [name for name, runner in discover_tasks().items() if runner.multi_worker]
            if task not in multi:
                raise ValueError(f"--strategy multi-worker: the {task} task trains with model.fit, "
                                 f"which does not run across workers (keras-team/keras#20585); it "
                                 f"works for {', '.join(multi)}")
        self.path = Path(path)
        self.task = task
        self.config = config
        self.mode = mode
        self.data_dir = data_dir
        self.verbose = verbose
        self.seconds = {}
        self.restart = restart
        self._checkpoints = None
        self._created = not self.path.exists()
        self._written = []
        self._start = None
        self._policy = None
        self._scope = None
        self.strategy = None
        self.chief = True
        self._chief_checkpoints = None  # where a worker resumes from (the chief's checkpoints)
        self.report_written = False

    def __enter__(self):
        import keras

        self._start = time.perf_counter()
        self._policy = keras.mixed_precision.global_policy().name
        if getattr(self.config, "mixed_precision", False):
            keras.mixed_precision.set_global_policy("mixed_float16")
        if getattr(self.config, "deterministic", False):
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
        self.strategy = make_strategy(getattr(self.config, "strategy", "auto"),
                                      getattr(self.config, "cpu_replicas", 0))
        if not is_chief(self.strategy):
            self._chief_checkpoints = self.checkpoint_dir
            self.chief, self._created = False, True
            remove_dead_worker_folders()
            self.path = Path(tempfile.mkdtemp(
                prefix=f"deepbio-{self.task}-worker-{os.getpid()}@{socket.gethostname()}-"))
        self._scope = self.strategy.scope()
        self._scope.__enter__()
        keras.utils.set_random_seed(self.config.seed)
        self._remove_stray_temporaries()
        self._check_checkpoints()
        self.write_params()  # the framework's; a task may rewrite it with extra run metadata
        return self

    def __exit__(self, exc_type, exc, tb):
        import keras

        if self._scope is not None:
            self._scope.__exit__(exc_type, exc, tb)
        keras.mixed_precision.set_global_policy(self._policy)
        if not self.chief:
            shutil.rmtree(self.path, ignore_errors=True)
        elif exc_type is not None:
            self._discard()
        elif self.checkpoint_dir.exists():
            shutil.rmtree(self.checkpoint_dir)  # finished: the outputs replace the checkpoints
        return False

    def _discard(self):
        """Removes what this run wrote, except its checkpoints (a rerun resumes from them).

        Checkpoints without any saved work (only the parameters,
        ``config.json``) go too, so a rerun with corrected flags starts afresh.
        """
        if self.checkpoint_dir.is_dir() and all(
                path.name == "config.json" for path in self.checkpoint_dir.rglob("*")
                if path.is_file()):
            shutil.rmtree(self.checkpoint_dir)
        for path in self._written:
            if path.is_file():
                path.unlink()
        if self._created and self.path.exists():
            for path in sorted(self.path.rglob("*"), reverse=True):
                if path.is_dir() and not any(path.iterdir()):
                    path.rmdir()
            if not any(self.path.iterdir()):
                self.path.rmdir()

    def _remove_stray_temporaries(self):
        """Deletes the temporary files of writes that a kill interrupted (`atomic_path` names)."""
        if not self.path.is_dir():
            return
        for path in self.path.rglob(".*"):
            if path.is_file() and TEMPORARY.match(path.name):
                path.unlink()

    # -- checkpoints ---------------------------------------------------------------------------
    @property
    def checkpoint_dir(self):
        """``path / "checkpoints"``: the finished units of an unfinished run."""
        return self._checkpoints or self.path / "checkpoints"

    @property
    def resume_dir(self):
        """Where finished units are read from: the chief's ``checkpoint_dir`` (None: afresh)."""
        if self.chief:
            return self.checkpoint_dir
        return None if self.restart else self._chief_checkpoints

    def _check_checkpoints(self):
        import json

        current = json.loads(json.dumps(dataclasses.asdict(self.config), default=str))
        if self.restart and self.chief and self.checkpoint_dir.exists():
            shutil.rmtree(self.checkpoint_dir)
        params = (self.resume_dir or self.checkpoint_dir) / "config.json"
        if params.is_file():
            saved = json.loads(params.read_text())
            if saved != current:
                changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
                raise ValueError(f"output {self.path} holds checkpoints of an interrupted run with "
                                 f"other parameters ({', '.join(changed)}); rerun it with the same "
                                 f"flags to resume, add --restart to start afresh, or choose "
                                 f"another --output")
        self._checkpoint_config = current

    def checkpointed(self, key, compute):
        """Runs one unit of work (a fold, a model) once: a rerun after a kill loads its result.

        The unit starts from its own seed (derived from ``config.seed`` and
        ``key``), so its result does not depend on what ran before it, and a
        resumed run ends with the same report as an uninterrupted one. The
        result is saved atomically to ``checkpoints/<key>.zip``
        (`deepbio.core.safe_files.write_tree`: JSON, NumPy arrays, ``.keras``
        models, skops objects of a fixed allow-list; nothing is pickled, and
        a ``<key>.pkl`` of an older deepbio is refused). While it runs, its trainings
        (`deepbio.core.engine.fit`, `deepbio.core.engine.run_loop`,
        `deepbio.core.checkpoint.LoopCheckpoint`)
        checkpoint their epochs in ``checkpoints/<key>.steps/`` (deleted when
        the unit is done). The run's parameters go to
        ``checkpoints/config.json`` before the first unit starts, so a rerun
        with other parameters is refused rather than resumed.

        Args:
            key: str, unique within the run (``fold3``, ``Am``).
            compute: callable () → a result `write_tree` can save.

        Returns:
            The result of ``compute``, computed now or loaded.

        Raises:
            ValueError: a unit checkpoint that is not one deepbio saved
                (tampered with, or pickled by an older deepbio).
        """
        import json
        import zlib

        import keras

        restart = "rerun the same command with --restart to start afresh"
        path = self.checkpoint_dir / f"{key}.zip"
        resume = self.resume_dir / f"{key}.zip" if self.resume_dir else path
        for found in (path, resume):
            if found.is_file():
                return read_tree(found, restart)
            if found.with_suffix(".pkl").is_file():
                refuse_pickle(found.with_suffix(".pkl"), restart)
        keras.utils.set_random_seed((self.config.seed * 1_000_003 + zlib.crc32(key.encode())) % 2**31)
        if not (self.checkpoint_dir / "config.json").is_file():  # the parameters they belong to,
            write_json(getattr(self, "_checkpoint_config", None)  # before any epoch checkpoint
                       or json.loads(json.dumps(dataclasses.asdict(self.config), default=str)),
                       self.checkpoint_dir / "config.json")
        steps = self.checkpoint_dir / f"{key}.steps"
        with checkpoint_directory(steps, (self.resume_dir or self.checkpoint_dir) / f"{key}.steps"):
            result = compute()
        write_tree(result, path)
        remove_checkpoints(steps)
        return result

    def subfolder(self, name, task, config):
        """A `RunFolder` for a sub-run (e.g. the binding task's ``pretrain/``), already entered.

        It shares this run's data mirror, verbosity, clock and clean-up: its
        files count as written by this run.
        """
        child = RunFolder(self.path / name, task, config, self.mode, self.data_dir, self.verbose)
        child._start, child._written = time.perf_counter(), self._written
        child._checkpoints = self.checkpoint_dir / name
        child.strategy, child.chief = self.strategy, self.chief
        child._chief_checkpoints = self._chief_checkpoints and self._chief_checkpoints / name
        return child

    # -- files ---------------------------------------------------------------------------------
    def file(self, name):
        """``path / name`` (parents created), recorded as written by this run."""
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path not in self._written:
            self._written.append(path)
        return path

    def write_json(self, obj, name):
        """Writes strict JSON atomically; returns the path."""
        path = self.file(name)
        write_json(obj, path)
        return path

    def write_csv(self, frame, name):
        """Writes a DataFrame as CSV atomically; returns the path."""
        path = self.file(name)
        write_csv(frame, path)
        return path

    def save_model(self, model, name="model.keras"):
        """Saves a Keras model atomically; returns the path."""
        path = self.file(name)
        with atomic_path(path) as tmp:
            model.save(tmp)
        return path

    def save_figure(self, fig, name, formats=("png",)):
        """Saves a matplotlib figure once per format (``name`` without suffix)."""
        for suffix in formats:
            self.file(f"{name}.{suffix}")
        return save_figure(fig, self.path / name, formats=formats)

    def write_params(self, **extra):
        """``params.json``: the config fields, the task, the mode and run metadata.

        ``extra`` goes under ``run`` (with the output folder, data mirror and
        library versions), so ``--config params.json`` reads back exactly the
        config.
        """
        params = {"task": self.task, "mode": self.mode, **dataclasses.asdict(self.config),
                  "run": {"output_dir": str(self.path),
                          "data_dir": str(self.data_dir) if self.data_dir else None,
                          **extra, "versions": library_versions()}}
        return self.write_json(params, "params.json")

    # -- timing and report ---------------------------------------------------------------------
    @contextlib.contextmanager
    def timer(self, name):
        """Adds the seconds spent in the block to ``seconds[name]``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def write_report(self, report):
        """Adds ``task`` and ``seconds`` (per timer and ``total``) and writes ``report.json``."""
        seconds = {k: round(v, 2) for k, v in self.seconds.items()}
        seconds["total"] = round(time.perf_counter() - self._start, 2)
        report = {"task": self.task, **report, "seconds": {**report.get("seconds", {}), **seconds}}
        self.write_json(report, "report.json")
        self.report_written = True
        return report

    def plot_history(self, history, name="training_history", ylabel="loss", title=None,
                     keys=("loss", "val_loss")):
        """A line plot of a Keras-style history dict (``{key: [per-epoch values]}``) as PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np

        fig, ax = plt.subplots(figsize=(6, 3.5))
        for key in keys:
            if history.get(key):
                ax.plot(np.arange(1, len(history[key]) + 1), history[key], marker=".", label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        return self.save_figure(fig, name)


def run_task(task, output_dir=None, config=None, mode="run", data_dir=None, verbose=1,
             restart=False, **changes):
    """Runs a registered task in a `RunFolder`: the Python form of ``deepbio run TASK``.

    Args:
        task: str, a task name (`deepbio.core.task.discover_tasks`).
        output_dir: the run folder (default ``runs/<task>``).
        config: optional config (default: the task's default config).
        mode: ``run`` (train, evaluate, interpret) or ``train``.
        data_dir: optional data mirror.
        verbose: Keras verbosity (0, 1 or 2).
        restart: bool, drop the checkpoints of an interrupted run in
            ``output_dir`` instead of resuming.
        **changes: config fields to change (``epochs=1``).

    Returns:
        The report dict (also ``output_dir/report.json``).

    Raises:
        ValueError: an unknown task or mode, or a bad config value.
    """

    runner = get_task(task)
    if mode not in ("run", "train"):
        raise ValueError(f"mode must be 'run' or 'train', got {mode!r}")
    config = dataclasses.replace(config or runner.base_config(), **changes)
    output_dir = output_dir or os.path.join("runs", runner.name)
    with RunFolder(output_dir, runner.name, config, mode, data_dir, verbose, restart) as folder:
        report = (runner.run if mode == "run" else runner.train)(config, folder)
        return report if folder.report_written else folder.write_report(report)
