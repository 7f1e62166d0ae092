"""Benchmark: are the motif task's top motifs stable across training seeds? (issue 23)

Runs ``main.py --task motif`` twice with disjoint training seeds: ensemble A
with seeds ``--seed-a`` … ``--seed-a + N − 1`` and ensemble B with seeds
``--seed-b`` … (default: right after A's), both on the same fixed split
(``--split-seed``), N = ``--ensemble``. Every other flag after ``--`` goes to
both runs unchanged. Then compares, for each combined score (autonomous
functionality, AF; sequence-context synergy, SCS):

* the overlap of the two top-``--top`` lists (ranked by the score, ties by
  count, as ``top_motifs.csv``);
* the Spearman correlation of the score over all scored motifs (every k-mer
  seen at least ``--min-motif-count`` times, the run's own filter);

for the two ensembles (their mean scores, ``motif_scores.csv``) and for
single models (every pair of one member of A and one member of B:
``ensemble/member<i>_scores.csv``; mean, min and max over the N² pairs).
The chance level is printed beside (two random top lists share
``top² / motifs`` motifs; Spearman 0). Also reports the held-out AUROC of
all 2N members on the fixed split (mean ± sample sd) and of both ensembles.

    DEEPBIO_DATA=/path/to/data python benchmarks/motif_stability.py --output runs/motif_stability

Writes ``stability.json`` and the two run folders ``a/`` and ``b/`` under
``--output``; prints a Markdown table.
"""

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
SCORES = {"AF": "autonomous_functionality_score", "SCS": "sequence_context_synergy_score"}


def top_motifs(table, column, top):
    """The ``top`` motifs of ``table`` by ``column`` (ties: higher count first), as a set."""
    ranked = table.sort_values([column, "count"], ascending=False, kind="stable")
    return set(ranked["motif"].head(top))


def compare(first, second, top):
    """Top-``top`` overlap and Spearman ρ of AF and SCS between two motif tables.

    Args:
        first, second: DataFrames with ``motif``, ``count`` and the `SCORES`
            columns, over the same motifs (any order).
        top: int, length of the top lists.

    Returns:
        dict ``{"AF": {"overlap": int, "spearman": float}, "SCS": {...}}``.

    Raises:
        ValueError: the tables score different motifs.
    """
    if set(first["motif"]) != set(second["motif"]):
        raise ValueError("the two runs scored different motifs; use the same data and k-mer flags")
    second = second.set_index("motif").loc[first["motif"]].reset_index()
    result = {}
    for name, column in SCORES.items():
        rho = spearmanr(first[column], second[column]).statistic
        result[name] = {"overlap": len(top_motifs(first, column, top) & top_motifs(second, column, top)),
                        "spearman": float(rho)}
    return result


def _summary(pairs):
    """Mean, min and max of each figure over a list of `compare` results."""
    out = {}
    for name in SCORES:
        out[name] = {}
        for key in ("overlap", "spearman"):
            values = [p[name][key] for p in pairs]
            out[name][key] = {"mean": float(np.mean(values)), "min": float(np.min(values)),
                              "max": float(np.max(values))}
    return out


def run_ensemble(folder, seed, args, extra):
    """``main.py --task motif`` with training seeds seed … seed + N − 1 into ``folder``."""
    command = [sys.executable, str(ROOT / "main.py"), "--task", "motif", "--seed", str(seed),
               "--ensemble", str(args.ensemble), "--split-seed", str(args.split_seed),
               "--min-motif-count", str(args.min_motif_count), "--output", str(folder),
               "--verbose", str(args.verbose), *extra]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    start = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    return time.perf_counter() - start


def _markdown(result, top):
    """The comparison as a Markdown table."""
    motifs = result["motifs"]
    lines = [f"| compared ({motifs} motifs) | top-{top} shared, AF | top-{top} shared, SCS | "
             f"Spearman AF | Spearman SCS |", "|---|---|---|---|---|"]
    e = result["ensembles"]
    lines.append(f"| two ensembles of {result['ensemble']} | {e['AF']['overlap']} | "
                 f"{e['SCS']['overlap']} | {e['AF']['spearman']:.4f} | {e['SCS']['spearman']:.4f} |")
    s = result["single_models"]

    def cell(name, key, digits):
        v = s[name][key]
        return f"{v['mean']:.{digits}f} ({v['min']:.{digits}f}–{v['max']:.{digits}f})"

    lines.append(f"| two single models, mean (min–max) of {result['single_pairs']} pairs | "
                 f"{cell('AF', 'overlap', 1)} | {cell('SCS', 'overlap', 1)} | "
                 f"{cell('AF', 'spearman', 3)} | {cell('SCS', 'spearman', 3)} |")
    lines.append(f"| chance | {top * top / max(motifs, 1):.2f} | {top * top / max(motifs, 1):.2f} | "
                 f"0 | 0 |")
    h = result["heldout_auroc"]
    lines.append(f"\nheld-out AUROC on the fixed split (split seed {result['split_seed']}): "
                 f"single models {h['members_mean']:.4f} ± {h['members_sd']:.4f} over "
                 f"{len(h['members'])} seeds; ensembles {h['ensemble_a']:.4f}, "
                 f"{h['ensemble_b']:.4f}; constant score 0.5")
    return "\n".join(lines)


def evaluate(out, args, seconds=None):
    """Compares the finished runs ``out/a`` and ``out/b``; returns the result dict."""
    tables, reports = {}, {}
    for run in ("a", "b"):
        reports[run] = json.loads((out / run / "report.json").read_text())
        tables[run] = pd.read_csv(out / run / "motif_scores.csv")
        tables[run + "_members"] = [pd.read_csv(out / run / "ensemble" / f"member{i}_scores.csv")
                                    for i in range(args.ensemble)]
    single = [compare(x, y, args.top) for x, y in itertools.product(tables["a_members"],
                                                                    tables["b_members"])]
    members = [*reports["a"]["heldout_members"]["auroc"], *reports["b"]["heldout_members"]["auroc"]]
    return {
        "ensemble": args.ensemble, "split_seed": args.split_seed, "top": args.top,
        "seeds_a": reports["a"]["model"]["seeds"], "seeds_b": reports["b"]["model"]["seeds"],
        "motifs": int(len(tables["a"])), "min_motif_count": args.min_motif_count,
        "ensembles": compare(tables["a"], tables["b"], args.top),
        "single_models": _summary(single), "single_pairs": len(single),
        "chance_overlap": args.top * args.top / max(len(tables["a"]), 1),
        "heldout_auroc": {"members": members, "members_mean": float(np.mean(members)),
                          "members_sd": float(np.std(members, ddof=1)) if len(members) > 1 else 0.0,
                          "ensemble_a": reports["a"]["heldout"]["auroc"],
                          "ensemble_b": reports["b"]["heldout"]["auroc"]},
        "seconds": seconds or {}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="runs/motif_stability")
    parser.add_argument("--ensemble", type=int, default=5, help="members per ensemble")
    parser.add_argument("--seed-a", type=int, default=0, help="first training seed of ensemble A")
    parser.add_argument("--seed-b", type=int, default=None,
                        help="first training seed of ensemble B (default: seed-a + ensemble)")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--min-motif-count", type=int, default=10)
    parser.add_argument("--top", type=int, default=20, help="length of the compared top lists")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--compare-only", action="store_true",
                        help="only compare the finished runs under --output")
    args, extra = parser.parse_known_args(argv)
    extra = [e for e in extra if e != "--"]
    if args.ensemble < 2:
        parser.error(f"--ensemble must be at least 2 (the single-model figures pair members), "
                     f"got {args.ensemble}")
    seed_b = args.seed_a + args.ensemble if args.seed_b is None else args.seed_b
    if abs(seed_b - args.seed_a) < args.ensemble:
        parser.error(f"the training seeds of the two ensembles overlap: {args.seed_a} and {seed_b} "
                     f"with {args.ensemble} members each")
    out = Path(args.output)
    seconds = {}
    if not args.compare_only:
        seconds = {"a": run_ensemble(out / "a", args.seed_a, args, extra),
                   "b": run_ensemble(out / "b", seed_b, args, extra)}
    result = evaluate(out, args, {k: round(v, 1) for k, v in seconds.items()})
    out.mkdir(parents=True, exist_ok=True)
    (out / "stability.json").write_text(json.dumps(result, indent=2) + "\n")
    print(_markdown(result, args.top))
    return result


if __name__ == "__main__":
    main()
