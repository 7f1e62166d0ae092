"""Times the adaptive cluster under-sampler against its per-sample reference.

Run by hand (not a test), from the repository root:

    DEEPBIO_DATA=/path/to/data python benchmarks/adaptive_undersampler.py --n-jobs -1

Loads the OmniK-PTM training split, computes the 46-dim PSTAAP features and
reduces class 1 from 9,279 to 927 samples (`sampling_strategy={1: 927}`) with
`AdaptiveClusterUnderSampler` and with `Resample._reference`, the plain version
(one `splrep` fit per sample, one C `dtw.distance` call per pair, Python loops).
Both run with the same parameters and seed; the script prints the seconds of
each, their ratio and whether they kept the same indices. `--reference-subset-size`
runs the reference (and a second, matching fast run) on a smaller DTW subset when
the full reference takes too long; the ratio is then taken at that size.
"""

import argparse
import time

import numpy as np

from deepbio.ptm.data import load_ptm
from Feature_extraction_algorithms import PSTAAP
from Resample import AdaptiveClusterUnderSampler
from Resample._reference import reference_sample_indices

STRATEGY = {1: 927}


def _time_fast(X, y, params, n_jobs):
    sampler = AdaptiveClusterUnderSampler(sampling_strategy=STRATEGY, n_jobs=n_jobs, **params)
    start = time.perf_counter()
    sampler.fit_resample(X, y)
    return time.perf_counter() - start, sampler.sample_indices_


def _time_reference(X, y, params):
    start = time.perf_counter()
    indices = reference_sample_indices(X, y, STRATEGY, **params)
    return time.perf_counter() - start, indices


def _report(name, subset_size, threads, seconds):
    print(f"{name:<9} (subset_size={subset_size}, {threads}): {seconds:8.2f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="data mirror (default: DEEPBIO_DATA)")
    parser.add_argument("--n-jobs", type=int, default=None, help="DTW threads of the fast sampler")
    parser.add_argument("--subset-size", type=int, default=1500)
    parser.add_argument("--reference-subset-size", type=int, default=None,
                        help="smaller DTW subset for the reference (default: --subset-size)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    dataset = load_ptm("train", data_dir=args.data_dir)
    X = PSTAAP().fit(dataset.windows, dataset.labels).transform(dataset.windows)
    y = np.asarray(dataset.classes)
    print(f"PTM train: X {X.shape} {X.dtype}; class 1: {np.count_nonzero(y == 1)} -> {STRATEGY[1]}")

    params = dict(max_k=8, subset_size=args.subset_size, smooth_factor=10.0, random_state=args.seed)
    fast_seconds, fast_indices = _time_fast(X, y, params, args.n_jobs)
    _report("fast", params["subset_size"], f"n_jobs={args.n_jobs}", fast_seconds)

    reference_size = args.reference_subset_size or args.subset_size
    if reference_size != args.subset_size:
        params["subset_size"] = reference_size
        print("reference run on a reduced DTW subset; fast re-timed at the same size:")
        fast_seconds, fast_indices = _time_fast(X, y, params, args.n_jobs)
        _report("fast", reference_size, f"n_jobs={args.n_jobs}", fast_seconds)
    reference_seconds, reference_indices = _time_reference(X, y, params)
    _report("reference", reference_size, "1 thread", reference_seconds)
    print(f"ratio reference / fast: {reference_seconds / fast_seconds:.2f}x")
    print(f"same indices: {np.array_equal(fast_indices, reference_indices)}")


if __name__ == "__main__":
    main()
