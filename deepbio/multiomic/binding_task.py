"""``--task binding``: ProNAB ΔG of protein / nucleic-acid complexes, after OmniBioTE (arXiv:2408.16245).

ProNAB ΔG regression under protein-grouped k-fold cross-validation, with and
without a pre-trained multi-omic backbone (pre-trained in the run by
`deepbio.multiomic.pretrain_task` unless one is given), beside a k-mer composition +
ridge baseline fitted on the same training folds (`deepbio.baselines`), and
OmniBioTE's JASPAR specificity test on each fold's held-out proteins
(`deepbio.multiomic.binding_specificity`).

Per-protein work is shared: in the CPU profile the backbone isolates the
protein segment (its tokens attend only to the protein), so a protein's
keys and values at every layer are computed once per batch for all of its
nucleic-acid partners (`MultiomicBackbone.encode_shared_prefix`, exact), and
batches are packed protein by protein (`deepbio.multiomic.fine_tuning`). The
``gpu`` profile (``paper_profile``) keeps OmniBioTE's full attention and
trains on plain padded batches.

This module also holds the command line of ``--task pretrain`` and
``--task binding`` (``add_arguments``, ``cli_main``).
"""

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from deepbio.multiomic.binding_cv import (SINGLE_OMIC, BindingRun, cross_validate, jaspar_report,
                                          jaspar_setup, summarize)
from deepbio.multiomic.finetune_task import backbone_tokenizer
from deepbio.multiomic.pronab import (load_pronab, load_pronab_measurements, protein_grouped_folds,
                                      subset_complexes)
from deepbio.metrics import regression_metrics
from deepbio.core.task import CrossValidationConfig, PredictConfig, Task, TrainingConfig, option
from deepbio.multiomic.pretrain_task import (BackboneConfig, PretrainConfig, paper_pretraining,
                                             pretrain)
from deepbio.multiomic.binding_predict import predict_pairs
from deepbio.core.io import write_csv
from deepbio.multiomic.pronab import blosum62_similarity, paper_folds
from deepbio.core.predict_stream import shard_label

TARGET = {"pearson_r": 0.41, "mae": 1.56,
          "source": "OmniBioTE-XL (2.3 B parameters, 250 B pre-training tokens), protein-grouped "
                    "10-fold CV on ProNAB (arXiv:2408.16245)"}


@dataclasses.dataclass
class BindingConfig(CrossValidationConfig, BackboneConfig, TrainingConfig):
    """ProNAB ΔG cross-validation parameters (saved to ``params.json``); see `option` help texts.

    The backbone fields (`BackboneConfig`) size the runs without a
    pre-trained backbone (a pre-trained one brings its own; the in-run
    pre-training uses ``pretraining``'s). Fine-tuning follows a fixed
    schedule (as OmniBioTE): ``epochs`` epochs of AdamW, ``learning_rate``
    peak for the transformer blocks. ``protocol`` chooses the data and folds
    (`run_pipeline`); ``similarity_threshold`` and ``single_omic_controls``
    apply to the ``paper`` protocol only.
    """

    epochs: int = 6
    folds: int = 10
    backbone: str = option(None, "a pre-trained backbone.keras to fine-tune (default: pre-train "
                                 "one in the run)", metavar="BACKBONE.keras")
    max_protein_length: int = option(512, "residues kept per protein (the first ones)", minimum=8)
    embedding_learning_rate: float = option(None, "learning rate of the embeddings (default "
                                                  "--learning-rate; OmniBioTE 1e-3)", minimum=1e-12)
    head_learning_rate: float = option(None, "learning rate of the ΔG head (default "
                                             "--learning-rate; OmniBioTE 1e-2)", minimum=1e-12)
    weight_decay: float = option(0.01, "AdamW weight decay", minimum=0)
    warmup_fraction: float = option(0.05, "fraction of the steps of linear warm-up", minimum=0,
                                    maximum=1)
    pretrain: bool = option(True, "pre-train a backbone in the run when --backbone is not given")
    scratch_comparison: bool = option(True, "also fine-tune a randomly initialised backbone on "
                                            "the same folds")
    jaspar: bool = option(True, "JASPAR specificity test (ΔΔG of consensus sites and mutants)")
    jaspar_replicates: int = option(8, "mutants per JASPAR consensus site", minimum=1)
    jaspar_mutation_rate: float = option(0.05, "per-base substitution probability of the mutants",
                                         minimum=0.001, maximum=1)
    max_complexes: int = option(None, "use whole proteins until this many complexes (quick runs)",
                                minimum=10)
    protocol: str = option("merged", "ProNAB protocol: 'merged' (repeated measurements of a complex "
                                     "merged, grouped k-fold) or 'paper' (OmniBioTE's: one ΔG per "
                                     "measurement, proteins dealt to folds in turn, proteins with "
                                     "a BLOSUM62 score above --similarity-threshold to another "
                                     "kept in every training side)", choices=("merged", "paper"))
    similarity_threshold: float = option(1.5, "paper protocol: BLOSUM62 global-alignment score per "
                                              "residue of the longer protein above which a protein "
                                              "is train-only (OmniBioTE 1.5; identical ≈ 5.2)",
                                         minimum=0)
    single_omic_controls: bool = option(True, "paper protocol: also fine-tune on the protein alone "
                                              "and on the nucleic acid alone (input ablations)")
    pretrain_epochs: int = option(None, "epochs of the in-run pre-training; none: its own 8", minimum=1)
    pretrain_crop_length: int = option(None, "pre-training crop, content tokens; none: its own 128",
                                       minimum=1, flag="crop-length")
    pretrain_max_per_source: int = option(None, "pre-training sequences per source, 0 = all; "
                                                "none: its own 6000", minimum=0, flag="max-per-source")
    full_attention: bool = option(False, "same as --no-isolate-protein")
    pretraining: PretrainConfig = option(default_factory=PretrainConfig, cli=False,
                                         help="the in-run pre-training")


def paper_profile():
    """OmniBioTE's sizes and schedule, for a GPU (documented; not run on CPU).

    XL backbone (24 × 3072, μP attention scale), full attention, proteins up
    to 1000 residues; fine-tuning 32 epochs, 256 complexes per step, AdamW
    1e-4 (embeddings 1e-3, head 1e-2) with 5 % warm-up (``evals/pronab.py``).
    OmniBioTE pre-trained on ~250 B tokens (GenBank + UniRef100, 1024-token
    context, dropout 0.05, μP base lr 0.01); the ``pretraining`` here keeps
    that lr / dropout / context and is meant to be run far longer than the
    local corpus allows (``--pretrain-epochs``).
    """
    return BindingConfig(
        preset="xl", isolate_protein=False, max_protein_length=1000, epochs=32, batch_size=256,
        learning_rate=1e-4, embedding_learning_rate=1e-3, head_learning_rate=1e-2,
        weight_decay=0.01, warmup_fraction=0.05, dropout=0.0,
        pretraining=paper_pretraining())


PROFILES = {"cpu": BindingConfig, "gpu": paper_profile}


# ---------------------------------------------------------------------------------------------
# The binding pipeline
# ---------------------------------------------------------------------------------------------
PAPER_COUNTS = {"proteins_after_filter": 850, "complexes_after_filter": 15994, "cv_proteins": 752,
                "cv_interactions": 12282,
                "source": "arXiv:2408.16245 (ProNAB release used by the authors)"}
SIMILARITY_DEFINITION = ("Needleman–Wunsch global alignment under BLOSUM62, gap open −10, extend "
                         "−0.5, end gaps charged (Biopython PairwiseAligner), score divided by "
                         "the longer protein's length; identical proteins score their mean "
                         "BLOSUM62 diagonal (≈ 5.2)")


def _ablated(encoded, kind, tokenizer):
    """A copy of `EncodedComplexes` with the protein (``nucleic_acid_only``) or the nucleic acid left out."""
    from deepbio.multiomic.fine_tuning import EncodedComplexes  # deferred: imports Keras/TensorFlow

    if kind == "protein_only":
        return EncodedComplexes(encoded.protein, [[free[0]] for free in encoded.free],
                                encoded.groups)
    empty = tokenizer.empty_protein() if hasattr(tokenizer, "empty_protein") else [
        tokenizer.tag_ids["protein"], tokenizer.eos_id]
    return EncodedComplexes({g: list(empty) for g in encoded.protein}, encoded.free, encoded.groups)


def _paper_folds(config, frame, verbose):
    """Similarity, train-only proteins and folds of the paper protocol, with their counts."""
    proteins = frame.groupby("group", sort=True)["protein"].first()
    if verbose:
        print(f"BLOSUM62 similarity of {len(proteins)} proteins (cached after the first run) …",
              flush=True)
    similarity = blosum62_similarity(proteins.tolist(), config.similarity_threshold)
    train_only = set(proteins.index[similarity["similar"]].tolist())
    folds, fold_of = paper_folds(frame, config.folds, config.seed, train_only)
    cross = fold_of > 0
    block = {"name": "paper", "similarity": {
        "definition": SIMILARITY_DEFINITION, "threshold": config.similarity_threshold,
        "similar_proteins": int(similarity["similar"].sum()),
        "pairs_above_threshold": int(len(similarity["pairs"])),
        "pairs_scored": int(similarity["scored_pairs"]),
        "pairs_ruled_out_by_bound": int(similarity["pruned_pairs"]),
        "seconds": float(similarity["seconds"])},
        "cv_proteins": int(frame["group"][cross].nunique()), "cv_interactions": int(cross.sum()),
        "train_only_proteins": len(train_only), "train_only_interactions": int((~cross).sum()),
        "paper": PAPER_COUNTS}
    return folds, fold_of, block


def run_pipeline(config, folder, train_only=False):
    """ProNAB ΔG: pre-training (if needed), grouped CV of each arm, baselines, JASPAR test.

    Two protocols (``config.protocol``):

    - ``merged`` (deepbio's default): `load_pronab` (repeated measurements
      of one complex merged into their mean), `protein_grouped_folds`
      (scikit-learn's shuffled `GroupKFold` by protein sequence);
    - ``paper`` (OmniBioTE's, arXiv:2408.16245): `load_pronab_measurements`
      (one ΔG per measurement; only the 20 standard residues and A, C, G,
      T, U), every protein whose BLOSUM62 score with another exceeds
      ``config.similarity_threshold`` (`blosum62_similarity`) kept in the
      training side of every fold, the others dealt to the folds in turn
      (`paper_folds`); with ``config.single_omic_controls``, two more arms
      fine-tune the main backbone on the protein alone (``protein_only``)
      and on the nucleic acid alone (``nucleic_acid_only``). These are input
      ablations: upstream's single-omic controls (``evals/pronab-unimodal.py``)
      instead pair two single-omic pre-trained encoders, not done here.

    Both report pooled out-of-fold metrics (``overall``, over the
    cross-validated rows), per-fold metrics of every arm and baseline
    (``folds``) and their mean over folds (``fold_mean``, how the paper's
    r 0.41 / MAE 1.56 kcal/mol are computed), beside the k-mer ridge and
    the training-fold mean fitted on each fold's training side.

    With ``config.backbone`` a converted OmniBioTE checkpoint (a
    ``tokenizer.json`` of `OmniBioTETokenizer` beside it), complexes are
    encoded with that tokenizer (`deepbio.multiomic.finetune_task.backbone_tokenizer`)
    and the backbone keeps
    full attention.

    Writes ``report.json``, ``params.json``, ``predictions.csv`` (every
    complex's out-of-fold predictions; train-only rows have fold 0 and no
    prediction), ``folds.csv``, ``jaspar.csv``, ``predicted_vs_measured.png``,
    ``model_fold1.keras`` (and ``scratch_model_fold1.keras``), ``pretrain/``
    when pre-training ran, ``tokenizer.json``. With ``train_only``
    (``train.py``): no CV; one model on every complex (``model.keras``).

    Args:
        config: `BindingConfig`; ``config.backbone``: an optional pre-trained
            ``.keras`` backbone (or a task model holding one); when None and
            ``config.pretrain``, one is pre-trained here with
            ``config.pretraining``.
        folder: `deepbio.core.run_folder.RunFolder`.
        train_only: bool.

    Returns:
        The report dict.

    Raises:
        FileNotFoundError: a missing backbone or data file.
        ValueError: a bad backbone or tokenizer file, or too few proteins for
            ``config.folds``.
    """
    run, pretrained, isolate = _load_run(config, folder)
    pretrained = _pretrain(run, pretrained)
    _set_arms(run, pretrained, isolate, controls=config.protocol == "paper"
              and config.single_omic_controls and not train_only)
    if train_only:
        return _train_final(run)
    _assign_folds(run)
    jaspar = jaspar_setup(run) if config.jaspar else None
    tested = summarize(run, cross_validate(run, jaspar))
    run.report["target"] = TARGET
    if jaspar is not None:
        jaspar_report(run, jaspar)
    _plot_scatter(tested, [*run.arms, "ridge"], folder)
    run.report["seconds"] = {k: round(v, 1) for k, v in run.seconds.items()}
    return folder.write_report(run.report)


def _load_run(config, folder):
    """The data stage: tokenizer, complexes and the given backbone; writes params and tokenizer.

    Args:
        config: `BindingConfig`.
        folder: `deepbio.core.run_folder.RunFolder`.

    Returns:
        ``(run, pretrained, isolate)``: the `BindingRun` (report started),
        the backbone of ``config.backbone`` (None without one) and whether
        the protein segment is isolated (bool).

    Raises:
        FileNotFoundError: a missing backbone or data file.
        ValueError: a backbone whose vocabulary is not its tokenizer's.
    """
    from deepbio.multiomic.builders import load_backbone  # deferred: imports Keras
    from deepbio.multiomic.fine_tuning import encode_complexes  # deferred: imports Keras

    backbone_path = config.backbone
    tokenizer, converted = backbone_tokenizer(backbone_path)
    data = (load_pronab_measurements if config.protocol == "paper" else load_pronab)(
        folder.data_dir)
    pretrained = load_backbone(backbone_path) if backbone_path else None
    if converted and pretrained.vocabulary_size != tokenizer.vocabulary_size:
        raise ValueError(f"{backbone_path}: a {pretrained.vocabulary_size}-token backbone but its "
                         f"tokenizer.json has {tokenizer.vocabulary_size} tokens")
    isolate = config.isolate_protein and not converted
    folder.write_params()
    tokenizer.save(folder.file("tokenizer.json"))

    frame = subset_complexes(data.frame, config.max_complexes, config.seed)
    dg = frame["dg"].to_numpy(np.float64)
    encoded = encode_complexes(frame, tokenizer, config.max_protein_length)
    report = {"task": "binding", "protocol": {"name": config.protocol},
              "data": {**data.counts, "used_complexes": len(frame),
                       "used_proteins": int(frame["group"].nunique())}}
    if converted:
        report["tokenizer"] = f"OmniBioTE ({tokenizer.tokenizer.mode}) from {backbone_path}"
    run = BindingRun(config, folder, data, tokenizer, frame, dg, encoded, report)
    return run, pretrained, isolate


def _pretrain(run, pretrained):
    """Pre-trains a backbone in the run (``pretrain/``) when none is given and ``config.pretrain``.

    Returns:
        The backbone to fine-tune (``pretrained`` when given; None when
        none is given nor pre-trained).
    """
    config, folder = run.config, run.folder
    t = time.perf_counter()
    if pretrained is None and config.pretrain:
        pretrained, pretraining_report = folder.checkpointed("pretrain", lambda: pretrain(
            config.pretraining, folder.subfolder("pretrain", "pretrain", config.pretraining)))
        run.report["pretraining"] = {k: pretraining_report[k] for k in
                                     ("heldout", "unigram_baseline", "steps", "tokens_seen",
                                      "parameters", "seconds")}
    run.seconds["pretraining"] = round(time.perf_counter() - t, 1)
    return pretrained


def _set_arms(run, pretrained, isolate, controls):
    """Sets ``run.arms`` and ``run.sources``: what each arm fine-tunes, on which inputs.

    ``pretrained`` (when there is a backbone), ``scratch`` (the same
    architecture randomly initialised, with ``config.scratch_comparison`` or
    without a backbone) and, with ``controls``, the main arm on the protein
    alone and on the nucleic acid alone (`_ablated`).
    """
    from deepbio.multiomic.backbone import MultiomicBackbone  # deferred: imports Keras
    from deepbio.multiomic.builders import build_backbone  # deferred: imports Keras

    config, tokenizer = run.config, run.tokenizer
    tags = list(tokenizer.tag_ids.values())
    arms = {}
    if pretrained is not None:
        arms["pretrained"] = lambda: pretrained.with_isolation(
            tokenizer.tag_ids["protein"] if isolate else None, tags)
    if config.scratch_comparison or pretrained is None:
        def scratch():
            if pretrained is None:
                return build_backbone(config, tokenizer)
            return MultiomicBackbone.from_config({
                **pretrained.get_config(), "segment_token_ids": tags, "rotary_table_length": None,
                "isolated_segment_token_id": tokenizer.tag_ids["protein"] if isolate else None})
        arms["scratch"] = scratch
    sources = {arm: run.encoded for arm in arms}
    if controls:
        main = arms[next(iter(arms))]
        for kind in SINGLE_OMIC:
            arms[kind], sources[kind] = main, _ablated(run.encoded, kind, tokenizer)
    run.arms, run.sources = arms, sources


def _train_final(run):
    """``train_only``: one model of the first arm on every complex (``model.keras``); the report."""
    from deepbio.multiomic.fine_tuning import fine_tune  # deferred: imports Keras

    t = time.perf_counter()
    name = next(iter(run.arms))

    def final():  # the model and its history (the prediction closure does not pickle)
        model, _, history = fine_tune(run.arms[name](), run.encoded, run.dg,
                                      np.arange(len(run.frame)), run.config, run.tokenizer,
                                      run.folder.verbose, f"{name} (all complexes)")
        return model, history

    model, history = run.folder.checkpointed("final", final)
    run.folder.save_model(model, "model.keras")
    run.seconds["train"] = round(time.perf_counter() - t, 1)
    run.report.update({"arm": name, "history": history, "seconds": run.seconds})
    return run.folder.write_report(run.report)


def _assign_folds(run):
    """Sets ``run.folds`` and ``run.fold_of`` under ``config.protocol``; writes ``folds.csv``.

    Raises:
        ValueError: too few proteins for ``config.folds``.
    """
    config, frame = run.config, run.frame
    t = time.perf_counter()
    if config.protocol == "paper":
        folds, fold_of, run.report["protocol"] = _paper_folds(config, frame, run.folder.verbose)
    else:
        folds = protein_grouped_folds(frame["group"].to_numpy(), config.folds, config.seed)
        fold_of = np.zeros(len(frame), np.int32)
        for number, (_, test) in enumerate(folds, 1):
            fold_of[test] = number
    run.seconds["folds"] = round(time.perf_counter() - t, 1)
    run.folder.write_csv(frame[["accession", "nucleic_acid", "type", "complementary", "dg"]]
                         .assign(fold=fold_of), "folds.csv")
    run.folds, run.fold_of = folds, fold_of


def _plot_scatter(predictions, arms, folder, name="predicted_vs_measured"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(arms), figsize=(4.2 * len(arms), 4.2), squeeze=False)
    lo, hi = predictions["dg"].min() - 0.5, predictions["dg"].max() + 0.5
    for ax, arm in zip(axes[0], arms):
        m = regression_metrics(predictions["dg"], predictions[arm])
        ax.scatter(predictions["dg"], predictions[arm], s=5, alpha=0.4)
        ax.plot([lo, hi], [lo, hi], color="grey", lw=1)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("measured ΔG (kcal/mol)")
        ax.set_ylabel("predicted ΔG (kcal/mol)")
        r = m["pearson_r"]
        ax.set_title(f"{arm}: r={r if r is None else round(r, 3)}, MAE={m['mae']:.2f}")
    fig.suptitle("ProNAB, protein-grouped CV (out-of-fold predictions)")
    fig.tight_layout()
    folder.save_figure(fig, name)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
SIZE_FIELDS = ("preset", "hidden_dim", "num_heads", "num_layers", "intermediate_dim",
               "attention_scale", "isolate_protein")


@dataclasses.dataclass
class BindingPredictConfig(PredictConfig):
    """``deepbio predict binding``: the shared prediction settings and the protein crop."""

    max_protein_length: int = option(None, "residues kept per protein; none: all", minimum=1)


class BindingTask(Task):
    """``deepbio run binding``: ProNAB ΔG with the multi-omic transformer."""

    name = "binding"
    benchmark = "deepbio.multiomic.benchmark:binding_workload"  # benchmarks/gpu_check.py
    brief = 'protein–nucleic-acid binding ΔG (kcal/mol) with the multi-omic transformer, after OmniBioTE'
    rank = 50
    web = "deepbio.multiomic.web:BindingTab"
    multi_worker = True
    keras_modules = ('deepbio.multiomic.backbone', 'deepbio.multiomic.masked_lm', 'deepbio.multiomic.heads', 'deepbio.multiomic.binding_model')
    tiny_flags = ('--max-complexes', '40', '--folds', '2', '--epochs', '1', '--pretrain-epochs', '1', '--max-per-source', '20', '--crop-length', '32', '--no-jaspar')  # the tests' shared tiny run (seconds on 2 cores)
    config_class = BindingConfig
    description = ("Protein–nucleic-acid binding ΔG (kcal/mol) after OmniBioTE: an in-run "
                   "masked-LM pre-trained backbone (or --backbone) fine-tuned on ProNAB under "
                   "10-fold cross-validation grouped by protein, with and without pre-training, "
                   "beside a k-mer ridge baseline and the training-fold mean, and the JASPAR "
                   "specificity test (ΔΔG of consensus sites and mutants).")
    example = ("deepbio run binding --max-complexes 300 --folds 2 --epochs 1 --pretrain-epochs 1\n"
               "deepbio predict binding --model runs/binding/model_fold1.keras --input pairs.csv")
    profiles = {"cpu": BindingConfig, "gpu": paper_profile}
    predict_input = "CSV with columns protein, nucleic_acid, type (DNA/RNA)[, complementary]"
    predict_config_class = BindingPredictConfig

    def finish_config(self, config, given):
        """The in-run pre-training shares the run-wide settings and the sizes given as flags."""
        if config.full_attention:
            config = dataclasses.replace(config, isolate_protein=False)
        pre = {name: getattr(config, name) for name in SIZE_FIELDS
               if name in given or (name == "isolate_protein" and config.full_attention)}
        for name in ("seed", "mixed_precision", "deterministic", "strategy", "cpu_replicas",
                     "jit_compile"):  # run-wide settings the in-run pre-training shares
            pre[name] = getattr(config, name)
        for field, name in (("pretrain_epochs", "epochs"), ("pretrain_crop_length", "crop_length")):
            if getattr(config, field) is not None:
                pre[name] = getattr(config, field)
        if config.pretrain_max_per_source is not None:
            pre["max_per_source"] = config.pretrain_max_per_source or None
        return dataclasses.replace(config, pretraining=dataclasses.replace(config.pretraining, **pre))

    def run(self, config, folder):
        return run_pipeline(config, folder)

    def train(self, config, folder):
        return run_pipeline(config, folder, train_only=True)

    def predict(self, config, output):
        done = predict_pairs(config.model, config.input, output, config.max_protein_length,
                             config.chunk_size, config.shard, config.verbose)
        return f"{done.rows} complexes{shard_label(config.shard)} → {output}"

    def summary(self, report):
        if "overall" not in report:
            return [f"model ({report['arm']}) → model.keras; seconds: {json.dumps(report['seconds'])}"]
        lines = []
        for name, block in [("overall (" + report["overall"]["arm"] + ")", report["overall"]),
                            ("without pre-training", report.get("without_pretraining")),
                            ("k-mer ridge baseline", report["baseline"]["kmer_ridge"]),
                            ("training-mean baseline", report["baseline"]["training_mean"])]:
            if block:
                r, rho = block["pearson_r"], block["spearman_rho"]
                lines.append(f"{name}: pearson_r={'n/a' if r is None else f'{r:.4f}'} "
                             f"spearman_rho={'n/a' if rho is None else f'{rho:.4f}'} "
                             f"mae={block['mae']:.4f}")
        for arm in report["arms"] + ["ridge"]:
            j = (report.get("jaspar") or {}).get(arm)
            if j:
                lines.append(f"JASPAR {arm}: {j['sites']} sites, mean ΔΔG {j['mean_ddg']:+.3f} "
                             f"kcal/mol, {100 * j['fraction_weaker']:.1f}% of mutants weaker")
        paper = report.get("protocol", {}).get("name") == "paper"
        if paper:
            for arm, block in report["fold_mean"].items():
                r = block["pearson_r"]
                lines.append(f"fold mean {arm}: pearson_r={'n/a' if r is None else f'{r:.4f}'} "
                             f"mae={block['mae']:.4f}")
        lines.append(f"OmniBioTE-XL (paper, fold mean{'' if paper else ', another protocol'}): r "
                     f"{TARGET['pearson_r']}, MAE {TARGET['mae']}; seconds: "
                     f"{json.dumps(report['seconds'])}")
        return lines


TASK = BindingTask()
