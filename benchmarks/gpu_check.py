"""GPU check: trains each task's GPU profile for a bounded time; steps/s, placement, peak memory.

For each task (``ptm`` with its Keras network, ``rnamod``, ``motif``,
``pretrain``, ``binding``) the script builds the run configuration of
``--profile`` (``gpu`` by default: the sizes of ``deepbio run TASK --profile
gpu``; ptm and motif have one size), builds and compiles the model with the
task's own builders inside a `deepbio.core.run_folder.RunFolder` (the same
seed, precision policy, op determinism and `tf.distribute` scope as a run),
makes a seeded batch of synthetic inputs of the shapes and dtypes the task
feeds (at the profile's longest lengths, so peak memory is an upper bound),
and trains:

* ptm, rnamod, motif: ``model.fit`` on a repeated `tf.data` dataset;
* pretrain, binding: the task's own custom loop
  (`deepbio.multiomic.pretraining.train_masked_lm`,
  `deepbio.multiomic.fine_tuning.fine_tune`, host-side batching included)
  with its compiled step (`mlm_step_functions`,
  `regression_step_functions`) wrapped in a clock.

The first step (tracing, XLA compilation) is timed apart as the warm-up; the
steps after it run for ``--seconds``. Per task it prints steps and examples
per second, the device of the model's variables and of its outputs, and peak
memory: the GPU allocator's peak (`tf.config.experimental.get_memory_info`,
reset before each task) on a GPU, the process's peak RSS on CPU. A table
closes the run and everything is written to ``--output`` (JSON). On an
out-of-memory error the batch is halved and the task retried
(``--no-halve-on-oom``: reported as an error instead).

Exit status: 0 every task ran, 1 a task failed, 2 bad usage (one line on
stderr), e.g. ``--require-gpu`` without a visible GPU.

Example:

    python benchmarks/gpu_check.py --require-gpu                 # all tasks, 60 s each
    python benchmarks/gpu_check.py --tasks rnamod,motif --seconds 30 --jit-compile on \\
        --no-deterministic --isolate --output gpu_check.json
    python benchmarks/gpu_check.py --profile cpu --seconds 2 --tasks motif,ptm   # CPU smoke run
"""

import argparse
import dataclasses
import gc
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


class UsageError(Exception):
    """Bad flags or a missing GPU: one line on stderr, exit status 2."""


def benchmarked_tasks():
    """The tasks that declare a training workload (`Task.benchmark`), in their order."""
    from deepbio.core.task import discover_tasks

    return [name for name, task in discover_tasks().items() if task.benchmark]


def workload(name):
    """Task ``name``'s workload function (``workload(config, rng, seconds)``)."""
    from deepbio.core.task import get_task, load_object

    return load_object(get_task(name).benchmark)


# ---------------------------------------------------------------------------------------------
# Configurations
# ---------------------------------------------------------------------------------------------
def task_config(name, profile="gpu", mixed_precision=False, jit_compile=None, deterministic=None,
                batch_size=None, seed=0):
    """The run configuration a task gets from ``deepbio run NAME --profile PROFILE``.

    Args:
        name: str, one of `benchmarked_tasks()`.
        profile: str, ``cpu`` or ``gpu`` (ptm and motif have one size and
            ignore it).
        mixed_precision: bool, ``mixed_float16`` compute.
        jit_compile: None (the config's default, ``auto``), ``auto``, ``on``
            or ``off``.
        deterministic: None (the config's default, True) or bool.
        batch_size: None (the profile's) or int.
        seed: int.

    Returns:
        The task's config dataclass (ptm: ``model_type="network"``).

    Raises:
        UsageError: a combination the config refuses (e.g. ``jit_compile``
            ``on`` under op determinism).
    """
    from deepbio.core.task import get_task

    config = get_task(name).base_config(profile)
    changes = {"mixed_precision": bool(mixed_precision), "seed": seed}
    changes.update(getattr(workload(name), "config_changes", {}))  # ptm: the network
    if jit_compile is not None:
        changes["jit_compile"] = jit_compile
    if deterministic is not None:
        changes["deterministic"] = deterministic
    if batch_size is not None:
        changes["batch_size"] = batch_size
    try:
        return dataclasses.replace(config, **changes)
    except ValueError as error:
        raise UsageError(f"{name}: {error}") from None


# ---------------------------------------------------------------------------------------------
# One task
# ---------------------------------------------------------------------------------------------
def _short_device(device):
    """``/job:localhost/replica:0/task:0/device:GPU:0`` → ``GPU:0``."""
    return str(device or "?").rsplit("device:", 1)[-1]


def _is_oom(error):
    import tensorflow as tf

    text = str(error).lower()
    return isinstance(error, tf.errors.ResourceExhaustedError) or "out of memory" in text \
        or " oom " in f" {text} "


def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(name, config, seconds, gpu):
    """Trains task ``name`` with ``config`` for ``seconds`` after a warm-up step.

    Args:
        name: str, one of `benchmarked_tasks()`.
        config: its config (`task_config`).
        seconds: float, timed training after the warm-up step.
        gpu: bool, a GPU is visible (peak memory from TensorFlow's GPU
            allocator, else the process's peak RSS).

    Returns:
        dict: the task's result (see `check_task`).
    """
    import keras
    import tensorflow as tf

    from deepbio.core.run_folder import RunFolder

    keras.backend.clear_session()  # what a previous attempt (an OOM) left behind
    gc.collect()
    scratch = tempfile.mkdtemp(prefix=f"gpu_check-{name}-")
    try:
        if gpu:
            tf.config.experimental.reset_memory_stats("GPU:0")
        with RunFolder(Path(scratch) / "run", name, config, verbose=0) as folder:
            rng = np.random.default_rng(config.seed)
            result = workload(name)(config, rng, seconds)
            policy = keras.mixed_precision.global_policy().name
            strategy = type(folder.strategy).__name__
        model = result.model
        variable_device = model.trainable_variables[0].value.device
        memory = {"peak_rss_mib": round(_peak_rss_mib(), 1)}
        if gpu:
            info = tf.config.experimental.get_memory_info("GPU:0")
            memory["peak_gpu_mib"] = round(info["peak"] / 2 ** 20, 1)
        steps_per_second = result.steps / result.seconds if result.seconds > 0 else 0.0
        return {
            "task": name, "status": "ok" if np.isfinite(result.loss) else "non-finite loss",
            "batch_size": config.batch_size,
            "parameters": int(model.count_params()), "precision_policy": policy,
            "jit_compile": config.jit_compile, "deterministic": config.deterministic,
            "strategy": strategy, "inputs": result.inputs,
            "warmup_seconds": round(result.warmup_seconds, 3), "steps": result.steps,
            "seconds": round(result.seconds, 3), "steps_per_second": round(steps_per_second, 3),
            "examples_per_second": round(steps_per_second * config.batch_size, 1),
            "final_loss": float(result.loss) if np.isfinite(result.loss) else None,
            "loss_finite": bool(np.isfinite(result.loss)), "variable_device": variable_device,
            "output_device": result.output_device,
            "on_gpu": "GPU" in _short_device(variable_device)
                      and "GPU" in _short_device(result.output_device),
            **memory}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        keras.backend.clear_session()
        gc.collect()


def check_task(name, profile, seconds, gpu, mixed_precision, jit_compile=None, deterministic=None,
               batch_size=None, seed=0, halve_on_oom=True):
    """Builds ``name``'s config of ``profile`` and `measure`s it, halving the batch on OOM.

    Returns:
        dict: ``task``, ``status`` (``ok``, ``non-finite loss`` or ``error``), ``profile``,
        ``requested_batch_size``, ``batch_size``, ``oom_retries``,
        ``parameters``, ``precision_policy``, ``jit_compile``,
        ``deterministic``, ``strategy``, ``inputs`` (shapes of one batch),
        ``warmup_seconds``, ``steps``, ``seconds``, ``steps_per_second``,
        ``examples_per_second``, ``final_loss`` (None when not finite; the
        status is then ``non-finite loss``), ``loss_finite``, ``variable_device``,
        ``output_device``, ``on_gpu``, ``peak_gpu_mib`` (GPU only),
        ``peak_rss_mib``; ``error`` (one line) when it failed.
    """
    config = task_config(name, profile, mixed_precision, jit_compile, deterministic, batch_size,
                         seed)
    requested, retries = config.batch_size, []
    while True:
        try:
            result = measure(name, config, seconds, gpu)
            break
        except Exception as error:  # noqa: BLE001 (one task's failure is reported, not raised)
            if halve_on_oom and _is_oom(error) and config.batch_size > 1:
                retries.append(config.batch_size)
                config = dataclasses.replace(config, batch_size=config.batch_size // 2)
                continue
            first = (str(error).strip().splitlines() or [""])[0][:300]
            result = {"task": name, "status": "error", "batch_size": config.batch_size,
                      "error": f"{type(error).__name__}: {first}"}
            break
    return {"profile": profile, "requested_batch_size": requested, "oom_retries": retries,
            **result}


def _isolated(name, args, mixed_precision):
    """`check_task` in a fresh Python process (memory peaks of tasks do not mix)."""
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as scratch:
        out = Path(scratch) / "result.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--tasks", name,
                   "--profile", args.profile, "--seconds", str(args.seconds), "--seed",
                   str(args.seed), "--child-output", str(out),
                   "--mixed-precision" if mixed_precision else "--no-mixed-precision"]
        for flag, value in (("--jit-compile", args.jit_compile), ("--batch-size", args.batch_size)):
            if value is not None:
                command += [flag, str(value)]
        if args.deterministic is not None:
            command.append("--deterministic" if args.deterministic else "--no-deterministic")
        if not args.halve_on_oom:
            command.append("--no-halve-on-oom")
        run = subprocess.run(command, capture_output=True, text=True)
        if out.is_file():
            return json.loads(out.read_text())[0]
        tail = (run.stderr.strip().splitlines() or [f"exit status {run.returncode}"])[-1]
        return {"task": name, "status": "error", "profile": args.profile,
                "error": f"subprocess failed (exit {run.returncode}): {tail[:300]}"}


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def machine():
    """CPU model, cores, Python / TensorFlow / Keras versions and the visible GPUs."""
    import keras
    import tensorflow as tf

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        gpus.append({"name": device.name, "device_name": details.get("device_name"),
                     "compute_capability": details.get("compute_capability")})
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__, "gpus": gpus}


def _commit():
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + (" (dirty tree)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def table(results, gpu):
    """The Markdown table of the results."""
    memory = "peak GPU MiB" if gpu else "peak RSS MiB (process)"
    lines = [f"| task | status | batch | parameters | warm-up s | steps/s | examples/s | "
             f"variables on | outputs on | {memory} |", "|" + "---|" * 10]
    for r in results:
        if "steps_per_second" not in r:
            lines.append(f"| {r['task']} | {r['error']} | {r.get('batch_size', '')} | | | | | | | |")
            continue
        batch = str(r["batch_size"]) + (f" (OOM at {r['oom_retries']})" if r["oom_retries"] else "")
        peak = r.get("peak_gpu_mib") if gpu else r["peak_rss_mib"]
        lines.append(f"| {r['task']} | {r['status']} | {batch} | {r['parameters']:,} | "
                     f"{r['warmup_seconds']:.1f} | {r['steps_per_second']:.2f} | "
                     f"{r['examples_per_second']:.1f} | "
                     f"{_short_device(r['variable_device'])} | {_short_device(r['output_device'])} "
                     f"| {peak} |")
    return "\n".join(lines)


def _write_json(path, value):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(value, indent=2, allow_nan=False, default=str) + "\n")
    os.replace(temporary, path)


def _line(r):
    if "steps_per_second" not in r:
        return f"{r['task']}: error: {r['error']}"
    peak = (f"peak GPU {r['peak_gpu_mib']} MiB" if "peak_gpu_mib" in r
            else f"peak RSS {r['peak_rss_mib']} MiB")
    return (f"{r['task']}: {r['steps_per_second']:.2f} steps/s, {r['examples_per_second']:.1f} "
            f"examples/s (batch {r['batch_size']}, {r['steps']} steps in {r['seconds']:.1f} s, "
            f"warm-up {r['warmup_seconds']:.1f} s), variables on "
            f"{_short_device(r['variable_device'])}, outputs on {_short_device(r['output_device'])}, "
            f"{peak}, {r['precision_policy']}, loss "
            f"{'NOT FINITE' if r['final_loss'] is None else format(r['final_loss'], '.4g')}")


def parse_args(argv=None):
    """The flags (``task_names``: the list of ``--tasks``).

    Raises:
        UsageError: unknown tasks, ``--seconds`` or ``--batch-size`` out of range.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tasks = benchmarked_tasks()
    parser.add_argument("--tasks", default=",".join(tasks),
                        help=f"comma-separated tasks (default: {','.join(tasks)})")
    parser.add_argument("--profile", default="gpu", choices=("cpu", "gpu"),
                        help="run-size profile (default gpu; ptm and motif have one size)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="timed training per task after the warm-up step (default 60)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="override every task's batch size (default: the profile's)")
    parser.add_argument("--mixed-precision", action=argparse.BooleanOptionalAction, default=None,
                        help="mixed_float16 compute (default: on when a GPU is visible)")
    parser.add_argument("--jit-compile", choices=("auto", "on", "off"), default=None,
                        help="XLA, passed to the configs (default: theirs, auto; on needs "
                             "--no-deterministic)")
    parser.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=None,
                        help="TensorFlow op determinism (default: the configs', on, as a run)")
    parser.add_argument("--halve-on-oom", action=argparse.BooleanOptionalAction, default=True,
                        help="halve the batch and retry when the GPU runs out of memory "
                             "(default on)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--require-gpu", action="store_true",
                        help="exit 2 at once when TensorFlow sees no GPU")
    parser.add_argument("--isolate", action="store_true",
                        help="one Python process per task, so memory peaks do not mix")
    parser.add_argument("--output", default="gpu_check.json", help="JSON results (default "
                                                                   "gpu_check.json)")
    parser.add_argument("--child-output", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in names if t not in tasks]
    if unknown or not names:
        raise UsageError(f"--tasks: unknown task(s) {unknown or args.tasks!r}; choose from "
                         f"{','.join(tasks)}")
    if args.seconds <= 0:
        raise UsageError(f"--seconds must be positive, got {args.seconds}")
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    args.task_names = names
    return args


def main(argv=None):
    """Runs the check; returns the exit status (0 ok, 1 a task failed, 2 bad usage / no GPU)."""
    try:
        args = parse_args(argv)
        from deepbio.cli import quiet_tensorflow

        quiet_tensorflow()  # TensorFlow's C++ start-up log, unless TF_CPP_MIN_LOG_LEVEL is set
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if args.require_gpu and not gpus:
            raise UsageError("--require-gpu: TensorFlow sees no GPU (tf.config.list_physical_"
                             "devices('GPU') is empty; check the CUDA driver and "
                             "CUDA_VISIBLE_DEVICES)")
        mixed = bool(gpus) if args.mixed_precision is None else args.mixed_precision
        for name in args.task_names:  # refuse bad flag combinations before any training
            task_config(name, args.profile, mixed, args.jit_compile, args.deterministic,
                        args.batch_size, args.seed)
    except UsageError as error:
        print(f"gpu_check: error: {error}", file=sys.stderr)
        return 2
    results = []
    for name in args.task_names:
        if args.isolate and args.child_output is None:
            result = _isolated(name, args, mixed)
        else:
            result = check_task(name, args.profile, args.seconds, bool(gpus), mixed,
                                args.jit_compile, args.deterministic, args.batch_size, args.seed,
                                args.halve_on_oom)
        results.append(result)
        if args.child_output is None:
            print(_line(result), flush=True)
    if args.child_output is not None:
        _write_json(args.child_output, results)
        return 0
    info = machine()
    print()
    print(f"{info['cpu']}, {info['cores']} cores; GPUs: "
          f"{', '.join(g['device_name'] or g['name'] for g in info['gpus']) or 'none'}; "
          f"profile {args.profile}, {args.seconds:g} s per task, "
          f"{'mixed_float16' if mixed else 'float32'}")
    print(table(results, bool(gpus)))
    _write_json(args.output, {"machine": info, "commit": _commit(),
                              "command": " ".join([Path(sys.executable).name, *sys.argv]),
                              "profile": args.profile, "seconds": args.seconds,
                              "mixed_precision": mixed, "isolate": args.isolate,
                              "tasks": results})
    print(f"→ {args.output}")
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
