"""Benchmark: DeepASMM motif scoring, naive reference engine vs the fast engine.

Both engines score the same occurrences of the same model on the same real
sequences (by default the whole demo: the 1,497 sequences of DeepASMM's Basset
8988T file, 8-mers seen at least 10 times; ``--sequences N`` takes the first N):
``deepbio.motif.naive.NaiveMotifScorer`` (upstream's algorithm,
one full perturbed sequence per row through ``model.predict``) and
``MotifScorer`` (XLA-compiled, convolutional stem recomputed only on the
changed windows, AF deduplicated and its stem shared across positions on the
constant background). The naive engine is first warmed up on the first
``2 × batch + 1`` occurrences (Keras's predict step compiled for the shapes it
will see). The fast engine runs the whole job twice: *cold* (its first run:
tracing and XLA compilation of its functions included, as in ``main.py --task
motif``) and *warm* (compiled functions ready). The timed runs include
everything else (building perturbations, prediction, scoring). Prints the
times, the ratios (warm and cold), and how far the two engines' scores are
apart, per occurrence and per motif (top-r 0.1 means, as in the demo).

    DEEPBIO_DATA=/path/to/data python benchmarks/motif_scoring.py --model runs/motif/model.keras

Without ``--model`` (or if the file is missing) the default Basset-style CNN is
trained first as ``main.py --task motif`` would (``train.py --task motif``).
"""

import argparse
import dataclasses
import json
import time
from pathlib import Path

import keras
import numpy as np

import Feature_extraction_algorithms as fea
from deepbio.motif.data import default_input, load_sequences
from deepbio.motif.aggregate import aggregate_scores
from deepbio.motif.fast import MotifScorer
from deepbio.motif.kmers import locate_kmers
from deepbio.motif.naive import NaiveMotifScorer
from deepbio.core.loading import load_task_model
from deepbio.motif import task as motif
from deepbio.motif.training import train_basset


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/motif/model.keras")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--sequences", type=int, default=None, help="score the first N sequences")
    parser.add_argument("--motif-length", type=int, default=8)
    parser.add_argument("--min-motif-count", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=4096, help="fast engine batch")
    parser.add_argument("--naive-batch-size", type=int, default=32,
                        help="model.predict batch of the naive engine (32: Keras's default, upstream's)")
    parser.add_argument("--output", default=None, help="also write the timings here as JSON")
    args = parser.parse_args(argv)

    frame = load_sequences(default_input(args.data_dir))
    if Path(args.model).is_file():
        model = load_task_model(args.model, "motif")
    else:
        print(f"{args.model} not found: training the default Basset-style CNN first")
        model = train_basset(motif.MotifConfig(), args.data_dir, verbose=2)["model"]
    sequences = frame["sequence"].tolist()[:args.sequences]
    x = fea.one_hot(sequences, alphabet="dna")
    occurrences = locate_kmers(sequences, args.motif_length, args.min_motif_count)
    head = 2 * args.batch_size + 1
    warm = dataclasses.replace(occurrences, motif_index=occurrences.motif_index[:head],
                               sequence_index=occurrences.sequence_index[:head],
                               position=occurrences.position[:head])
    print(f"{len(sequences)} sequences x {x.shape[1]} bp, k={args.motif_length}: "
          f"{len(occurrences.kmers)} k-mers, {len(occurrences)} occurrences "
          f"({2 * len(occurrences)} naive forward passes)")

    naive = NaiveMotifScorer(model, batch_size=args.naive_batch_size)
    naive.score(x, warm)
    start, cpu = time.perf_counter(), time.process_time()
    reference = naive.score(x, occurrences)
    naive_seconds, naive_cpu = time.perf_counter() - start, time.process_time() - cpu

    fast = MotifScorer(model, batch_size=args.batch_size)
    start = time.perf_counter()
    fast.score(x, occurrences)  # cold: traces and compiles
    cold_seconds = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    result = fast.score(x, occurrences)
    fast_seconds, fast_cpu = time.perf_counter() - start, time.process_time() - cpu

    def rel(a, b):
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-3)))

    def per_motif(scores):
        return aggregate_scores(scores, occurrences.motif_index, occurrences.counts, 0.1, 30)

    report = {
        "sequences": len(sequences), "length": int(x.shape[1]), "k": args.motif_length,
        "kmers": int(len(occurrences.kmers)), "occurrences": int(len(occurrences)),
        "naive_seconds": round(naive_seconds, 2), "fast_seconds": round(fast_seconds, 2),
        "ratio": round(naive_seconds / fast_seconds, 2),
        "fast_cold_seconds": round(cold_seconds, 2),
        "ratio_cold": round(naive_seconds / cold_seconds, 2),
        "naive_cpu_seconds": round(naive_cpu, 2), "fast_cpu_seconds": round(fast_cpu, 2),
        "cpu_ratio": round(naive_cpu / fast_cpu, 2), "naive_batch_size": args.naive_batch_size,
        "naive_stage_seconds": {k: round(v, 2) for k, v in reference.seconds.items()},
        "fast_stage_seconds": {k: round(v, 2) for k, v in result.seconds.items()},
        "fast_af_rows": result.forward_rows["af"],
        "fast_af_stage_rows": result.forward_rows["af_stages"],
        "max_relative_difference": {"scs": rel(result.scs, reference.scs),
                                    "af": rel(result.af, reference.af)},
        "occurrences_over_1e-4_relative": {
            "scs": int((np.abs(result.scs - reference.scs) > 1e-4 * np.abs(reference.scs)).sum()),
            "af": int((np.abs(result.af - reference.af) > 1e-4 * np.abs(reference.af)).sum())},
        "max_relative_difference_per_motif": {
            "scs": rel(per_motif(result.scs), per_motif(reference.scs)),
            "af": rel(per_motif(result.af), per_motif(reference.af))},
        "keras": keras.__version__,
    }
    print(json.dumps(report, indent=2))
    print(f"naive {naive_seconds:.1f} s, fast {fast_seconds:.1f} s: {report['ratio']:.1f}x faster "
          f"(CPU time {naive_cpu:.1f} s vs {fast_cpu:.1f} s: {report['cpu_ratio']:.1f}x; "
          f"cold fast run {cold_seconds:.1f} s: {report['ratio_cold']:.1f}x)")
    if args.output:
        from deepbio.core.io import write_json

        write_json(report, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
