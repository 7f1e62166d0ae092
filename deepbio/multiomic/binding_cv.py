"""The cross-validation stages of ``deepbio run binding`` (ProNAB ΔG, after OmniBioTE).

`deepbio.multiomic.binding_task.run_pipeline` loads the complexes, sets the
arms (backbones to fine-tune) and the folds into a `BindingRun`; this module
runs the rest: `jaspar_setup` pairs the JASPAR consensus sites and their
mutants with the proteins of the run (`deepbio.multiomic.binding_specificity`),
`cross_validate` fits the k-mer ridge and the training-fold mean and
fine-tunes every arm on each fold's training side (each arm of each fold a
checkpointed unit: ``fold<k>_<arm>``), `summarize` adds the pooled and
fold-mean metrics to the report and `jaspar_report` the specificity test.
"""

import dataclasses
import time

import numpy as np
from tqdm.auto import tqdm

from deepbio.baselines import kmer_features, ridge_baseline
from deepbio.metrics import regression_metrics
from deepbio.multiomic.binding_specificity import (jaspar_queries, jaspar_sites, query_complexes,
                                                   summarize_jaspar)

SINGLE_OMIC = ("protein_only", "nucleic_acid_only")
"""The input-ablation arms of the paper protocol (the main arm on one part of the complex)."""


@dataclasses.dataclass
class BindingRun:
    """The state of one binding run, filled in stage by stage.

    Attributes:
        config: `deepbio.multiomic.binding_task.BindingConfig`.
        folder: `deepbio.core.run_folder.RunFolder`.
        data: `deepbio.multiomic.pronab.ProNABData` (all of ProNAB, before
            ``max_complexes``).
        tokenizer: the complexes' tokenizer (`MultiomicTokenizer`, or
            `OmniBioTEInputs` for a converted backbone).
        frame: pandas DataFrame, the complexes used, one row each (``dg`` in
            kcal/mol, ``group`` the protein's number).
        dg: float64 array (n,), the measured ΔG (kcal/mol) of ``frame``.
        encoded: `deepbio.multiomic.fine_tuning.EncodedComplexes` of ``frame``.
        report: dict, the report being built.
        seconds: dict, stage or arm → seconds (float).
        arms: dict, arm name → callable () → a fresh backbone to fine-tune.
        sources: dict, arm name → the `EncodedComplexes` it trains on.
        folds: list of ``(train, test)`` int row-index arrays.
        fold_of: int32 array (n,), each complex's test fold (1-based; 0:
            train-only).
        predictions: pandas DataFrame, every complex's out-of-fold ΔG per
            arm and baseline (kcal/mol; NaN where not tested), set by
            `cross_validate`.
    """

    config: object
    folder: object
    data: object
    tokenizer: object
    frame: object
    dg: np.ndarray
    encoded: object
    report: dict
    seconds: dict = dataclasses.field(default_factory=dict)
    arms: dict = dataclasses.field(default_factory=dict)
    sources: dict = dataclasses.field(default_factory=dict)
    folds: list = None
    fold_of: np.ndarray = None
    predictions: object = None


@dataclasses.dataclass
class JasparQueries:
    """The JASPAR specificity queries of a run (`jaspar_setup`).

    Attributes:
        sites: pandas DataFrame of `jaspar_sites` (one consensus site per
            matrix and accession).
        queries: pandas DataFrame of `jaspar_queries` (``site_index``,
            ``kind``: each consensus site, then its mutants).
        frame: pandas DataFrame of `query_complexes`, one complex per query.
        encoded: `EncodedComplexes` of ``frame``.
        fold: array (q,), the fold whose test side holds each query's
            protein (0: a train-only protein).
        predictions: dict, arm → float64 array (q,) of predicted ΔG
            (kcal/mol), NaN until a fold's model scores the query.
        features: the k-mer features of ``frame`` (set by `cross_validate`).
    """

    sites: object
    queries: object
    frame: object
    encoded: object
    fold: np.ndarray
    predictions: dict = dataclasses.field(default_factory=dict)
    features: object = None


def _pooled(frame, column):
    return regression_metrics(frame["dg"], frame[column])


def _fold_mean(fold_reports, arms):
    """Mean over folds of each arm's r, ρ and MAE (None where no fold has a value)."""
    result = {}
    for arm in arms:
        result[arm] = {}
        for metric in ("pearson_r", "spearman_rho", "mae"):
            values = [f[arm][metric] for f in fold_reports if f[arm][metric] is not None]
            result[arm][metric] = float(np.mean(values)) if values else None
    return result


def _scores_queries(arm):
    """Whether an arm scores the JASPAR queries (a constant predicts no ΔΔG; ablations are not tested)."""
    return arm != "training_mean" and arm not in SINGLE_OMIC


def jaspar_setup(run):
    """The JASPAR consensus sites of the run's proteins and their mutants, encoded and assigned to folds.

    Times itself as ``seconds["jaspar_setup"]``.

    Args:
        run: `BindingRun` with ``fold_of`` set.

    Returns:
        `JasparQueries` (no predictions yet).
    """
    from deepbio.multiomic.fine_tuning import encode_complexes  # deferred: imports Keras

    t = time.perf_counter()
    config, frame = run.config, run.frame
    proteins = set(frame["protein"])
    present = {a: p for a, p in run.data.accession_proteins.items() if p in proteins}
    sites = jaspar_sites(present)
    queries = jaspar_queries(sites, config.jaspar_replicates, config.jaspar_mutation_rate,
                             config.seed)
    group_of_protein = dict(zip(frame["protein"], frame["group"]))
    query_frame = query_complexes(sites, queries, group_of_protein)
    query_encoded = encode_complexes(query_frame, run.tokenizer, config.max_protein_length)
    fold_of_group = dict(zip(frame["group"], run.fold_of))
    query_fold = query_frame["group"].map(fold_of_group).to_numpy()
    run.seconds["jaspar_setup"] = round(time.perf_counter() - t, 1)
    return JasparQueries(sites, queries, query_frame, query_encoded, query_fold)


def cross_validate(run, jaspar=None):
    """Every fold: the k-mer ridge, the training-fold mean and each arm; writes ``predictions.csv``.

    Sets ``run.predictions`` (rewritten to ``predictions.csv`` after each
    fold) and adds each arm's and the ridge's seconds to ``run.seconds``.

    Args:
        run: `BindingRun` with ``folds``, ``fold_of``, ``arms`` and
            ``sources`` set.
        jaspar: optional `JasparQueries`; each fold's models then also score
            the queries of its held-out proteins (``jaspar.predictions``).

    Returns:
        list of one dict per fold: sizes, each arm's training history, each
        arm's and baseline's metrics on the fold's test side, seconds.
    """
    frame, arms = run.frame, run.arms
    predictions = frame[["accession", "protein_name", "nucleic_acid", "type", "complementary",
                         "dg", "n_entries"]].copy()
    predictions.insert(0, "fold", run.fold_of)
    run.predictions = predictions
    ridge_features = kmer_features(frame)
    if jaspar is not None:
        jaspar.features = kmer_features(jaspar.frame)
    for arm in ["ridge", "training_mean", *arms]:
        predictions[arm] = np.nan
        if jaspar is not None and _scores_queries(arm):
            jaspar.predictions[arm] = np.full(len(jaspar.frame), np.nan)
    run.seconds.update({arm: 0.0 for arm in ["ridge", *arms]})
    fold_reports = []
    for number, (train, test) in enumerate(tqdm(run.folds, desc="CV folds", unit="fold",
                                                disable=run.folder.verbose == 0), 1):
        fold_reports.append(_run_fold(run, jaspar, ridge_features, number, train, test))
        run.folder.write_csv(predictions, "predictions.csv")
    return fold_reports


def _run_fold(run, jaspar, ridge_features, number, train, test):
    """One fold (`cross_validate`): baselines, then each arm; returns the fold's report block."""
    fold_start = time.perf_counter()
    frame, dg, predictions = run.frame, run.dg, run.predictions
    block = {"fold": number, "n_train": int(len(train)), "n_test": int(len(test)),
             "test_proteins": int(frame["group"].iloc[test].nunique())}
    in_fold = np.flatnonzero(jaspar.fold == number) if jaspar is not None else np.zeros(0, int)
    t = time.perf_counter()
    ridge = ridge_baseline().fit(ridge_features[train], dg[train])
    predictions.loc[test, "ridge"] = ridge.predict(ridge_features[test])
    predictions.loc[test, "training_mean"] = dg[train].mean()
    if len(in_fold):
        jaspar.predictions["ridge"][in_fold] = ridge.predict(jaspar.features[in_fold])
    run.seconds["ridge"] += time.perf_counter() - t
    for arm in run.arms:
        t = time.perf_counter()
        block[f"{arm}_history"] = _fine_tune_arm(run, jaspar, arm, number, train, test, in_fold)
        run.seconds[arm] += time.perf_counter() - t
    subset = predictions.iloc[test]
    for arm in ["ridge", "training_mean", *run.arms]:
        block[arm] = regression_metrics(subset["dg"], subset[arm])
    block["seconds"] = round(time.perf_counter() - fold_start, 1)
    if run.folder.verbose:
        line = ", ".join(f"{arm} r={block[arm]['pearson_r'] or float('nan'):.3f} "
                         f"MAE={block[arm]['mae']:.3f}" for arm in [*run.arms, "ridge"])
        print(f"fold {number}: {line} ({block['seconds']:.0f} s)", flush=True)
    return block


def _fine_tune_arm(run, jaspar, arm, number, train, test, in_fold):
    """One arm of one fold, a checkpointed unit (``fold<k>_<arm>``).

    Fine-tunes the arm's backbone on ``train``, predicts ``test`` into
    ``run.predictions`` and the fold's JASPAR queries ``in_fold`` into
    ``jaspar.predictions``; saves fold 1's ``pretrained`` / ``scratch``
    models (``model_fold1.keras``, ``scratch_model_fold1.keras``).

    Returns:
        The arm's training history (dict).
    """
    from deepbio.multiomic.fine_tuning import fine_tune  # deferred: imports Keras

    make, keep = run.arms[arm], number == 1 and arm in ("pretrained", "scratch")

    def unit():
        model, predict_fn, history = fine_tune(make(), run.sources[arm], run.dg, train, run.config,
                                               run.tokenizer, run.folder.verbose,
                                               f"fold {number} {arm}")
        query = (predict_fn(in_fold, jaspar.encoded)
                 if len(in_fold) and _scores_queries(arm) else None)
        return {"test": predict_fn(test), "query": query, "history": history,
                "model": model if keep else None}

    done = run.folder.checkpointed(f"fold{number}_{arm}", unit)
    run.predictions.loc[test, arm] = done["test"]
    if done["query"] is not None:
        jaspar.predictions[arm][in_fold] = done["query"]
    if keep:
        name = "model_fold1.keras" if arm == "pretrained" else f"{arm}_model_fold1.keras"
        run.folder.save_model(done["model"], name)
    return done["history"]


def summarize(run, fold_reports):
    """Adds the arms, folds, pooled and fold-mean metrics and the baselines to ``run.report``.

    Args:
        run: `BindingRun` after `cross_validate`.
        fold_reports: its list of fold blocks.

    Returns:
        pandas DataFrame, the rows of ``run.predictions`` that were tested
        (fold > 0).
    """
    arms, report = run.arms, run.report
    tested = run.predictions[run.predictions["fold"] > 0]
    main_arm = "pretrained" if "pretrained" in arms else "scratch"
    report["arms"] = list(arms)
    report["folds"] = fold_reports
    report["overall"] = _pooled(tested, main_arm)
    report["overall"]["arm"] = main_arm
    report["fold_mean"] = _fold_mean(fold_reports, [*arms, "ridge", "training_mean"])
    if "scratch" in arms:
        report["without_pretraining"] = _pooled(tested, "scratch")
    for kind in SINGLE_OMIC:
        if kind in arms:
            report.setdefault("single_omic_controls", {"arm": main_arm, "note": (
                "input ablations of the main arm (the other part left out); upstream's controls "
                "pair two single-omic pre-trained encoders (evals/pronab-unimodal.py), not run "
                "here")})[kind] = _pooled(tested, kind)
    if "pretrained" in arms and "scratch" in arms:
        report["pretraining_effect"] = {
            "delta_pearson_r": report["overall"]["pearson_r"] - report["without_pretraining"]["pearson_r"],
            "delta_mae": report["overall"]["mae"] - report["without_pretraining"]["mae"]}
    report["baseline"] = {"kmer_ridge": _pooled(tested, "ridge"),
                          "training_mean": _pooled(tested, "training_mean")}
    return tested


def jaspar_report(run, jaspar):
    """Writes ``jaspar.csv`` (every query's ΔG per arm) and adds ``report["jaspar"]`` (ΔΔG summaries).

    Args:
        run: `BindingRun` after `cross_validate`.
        jaspar: its `JasparQueries`.
    """
    config, sites, queries = run.config, jaspar.sites, jaspar.queries
    rows = jaspar.frame[["accession", "nucleic_acid"]].rename(
        columns={"nucleic_acid": "site"}).assign(
        matrix_id=sites["matrix_id"].to_numpy()[queries["site_index"]],
        name=sites["name"].to_numpy()[queries["site_index"]],
        kind=queries["kind"].to_numpy(), fold=jaspar.fold)
    for arm, values in jaspar.predictions.items():
        rows[f"dg_{arm}"] = values
    run.folder.write_csv(rows, "jaspar.csv")
    block = {"release": "JASPAR2026", "collection": "CORE",
             "matrices": int(sites["matrix_id"].nunique()),
             "proteins": int(sites["protein"].nunique()),
             "mutants_per_site": config.jaspar_replicates,
             "mutation_rate": config.jaspar_mutation_rate}
    for arm, values in jaspar.predictions.items():  # train-only proteins are not tested
        done = np.isfinite(values)
        block[arm] = summarize_jaspar(queries[done], values[done])
    run.report["jaspar"] = block
