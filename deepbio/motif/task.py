"""The motif task: DeepASMM on chromatin accessibility, end to end.

Pipeline (``main.py --task motif``):

1. sequences: the 1,497 accessible 600-bp sequences of cell type 8988T from
   DeepASMM's Basset demo (``deepasmm/basset_8988T.csv`` through the data
   registry), or the user's ``--input`` CSV/FASTA;
2. model: the user's ``--model`` (``.keras`` or ``.h5``), or an ensemble of
   ``--ensemble`` Basset-style CNNs (`deepbio.motif.model.basset_cnn`; training
   seeds ``--seed``, ``--seed`` + 1, ...; one resumable unit each) trained here
   on the accessible sequences against one dinucleotide-shuffled copy of each
   (Altschul–Erickson), with train / validation / test parts split by
   sequence pair (a sequence and its shuffled copy stay together) and drawn
   by ``--split-seed`` only, so the held-out part is the same for every
   training seed; held-out AUROC of the ensemble and of each member;
3. scoring: `deepbio.motif.aggregate.score_motifs_ensemble` (k-mers,
   SCS, AF, top-r, min-max combination with every member, then the mean and
   sd per motif) with the fast engine;
4. annotation: the top motifs' best JASPAR2026 CORE vertebrate matrices
   (`deepbio.motif.jaspar`);
5. outputs in ``runs/motif``: ``params.json``, ``model.keras`` (when trained),
   ``ensemble/member<i>.keras``, ``motif_scores.csv`` (with ``*_sd`` columns
   for an ensemble), ``top_motifs.csv``, ``motif_scores.png``,
   ``training_history.png``, ``report.json`` (counts, held-out AUROC,
   ``seconds`` per stage).
"""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from deepbio.motif.data import DATA_FILE, default_input, load_sequences  # noqa: F401  (re-exported)
from deepbio.core.task import EarlyStoppingConfig, Task, TrainingConfig, option
from deepbio.motif.kmers import check_sequences
from deepbio.core.loading import load_task_model
from deepbio.metrics import binary_metrics
from deepbio.motif.jaspar import annotate_kmers, load_jaspar


def _top_r(text):
    """``--top-r``: 'all' or a fraction in (0, 1]."""
    return str(text).strip().lower() if str(text).strip().lower() == "all" else str(text).strip()


@dataclasses.dataclass
class MotifConfig(EarlyStoppingConfig, TrainingConfig):
    """Parameters of a motif run (all saved to ``params.json``); see `option` help texts.

    Shared fields: `TrainingConfig` and `EarlyStoppingConfig` (training of the
    CNN: Adam; early stopping on the validation AUROC, best weights kept).
    CNN sizes: see `deepbio.motif.model.basset_cnn`. The training recipe (issue 23,
    chosen on validation AUROC of the fixed split): reverse-complement
    augmentation, both strands averaged when scoring validation and held-out
    sequences, batch-normalization momentum 0.9 (Keras's 0.99 lets the
    moving statistics lag the weights: evaluation-mode AUROC fell to 0.5 in
    early epochs), patience 3; ``ensemble`` members on one ``split_seed``.
    """

    epochs: int = 30
    batch_size: int = 64
    patience: int = 3
    input: str = option(None, "sequences to score: a CSV with a 'Seqs' or 'sequence' column, or "
                              "FASTA (default: DeepASMM's Basset 8988T sequences)", metavar="FILE")
    model: str = option(None, "score this trained model (.keras/.h5 on one-hot DNA) instead of "
                              "training the CNN", metavar="MODEL")
    motif_length: int = option(8, "k-mer length k", minimum=4, maximum=12)
    min_motif_count: int = option(10, "minimum occurrences of a k-mer (upstream 10)", minimum=1)
    top_r: str = option("0.1", "fraction of each motif's top occurrences averaged, or 'all'",
                        parse=_top_r, metavar="FRACTION|all")
    min_top_r_num: int = option(30, "floor of the occurrences averaged (upstream 30)", minimum=1)
    output_index: str = option("all", "model output(s) scored: 'all' (summed) or e.g. '0' or '0,3'",
                               metavar="all|I,J")
    engine: str = option("fast", "perturbation engine: 'fast' (batched, compiled, reuses "
                                 "unperturbed activations) or 'naive' (upstream's, reference)",
                         choices=("fast", "naive"))
    scoring_batch_size: int = option(4096, "perturbations per compiled call", minimum=1)
    jaspar_top: int = option(20, "top motifs per combined score annotated with JASPAR (0: none)",
                             minimum=0)
    jaspar_release: str = option("JASPAR2026", "pyjaspar release used for the annotation")
    max_sequences: int = option(None, "use only the first N sequences (quick runs)", minimum=1)
    reverse_complement: bool = option(True, "add the reverse complement of every training sequence")
    strand_average: bool = option(True, "score validation and held-out sequences by the mean over "
                                        "both strands")
    weight_decay: float = option(0.0, "decoupled weight decay (AdamW; 0: Adam)", minimum=0)
    lr_schedule: str = option("constant", "learning-rate schedule of the CNN",
                              choices=("constant", "cosine"))
    split_seed: int = option(0, "seed of the train / validation / test split and of the shuffled "
                                "negatives, kept apart from --seed", minimum=0)
    ensemble: int = option(5, "CNNs trained with seeds --seed, --seed+1, ...; motifs are scored "
                              "with each and ranked by the mean", minimum=1)
    test_fraction: float = option(0.2, "held-out test part of the sequence pairs",
                                  minimum=0.01, maximum=0.9)
    val_fraction: float = option(0.1, "part of the rest used for early stopping",
                                 minimum=0.01, maximum=0.9)
    filters: tuple[int, ...] = option((64, 64, 64), "filters per convolution", minimum=1,
                                      flag="cnn-filters")
    kernel_sizes: tuple[int, ...] = option((19, 11, 7), "kernel size per convolution", minimum=1,
                                           flag="cnn-kernels")
    pool_sizes: tuple[int, ...] = option((3, 4, 4), "max-pool size after each convolution",
                                         minimum=1, flag="cnn-pools")
    dense_units: tuple[int, ...] = option((128,), "units of the dense layers", minimum=1)
    dropout: float = option(0.3, "dropout rate", minimum=0, maximum=0.95)
    bn_momentum: float = option(0.9, "momentum of the batch-normalization moving statistics",
                                minimum=0, maximum=0.999)

    def validate(self):
        super().validate()
        self.top_r = str(self.top_r)
        if self.top_r != "all":
            try:
                value = float(self.top_r)
            except ValueError:
                value = -1.0
            if not 0.0 < value <= 1.0:
                raise ValueError(f"top_r (--top-r) must be 'all' or a fraction in (0, 1], "
                                 f"got {self.top_r!r}")
        self.output_index = str(self.output_index)
        parse_output_index(self.output_index)
        if not (len(self.filters) == len(self.kernel_sizes) == len(self.pool_sizes)):
            raise ValueError(f"--cnn-filters, --cnn-kernels and --cnn-pools need one value per "
                             f"convolution; got {len(self.filters)}, {len(self.kernel_sizes)} and "
                             f"{len(self.pool_sizes)}")


def parse_output_index(value):
    """``"all"`` → None; ``"0"`` → 0; ``"0,2"`` → [0, 2] (ValueError otherwise)."""
    if value is None or str(value).strip().lower() == "all":
        return None
    try:
        parts = [int(p) for p in str(value).split(",") if p.strip()]
    except ValueError:
        raise ValueError(f"output index (--output-index) must be 'all' or comma-separated "
                         f"integers, got {value!r}") from None
    if not parts or min(parts) < 0:
        raise ValueError(f"output index (--output-index) must be 'all' or comma-separated "
                         f"integers ≥ 0, got {value!r}")
    return parts[0] if len(parts) == 1 else parts


def plot_scores(table, folder, name="motif_scores", max_points=5000, seed=0):
    """Scatter of the normalised ranks of the two combined scores (upstream's figure).

    Each motif is a point at (rank of its autonomous functionality score,
    rank of its sequence context synergy score), ranks scaled to [0, 1];
    at most ``max_points`` motifs drawn (a seeded random subset), with the
    Spearman correlation in the corner. Saved as ``folder/name.png``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import rankdata, spearmanr

    data = table
    if len(data) > max_points:
        data = data.sample(max_points, random_state=seed)
    def ranks(column):
        r = rankdata(data[column].to_numpy())
        return (r - 1) / max(len(r) - 1, 1)

    x, y = ranks("autonomous_functionality_score"), ranks("sequence_context_synergy_score")
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(x, y, c=np.sqrt(x + y), cmap="YlGn_r", s=8, edgecolor="none")
    rho = spearmanr(table["autonomous_functionality_score"],
                    table["sequence_context_synergy_score"]).statistic if len(table) > 2 else np.nan
    ax.text(0.03, 0.97, f"Spearman ρ = {rho:.3f}\n{len(table)} motifs", transform=ax.transAxes,
            va="top")
    ax.set_xlabel("Autonomous functionality score (normalised rank)")
    ax.set_ylabel("Sequence context synergy score (normalised rank)")
    fig.tight_layout()
    folder.save_figure(fig, name)
    return float(rho)


def _user_model_check(model):
    if len(model.inputs) != 1:
        return f"it has {len(model.inputs)} inputs; motif scoring needs one input of one-hot DNA"
    return None


def run_pipeline(config, folder, train_only=False):
    """Runs the motif task; returns the report (also written to ``report.json``).

    Args:
        config: `MotifConfig` (``config.model``: a user ``.keras`` / ``.h5``
            model, None trains the CNN; ``config.input``: a user CSV / FASTA
            of sequences, None uses the Basset 8988T sequences).
        folder: `deepbio.core.run_folder.RunFolder`.
        train_only: train (and evaluate) the CNN, skip the scoring.

    Returns:
        dict: the report.

    Raises:
        FileNotFoundError / ValueError: missing or malformed inputs (checked
            before anything is written).
    """
    from deepbio.motif.common import _input_adapter  # deferred: imports Keras/TensorFlow

    verbose = folder.verbose
    with folder.timer("load"):
        source = Path(config.input) if config.input else default_input(folder.data_dir)
        frame = load_sequences(source)
        if config.max_sequences:
            frame = frame.iloc[:config.max_sequences].reset_index(drop=True)
        sequences, ids = frame["sequence"].tolist(), frame["id"].tolist()
        check_sequences(sequences, ids)  # fail before training on a malformed record
        model = load_task_model(config.model, "motif", _user_model_check) if config.model else None
        if model is not None:
            try:
                _input_adapter(model, len(sequences[0]))
            except ValueError as error:
                raise ValueError(f"--model {config.model} does not take the sequences of "
                                 f"{source}: {error}") from None
    folder.write_params()

    report = {"task": "motif", "input": str(source), "sequences": len(sequences),
              "sequence_length": len(sequences[0]), "model": None, "heldout": None}
    with folder.timer("train"):
        if model is not None:
            report["model"] = {"path": str(config.model), "trained_here": False}
            models = [model]
        else:
            models = _train_ensemble(config, folder, sequences, report)

    if not train_only:
        from deepbio.motif.aggregate import SCORE_COLUMNS, score_motifs_ensemble  # deferred: imports Keras/TensorFlow

        result = score_motifs_ensemble(
            models, sequences, motif_length=config.motif_length,
            min_motif_count=config.min_motif_count, top_r=config.top_r,
            min_top_r_num=config.min_top_r_num, output_index=parse_output_index(config.output_index),
            engine=config.engine, batch_size=config.scoring_batch_size, ids=ids,
            verbose=1 if verbose else 0)
        table = result.table if len(models) > 1 else result.table[list(SCORE_COLUMNS)]
        folder.write_csv(table, "motif_scores.csv")
        if len(models) > 1:
            for i, member in enumerate(result.members):
                folder.write_csv(member, f"ensemble/member{i}_scores.csv")
        folder.seconds.update({k: result.seconds[k] for k in ("locate", "scs", "af", "aggregate")})
        with folder.timer("plot"):
            rho = plot_scores(table, folder, seed=config.seed) if len(table) else None
        report["scoring"] = {
            "k": config.motif_length, "motifs": int(len(table)),
            "occurrences": int(len(result.occurrences)), "members": len(models),
            "scs_perturbations": int(result.perturbations.forward_rows["scs"]),
            "af_perturbations": int(result.perturbations.forward_rows["af"]),
            "engine": config.engine, "spearman_af_scs": rho}
        with folder.timer("jaspar"):
            top = _top_motifs(table, config)
        if top is not None:
            folder.write_csv(top, "top_motifs.csv")
            report["top_motifs"] = json.loads(top.to_json(orient="records"))
    return folder.write_report(report)


def member_config(config, member):
    """The config of ensemble member ``member`` (0-based): training seed ``config.seed + member``.

    The split (``split_seed``) is shared by all members.
    """
    return dataclasses.replace(config, seed=config.seed + member)


def _sd(values):
    """Sample standard deviation (0.0 for one value)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _train_ensemble(config, folder, sequences, report):
    """Trains ``config.ensemble`` CNNs (units ``cnn0``, ``cnn1``, ...); fills ``report``.

    Each member is one resumable unit of ``folder`` (`RunFolder.checkpointed`)
    with training seed ``config.seed + i`` on the split of ``config.split_seed``.
    ``model.keras`` is member 0 (the model the web page serves);
    ``ensemble/member<i>.keras`` are all members. ``report["heldout"]`` holds
    the metrics of the members' mean score, ``report["heldout_members"]``
    each member's held-out AUROC with their mean and sd.

    Returns:
        list of `keras.Model`, the members in order.
    """
    from deepbio.motif.training import train_basset  # deferred: imports Keras/TensorFlow

    members = []
    for i in range(config.ensemble):
        members.append(folder.checkpointed(f"cnn{i}", lambda i=i: train_basset(
            member_config(config, i), folder.data_dir, verbose=folder.verbose,
            sequences=sequences)))
    models = [m["model"] for m in members]
    folder.save_model(models[0], "model.keras")
    for i, model in enumerate(models):
        folder.save_model(model, f"ensemble/member{i}.keras")
    folder.plot_history(members[0]["history"], ylabel="binary cross-entropy")
    best_val = [float(max(m["history"]["val_auroc"])) for m in members]
    aurocs = [float(m["test"]["auroc"]) for m in members]
    report["model"] = {"path": "model.keras", "trained_here": True, "ensemble": len(models),
                       "member_paths": [f"ensemble/member{i}.keras" for i in range(len(models))],
                       "seeds": [config.seed + i for i in range(len(models))],
                       "split_seed": config.split_seed,
                       "epochs_run": members[0]["epochs_run"],
                       "epochs_run_members": [m["epochs_run"] for m in members],
                       "splits": members[0]["splits"], "parameters": int(models[0].count_params()),
                       "best_val_auroc": float(np.mean(best_val)), "best_val_auroc_members": best_val}
    mean_scores = np.mean([m["test_scores"] for m in members], axis=0)
    report["heldout"] = binary_metrics(members[0]["test_labels"], mean_scores)
    report["heldout_members"] = {"auroc": aurocs, "auroc_mean": float(np.mean(aurocs)),
                                 "auroc_sd": _sd(aurocs)}
    report["heldout_baseline"] = {"auroc": 0.5, "note": "constant score"}
    if folder.verbose:
        print(f"held-out AUROC {report['heldout']['auroc']:.4f} (ensemble of {len(models)}: mean "
              f"score); members {np.mean(aurocs):.4f} ± {_sd(aurocs):.4f} "
              f"({members[0]['splits']['test']} sequences: accessible + shuffled)", flush=True)
    return models


def _top_motifs(table, config):
    """The top motifs by each combined score, with their best JASPAR matches."""
    if config.jaspar_top <= 0 or table.empty:
        return None

    parts = []
    for column, label in (("autonomous_functionality_score", "autonomous_functionality"),
                          ("sequence_context_synergy_score", "sequence_context_synergy")):
        best = table.sort_values([column, "count"], ascending=False, kind="stable") \
            .head(config.jaspar_top).copy()
        best.insert(0, "rank", np.arange(1, len(best) + 1))
        best.insert(0, "ranked_by", label)
        parts.append(best)
    top = pd.concat(parts, ignore_index=True)
    targets = load_jaspar(release=config.jaspar_release)
    unique = list(dict.fromkeys(top["motif"]))
    annotation = annotate_kmers(unique, targets).set_index("motif")
    return top.join(annotation, on="motif")


class MotifTask(Task):
    """``deepbio run motif``: DeepASMM motif autonomy and context synergy."""

    name = "motif"
    benchmark = "deepbio.motif.benchmark:workload"  # benchmarks/gpu_check.py
    brief = 'k-mer autonomous functionality and sequence-context synergy of a trained CNN, after DeepASMM'
    rank = 30
    web = "deepbio.motif.web:MotifTab"
    multi_worker = True
    keras_modules = ('deepbio.motif.model',)
    tiny_flags = ('--max-sequences', '30', '--epochs', '2', '--motif-length', '5', '--jaspar-top', '0', '--cnn-filters', '8,8,8', '--ensemble', '2')  # the tests' shared tiny run (seconds on 2 cores)
    config_class = MotifConfig
    description = ("Each k-mer motif's autonomous functionality (the k-mer alone in an all-zero "
                   "sequence) and sequence-context synergy (the occurrence zeroed in its "
                   "sequence), by perturbing the inputs of a trained sequence CNN, after DeepASMM. "
                   "Without --model, a Basset-style CNN is trained on the sequences against "
                   "dinucleotide-shuffled copies; the top motifs get their best JASPAR match.")
    example = ("deepbio run motif                      # DeepASMM's Basset demo\n"
               "deepbio run motif --model my.keras --input seqs.fasta --motif-length 6 --top-r all")
    interpret_input = ("DNA sequences (CSV with a 'Seqs' or 'sequence' column, or FASTA) scored "
                       "with --model; the motif flags of 'deepbio run motif' apply")

    def run(self, config, folder):
        return run_pipeline(config, folder)

    def train(self, config, folder):
        if config.model:
            raise ValueError("'train motif' trains the CNN; --model is for 'run motif' or "
                             "'interpret motif'")
        return run_pipeline(config, folder, train_only=True)

    def interpret(self, config, folder):
        return run_pipeline(config, folder)

    tunable = True
    interpret_config_class = MotifConfig  # interpreting a given model takes the run's flags

    def search_space(self, hp, config):
        """CNN learning rate, dropout, filters per convolution and dense units."""
        hp.Float("learning_rate", 1e-4, 3e-3, sampling="log")
        hp.Float("dropout", 0.0, 0.5, step=0.1)
        hp.Choice("cnn_filters", [32, 64, 128])
        hp.Choice("dense_units", [64, 128, 256])

    def search_changes(self, values, config):
        changes = dict(values)
        if "cnn_filters" in changes:
            changes["filters"] = (int(changes.pop("cnn_filters")),) * len(config.filters)
        if "dense_units" in changes:
            changes["dense_units"] = (int(changes["dense_units"]),)
        return changes

    def tuning_objective(self, report):
        """Best validation AUROC of the CNN during training (the held-out test part is not used)."""
        return report["model"]["best_val_auroc"]

    def summary(self, report):
        lines = []
        if report.get("heldout"):
            members = report.get("heldout_members") or {}
            spread = (f"; {report['model']['ensemble']} members {members['auroc_mean']:.4f} ± "
                      f"{members['auroc_sd']:.4f}" if members else "")
            lines.append(f"held-out AUROC: {report['heldout']['auroc']:.4f}{spread} "
                         f"(constant score 0.5)")
        if report.get("scoring"):
            s = report["scoring"]
            lines.append(f"{s['motifs']} motifs of length {s['k']} ({s['occurrences']} occurrences) "
                         f"scored → motif_scores.csv")
        for row in report.get("top_motifs", [])[:10]:
            if row["ranked_by"] == "autonomous_functionality":
                sd = (f" ± {row['autonomous_functionality_score_sd']:.4f}"
                      if "autonomous_functionality_score_sd" in row else "")
                lines.append(
                    f"  AF #{row['rank']:<2} {row['motif']}  AF={row['autonomous_functionality_score']:.4f}"
                    f"{sd} SCS={row['sequence_context_synergy_score']:.4f}  JASPAR {row['jaspar_id']} "
                    f"{row['jaspar_name']} (score {row['jaspar_score']:.2f}, E={row['jaspar_e_value']:.2g})")
        lines.append(f"seconds: {json.dumps(report['seconds'])}")
        return lines


TASK = MotifTask()
