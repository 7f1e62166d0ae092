"""Benchmark: VQ-RNA training seconds per epoch per modification, and ISM throughput.

1. For each modification (default: every trainable one), one VQ-RNA of the chosen
   preset (default ``cpu``: 101 nt, 2 transformer layers; ``gpu``: upstream's 501 nt,
   6 layers) is trained for ``--epochs`` epochs on the whole train split, batch 32;
   the seconds of each epoch after the first (the first includes tracing) are
   averaged and printed with windows per second.
2. ISM windows per second on real positive windows of one modification: the
   batched engine (`deepbio.interpret.saturation_mutagenesis`, all mutants of many
   windows per forward pass) against the naive reference (`naive_ism`, one mutant
   per forward pass), both on the same model's classifier path, both warmed up
   first; prints both rates and their ratio (batched / naive) and the largest
   difference between their attributions.

    DEEPBIO_DATA=/path/to/data python benchmarks/rnamod.py [--modifications Am,Cm] [--epochs 2]
        [--preset cpu] [--ism-windows 8] [--naive-windows 1]
"""

import argparse
import os
import time

import keras
import numpy as np

from deepbio.rnamod.data import available_modifications, load_rnamod, one_hot_rna
from deepbio.interpret.ism import naive_ism, saturation_mutagenesis
from deepbio.rnamod import task as rnamod
from deepbio.rnamod.model import vqrna_from_config as build_model
from deepbio.rnamod.training import compile_model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modifications", default="all")
    parser.add_argument("--epochs", type=int, default=2, help="epochs timed per modification (≥ 2)")
    parser.add_argument("--profile", default="cpu", choices=sorted(rnamod.PROFILES))
    parser.add_argument("--ism-windows", type=int, default=8)
    parser.add_argument("--naive-windows", type=int, default=1)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    names = (available_modifications("train", args.data_dir) if args.modifications == "all"
             else args.modifications.split(","))
    config = rnamod.RNAModConfig.for_profile(args.profile, epochs=max(2, args.epochs))
    print(f"profile {args.profile}: {config.sequence_length} nt, {config.num_layers} transformer layers, "
          f"batch {config.batch_size}; load {os.getloadavg()[0]:.2f} (1-min average)", flush=True)
    model = None
    if not args.skip_training:
        print(f"{'modification':<12} {'windows':>8} {'s/epoch':>8} {'windows/s':>10}")
        for name in names:
            keras.utils.set_random_seed(0)
            train = load_rnamod("train", name, config.sequence_length, args.data_dir)
            x = one_hot_rna(train.sequences)
            y = train.labels[:, None].astype("float32")
            model = compile_model(build_model(config, [name]), config)
            times = []
            for _ in range(config.epochs):
                start = time.perf_counter()
                model.fit(x, {"modification": y, "reconstruction": x}, batch_size=config.batch_size,
                          epochs=1, verbose=0)
                times.append(time.perf_counter() - start)
            seconds = float(np.mean(times[1:]))
            print(f"{name:<12} {len(x):>8} {seconds:>8.1f} {len(x) / seconds:>10.0f}", flush=True)
    name = names[0]
    if model is None:
        model = build_model(config, [name])
    valid = load_rnamod("valid", name, config.sequence_length, args.data_dir)
    positives = one_hot_rna([s for s, l in zip(valid.sequences, valid.labels) if l == 1])
    classifier = model.classifier()
    warm = positives[:1]
    saturation_mutagenesis(classifier, warm)
    naive_ism(classifier, warm, start=0, end=2)
    start = time.perf_counter()
    fast = saturation_mutagenesis(classifier, positives[:args.ism_windows])
    fast_rate = args.ism_windows / (time.perf_counter() - start)
    start = time.perf_counter()
    slow = naive_ism(classifier, positives[:args.naive_windows])
    naive_rate = args.naive_windows / (time.perf_counter() - start)
    difference = float(np.abs(fast[:args.naive_windows] - slow).max())
    print(f"ISM on {config.sequence_length}-nt {name} windows ({4 * config.sequence_length} mutants "
          f"each): batched {fast_rate:.2f} windows/s, naive {naive_rate:.3f} windows/s, "
          f"ratio {fast_rate / naive_rate:.1f}x, max |difference| {difference:.2e}")
    print(f"load {os.getloadavg()[0]:.2f} (1-min average) at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
