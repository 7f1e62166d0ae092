"""Benchmark: ``deepbio predict`` at proteome and transcriptome scale, sites per second and peak RSS.

1. PTM: synthetic proteins with realistic lengths (log-normal, median 400 aa,
   mean ≈ 560 aa as UniProt's human proteome) and UniProtKB/Swiss-Prot residue
   frequencies (K 5.8 %), fixed seed, written as gzip FASTA, scored by
   ``deepbio predict ptm`` (a subprocess, as a user runs it) at two sizes
   (default 2,000 and 20,000 proteins: ≈ 65 k and ≈ 650 k lysines, about the
   human proteome's count).
2. RNA: synthetic transcripts (log-normal lengths, median 2 kb), fixed seed,
   at two sizes (default 1 and 10 Mb of sequence) through ``deepbio predict
   rnamod``: cut into non-overlapping windows of the model's length (one
   site per window; default), or whole, every position scored (``--scan``:
   one site per nucleotide, 101 times the model work of the windows).

Each run reports sites, wall seconds (reading the input twice, loading the
model, scoring, writing the CSV), sites per second (overall, and beyond the
baseline run's seconds: the rate once started) and the peak RSS of the
``deepbio`` process (``os.wait4``'s ``ru_maxrss`` of that child alone). The
streamed prediction holds one chunk (``--chunk-size``) in memory, so the peak
RSS should not grow with the input: the table ends with the ratio of peak RSS
large / small (≈ 1) and the baseline measured in the same run, the peak RSS
of the same command on a tiny input (10 records: the interpreter, TensorFlow
and the model).

Without ``--ptm-model`` / ``--rnamod-model`` a tiny model is trained first
(``deepbio train``, needs the data mirror ``DEEPBIO_DATA``, about a minute).

    DEEPBIO_DATA=../shared/data python benchmarks/predict_scale.py
        [--proteins 2000,20000] [--transcript-mb 1,10] [--scan]
        [--ptm-model runs/ptm] [--rnamod-model runs/rnamod] [--chunk-size 4096]
        [--skip-ptm] [--skip-rnamod] [--workdir DIR] [--seed 0]
"""

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# UniProtKB/Swiss-Prot amino-acid composition (release statistics, %), in this order.
RESIDUES = "ARNDCQEGHILKMFPSTWYV"
COMPOSITION = [8.25, 5.53, 4.06, 5.45, 1.37, 3.93, 6.75, 7.07, 2.27, 5.96,
               9.66, 5.84, 2.42, 3.86, 4.70, 6.56, 5.34, 1.08, 2.92, 6.87]
PROTEIN_MEDIAN, PROTEIN_SIGMA = 400, 0.82  # mean = 400 · exp(0.82² / 2) ≈ 560 aa
TRANSCRIPT_MEDIAN, TRANSCRIPT_SIGMA = 2000, 0.7
WINDOW = 101  # the rnamod cpu profile's window; read from the model when it differs


def _sizes(text, kind):
    values = [kind(v) for v in text.split(",") if v.strip()]
    if len(values) != 2 or not 0 < values[0] < values[1]:
        raise SystemExit(f"give two increasing sizes, small,large (got {text!r})")
    return values


def _write_fasta(path, records, width=60):
    """Writes ``(name, sequence)`` records as gzip FASTA; returns the number written."""
    count = 0
    with gzip.open(path, "wt", compresslevel=1) as handle:
        for name, sequence in records:
            handle.write(f">{name}\n")
            handle.write("\n".join(sequence[i:i + width] for i in range(0, len(sequence), width)))
            handle.write("\n")
            count += 1
    return count


def proteins(n, seed=0):
    """``n`` synthetic proteins ``(name, sequence)``: log-normal lengths, Swiss-Prot frequencies.

    Every protein starts with M and holds at least one K (``deepbio predict
    ptm`` refuses a protein without a site).
    """
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(PROTEIN_MEDIAN), PROTEIN_SIGMA, n), 30, 35000).astype(int)
    p = np.asarray(COMPOSITION) / np.sum(COMPOSITION)
    letters = np.frombuffer(RESIDUES.encode(), np.uint8)
    for i, length in enumerate(lengths):
        sequence = "M" + letters[rng.choice(20, size=length - 1, p=p)].tobytes().decode()
        if "K" not in sequence:
            sequence = sequence[:-1] + "K"
        yield f"SYN{i:06d}", sequence


def transcripts(megabases, seed=0):
    """Synthetic transcripts ``(name, sequence)`` (A, C, G, U) totalling ``megabases`` Mb."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGU", np.uint8)
    left, i = int(megabases * 1e6), 0
    while left > 0:
        length = min(left, int(np.clip(rng.lognormal(np.log(TRANSCRIPT_MEDIAN), TRANSCRIPT_SIGMA),
                                       200, 100_000)))
        yield f"TX{i:06d}", letters[rng.integers(0, 4, length)].tobytes().decode()
        left, i = left - length, i + 1


def tiled_windows(records, length):
    """Non-overlapping windows of ``length`` nt of each transcript, named by their centre."""
    for name, sequence in records:
        for start in range(0, len(sequence) - length + 1, length):
            yield f"{name}:{start + length // 2 + 1}", sequence[start:start + length]


def run(args, log):
    """Runs ``python -m deepbio ARGS``; returns ``(seconds, peak RSS MiB)`` of that child alone."""
    env = {**os.environ, "DEEPBIO_OFFLINE": "1"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # deepbio silences TensorFlow's start-up log itself
    start = time.perf_counter()
    with open(log, "w") as out:
        child = subprocess.Popen([sys.executable, "-m", "deepbio", *map(str, args)], stdout=out,
                                 stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if child.returncode:
        raise SystemExit(f"deepbio {' '.join(map(str, args))} failed ({child.returncode}):\n"
                         f"{Path(log).read_text()[-3000:]}")
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def _train(task, flags, folder):
    print(f"training a tiny {task} model → {folder} ...", flush=True)
    seconds, _ = run(["train", task, *flags, "--output", folder, "--verbose", "0"],
                     folder.parent / f"train_{task}.log")
    print(f"  {seconds:.0f} s", flush=True)
    return folder


def _window_length(model):
    """The input length of an rnamod model (a .keras file or a run folder)."""
    from deepbio.rnamod.predict import _models_at

    return max(m.sequence_length for _, m in _models_at(model))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proteins", default="2000,20000", help="two sizes, small,large")
    parser.add_argument("--transcript-mb", default="1,10", help="two sizes in Mb, small,large")
    parser.add_argument("--scan", action="store_true",
                        help="rnamod: whole transcripts, every position scored (--scan)")
    parser.add_argument("--ptm-model", default=None, help="a PTM run folder or model file")
    parser.add_argument("--rnamod-model", default=None, help="an rnamod run folder or model.keras")
    parser.add_argument("--chunk-size", type=int, default=4096)
    parser.add_argument("--skip-ptm", action="store_true")
    parser.add_argument("--skip-rnamod", action="store_true")
    parser.add_argument("--workdir", default=None, help="keep the inputs and outputs here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="predict_scale_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder {work}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} (1-min average); "
          f"--chunk-size {args.chunk_size}", flush=True)
    rows = []

    def measure(task, label, source, sites, model, extra=()):
        output = work / f"{source.name.split('.')[0]}.csv"
        seconds, rss = run(["predict", task, "--model", model, "--input", source, "--output", output,
                            "--chunk-size", args.chunk_size, "--verbose", "0", *extra],
                           work / f"{output.stem}.log")
        rows.append((task, label, sites, seconds, sites / seconds, rss))
        print(f"  {task} {label}: {sites:,} sites in {seconds:.1f} s, peak RSS {rss:.0f} MiB",
              flush=True)
        output.unlink()  # the CSVs are large; only the figures are kept
        return rss

    if not args.skip_ptm:
        model = args.ptm_model or _train("ptm", ["--folds", "0", "--max-windows", "700", "--compare",
                                                 "none", "--no-grouped-cv", "--saliency-windows", "0"],
                                         work / "ptm_model")
        for n in [10, *_sizes(args.proteins, int)]:
            path = work / f"proteins_{n}.fa.gz"
            records = list(proteins(n, args.seed)) if n == 10 else None
            sites = [0, 0]

            def counted(source):
                for name, sequence in source:
                    sites[0] += sequence.count("K")
                    sites[1] += len(sequence)
                    yield name, sequence

            _write_fasta(path, counted(records or proteins(n, args.seed)))
            label = "baseline (10 proteins)" if n == 10 else f"{n:,} proteins ({sites[1] / 1e6:.1f} M aa)"
            measure("ptm", label, path, sites[0], model)
    if not args.skip_rnamod:
        model = args.rnamod_model or _train("rnamod", ["--epochs", "1", "--modifications", "Am",
                                                       "--max-windows-per-split", "40",
                                                       "--no-multitask"], work / "rnamod_model")
        length = _window_length(model) if args.rnamod_model else WINDOW
        for mb in [None, *_sizes(args.transcript_mb, float)]:
            path = work / f"transcripts_{mb or 'baseline'}.fa.gz"
            source = transcripts(0.02 if mb is None else mb, args.seed)
            if args.scan:
                records = ([(name, seq[:100]) for _, (name, seq) in zip(range(10), source)]
                           if mb is None else source)
                sites = [0]

                def positions(items):
                    for name, sequence in items:
                        sites[0] += len(sequence)
                        yield name, sequence

                _write_fasta(path, positions(records))
                sites = sites[0]
            else:
                windows = tiled_windows(source, length)
                if mb is None:
                    windows = [w for _, w in zip(range(10), windows)]
                sites = _write_fasta(path, windows)
            label = ("baseline (10 records)" if mb is None else
                     f"{mb:g} Mb of transcripts" + (", every position" if args.scan else
                                                    f", {length}-nt windows"))
            measure("rnamod", label, path, sites, model, ["--scan"] if args.scan else [])
    print(f"\n{'task':<7} {'input':<40} {'sites':>10} {'seconds':>8} {'sites/s':>9} "
          f"{'beyond start-up':>16} {'peak RSS MiB':>13}")
    start_up = {}
    for task, label, sites, seconds, rate, rss in rows:
        if task not in start_up:  # the baseline: start-up, model loading, a few sites
            start_up[task] = seconds
            marginal = ""
        else:
            beyond = seconds - start_up[task]
            marginal = f"{sites / beyond:,.0f}" if beyond > 0.5 else "n/a"
        print(f"{task:<7} {label:<40} {sites:>10,} {seconds:>8.1f} {rate:>9,.0f} {marginal:>16} "
              f"{rss:>13,.0f}")
    for task in ("ptm", "rnamod"):
        done = [r for r in rows if r[0] == task]
        if len(done) == 3:
            base, small, large = (r[5] for r in done)
            print(f"{task}: peak RSS large / small = {large / small:.3f} for "
                  f"{done[2][2] / done[1][2]:.1f}x the sites; above the baseline: "
                  f"{small - base:+.0f} MiB (small), {large - base:+.0f} MiB (large)")


if __name__ == "__main__":
    main()
