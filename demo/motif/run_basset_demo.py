"""Demo: DeepASMM's Basset demo (8988T accessibility, k = 8, top-r 0.1) with deepbio.

Upstream's ``demos/basset_demo/command.txt`` scores the 1,497 accessible
600-bp sequences of cell type 8988T with a trained Basset model, 8-mers seen
at least 10 times, the mean of each motif's top 10 % occurrences (at least
30). Here the model is the ``motif-basset`` preset that ships with deepbio
(no training), yours (``--model``, any ``.keras``/``.h5`` on (600, 4) one-hot
DNA, e.g. upstream's ``basset_test_tf24.h5``), or (``--train``) the ensemble
of Basset-style CNNs that ``main.py --task motif`` trains on these sequences
against dinucleotide-shuffled copies.

    python demo/motif/run_basset_demo.py [--model M.keras | --train] [--output runs/demo_motif]
"""

import argparse

from deepbio.motif import task as motif
from deepbio.core.run_folder import run_task


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="motif-basset",
                        help="a preset name or a trained model (default: the motif-basset preset)")
    parser.add_argument("--train", action="store_true", help="train the CNN ensemble instead")
    parser.add_argument("--output", default="runs/demo_motif")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--max-sequences", type=int, default=None, help="a slice, for quick runs")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--motif-length", type=int, default=8)
    parser.add_argument("--min-motif-count", type=int, default=10)
    args = parser.parse_args(argv)
    if args.train:
        args.model = None
    else:
        from deepbio.presets import resolve_model

        args.model = resolve_model("motif", args.model, "interpret")
    # The upstream command: --motif_length 8 --top_r 0.1 --min_top_r_num 30 (min_motif_count 10).
    config = motif.MotifConfig(motif_length=args.motif_length, min_motif_count=args.min_motif_count,
                               top_r="0.1", min_top_r_num=30, max_sequences=args.max_sequences,
                               epochs=args.epochs, model=args.model)
    report = run_task("motif", args.output, config, data_dir=args.data_dir, verbose=2)
    if report["heldout"]:
        print(f"held-out AUROC of the CNN: {report['heldout']['auroc']:.4f}")
    scoring = report["scoring"]
    print(f"{scoring['motifs']} motifs of {scoring['k']} bp ({scoring['occurrences']} occurrences, "
          f"{scoring['af_perturbations']} distinct AF perturbations)")
    print("top motifs by autonomous functionality, with their best JASPAR2026 match:")
    for row in report.get("top_motifs", []):
        if row["ranked_by"] == "autonomous_functionality" and row["rank"] <= 10:
            print(f"  {row['rank']:>2}. {row['motif']}  count {row['count']:>4}  "
                  f"AF {row['autonomous_functionality_score']:.3f}  "
                  f"SCS {row['sequence_context_synergy_score']:.3f}  "
                  f"{row['jaspar_id']} {row['jaspar_name']} (E = {row['jaspar_e_value']:.2g})")
    print(f"total {report['seconds']['total']:.1f} s; outputs in {args.output}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
