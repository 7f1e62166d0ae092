"""Result tables: each headline figure as mean ± sd over seeds, with its command, commit and machine.

The tables live on the docs page ``docs/results.md`` ("Results over seeds"),
each task's between its two markers::

    <!-- readme_tables:begin TASK -->
    ...
    <!-- readme_tables:end TASK -->

``--docs`` replaces what lies between them with the new section (text outside
the markers, such as a note above a table, is kept); the README quotes the
headline figures and links to that page.

For every requested task and seed the script runs

    python main.py --task TASK --seed S --output RUNS/TASK/seedS --verbose 0 [flags]

as a subprocess (``--tiny``: the tiny flags of ``tests/core/test_reproducible.py``,
then ``--extra TASK='flags'``), one after the other. A run whose
``report.json`` exists is not run again, so an interrupted script resumes (and
``main.py`` itself resumes an interrupted run from its checkpoints); a run
made with other flags is refused. Beside each run folder, ``seedS.json``
records its exact command, the commit (``git rev-parse HEAD``, and whether
tracked files had uncommitted changes), the machine and its seconds.

It then reads every ``report.json`` and prints one Markdown table per task:
metric | mean ± sd | the value of each seed, where sd is the sample standard
deviation (n - 1) over the seeds, under the command, the commit(s) and the
machine (CPU model and cores from ``/proc/cpuinfo``, GPUs from ``nvidia-smi
-L``). The same Markdown goes to ``--markdown``, and with ``--docs`` into the
docs page. Published figures need at least three seeds (the default
``0,1,2``); fewer are marked as such. A task with a failed run is not written
into the docs page (its old table stays).

Metrics per task (from ``report.json``):

* ptm: cross-validated per-label AUROC (a, c, m, s) and their mean, mean MCC,
  Absolute-True, the accession-grouped CV's mean AUROC, the always-"a"
  answer's Absolute-True, and the mean AUROC of every other model type of
  the run's ``models`` table;
* motif: held-out AUROC and AUPRC of the CNN, its best validation AUROC, the
  constant score's AUROC;
* rnamod: mean valid AUROC and MCC of the per-modification models, of the
  multi-task model and of the k-mer baseline, and each modification's valid
  AUROC;
* pretrain: held-out masked-token accuracy and perplexity beside the
  token-frequency baseline;
* binding: ΔG Pearson r and MAE pooled over the folds and averaged per
  fold, with and without pre-training, beside the k-mer ridge and the
  training-mean baselines.

Example:

    DEEPBIO_DATA=../shared/data python benchmarks/readme_tables.py --tasks ptm,motif,rnamod,binding \\
        --seeds 0,1,2 --runs runs/readme --markdown runs/readme/tables.md --docs
    python benchmarks/readme_tables.py --tasks rnamod --extra rnamod='--profile gpu --mixed-precision'
    python benchmarks/readme_tables.py --tiny --tasks motif --seeds 0,1 --runs /tmp/t   # smoke run

Exit status: 0 tables written, 1 a run failed (its last output lines are
printed; the other runs and tables still are), 2 bad usage (including a docs
page without a task's markers).
"""

import argparse
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASKS = ("ptm", "motif", "rnamod", "binding", "pretrain")
DOCS_PAGE = ROOT / "docs" / "results.md"
PTM_LABELS = ("a", "c", "m", "s")

sys.path.insert(0, str(ROOT / "tests"))
from tiny_flags import TINY  # noqa: E402 (the tiny runs the tests use)


class UsageError(Exception):
    """Bad flags or a stale run folder: one line on stderr, exit status 2."""


# ---------------------------------------------------------------------------------------------
# Metrics read from report.json
# ---------------------------------------------------------------------------------------------
def _get(report, path):
    """``report["a"]["b"]...`` for ``path = "a.b..."``; None where a key is missing or null."""
    value = report
    for key in path.split("."):
        if not isinstance(value, dict) or value.get(key) is None:
            return None
        value = value[key]
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def ptm_metrics(report):
    """Cross-validated figures of the run's model (``--model-type``) and the always-"a" answer."""
    model = (report.get("params") or {}).get("model_type", "model")
    out = {}
    for label in PTM_LABELS:
        out[f"{model}: CV AUROC {label}"] = _get(report, f"cv.per_label.{label}.auroc")
    out[f"{model}: CV mean AUROC"] = _mean(_get(report, f"cv.per_label.{l}.auroc")
                                           for l in PTM_LABELS)
    out[f"{model}: CV mean MCC"] = _mean(_get(report, f"cv.per_label.{l}.mcc") for l in PTM_LABELS)
    out[f"{model}: CV Absolute-True"] = _get(report, "cv.absolute_true")
    out[f"{model}: accession-grouped CV mean AUROC"] = _mean(
        _get(report, f"grouped_cv.per_label.{l}.auroc") for l in PTM_LABELS)
    out['always "a" (baseline): CV Absolute-True'] = _get(report, "baseline_cv.absolute_true")
    for other in sorted(report.get("models") or {}):
        if other != model:
            out[f"{other}: CV mean AUROC"] = _get(report, f"models.{other}.stratified.mean_auroc")
            out[f"{other}: CV mean MCC"] = _get(report, f"models.{other}.stratified.mean_mcc")
    return out


def motif_metrics(report):
    """The CNN's held-out and validation scores and the constant score's AUROC."""
    return {"CNN held-out AUROC": _get(report, "heldout.auroc"),
            "CNN held-out AUPRC": _get(report, "heldout.auprc"),
            "CNN best validation AUROC": _get(report, "model.best_val_auroc"),
            "constant score (baseline): held-out AUROC": _get(report, "heldout_baseline.auroc")}


def rnamod_metrics(report):
    """Mean valid AUROC / MCC of each model kind and the k-mer baseline; per-modification AUROC."""
    out = {}
    for kind, key in (("one model per modification", "valid"), ("multi-task", "multitask_valid"),
                      ("k-mer + logistic regression (baseline)", "baseline_kmer_valid")):
        out[f"{kind}: mean valid AUROC"] = _get(report, f"mean.{key}.auroc")
        out[f"{kind}: mean valid MCC"] = _get(report, f"mean.{key}.mcc")
    out["one model per modification: mean test AUROC"] = _get(report, "mean.test.auroc")
    for name in report.get("per_modification") or {}:
        out[f"{name}: valid AUROC, own model"] = _get(report, f"per_modification.{name}.valid.auroc")
        out[f"{name}: valid AUROC, multi-task"] = _get(
            report, f"per_modification.{name}.multitask.valid.auroc")
    return out


def pretrain_metrics(report):
    """Held-out masked-token accuracy and perplexity beside the token-frequency baseline."""
    return {"held-out masked-token accuracy": _get(report, "heldout.masked_accuracy"),
            "held-out perplexity": _get(report, "heldout.perplexity"),
            "token frequencies (baseline): masked-token accuracy":
                _get(report, "unigram_baseline.masked_accuracy"),
            "token frequencies (baseline): perplexity": _get(report, "unigram_baseline.perplexity")}


def binding_metrics(report):
    """ΔG Pearson r and MAE (kcal/mol), pooled and per-fold means, beside the baselines."""
    arm = (report.get("overall") or {}).get("arm", "pretrained")
    out = {}
    for what, short in (("pearson_r", "Pearson r"), ("mae", "MAE")):
        out[f"{arm} backbone: {short}, pooled over folds"] = _get(report, f"overall.{what}")
        out[f"{arm} backbone: {short}, mean of folds"] = _get(report, f"fold_mean.{arm}.{what}")
        out[f"no pre-training: {short}, pooled over folds"] = _get(report,
                                                                  f"without_pretraining.{what}")
        out[f"no pre-training: {short}, mean of folds"] = _get(report, f"fold_mean.scratch.{what}")
        out[f"k-mer ridge (baseline): {short}, pooled over folds"] = _get(
            report, f"baseline.kmer_ridge.{what}")
        out[f"k-mer ridge (baseline): {short}, mean of folds"] = _get(report,
                                                                      f"fold_mean.ridge.{what}")
    out["training-fold mean (baseline): MAE, pooled over folds"] = _get(
        report, "baseline.training_mean.mae")
    out["pre-training: held-out masked-token accuracy"] = _get(
        report, "pretraining.heldout.masked_accuracy")
    return out


METRICS = {"ptm": ptm_metrics, "motif": motif_metrics, "rnamod": rnamod_metrics,
           "pretrain": pretrain_metrics, "binding": binding_metrics}


def summarize(values):
    """``(mean, sample sd)`` of the non-missing ``values`` (sd None for fewer than two)."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    if not present:
        return None, None
    return statistics.fmean(present), (statistics.stdev(present) if len(present) > 1 else None)


# ---------------------------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------------------------
def commit():
    """``{"commit": HEAD, "dirty": [tracked files with uncommitted changes]}`` of the checkout."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout

    try:
        head = git("rev-parse", "HEAD").strip()
        dirty = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no")
                 .splitlines() if line.strip()]
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": []}
    return {"commit": head, "dirty": dirty}


def machine():
    """CPU model and core count (``/proc/cpuinfo``), and the GPUs ``nvidia-smi -L`` lists."""
    cpu, cores = platform.processor() or "unknown CPU", os.cpu_count()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        names = [l.split(":", 1)[1].strip() for l in lines if l.startswith("model name")]
        cpu = names[0] if names else cpu
        cores = sum(l.startswith("processor") for l in lines) or cores
    except OSError:
        pass
    gpus = []
    if shutil.which("nvidia-smi"):
        try:
            gpus = [l.strip() for l in subprocess.run(["nvidia-smi", "-L"], capture_output=True,
                                                      text=True, timeout=30).stdout.splitlines()
                    if l.strip()]
        except (OSError, subprocess.SubprocessError):
            pass
    return {"cpu": cpu, "cores": cores, "gpus": gpus}


def describe_machine(info):
    text = f"{info['cpu']}, {info['cores']} cores"
    return text + (f"; {', '.join(info['gpus'])}" if info.get("gpus") else "; no GPU")


# ---------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------
def run_command(task, seed, output, flags):
    """The argv after ``python``: ``main.py --task TASK --seed S --output OUT --verbose 0 FLAGS``."""
    return ["main.py", "--task", task, "--seed", str(seed), "--output", str(output),
            "--verbose", "0", *flags]


def display_command(argv):
    """``python main.py ...`` with the output folder relative to the repository when inside it."""
    shown = []
    for item in argv:
        path = Path(item)
        if path.is_absolute() and path.is_relative_to(ROOT):
            item = str(path.relative_to(ROOT))
        shown.append(item)
    return "python " + shlex.join(shown)


def ensure_run(task, seed, runs, flags, log=print):
    """Runs ``main.py`` for (``task``, ``seed``) unless its ``report.json`` exists.

    Args:
        task: str.
        seed: int.
        runs: Path, the folder of all runs (``runs/TASK/seedS``).
        flags: list of str, the task flags.
        log: callable for progress lines.

    Returns:
        dict: the provenance record (``seedS.json``): ``argv``, ``command``,
        ``commit``, ``dirty``, ``machine``, ``seconds``, ``returncode``.

    Raises:
        UsageError: the folder holds a run made with other flags.
    """
    output = runs / task / f"seed{seed}"
    record_path = runs / task / f"seed{seed}.json"
    argv = run_command(task, seed, output, flags)
    record = json.loads(record_path.read_text()) if record_path.is_file() else None
    if record is not None and record.get("argv") != argv:
        raise UsageError(f"{output} was run as `{record.get('command')}`, not with these flags; "
                         f"delete it or choose another --runs")
    if (output / "report.json").is_file():
        if record is None:
            record = {"argv": argv, "command": display_command(argv), "commit": None,
                      "dirty": [], "machine": None, "seconds": None, "returncode": 0,
                      "note": "report.json found without a record of its command"}
        return record
    command = display_command(argv)
    log(f"[{task} seed {seed}] {command}")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True)
    record = {"argv": argv, "command": command, **commit(), "machine": machine(),
              "seconds": round(time.perf_counter() - start, 1), "returncode": result.returncode,
              "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        record["error"] = "\n".join(tail)
        log(f"[{task} seed {seed}] failed (exit {result.returncode}):\n  " + "\n  ".join(tail))
        return record
    record_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = record_path.with_name(f".{record_path.name}.tmp")
    temporary.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(temporary, record_path)
    log(f"[{task} seed {seed}] done in {record['seconds']:.0f} s")
    return record


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
def _fmt(value, digits=4):
    return "—" if value is None else f"{value:.{digits}f}"


def task_table(task, seeds, reports, records, digits=4):
    """The Markdown section of one task.

    Args:
        task: str.
        seeds: list of int.
        reports: list of dicts (``report.json``) or None (failed run), one per seed.
        records: list of provenance dicts (`ensure_run`), one per seed.
        digits: decimals shown.

    Returns:
        str: a heading, the command, commit and machine lines, and the table.
    """
    ok = [(s, r) for s, r in zip(seeds, reports) if r is not None]
    per_seed = {s: METRICS[task](r) for s, r in ok}
    names = list(dict.fromkeys(name for values in per_seed.values() for name in values))
    lines = [f"### {task}", ""]
    template = records[0]["command"].replace(f"--seed {seeds[0]}", "--seed S").replace(
        f"seed{seeds[0]}", "seedS") if records else ""
    lines.append(f"Command, for S in {', '.join(map(str, seeds))}: `{template}`  ")
    commits = {}
    for seed, record in zip(seeds, records):
        key = record.get("commit") or "unknown"
        if record.get("dirty"):
            key += f" + uncommitted changes to {len(record['dirty'])} tracked file(s)"
        commits.setdefault(key, []).append(seed)
    if len(commits) == 1:
        lines.append(f"Commit: {next(iter(commits))}  ")
    else:
        lines.append("Commits: " + "; ".join(f"{c} (seeds {', '.join(map(str, s))})"
                                             for c, s in commits.items()) + "  ")
    machines = {describe_machine(r["machine"]) for r in records if r.get("machine")}
    lines.append(f"Machine: {'; '.join(sorted(machines)) or 'not recorded'}  ")
    seconds = [r["seconds"] for r in records if r.get("seconds") is not None]
    if seconds:
        lines.append(f"Wall seconds per run: {', '.join(f'{s:.0f}' for s in seconds)}  ")
    note = f"Mean ± sample standard deviation over {len(ok)} seed(s)"
    if len(ok) < 3:
        note += " (fewer than 3: not for the docs)"
    failed = [s for s, r in zip(seeds, reports) if r is None]
    if failed:
        note += f"; run(s) of seed {', '.join(map(str, failed))} failed"
    lines += [note + ".", ""]
    lines.append("| metric | mean ± sd | " + " | ".join(f"seed {s}" for s, _ in ok) + " |")
    lines.append("|---|---|" + "---|" * len(ok))
    for name in names:
        values = [per_seed[s].get(name) for s, _ in ok]
        if all(v is None for v in values):
            continue
        mean, sd = summarize(values)
        cell = _fmt(mean, digits) + (f" ± {_fmt(sd, digits)}" if sd is not None else "")
        lines.append(f"| {name} | {cell} | " + " | ".join(_fmt(v, digits) for v in values) + " |")
    return "\n".join(lines)


def markers(task):
    """The two lines between which ``task``'s section stands on the docs page."""
    return f"<!-- readme_tables:begin {task} -->", f"<!-- readme_tables:end {task} -->"


def replace_sections(text, sections, where="the docs page"):
    """``text`` with each task's section put between its markers.

    Args:
        text: str, the page.
        sections: dict, task → its Markdown section (`task_table`).
        where: str, the page's name for error messages.

    Returns:
        str: the page, unchanged outside the markers.

    Raises:
        UsageError: a task's markers are missing, repeated or out of order.
    """
    for task, section in sections.items():
        begin, end = markers(task)
        if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
            raise UsageError(f"{where} needs the lines {begin!r} and {end!r}, once each and in "
                             f"that order, around the {task} table")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{section.strip()}\n{end}{tail}"
    return text


def write_docs(path, sections):
    """Writes ``sections`` (task → Markdown) between their markers in the page ``path``, atomically.

    Raises:
        UsageError: the page is missing or lacks a task's markers.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--docs: {path} is not a file")
    text = replace_sections(path.read_text(encoding="utf-8"), sections, where=str(path))
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _parse_seeds(text):
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--seeds takes comma-separated integers, got {text!r}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds takes distinct integers ≥ 0, got {text!r}")
    return seeds


def parse_args(argv=None):
    """The flags (``task_names``, ``seed_list``, ``flags``: task → list of run flags).

    Raises:
        UsageError: unknown tasks, bad seeds or a malformed ``--extra``.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="ptm,motif,rnamod,binding",
                        help=f"comma-separated tasks, of {','.join(TASKS)} "
                             f"(default ptm,motif,rnamod,binding)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--runs", default="runs/readme",
                        help="folder of the runs, RUNS/TASK/seedS (default runs/readme)")
    parser.add_argument("--extra", action="append", default=[], metavar="TASK='FLAGS'",
                        help="flags added to TASK's runs, e.g. --extra rnamod='--profile gpu' "
                             "(repeatable)")
    parser.add_argument("--tiny", action="store_true",
                        help="tiny runs (tests/core/test_reproducible.py's flags), for smoke tests")
    parser.add_argument("--markdown", default=None, metavar="FILE",
                        help="also write the Markdown here")
    parser.add_argument("--docs", nargs="?", const=str(DOCS_PAGE), default=None, metavar="PAGE",
                        help="also write each task's section between its markers in PAGE "
                             "(default docs/results.md); tasks with a failed run are left as "
                             "they are")
    parser.add_argument("--digits", type=int, default=4, help="decimals shown (default 4)")
    parser.add_argument("--no-run", action="store_true",
                        help="only tabulate the reports already in --runs")
    args = parser.parse_args(argv)
    args.task_names = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in args.task_names if t not in TASKS]
    if unknown or not args.task_names:
        raise UsageError(f"--tasks: unknown task(s) {unknown or args.tasks!r}; choose from "
                         f"{','.join(TASKS)}")
    args.seed_list = _parse_seeds(args.seeds)
    args.flags = {t: list(TINY[t]) if args.tiny else [] for t in args.task_names}
    for item in args.extra:
        task, sep, flags = item.partition("=")
        if not sep or task.strip() not in TASKS:
            raise UsageError(f"--extra takes TASK='FLAGS' with TASK one of {','.join(TASKS)}, "
                             f"got {item!r}")
        if task.strip() in args.flags:
            args.flags[task.strip()] += shlex.split(flags)
    return args


def main(argv=None):
    """Runs what is missing, prints and writes the tables; returns the exit status."""
    try:
        args = parse_args(argv)
        runs = Path(args.runs).resolve()
        if args.docs:  # check the page's markers before hours of runs
            page = Path(args.docs)
            if not page.is_file():
                raise UsageError(f"--docs: {page} is not a file")
            replace_sections(page.read_text(encoding="utf-8"), dict.fromkeys(args.task_names, ""),
                             where=str(page))
        sections, complete, failed = [], {}, False
        for task in args.task_names:
            reports, records = [], []
            for seed in args.seed_list:
                if args.no_run:
                    path = runs / task / f"seed{seed}.json"
                    record = json.loads(path.read_text()) if path.is_file() else {
                        "command": display_command(run_command(
                            task, seed, runs / task / f"seed{seed}", args.flags[task])),
                        "note": "no record"}
                else:
                    record = ensure_run(task, seed, runs, args.flags[task],
                                        log=lambda line: print(line, file=sys.stderr, flush=True))
                report_path = runs / task / f"seed{seed}" / "report.json"
                report = json.loads(report_path.read_text()) if report_path.is_file() else None
                failed |= report is None
                reports.append(report)
                records.append(record)
            sections.append(task_table(task, args.seed_list, reports, records, args.digits))
            if all(report is not None for report in reports):
                complete[task] = sections[-1]
        if args.docs and complete:
            write_docs(args.docs, complete)
    except UsageError as error:
        print(f"readme_tables: error: {error}", file=sys.stderr)
        return 2
    text = "\n\n".join(sections) + "\n"
    print(text, end="")
    if args.markdown:
        path = Path(args.markdown)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text)
        os.replace(temporary, path)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
