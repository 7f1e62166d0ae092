"""Command-line interface shared by ``main.py`` and ``train.py``."""

import argparse
import dataclasses
import json
import os
import sys


def _ptm_arguments(parser):
    from deepbio.tasks.ptm import RESIDUE_ENCODERS, PTMConfig

    defaults = PTMConfig()
    group = parser.add_argument_group("ptm")
    group.add_argument("--epochs", type=int, default=defaults.epochs)
    group.add_argument("--batch-size", type=int, default=defaults.batch_size)
    group.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    group.add_argument("--patience", type=int, default=defaults.patience)
    group.add_argument("--folds", type=int, default=defaults.folds, help="CV folds; 0 skips CV")
    group.add_argument("--seed", type=int, default=defaults.seed)
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
    for name in ("conv_filters", "hidden_dim", "num_heads", "gru_units", "intermediate_dim"):
        group.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name))
    group.add_argument("--dropout", type=float, default=defaults.dropout)
    group.add_argument("--max-windows", type=int, default=None,
                       help="use a stratified subset of the training split")
    group.add_argument("--saliency-windows", type=int, default=defaults.saliency_windows)
    group.add_argument("--predict", metavar="PROTEINS.fasta",
                       help="predict every K of these proteins with --model")
    group.add_argument("--saliency", metavar="WINDOWS.fasta",
                       help="saliency maps for these 49-residue windows with --model")
    group.add_argument("--model", metavar="MODEL.keras", help="a trained model.keras")


def build_parser(script):
    parser = argparse.ArgumentParser(prog=script, description=(
        "deepbio: deep learning on biological sequences. "
        "Data is found through --data-dir, $DEEPBIO_DATA, the Keras cache, or downloaded."))
    parser.add_argument("--task", required=True, choices=["ptm"])
    parser.add_argument("--data-dir", default=None, help="local data mirror (else $DEEPBIO_DATA)")
    parser.add_argument("--output", default=None, help="output folder (default runs/<task>)")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="mixed_float16 (use on a GPU)")
    parser.add_argument("--verbose", type=int, default=1 if sys.stdout.isatty() else 2,
                        help="Keras verbosity: 1 progress bars, 2 one line per epoch, 0 silent")
    _ptm_arguments(parser)
    return parser


def ptm_config(args):
    from deepbio.tasks.ptm import PTMConfig

    return PTMConfig(
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        patience=args.patience, folds=args.folds, seed=args.seed, sampler=args.sampler,
        keep_fraction=args.keep_fraction,
        residue_encoders=tuple(e.strip() for e in args.residue_encoders.split(",") if e.strip()),
        pstaap_cross_fit=not args.no_pstaap_cross_fit, label_weighting=args.label_weighting,
        tune_thresholds=not args.no_threshold_tuning, conv_filters=args.conv_filters,
        hidden_dim=args.hidden_dim, num_heads=args.num_heads, gru_units=args.gru_units,
        intermediate_dim=args.intermediate_dim, dropout=args.dropout,
        mixed_precision=args.mixed_precision, max_windows=args.max_windows,
        saliency_windows=args.saliency_windows)


def main(argv=None, script="main.py"):
    """Runs a task; ``script="train.py"`` trains only (CV + final model)."""
    args = build_parser(script).parse_args(argv)
    output = args.output or os.path.join("runs", args.task)
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
