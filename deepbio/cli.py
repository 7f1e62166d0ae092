"""Command-line interface shared by ``main.py`` and ``train.py``."""

import argparse
import dataclasses
import functools
import importlib
import json
import os
import sys


# Tasks whose module provides ``add_arguments(parser)`` (task-specific flags
# only) and ``cli_main(args, output, script) -> int``. ptm and motif live here.
EXTERNAL_TASKS = {"pretrain": "deepbio.tasks.binding", "binding": "deepbio.tasks.binding",
                  "rnamod": "deepbio.tasks.rnamod"}


def _shared_arguments(parser):
    """Flags several tasks take; ``None`` means the task's own default (see ``given``)."""
    group = parser.add_argument_group(
        "training (shared)", "default: each task's own (see README); None-valued flags are filled "
                             "from the task's config")
    group.add_argument("--epochs", type=int, default=None)
    group.add_argument("--batch-size", type=int, default=None)
    group.add_argument("--learning-rate", type=float, default=None)
    group.add_argument("--patience", type=int, default=None, help="early-stopping patience (epochs)")
    group.add_argument("--dropout", type=float, default=None)
    group.add_argument("--seed", type=int, default=None, help="default 0")
    group.add_argument("--folds", type=int, default=None, help="cross-validation folds; 0 skips CV")
    group.add_argument("--hidden-dim", type=int, default=None, help="model width")
    group.add_argument("--num-heads", type=int, default=None, help="attention heads")
    group.add_argument("--num-layers", type=int, default=None, help="transformer layers")
    group.add_argument("--intermediate-dim", type=int, default=None,
                       help="feed-forward width")
    group.add_argument("--profile", choices=["cpu", "gpu"], default="cpu",
                       help="rnamod, binding: 'cpu' sizes that fit a 2-core CPU (default) or 'gpu' "
                            "the upstream / paper settings")
    group.add_argument("--saliency-windows", type=int, default=None,
                       help="windows per saliency map (ptm: 512; rnamod: 64 per modification)")
    group.add_argument("--model", metavar="MODEL.keras",
                       help="a trained model (ptm, rnamod: the run's model.keras; motif: any "
                            ".keras/.h5 on one-hot DNA)")
    group.add_argument("--predict", metavar="SEQS.fasta",
                       help="predict with --model: ptm every K of these proteins; rnamod these "
                            "RNA windows")


def _ptm_arguments(parser):
    from deepbio.tasks.ptm import RESIDUE_ENCODERS, PTMConfig

    defaults = PTMConfig()
    group = parser.add_argument_group("ptm")
    group.add_argument("--sampler", default=defaults.sampler,
                       choices=["adaptive", "cluster_centroids", "random", "nearmiss", "none"])
    group.add_argument("--keep-fraction", type=float, default=defaults.keep_fraction,
                       help="fraction of class 1 the sampler keeps")
    group.add_argument("--residue-encoders", default=",".join(defaults.residue_encoders),
                       help=f"comma-separated subset of {','.join(RESIDUE_ENCODERS)}")
    group.add_argument("--no-pstaap-cross-fit", action="store_true",
                       help="training rows get in-sample PSTAAP values")
    group.add_argument("--label-weighting", action="store_true")
    group.add_argument("--no-threshold-tuning", action="store_true")
    for name in ("conv_filters", "gru_units"):
        group.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name))
    group.add_argument("--max-windows", type=int, default=None,
                       help="use a stratified subset of the training split")
    group.add_argument("--saliency", metavar="WINDOWS.fasta",
                       help="saliency maps for these 49-residue windows with --model")


def _motif_arguments(parser):
    from deepbio.tasks.motif import MotifConfig

    defaults = MotifConfig()
    group = parser.add_argument_group(
        "motif", "DeepASMM motif autonomy / context synergy (also uses the shared training flags "
                 "and --model)")
    group.add_argument("--input", metavar="SEQS.csv|SEQS.fasta",
                       help="sequences to score (CSV with a 'Seqs' column, or FASTA); "
                            "default: DeepASMM's Basset 8988T sequences")
    group.add_argument("--motif-length", type=int, default=defaults.motif_length,
                       choices=range(4, 13), metavar="{4..12}", help="k-mer length")
    group.add_argument("--min-motif-count", type=int, default=defaults.min_motif_count)
    group.add_argument("--top-r", default=defaults.top_r,
                       help="fraction of each motif's top occurrences averaged, or 'all'")
    group.add_argument("--min-top-r-num", type=int, default=defaults.min_top_r_num)
    group.add_argument("--output-index", default=defaults.output_index,
                       help="model output(s) scored: 'all' (summed) or e.g. '0' or '0,3'")
    group.add_argument("--engine", default=defaults.engine, choices=["fast", "naive"])
    group.add_argument("--scoring-batch-size", type=int, default=defaults.scoring_batch_size)
    group.add_argument("--jaspar-top", type=int, default=defaults.jaspar_top,
                       help="top motifs per score annotated with JASPAR (0: none)")
    group.add_argument("--max-sequences", type=int, default=None,
                       help="use only the first N sequences")
    group.add_argument("--cnn-filters", default=",".join(map(str, defaults.filters)))
    group.add_argument("--cnn-kernels", default=",".join(map(str, defaults.kernel_sizes)))
    group.add_argument("--cnn-pools", default=",".join(map(str, defaults.pool_sizes)))
    group.add_argument("--dense-units", default=",".join(map(str, defaults.dense_units)))


def build_parser(script):
    parser = argparse.ArgumentParser(prog=script, description=(
        "deepbio: deep learning on biological sequences. "
        "Data is found through --data-dir, $DEEPBIO_DATA, the Keras cache, or downloaded."))
    parser.add_argument("--task", required=True, choices=["ptm", "motif", *EXTERNAL_TASKS])
    parser.add_argument("--data-dir", default=None, help="local data mirror (else $DEEPBIO_DATA)")
    parser.add_argument("--output", default=None, help="output folder (default runs/<task>)")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="mixed_float16 (use on a GPU)")
    parser.add_argument("--verbose", type=int, default=1 if sys.stdout.isatty() else 2,
                        help="Keras verbosity: 1 progress bars, 2 one line per epoch, 0 silent")
    _shared_arguments(parser)
    _ptm_arguments(parser)
    _motif_arguments(parser)
    modules = []
    for module_name in EXTERNAL_TASKS.values():
        if module_name not in modules:
            modules.append(module_name)
            importlib.import_module(module_name).add_arguments(parser)
    return parser


def given(args, defaults, name):
    """A shared flag's value, or the task's own default when the flag was not given (None)."""
    value = getattr(args, name)
    return getattr(defaults, name) if value is None else value


def ptm_config(args):
    from deepbio.tasks.ptm import PTMConfig

    option = functools.partial(given, args, PTMConfig())

    return PTMConfig(
        epochs=option("epochs"), batch_size=option("batch_size"), learning_rate=option("learning_rate"),
        patience=option("patience"), folds=option("folds"), seed=option("seed"), sampler=args.sampler,
        keep_fraction=args.keep_fraction,
        residue_encoders=tuple(e.strip() for e in args.residue_encoders.split(",") if e.strip()),
        pstaap_cross_fit=not args.no_pstaap_cross_fit, label_weighting=args.label_weighting,
        tune_thresholds=not args.no_threshold_tuning, conv_filters=args.conv_filters,
        hidden_dim=option("hidden_dim"), num_heads=option("num_heads"), gru_units=args.gru_units,
        intermediate_dim=option("intermediate_dim"), dropout=option("dropout"),
        mixed_precision=args.mixed_precision, max_windows=args.max_windows,
        saliency_windows=option("saliency_windows"))


def main(argv=None, script="main.py"):
    """Runs a task; ``script="train.py"`` trains only (CV + final model)."""
    args = build_parser(script).parse_args(argv)
    output = args.output or os.path.join("runs", args.task)
    if args.task in EXTERNAL_TASKS:
        return importlib.import_module(EXTERNAL_TASKS[args.task]).cli_main(args, output, script)
    if args.task == "motif":
        return _motif_main(args, output, script)
    from deepbio.tasks import ptm

    if args.predict or args.saliency:
        if not args.model:
            raise SystemExit("--predict and --saliency need --model path/to/model.keras")
        if args.predict:
            path = os.path.join(output, "predictions.csv")
            frame = ptm.predict_proteins(args.predict, args.model, path)
            print(f"{len(frame)} lysine sites of {frame['protein'].nunique()} proteins → {path}")
        if args.saliency:
            files = ptm.saliency_for_fasta(args.saliency, args.model, output)
            print("saliency maps:", ", ".join(str(f) for f in files))
        return 0
    config = ptm_config(args)
    if script == "train.py":
        config = dataclasses.replace(config, saliency_windows=0)
    report = ptm.run(config, output, args.data_dir, verbose=args.verbose,
                     evaluate_test=script != "train.py")
    summary = {k: report[k] for k in ("cv", "test") if report.get(k)}
    for split, block in summary.items():
        print(f"{split}: " + ", ".join(f"{m}={block[m]:.4f}" for m in
                                       ("aiming", "coverage", "accuracy", "absolute_true", "absolute_false")))
    print(f"always-'a' baseline (cv): absolute_true={report['baseline_cv']['absolute_true']:.4f} "
          f"aiming={report['baseline_cv']['aiming']:.4f}")
    print(f"seconds: {json.dumps(report['seconds'])}; outputs in {output}/")
    return 0


def _int_tuple(text, name):
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise SystemExit(f"--{name} must be comma-separated integers, got {text!r}") from None


def motif_config(args):
    from deepbio.tasks.motif import MotifConfig

    option = functools.partial(given, args, MotifConfig())

    return MotifConfig(
        motif_length=args.motif_length, min_motif_count=args.min_motif_count, top_r=args.top_r,
        min_top_r_num=args.min_top_r_num, output_index=args.output_index, engine=args.engine,
        scoring_batch_size=args.scoring_batch_size, jaspar_top=args.jaspar_top,
        max_sequences=args.max_sequences, epochs=option("epochs"), batch_size=option("batch_size"),
        learning_rate=option("learning_rate"), patience=option("patience"), seed=option("seed"),
        dropout=option("dropout"), filters=_int_tuple(args.cnn_filters, "cnn-filters"),
        kernel_sizes=_int_tuple(args.cnn_kernels, "cnn-kernels"),
        pool_sizes=_int_tuple(args.cnn_pools, "cnn-pools"),
        dense_units=_int_tuple(args.dense_units, "dense-units"))


def _motif_main(args, output, script):
    """``--task motif``: train.py trains the CNN only; main.py trains (or loads) and scores."""
    from deepbio.tasks import motif

    try:
        config = motif_config(args)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    train_only = script == "train.py"
    if train_only and args.model:
        raise SystemExit("train.py --task motif trains the CNN; --model is for main.py")
    report = motif.run(config, output, args.data_dir, verbose=args.verbose, model_path=args.model,
                       input_path=args.input, train_only=train_only)
    if report.get("heldout"):
        print(f"held-out AUROC: {report['heldout']['auroc']:.4f}")
    if report.get("scoring"):
        s = report["scoring"]
        print(f"{s['motifs']} motifs of length {s['k']} ({s['occurrences']} occurrences) scored → "
              f"{output}/motif_scores.csv")
    for row in report.get("top_motifs", [])[:10]:
        if row["ranked_by"] == "autonomous_functionality":
            print(f"  AF #{row['rank']:<2} {row['motif']}  AF={row['autonomous_functionality_score']:.4f} "
                  f"SCS={row['sequence_context_synergy_score']:.4f}  JASPAR {row['jaspar_id']} "
                  f"{row['jaspar_name']} (score {row['jaspar_score']:.2f}, E={row['jaspar_e_value']:.2g})")
    print(f"seconds: {json.dumps(report['seconds'])}; outputs in {output}/")
    return 0
