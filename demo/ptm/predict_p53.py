"""Demo: which PTMs the lysines of real proteins would carry, if they are modified.

Uses the ``ptm-network`` preset that ships with deepbio (no training; or
``--model`` a run folder of ``python main.py --task ptm`` or another preset
name), takes three real full-length proteins from the ProNAB
data set (human p53, UniProt P04637, is the first: its C-terminal lysines
K370-K386 are well-known acetylation sites; HMGB1 and YY1 are acetylated too),
scores every K and prints each protein's lysines most likely to be acetylated
*if modified*. Every window the model was trained on is a modified lysine, so
the probabilities are P(PTM | the lysine carries at least one of the four),
not the probability that the lysine is modified at all. With a network model
(``--model-type network``) it also draws saliency maps of the top windows.

    python demo/ptm/predict_p53.py [--model ptm-network|ptm-trees|runs/ptm] [--output runs/demo_ptm]
"""

import argparse
import json
from pathlib import Path

import pandas as pd

from deepbio.data.registry import fetch
from deepbio.presets import resolve_model
from deepbio.ptm import task as ptm

PROTEINS = ("P04637", "P09429", "P25490")  # p53, HMGB1, YY1 (all in ProNAB)
NAMES = ("acetylation", "crotonylation", "methylation", "succinylation")
COLUMNS = [f"p_{name}_given_modified" for name in NAMES]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ptm-network",
                        help="a preset name, or a PTM run folder or model file (default the "
                             "ptm-network preset, whose saliency maps the demo draws)")
    parser.add_argument("--output", default="runs/demo_ptm")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--top", type=int, default=8, help="windows drawn in the saliency map")
    args = parser.parse_args(argv)
    args.model = resolve_model("ptm", args.model, "interpret")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)

    pronab = json.loads(fetch("pronab/pronab_no_mutations.json", data_dir=args.data_dir).read_text())
    chosen = [acc for acc in PROTEINS if acc in pronab]
    proteins = out / "proteins.fasta"
    proteins.write_text("".join(f">{acc} {pronab[acc]['Protein Name']}\n{pronab[acc]['Sequence']}\n"
                                for acc in chosen))
    ptm.predict_proteins(proteins, args.model, out / "predictions.csv")  # streamed to the CSV
    frame = pd.read_csv(out / "predictions.csv", keep_default_na=False)
    print(f"{len(frame)} lysines in {len(chosen)} proteins; predictions in {out / 'predictions.csv'}")
    print("Each probability answers: which PTM would this lysine carry if it is modified? "
          "(P(PTM | modified); the model cannot say whether a lysine is modified at all.)")
    shown = frame.rename(columns=dict(zip(COLUMNS, NAMES)))
    for acc, rows in shown.groupby("protein", sort=False):
        best = rows.sort_values("acetylation", ascending=False).head(5)
        print(f"\n{acc} {pronab[acc]['Protein Name']}: lysines most likely acetylated, if modified")
        print(best[["position", *NAMES, "predicted"]].to_string(index=False))
    model = Path(args.model)
    keras_model = model if model.suffix == ".keras" else model / "model.keras"
    if not keras_model.is_file():
        print("\nsaliency maps: only for a network model (--model-type network); a tree run "
              "folder holds position importance instead")
        return frame
    frame["top"] = frame[COLUMNS].max(axis=1)
    top = frame.sort_values("top", ascending=False).head(args.top)
    windows = out / "top_windows.fasta"
    windows.write_text("".join(f">{r.protein}_K{r.position}\n{r.window}\n" for r in top.itertuples()
                               if "-" not in r.window))
    files = ptm.saliency_for_fasta(windows, keras_model, out, smooth_samples=10)
    print("\nsaliency maps:", ", ".join(str(f) for f in files if str(f).endswith(".png")))
    return frame


if __name__ == "__main__":
    main()
