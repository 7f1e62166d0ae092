"""Making and rebuilding presets: pinned predictions, files with sha256, the card.

`make_preset` turns a finished run folder into a preset folder (the files the
task's ``predict`` needs, ``preset.json`` and ``CARD.md``); `rebuild` retrains
a preset with the command its card records and compares the predictions of
the rebuilt model with the pinned ones (``deepbio presets build NAME``).
"""

import contextlib
import io
import json
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from deepbio.presets import ROOT, sha256
from deepbio.core.loading import load_task_model

#: The pinned input of each task (a file beside ``preset.json``), read by `pinned_predictions`.
PINNED_INPUTS = {"ptm": "pinned.fasta", "rnamod": "pinned.fasta", "binding": "pinned.csv",
                 "motif": "pinned.csv"}


def _cli(args, main):
    """Runs ``deepbio ARGS`` in-process, quietly, through ``main`` (`deepbio.cli.main`).

    The command line is passed in by its caller (the presets sit below the
    command line: importing it here would close an import circle).

    Raises:
        ValueError: a non-zero exit status (with the command's error line).
    """
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    if status != 0:
        raise ValueError(f"deepbio {' '.join(map(str, args))} failed ({status}): "
                         f"{err.getvalue().strip()[-300:]}")


def pinned_predictions(task, model, input_path, main):
    """The numbers a model gives on a pinned input, as ``deepbio predict`` writes them.

    Args:
        task: str, ``ptm``, ``rnamod``, ``binding`` (through ``deepbio
            predict``) or ``motif`` (the CNN's outputs on the one-hot
            sequences of a CSV with a ``sequence`` column).
        model: str or path, a model or run folder of ``task``.
        input_path: str or path, the pinned input.

    Returns:
        float64 array (rows, numeric prediction columns).

    Raises:
        ValueError: the prediction failed.
    """
    import pandas as pd

    if task == "motif":
        import Feature_extraction_algorithms as fea

        frame = pd.read_csv(input_path)
        network = load_task_model(model, "motif")
        x = fea.one_hot(frame["sequence"].tolist(), alphabet="dna")
        return np.asarray(network.predict(x, verbose=0), np.float64).reshape(len(frame), -1)
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "pinned.csv"
        _cli(["predict", task, "--model", model, "--input", input_path, "--output", output,
              "--verbose", "0"], main)
        frame = pd.read_csv(output)
    columns = [c for c in frame.columns
               if c.startswith("p_") or c in ("predicted_dg",) or c.endswith("_probability")]
    if not columns:
        columns = [c for c in frame.columns if frame[c].dtype.kind == "f"]
    return frame[columns].to_numpy(np.float64)


def _versions():
    import importlib.metadata as metadata

    names = ("deepbio", "keras", "tensorflow", "numpy", "scikit-learn", "skops", "pandas")
    found = {}
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    found["python"] = platform.python_version()
    return found


def _commit():
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=ROOT, timeout=10)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def make_preset(spec, run_folder, pinned_input, main, destination=None):
    """Copies a run's model files into a preset folder and writes ``preset.json`` and ``CARD.md``.

    Args:
        spec: dict with ``name``, ``task``, ``version``, ``default`` (bool),
            ``default_modes`` (list), ``files`` (relative paths in the run
            folder), ``command`` (the deepbio argv that made the run, without
            ``--output``), ``seed``, ``headline``, ``keras_model`` (for Keras
            presets), and the card's sections (``question``, ``data``,
            ``figures``, ``intended_use``, ``limits``, Markdown).
        run_folder: path of the finished run.
        pinned_input: path of the pinned input, copied beside the model.
        destination: the preset folder (default ``deepbio/presets/<name>``).

    Returns:
        `pathlib.Path` of the preset folder.
    """
    run_folder = Path(run_folder)
    target = Path(destination or ROOT / spec["name"])
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    files = {}
    for name in spec["files"]:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_folder / name, target / name)
        files[name] = sha256(target / name)
    pinned_name = PINNED_INPUTS[spec["task"]]
    shutil.copyfile(pinned_input, target / pinned_name)
    values = pinned_predictions(spec["task"], target, target / pinned_name, main)
    meta = {key: spec[key] for key in ("name", "task", "version", "default", "default_modes",
                                       "command", "seed", "headline") if key in spec}
    meta.update(files=files, keras_model=spec.get("keras_model"),
                built={"commit": _commit(), "versions": _versions(), "machine": platform.machine()},
                pinned={"input": pinned_name, "sha256": sha256(target / pinned_name),
                        "predictions": np.round(values, 7).tolist()})
    (target / "preset.json").write_text(json.dumps(meta, indent=2) + "\n")
    (target / "CARD.md").write_text(card_text(meta, spec, target))
    return target


def card_text(meta, spec, folder):
    """The Markdown model card of a preset (see `make_preset`)."""
    size = sum((Path(folder) / n).stat().st_size for n in meta["files"])
    lines = [f"# {meta['name']} (v{meta['version']}): {spec['title']}", "",
             f"Task: `{meta['task']}`. {spec['question']}", "",
             f"**Headline:** {meta['headline']}.", "",
             "## Training data", "", spec["data"], "",
             "## How it was built", "",
             f"- command: `deepbio {' '.join(meta['command'])} --output DIR` (seed {meta['seed']}); "
             f"`deepbio presets build {meta['name']}` reruns it and compares the pinned predictions",
             f"- commit {meta['built']['commit']}, machine {meta['built']['machine']}",
             "- versions: " + ", ".join(f"{k} {v}" for k, v in meta["built"]["versions"].items()),
             f"- size: {size / 1e6:.2f} MB", "",
             "## Figures (beside the trivial baseline)", "", spec["figures"], "",
             "## Intended use", "", spec["intended_use"], "",
             "## Limits", "", spec["limits"], "",
             "## Files (sha256)", ""]
    lines += [f"- `{name}`: `{digest}`" for name, digest in meta["files"].items()]
    lines += [f"- `{meta['pinned']['input']}` (pinned input): `{meta['pinned']['sha256']}`", ""]
    return "\n".join(lines)


def rebuild(preset, output, main, data_dir=None, verbose=0):
    """Retrains ``preset`` with its recorded command into ``output`` and compares its predictions.

    Args:
        preset: a `deepbio.presets.Preset`.
        output: str, the run folder of the rebuild.
        data_dir: optional data mirror.
        verbose: int.

    Returns:
        dict: ``max_abs_difference`` (float, over the pinned predictions),
        ``identical`` (bool), ``rows`` (int) and ``output``.

    Raises:
        ValueError: the training failed.
    """
    args = [*preset.meta["command"], "--output", output, "--verbose", str(verbose)]
    if data_dir:
        args += ["--data-dir", data_dir]
    _cli(args, main)
    pinned = preset.path / preset.meta["pinned"]["input"]
    rebuilt = pinned_predictions(preset.task, output, pinned, main)
    shipped = np.asarray(preset.meta["pinned"]["predictions"], np.float64)
    difference = float(np.max(np.abs(rebuilt - shipped))) if shipped.size else 0.0
    return {"max_abs_difference": difference, "identical": difference <= 1e-6,
            "rows": int(len(shipped)), "output": str(output)}
