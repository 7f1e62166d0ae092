"""Hyper-parameter search over a task's config with keras-tuner: ``deepbio tune TASK``.

Each trial is one ``deepbio train TASK`` run (`run_task`, mode ``train``) of
the base config with the trial's values, in ``OUTPUT/trials/<trial id>/``;
its objective is the task's validation score (`Task.tuning_objective`: never
a held-out test split). The oracle's state lives in ``OUTPUT/tuner/``, so
rerunning the same command continues the search (finished trials are kept,
an interrupted one is run again). keras-tuner's chief/worker mode works as
documented by keras-tuner: set ``KERASTUNER_TUNER_ID`` (``chief``,
``tuner0``, ...), ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` for
each process and run the same command. The search writes
``best_params.json`` (accepted by ``deepbio run TASK --config``),
``trials.csv`` and ``trials.png``.
"""

import dataclasses
import os
import time
from pathlib import Path

from deepbio.core.task import get_task
from deepbio.core.run_folder import check_output_dir, run_task
from deepbio.core.io import save_figure, write_csv, write_json

TUNERS = ("bayesian", "hyperband", "random")


def _oracle(kind, objective, trials, max_epochs, seed, hyperparameters):
    import keras_tuner as kt

    common = {"objective": objective, "seed": seed, "hyperparameters": hyperparameters,
              "tune_new_entries": False}
    if kind == "bayesian":
        return kt.oracles.BayesianOptimizationOracle(max_trials=trials, **common)
    if kind == "random":
        return kt.oracles.RandomSearchOracle(max_trials=trials, **common)
    if kind == "hyperband":
        return kt.oracles.HyperbandOracle(max_epochs=max(max_epochs, 2), factor=3, **common)
    raise ValueError(f"unknown tuner {kind!r}; choose one of {', '.join(TUNERS)}")


def tune(task_name, output_dir, base_config, tuner="bayesian", trials=10, max_minutes=None,
         data_dir=None, verbose=0):
    """Searches a task's hyper-parameters; returns the summary (also ``tuning.json``).

    Args:
        task_name: str, a registered task with a search space.
        output_dir: str or path-like, the search folder.
        base_config: the task's config; each trial changes the searched
            fields (and ``epochs`` under Hyperband).
        tuner: ``bayesian``, ``hyperband`` or ``random``.
        trials: int ≥ 1, the most trials (Bayesian / random).
        max_minutes: optional float; no new trial starts after this long.
        data_dir: optional data mirror.
        verbose: Keras verbosity of the trials.

    Returns:
        dict with ``best`` (trial id, objective, values), ``trials`` (one
        row each) and the files written.

    Raises:
        ValueError: a task without a search space, bad arguments.
    """
    import keras_tuner as kt

    task = get_task(task_name)
    if not task.tunable:
        raise ValueError(f"task {task_name} has no search space yet")
    if trials < 1:
        raise ValueError(f"--trials must be at least 1, got {trials}")
    out = Path(output_dir)
    check_output_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    space = kt.HyperParameters()
    task.search_space(space, base_config)
    objective = kt.Objective("objective", direction="max")
    oracle = _oracle(tuner, objective, trials, base_config.epochs, base_config.seed, space)
    started = time.monotonic()

    class TaskTuner(kt.Tuner):
        def pre_create_trial(self):
            self.oracle.max_trials = trials if tuner != "hyperband" else self.oracle.max_trials
            if max_minutes is not None and time.monotonic() - started > 60 * max_minutes:
                self.oracle.max_trials = len(self.oracle.trials)  # no new trial: time is up

        def run_trial(self, trial, *args, **kwargs):
            values = dict(trial.hyperparameters.values)
            changes = {k: v for k, v in values.items() if not k.startswith("tuner/")}
            if "tuner/epochs" in values:
                changes["epochs"] = int(values["tuner/epochs"])
            config = dataclasses.replace(base_config, **task.search_changes(changes, base_config))
            report = run_task(task_name, out / "trials" / trial.trial_id, config, mode="train",
                              data_dir=data_dir, verbose=verbose)
            return {"objective": float(task.tuning_objective(report))}

    search = TaskTuner(oracle=oracle, directory=str(out), project_name="tuner", overwrite=False)
    search.search(verbose=bool(verbose))
    role = os.environ.get("KERASTUNER_TUNER_ID")
    if role and role != "chief":  # a worker: the chief reports
        return {"task": task_name, "tuner": tuner, "worker": role, "best": None, "trials": []}
    rows, best, best_values = _best_trial(search.oracle, out)
    best_config = dataclasses.replace(base_config, **task.search_changes(best_values, base_config))
    write_json({"task": task_name, **dataclasses.asdict(best_config)}, out / "best_params.json")
    import pandas as pd

    write_csv(pd.DataFrame(rows), out / "trials.csv")
    _plot_trials(rows, out / "trials", task_name)
    summary = {"task": task_name, "tuner": tuner, "objective": task.tuning_objective.__doc__.strip(),
               "best": {"trial": best["trial"], "objective": best["objective"], "values": best_values},
               "trials": rows, "seconds": round(time.monotonic() - started, 1)}
    write_json(summary, out / "tuning.json")
    return summary


def _best_trial(oracle, out):
    """The trials of a finished search and the best one.

    Args:
        oracle: the search's keras-tuner oracle.
        out: the search folder (for the message).

    Returns:
        ``(rows, best, best_values)``: one dict per trial (``trial``,
        ``status``, ``objective`` (None unless completed) and its values),
        sorted by trial id; the best completed row (the earliest on a tie);
        its searched values, with ``epochs`` from Hyperband's ``tuner/epochs``.

    Raises:
        ValueError: no trial completed.
    """
    rows = []
    for trial in oracle.trials.values():
        score = trial.score if trial.status == "COMPLETED" else None
        rows.append({"trial": trial.trial_id, "status": trial.status, "objective": score,
                     **{k: v for k, v in trial.hyperparameters.values.items()}})
    rows.sort(key=lambda r: r["trial"])
    done = [r for r in rows if r["objective"] is not None]
    if not done:
        raise ValueError(f"no trial of the search in {out} completed")
    best = max(done, key=lambda r: (r["objective"], -int(r["trial"])))
    best_trial = oracle.trials[best["trial"]]
    best_values = {k: v for k, v in best_trial.hyperparameters.values.items()
                   if not k.startswith("tuner/")}
    if "tuner/epochs" in best_trial.hyperparameters.values:
        best_values["epochs"] = int(best_trial.hyperparameters.values["tuner/epochs"])
    return rows, best, best_values


def _plot_trials(rows, stem, task_name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["objective"] is not None]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(done) + 1), [r["objective"] for r in done], "o", label="trial")
    best = [max(r["objective"] for r in done[:i + 1]) for i in range(len(done))]
    ax.plot(range(1, len(done) + 1), best, "-", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation objective")
    ax.set_title(f"deepbio tune {task_name}")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, stem, formats=("png",))
