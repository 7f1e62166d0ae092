"""Demo: predict the lysine PTM sites of real proteins and draw their saliency.

Loads a model trained by ``python main.py --task ptm`` (default
``runs/ptm/model.keras``), takes three real full-length proteins from the
ProNAB data set (human p53, UniProt P04637, is the first: its C-terminal
lysines K370-K386 are well-known acetylation sites; HMGB1 and YY1 are
acetylated too), predicts every K, prints
the top sites and writes saliency heatmaps for the highest-scoring windows.

    python demo/ptm/predict_p53.py [--model runs/ptm/model.keras] [--output runs/demo_ptm]
"""

import argparse
import json
from pathlib import Path

from deepbio.data import fetch
from deepbio.tasks import ptm

PROTEINS = ("P04637", "P09429", "P25490")  # p53, HMGB1, YY1 (all in ProNAB)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/ptm/model.keras")
    parser.add_argument("--output", default="runs/demo_ptm")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--top", type=int, default=8, help="windows drawn in the saliency map")
    args = parser.parse_args(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)

    pronab = json.loads(fetch("pronab/pronab_no_mutations.json", data_dir=args.data_dir).read_text())
    chosen = [acc for acc in PROTEINS if acc in pronab]
    proteins = out / "proteins.fasta"
    proteins.write_text("".join(f">{acc} {pronab[acc]['Protein Name']}\n{pronab[acc]['Sequence']}\n"
                                for acc in chosen))
    frame = ptm.predict_proteins(proteins, args.model, out / "predictions.csv")
    print(f"{len(frame)} lysines in {len(chosen)} proteins; predictions in {out / 'predictions.csv'}")
    frame["top"] = frame[["crotonylation", "methylation", "succinylation", "acetylation"]].max(axis=1)
    for acc, rows in frame.groupby("protein", sort=False):
        best = rows.sort_values("acetylation", ascending=False).head(5)
        print(f"\n{acc} {pronab[acc]['Protein Name']}: top acetylation sites")
        print(best[["position", "acetylation", "crotonylation", "methylation", "succinylation",
                    "predicted"]].to_string(index=False))
    top = frame.sort_values("top", ascending=False).head(args.top)
    windows = out / "top_windows.fasta"
    windows.write_text("".join(f">{r.protein}_K{r.position}\n{r.window}\n" for r in top.itertuples()
                               if "-" not in r.window))
    files = ptm.saliency_for_fasta(windows, args.model, out, smooth_samples=10)
    print("\nsaliency maps:", ", ".join(str(f) for f in files if str(f).endswith(".png")))
    return frame


if __name__ == "__main__":
    main()
