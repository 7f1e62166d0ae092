"""Builds the presets that ship in deepbio/presets/ from finished training runs.

Each preset's run is made by the command in its spec (``deepbio train ...
--seed 0``); this script copies the files ``deepbio predict`` needs, writes
the pinned input, records the pinned predictions, the sha256 of every file,
the commit and library versions, and writes the model card.

    # 1. train (once per preset; the command is also in each card)
    deepbio train ptm --folds 0 --no-grouped-cv --compare none --seed 0 --output RUNS/ptm-trees
    # ... (see SPECS)
    # 2. package
    python benchmarks/build_presets.py --runs RUNS [--only ptm-trees,binding-dg]
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OMNIK = ("OmniK-PTM's training windows (jiyuzhaoo/OmniK-PTM at 73bc853, `dataset/Train dataset/`: "
         "12,983 lysine-centred 49-residue windows, 11 label combinations of acetylation, "
         "crotonylation, methylation, succinylation, 71 % acetylation only; the test split is held "
         "out and was not used). The upstream repository carries no licence file; the windows come "
         "from UniProt-derived PTM databases (PreMLS / MlyPredCSED lineage). The preset holds a "
         "model fitted to them, not the data.")
PTM_QUESTION = ("Which of the four lysine modifications (acetylation a, crotonylation c, methylation m, "
                "succinylation s) a lysine carries, from its 49-residue window. Every training window "
                "is a modified lysine, so each probability is P(PTM | the lysine is modified): it is "
                "not the probability that the lysine is modified at all.")
PTM_USE = ("Ranking which modification a known (or predicted) modified lysine carries; "
           "`deepbio predict ptm --input proteins.fasta` scores every K of full-length proteins "
           "(`--model ptm-network` for the network; `deepbio interpret ptm` draws its saliency maps).")
PTM_LIMITS = ("Window-only: no protein context, structure or cell state. The benchmark has no verified "
              "unmodified lysines, so the model cannot say whether a lysine is modified. Absolute-True "
              "is below the always-\"a\" baseline (README, PTM section): the calls favour recall of the "
              "rarer marks. Not for clinical use.")

SPECS = {
    "ptm-trees": dict(
        task="ptm", version="1", default=True, default_modes=["predict"], seed=0,
        title="calibrated gradient-boosted trees on PSTAAP and physicochemical features",
        command=["train", "ptm", "--folds", "0", "--no-grouped-cv", "--compare", "none",
                 "--seed", "0"],
        files=["ptm_model.skops", "thresholds.json", "params.json"],
        headline="CV mean AUROC 0.756 ± 0.001 over seeds 0–2 (constant score 0.5); Absolute-True "
                 "0.508 ± 0.015 (always \"a\": 0.715)",
        question=PTM_QUESTION, data=OMNIK, intended_use=PTM_USE, limits=PTM_LIMITS,
        figures="5-fold cross-validation of the same configuration on the training windows "
                "(`python main.py --task ptm --seed S`, S = 0, 1, 2; README \"Result tables over "
                "seeds\"), mean ± sd:\n\n| metric | model | trivial baseline |\n|---|---|---|\n"
                "| mean AUROC over the 4 labels | 0.7562 ± 0.0014 | 0.5 (constant) |\n"
                "| accession-grouped CV mean AUROC | 0.7561 ± 0.0013 | 0.5 |\n"
                "| mean MCC | 0.2739 ± 0.0031 | 0 (constant) |\n"
                "| Absolute-True | 0.5078 ± 0.0154 | 0.7147 (always \"a\") |"),
    "ptm-network": dict(
        task="ptm", version="1", default=False, default_modes=["interpret"], seed=0,
        title="the OmniK-PTM network (CNN branches, bidirectional cross-attention, BiGRU), calibrated",
        command=["train", "ptm", "--model-type", "network", "--folds", "0", "--no-grouped-cv",
                 "--compare", "none", "--seed", "0"],
        files=["model.keras", "thresholds.json", "params.json"], keras_model="model.keras",
        headline="CV mean AUROC 0.681 (seed 0; constant score 0.5): saliency maps, below the trees",
        question=PTM_QUESTION, data=OMNIK, intended_use=PTM_USE +
        " This preset is what `deepbio interpret ptm` uses for saliency maps.", limits=PTM_LIMITS +
        " The network ranks below the default trees (0.681 against 0.756 mean AUROC).",
        figures="5-fold stratified cross-validation of the same configuration, calibrated, "
                "thresholds chosen in the training folds (`deepbio run ptm --model-type network`, "
                "seed 0; README PTM section):\n\n| metric | model | trivial baseline |\n"
                "|---|---|---|\n| mean AUROC | 0.681 (folds .631 / .689 / .697 / .705) | 0.5 |\n"
                "| accession-grouped mean AUROC | 0.675 | 0.5 |\n| mean MCC | 0.154 | 0 |\n"
                "| expected calibration error | ≤ 0.006 | |"),
    "rnamod-vqrna": dict(
        task="rnamod", version="1", default=True, default_modes=["predict"], seed=0,
        title="one multi-task VQ-RNA model for the eight modifications with training data",
        command=["train", "rnamod", "--modifications", "all", "--no-per-modification",
                 "--multitask", "--epochs", "3", "--seed", "0"],
        files=["multitask/model.keras", "params.json"], keras_model="multitask/model.keras",
        headline="mean validation AUROC 0.905 over 8 modifications (k-mer logistic regression "
                 "0.890, constant score 0.5)",
        question="Whether the centre of a 101-nt RNA window is a site of each of eight "
                 "modifications (Am, Cm, Gm, Um, m5C, m5U, m6Am, Ψ), one probability per "
                 "modification, from a VQ-VAE (vector-quantized codebook) feeding non-causal "
                 "transformer blocks (after VQ-RNA).",
        data="VQ-RNA's windows (1gao2/VQ-RNA at cddeb76, `data/train` and `data/valid`, MIT "
             "licence): balanced positive/negative 1001-nt windows per modification, centre-"
             "cropped to 101 nt; m1A (no training file) and m6A (no files) are absent. The test "
             "split is held out and was not used.",
        figures="Validation split, this model (3 epochs, seed 0; the run's `report.json`):\n\n"
                "| modification | AUROC | k-mer + logistic regression | constant score |\n"
                "|---|---|---|---|\n| Am | 0.950 | 0.922 | 0.5 |\n| Cm | 0.933 | 0.914 | 0.5 |\n"
                "| Gm | 0.960 | 0.957 | 0.5 |\n| Um | 0.875 | 0.884 | 0.5 |\n"
                "| m5C | 0.897 | 0.845 | 0.5 |\n| m5U | 0.923 | 0.922 | 0.5 |\n"
                "| m6Am | 0.899 | 0.882 | 0.5 |\n| Ψ | 0.807 | 0.791 | 0.5 |\n"
                "| **mean** | **0.905** (MCC 0.652) | 0.890 (MCC 0.644) | 0.5 (MCC 0) |\n\n"
                "Trained for 3 epochs to fit a 2-core CPU in 16 minutes; the default 10 epochs reach "
                "0.9215 ± 0.0023 (seeds 0–2, README \"Result tables over seeds\"), so this preset is "
                "about 0.016 AUROC below a full run.",
        intended_use="Scoring candidate sites of these eight modifications in human transcripts: "
                     "`deepbio predict rnamod --input windows.fasta`, or `--scan` for every "
                     "position of whole transcripts.",
        limits="Windows of 101 nt around the site; trained on balanced data, so probabilities "
               "overstate the prior of a site in a transcriptome. No m1A / m6A. Validation "
               "figures, not the held-out test."),
    "motif-basset": dict(
        task="motif", version="1", default=True, default_modes=["predict", "interpret"], seed=0,
        title="Basset-style CNN on 8988T chromatin accessibility (DeepASMM's demo data)",
        command=["train", "motif", "--ensemble", "1", "--seed", "0"],
        files=["model.keras", "params.json"], keras_model="model.keras",
        headline="held-out AUROC 0.978 (seed 0, fixed split 0; constant score 0.5)",
        question="How accessible (open chromatin, cell type 8988T) a 600-bp DNA sequence looks, as "
                 "a score that separates real accessible sequences from dinucleotide-shuffled "
                 "copies; the model that DeepASMM's perturbations (`deepbio run motif --model "
                 "motif-basset` or `deepbio interpret motif`) read each k-mer's autonomous "
                 "functionality and context synergy from.",
        data="DeepASMM's Basset demo (Jie-Lii/DeepASMM at 0f35ebb, `demos/basset_demo/"
             "basset_8988T.csv`): 1,497 accessible 600-bp sequences of 8988T, against one "
             "dinucleotide-shuffled copy each (Altschul–Erickson); split by sequence pair with "
             "--split-seed 0 (70 % train, 10 % validation, 20 % held out). The upstream repository "
             "carries no licence file; the sequences come from the Basset/ENCODE DNase-seq data.",
        figures="Held-out part of the fixed split (600 sequences, half shuffled), this model, scored "
                "as the mean of both strands:\n\n| metric | model | trivial baseline |\n"
                "|---|---|---|\n| AUROC | 0.978 | 0.5 (constant score) |\n| AUPRC | 0.979 | 0.5 |"
                "\n\nBest validation AUROC 0.962 (7 epochs). README's motif section gives the "
                "spread over training seeds and the stability of the motif rankings of ensembles.",
        intended_use="Scoring motifs of 8988T-like accessible chromatin with DeepASMM's "
                     "perturbations; the default model of `deepbio run motif --model motif-basset`.",
        limits="One cell type; the negatives are shuffled copies, so the model separates real "
               "sequence from shuffled sequence (composition, motifs), not accessible from "
               "inaccessible genomic DNA. A single model: for rankings that hold across seeds use "
               "an ensemble (`deepbio run motif --ensemble 5`)."),
    "binding-dg": dict(
        task="binding", version="1", default=True, default_modes=["predict"], seed=0,
        title="ΔG regressor on the multi-omic backbone pre-trained by deepbio (CPU profile)",
        command=["train", "binding", "--seed", "0"],
        files=["model.keras", "params.json", "tokenizer.json", "pretrain/backbone.keras"],
        keras_model="model.keras",
        headline="ΔG MAE 1.558 ± 0.016 kcal/mol, Pearson r 0.319 ± 0.015 (protein-grouped 10-fold "
                 "CV, seeds 0–2; training-mean baseline MAE 1.659)",
        question="The binding free energy ΔG (kcal/mol) of a protein–nucleic-acid complex (protein, "
                 "DNA or RNA strand, optional complementary strand), from a transformer pre-trained "
                 "by masked language modelling on proteins and nucleic acids together (after "
                 "OmniBioTE).",
        data="ProNAB as used by OmniBioTE (nyuolab/OmniBioTE at 54aface, "
             "`pronab_no_mutations.json`: 757 proteins, measurements with Kd and ΔG); the "
             "backbone is pre-trained in the same run on the proteins and nucleic acids of the "
             "mirror (ProNAB, OmniK-PTM, VQ-RNA, DeepASMM sequences). The upstream repository "
             "carries no licence file; ProNAB's terms are those of its authors.",
        figures="10-fold cross-validation grouped by protein, the same configuration "
                "(`python main.py --task binding --seed S`, S = 0, 1, 2; README \"Result tables "
                "over seeds\"), pooled over folds, mean ± sd:\n\n"
                "| metric | model | training-fold mean | k-mer ridge |\n|---|---|---|---|\n"
                "| MAE (kcal/mol) | 1.5581 ± 0.0159 | 1.6594 ± 0.0062 | 1.6863 ± 0.0409 |\n"
                "| Pearson r | 0.3193 ± 0.0148 | — | 0.2942 ± 0.0251 |\n\n"
                "OmniBioTE-XL (paper): r 0.41, MAE 1.56 kcal/mol.\n\n"
                "The backbone (`pretrain/backbone.keras`, 168,576 parameters, for fine-tuning with "
                "`deepbio run binding --backbone` or `deepbio run finetune --backbone`): held-out "
                "masked-token accuracy 0.371 in this run (unigram baseline 0.227; 0.364 ± 0.007 "
                "over seeds 0–2 in README).",
        intended_use="A first ranking of candidate complexes by affinity; `deepbio predict binding "
                     "--input pairs.csv` (columns protein, nucleic_acid, type, optional "
                     "complementary).",
        limits="A 168 k-parameter CPU model: without pre-training it does as well (r 0.322), so the "
               "pre-training adds nothing measurable yet. Complexes over 2,048 tokens are refused. "
               "Proteins unlike ProNAB's are out of its range."),
}


def _pinned_input(task, folder):
    """A small synthetic input of ``task`` (seeded), written to ``folder``; returns its path."""
    rng = np.random.default_rng(20261205)
    if task == "ptm":
        path = folder / "pinned.fasta"
        proteins = ["".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=n)) for n in (60, 120)]
        path.write_text("".join(f">pinned_{i + 1}\n{p}K{p[:20]}\n" for i, p in enumerate(proteins)))
    elif task == "rnamod":
        path = folder / "pinned.fasta"
        windows = ["".join(rng.choice(list("ACGU"), size=101)) for _ in range(3)]
        path.write_text("".join(f">pinned_{i + 1}\n{w}\n" for i, w in enumerate(windows)))
    elif task == "binding":
        path = folder / "pinned.csv"
        rows = ["".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=80)) + ","
                + "".join(rng.choice(list("ACGT"), size=20)) + ",DNA" for _ in range(2)]
        path.write_text("protein,nucleic_acid,type\n" + "\n".join(rows) + "\n")
    else:
        path = folder / "pinned.csv"
        rows = ["".join(rng.choice(list("ACGT"), size=600)) for _ in range(3)]
        path.write_text("sequence\n" + "\n".join(rows) + "\n")
    return path


def main(argv=None):
    from deepbio import cli
    from deepbio.presets.build import make_preset

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", required=True, help="folder holding one finished run per preset")
    parser.add_argument("--only", default=None, help="comma-separated preset names")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(SPECS)
    for name in names:
        spec = dict(SPECS[name], name=name)
        with tempfile.TemporaryDirectory() as folder:
            pinned = _pinned_input(spec["task"], Path(folder))
            target = make_preset(spec, Path(args.runs) / name, pinned, cli.main)
        size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
        print(f"{name}: {target} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
