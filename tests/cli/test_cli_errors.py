"""Fuzz corpus of bad inputs: every one must fail well on the command line.

Each case is one command (``deepbio ...``, or ``main.py`` / ``train.py``) with
the input files it needs; it must exit with status 2, print exactly one line
``deepbio: error: ...`` on stderr that names the file / record / flag and the
problem (a regex per case), never a traceback, and leave no output behind.

Most cases run in-process through `deepbio.cli.main` (TensorFlow is imported
once); `test_console_path` runs a few by subprocess, as a user would. Cases
that need a trained model use the session's shared tiny runs (``tiny_run``)
and a tiny PTM network trained once (module fixture ``models``, needs the
data mirror, see ``data_dir``).

Conventions checked here (see `deepbio.data.fasta`): lower-case sequences are
accepted everywhere; ``-`` is only accepted as padding at the ends of PTM
windows; ids must be unique where the output is reported by id (predict).
"""

import contextlib
import gzip
import io
import os
import random
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from deepbio import cli

ROOT = Path(__file__).resolve().parents[2]  # the repository (tests/<area>/this file)
PROT = "MSTNPKPQRKTKRNTNRRPQDVKFPGG" * 3  # 81 residues, 6 K
WIN = "A" * 24 + "K" + "C" * 24  # a 49-residue K-centred window
RNA = "ACGU" * 25 + "A"  # 101 nt, the cpu profile's window
DNA600 = ("ACGTTGCA" * 75)
DIR = object()  # a file spec: make a folder
RANDOM_BYTES = bytes(random.Random(0).randrange(256) for _ in range(3000))
MODEL_KEYS = ("ptm", "rnamod", "rnamod_am", "motif", "binding")


def _truncated(models):
    data = Path(models["ptm"]).read_bytes()
    return data[:len(data) // 2]


def case(name, argv, pattern, files=None, needs=None, absent="out", script=None):
    """One bad-input case: ``argv`` (``{ptm}``... name the trained models) must exit 2 with one
    ``deepbio: error:`` line matching ``pattern``, and leave ``absent`` unwritten.

    ``files``: name → str / bytes / ``DIR`` / callable(models) → bytes, written into the
    test's folder (the working directory). ``needs``: "models" (trained models, not a
    stand-in), "data" (the data mirror) or "non-root". ``script``: "main.py" / "train.py".
    """
    return pytest.param(argv, pattern, files or {}, needs, absent, script, id=name)


PRED_PTM = "predict ptm --model {ptm} --output out --input"
INTERP_PTM = "interpret ptm --model {ptm} --output out --input"
PRED_RNA = "predict rnamod --model {rnamod} --output out --input"
RUN_MOTIF = "run motif --model {motif} --output out --jaspar-top 0 --verbose 0 --input"
PRED_BIND = "predict binding --model {binding} --output out --input"
GOOD_PAIRS = "protein,nucleic_acid,type\nMKVLAAGIK,ACGTACGT,DNA\n"

CASES = [
    # --- input files: missing, empty, binary, folder, not FASTA ------------------------------
    case("input-missing", f"{PRED_PTM} missing.fa", r"FASTA file missing\.fa not found"),
    case("input-empty", f"{PRED_PTM} empty.fa", r"empty\.fa: no FASTA record found \(the file is empty\)",
         {"empty.fa": ""}),
    case("input-blank-lines", f"{PRED_PTM} blank.fa", r"blank\.fa: no FASTA record found",
         {"blank.fa": "\n\n  \n"}),
    case("input-binary", f"{PRED_PTM} binary.fa",
         r"FASTA file binary\.fa is not a text file \(binary byte 0x[0-9a-f]{2} at offset \d+\)",
         {"binary.fa": RANDOM_BYTES}),
    case("input-gzip-truncated", f"{PRED_PTM} p.fa.gz",
         r"FASTA file p\.fa\.gz: gzip data is corrupt or truncated",
         {"p.fa.gz": gzip.compress(f">p1\n{PROT}\n".encode())[:-12]}),
    case("input-folder", f"{PRED_PTM} folder.fa", r"FASTA file folder\.fa is a folder", {"folder.fa": DIR}),
    case("input-not-fasta", f"{PRED_PTM} table.fa",
         r"table\.fa: not FASTA: the first line must be a '>' header, found 'id,seq'",
         {"table.fa": "id,seq\n1,MKV\n"}),
    # --- protein FASTA of predict ptm ------------------------------------------------------
    case("ptm-nonstandard-residue", f"{PRED_PTM} p.fa",
         r"p\.fa: record 2 \('p2'\) has non-standard residue 'X' at position 3; only the 20",
         {"p.fa": f">p1\n{PROT}\n>p2\nMKXAK\n"}),
    case("ptm-stop-codon", f"{PRED_PTM} p.fa", r"record 1 \('p1'\) has non-standard residue '\*' at position 6",
         {"p.fa": ">p1\nMKAAK*\n"}),
    case("ptm-gap", f"{PRED_PTM} p.fa", r"record 1 \('p1'\) has a gap '-' at position 4; give ungapped",
         {"p.fa": ">p1\nMKA--AK\n"}),
    case("ptm-empty-record", f"{PRED_PTM} p.fa",
         r"p\.fa: record 2 \('p2'\) has an empty sequence; remove its header or add its sequence",
         {"p.fa": f">p1\n{PROT}\n>p2\n>p3\nMKA\n"}),
    case("ptm-empty-last-record", f"{PRED_PTM} p.fa", r"record 2 \('p2'\) has an empty sequence",
         {"p.fa": f">p1\n{PROT}\n>p2\n"}),
    case("ptm-duplicate-ids", f"{PRED_PTM} p.fa", r"p\.fa: record 2 repeats the name 'p1' of record 1",
         {"p.fa": f">p1\n{PROT}\n>p1 again\nMKAK\n"}),
    # --- K-centred windows of interpret ptm --------------------------------------------------
    case("ptm-window-48", f"{INTERP_PTM} w.fa", r"w\.fa: record 2 \('w2'\) has length 48, expected 49",
         {"w.fa": f">w1\n{WIN}\n>w2\n{WIN[:-1]}\n"}),
    case("ptm-window-not-k", f"{INTERP_PTM} w.fa",
         r"record 2 \('w2'\) has 'R' at its centre \(position 25\), expected K",
         {"w.fa": f">w1\n{WIN}\n>w2\n{WIN[:24]}R{WIN[25:]}\n"}),
    case("ptm-window-gap-inside", f"{INTERP_PTM} w.fa",
         r"record 1 \('w1'\) has a gap '-' at position 31; '-' may only pad the window's ends",
         {"w.fa": f">w1\n{WIN[:30]}-{WIN[31:]}\n"}),
    case("ptm-window-residue", f"{INTERP_PTM} w.fa", r"non-standard residue 'B' at position 1",
         {"w.fa": f">w1\nB{WIN[1:]}\n"}),
    # --- RNA windows of predict rnamod -------------------------------------------------------
    case("rnamod-too-short", f"{PRED_RNA} r.fa",
         r"r\.fa: record 2 \('r2'\) has length 49 \(too short\); expected an odd length of at least 101",
         {"r.fa": f">r1\n{RNA}\n>r2\n{RNA[:49]}\n"}, needs="models"),
    case("rnamod-even-length", f"{PRED_RNA} r.fa",
         r"record 2 \('r2'\) has length 102 \(an even length has no centre\)",
         {"r.fa": f">r1\n{RNA}\n>r2\n{RNA}A\n"}),
    case("rnamod-bad-base", f"{PRED_RNA} r.fa", r"record 2 \('r2'\) has invalid base 'X' at position 51",
         {"r.fa": f">r1\n{RNA}\n>r2\n{RNA[:50]}X{RNA[51:]}\n"}),
    case("rnamod-gap", f"{PRED_RNA} r.fa", r"record 2 \('r2'\) has a gap '-' at position 11",
         {"r.fa": f">r1\n{RNA}\n>r2\n{RNA[:10]}-{RNA[11:]}\n"}),
    case("rnamod-duplicate-ids", f"{PRED_RNA} r.fa", r"r\.fa: record 2 repeats the name 'r1'",
         {"r.fa": f">r1\n{RNA}\n>r1\n{RNA}\n"}),
    # --- motif sequences (run motif --input --model) -----------------------------------------
    case("motif-no-sequence-column", f"{RUN_MOTIF} s.csv",
         r"s\.csv: no sequence column \(expected 'Seqs' or 'sequence'\), found \['id', 'foo'\]",
         {"s.csv": "id,foo\n1,ACGT\n"}),
    case("motif-non-acgt", f"{RUN_MOTIF} s.csv",
         r"s\.csv: row 3 \('b'\) has letter 'X' at position 403; only A, C, G, T/U and N",
         {"s.csv": f"id,Seqs\na,{DNA600}\nb,{DNA600[:402]}X{DNA600[403:]}\n"}),
    case("motif-unequal-length", f"{RUN_MOTIF} s.csv",
         r"s\.csv: row 3 \('b'\) has length 400, but the first record has 600",
         {"s.csv": f"id,Seqs\na,{DNA600}\nb,{DNA600[:400]}\n"}),
    case("motif-empty-cell", f"{RUN_MOTIF} s.csv", r"s\.csv: row 3 \('b'\) has an empty sequence",
         {"s.csv": f"id,Seqs\na,{DNA600}\nb,\n"}),
    case("motif-fasta-gap", f"{RUN_MOTIF} s.fa", r"s\.fa: record 2 \('b'\) has a gap '-' at position 2",
         {"s.fa": f">a\nACGT\n>b\nA-GT\n"}),
    case("motif-binary-csv", f"{RUN_MOTIF} s.csv", r"sequence file s\.csv is not a text file",
         {"s.csv": RANDOM_BYTES}),
    case("motif-empty-csv", f"{RUN_MOTIF} s.csv", r"s\.csv: empty file, no header line", {"s.csv": ""}),
    case("motif-malformed-csv", f"{RUN_MOTIF} s.csv", r"s\.csv: not a valid CSV file \(",
         {"s.csv": 'id,Seqs\na,"ACGT\nb,ACGT\n'}),
    case("motif-unknown-format", f"{RUN_MOTIF} s.txt", r"s\.txt: unknown sequence format", {"s.txt": "ACGT\n"}),
    case("motif-length-not-the-models", f"{RUN_MOTIF} s.csv",
         r"model input shape \(600, 4\) does not fit \(300, 4\) one-hot sequences",
         {"s.csv": "Seqs\n" + "\n".join([DNA600[:300]] * 12) + "\n"}, needs="models"),
    # --- binding pairs (predict binding) -----------------------------------------------------
    case("binding-missing-strand", f"{PRED_BIND} pairs.csv",
         r"pairs\.csv: row 3 has an empty nucleic_acid",
         {"pairs.csv": GOOD_PAIRS + "MKVLAAGIK,,DNA\n"}),
    case("binding-missing-column", f"{PRED_BIND} pairs.csv",
         r"pairs\.csv: missing column\(s\) \['type'\]; found \['protein', 'nucleic_acid'\]",
         {"pairs.csv": "protein,nucleic_acid\nMKVLAAGIK,ACGTACGT\n"}),
    case("binding-bad-residue", f"{PRED_BIND} pairs.csv",
         r"protein sequence 'pairs\.csv row 3' has non-standard residue '1' at position 4",
         {"pairs.csv": GOOD_PAIRS + "MKV1AAGIK,ACGTACGT,DNA\n"}),
    case("binding-bad-base", f"{PRED_BIND} pairs.csv",
         r"DNA sequence 'pairs\.csv row 2' has non-standard base 'U' at position 3",
         {"pairs.csv": "protein,nucleic_acid,type\nMKVLAAGIK,ACUTACGT,DNA\n"}),
    case("binding-bad-type", f"{PRED_BIND} pairs.csv", r"pairs\.csv: row 2 has type 'protein'; expected DNA or RNA",
         {"pairs.csv": "protein,nucleic_acid,type\nMKVLAAGIK,ACGTACGT,protein\n"}),
    case("binding-header-only", f"{PRED_BIND} pairs.csv", r"pairs\.csv: no complexes",
         {"pairs.csv": "protein,nucleic_acid,type\n"}),
    case("binding-binary", f"{PRED_BIND} pairs.csv", r"pairs file pairs\.csv is not a text file",
         {"pairs.csv": RANDOM_BYTES}),
    case("binding-max-protein-length-0", f"{PRED_BIND} pairs.csv --max-protein-length 0",
         r"--max-protein-length must be at least 1, got 0", {"pairs.csv": GOOD_PAIRS}),
    case("binding-complex-too-long", f"{PRED_BIND} pairs.csv",
         r"pairs\.csv: row 3 is a complex of 3,0\d\d tokens \(protein 3,000 residues, nucleic acid "
         r"8 nt\); the limit is 2,048 .*--max-protein-length",
         {"pairs.csv": GOOD_PAIRS + "M" * 3000 + ",ACGTACGT,DNA\n"}),
    case("binding-strand-too-long", f"{PRED_BIND} pairs.csv",
         r"pairs\.csv: row 2 is a complex of 50,0\d\d tokens .*nucleic acid 50,000 nt",
         {"pairs.csv": "protein,nucleic_acid,type\nMKVLAAGIK," + "ACGT" * 12_500 + ",DNA\n"}),
    case("binding-row-too-long", f"{PRED_BIND} pairs.csv",
         r"pairs file pairs\.csv: row 2 is longer than 100,000 bytes, the limit of one row",
         {"pairs.csv": "protein,nucleic_acid,type\nMKVLAAGIK," + "ACGT" * 25_000 + ",DNA\n"}),
    case("binding-quoted-field-bomb", f"{PRED_BIND} pairs.csv.gz",
         r"pairs file pairs\.csv\.gz: row 3 is longer than 100,000 bytes, the limit of one row "
         r"\(an unclosed '\"' quote\?\)",
         {"pairs.csv.gz": lambda _: gzip.compress(GOOD_PAIRS.encode() + b'"' + (b"M" * 999 + b"\n")
                                                  * 30_000)}),
    # --- huge records and decompression bombs (stopped before they reach memory) -------------
    case("ptm-record-bomb", f"{PRED_PTM} bomb.fa.gz",
         r"FASTA file bomb\.fa\.gz: record 2 \('big'\) is longer than 200,000 bytes",
         {"bomb.fa.gz": lambda _: gzip.compress(f">p1\n{PROT}\n>big\n".encode() + b"K" * 12_000_000)}),
    case("binding-line-bomb", f"{PRED_BIND} pairs.csv.gz",
         r"pairs file pairs\.csv\.gz: row 3 is longer than 100,000 bytes",
         {"pairs.csv.gz": lambda _: gzip.compress(GOOD_PAIRS.encode() + b"M" * 12_000_000)}),
    case("rnamod-window-record-bomb", f"{PRED_RNA} bomb.fa.gz",
         r"FASTA file bomb\.fa\.gz: record 2 \('big'\) is longer than 100,000 bytes",
         {"bomb.fa.gz": lambda _: gzip.compress(f">r1\n{RNA}\n>big\n".encode() + b"A" * 12_000_000)}),
    # --- files a Unix user passes ------------------------------------------------------------
    case("input-dev-null", f"{PRED_PTM} /dev/null", r"/dev/null: no FASTA record found \(the file is empty\)"),
    case("output-is-a-folder-csv", "predict ptm --model {ptm} --input p.fa --output taken.csv",
         r"output taken\.csv is a folder; give a file path", {"taken.csv": DIR, "p.fa": f">p1\n{PROT}\n"},
         absent="taken.csv/predictions.csv"),
    case("output-in-sys", "predict ptm --model {ptm} --input p.fa --output /sys/deepbio-x.csv",
         r"output /sys/deepbio-x\.csv: (cannot write in folder /sys|folder /sys is not writable)",
         {"p.fa": f">p1\n{PROT}\n"}),
    case("output-is-a-device", "predict ptm --model {ptm} --input p.fa --output /dev/full",
         r"output /dev/full is a file, not a folder", {"p.fa": f">p1\n{PROT}\n"}),
    # --- models ------------------------------------------------------------------------------
    case("model-missing", "predict ptm --model missing.keras --input p.fa --output out",
         r"model missing\.keras not found; train one with 'deepbio train ptm'", {"p.fa": f">p1\n{PROT}\n"}),
    case("model-text-file", "predict ptm --model x.keras --input p.fa --output out",
         r"model x\.keras is not a \.keras model \(a \.keras file is a zip archive",
         {"p.fa": f">p1\n{PROT}\n", "x.keras": "not a model\n"}),
    case("model-empty-file", "predict ptm --model x.keras --input p.fa --output out",
         r"model x\.keras is empty \(0 bytes\)", {"p.fa": f">p1\n{PROT}\n", "x.keras": ""}),
    case("model-truncated", "predict ptm --model trunc.keras --input p.fa --output out",
         r"model trunc\.keras is a damaged or truncated \.keras archive",
         {"p.fa": f">p1\n{PROT}\n", "trunc.keras": _truncated}, needs="models"),
    case("model-text-h5", "predict ptm --model m.h5 --input p.fa --output out",
         r"model m\.h5 is not an HDF5 \(\.h5\) model file", {"p.fa": f">p1\n{PROT}\n", "m.h5": "text"}),
    case("model-wrong-suffix", "predict ptm --model m.txt --input p.fa --output out",
         r"model m\.txt is not a Keras model file \(expected \.keras", {"p.fa": f">p1\n{PROT}\n", "m.txt": "x"}),
    case("model-folder", "predict ptm --model models --input p.fa --output out",
         r"model models is a folder with no model\.keras", {"p.fa": f">p1\n{PROT}\n", "models": DIR}),
    case("model-folder-rnamod", "predict rnamod --model models --input r.fa --output out",
         r"model folder models holds no model\.keras nor \*/model\.keras", {"r.fa": f">r\n{RNA}\n", "models": DIR}),
    case("model-rnamod-for-ptm", "predict ptm --model {rnamod_am} --input p.fa --output out",
         r"model \S+Am/model\.keras is not a ptm model: its input is \(101, 4\)",
         {"p.fa": f">p1\n{PROT}\n"}, needs="models"),
    case("model-ptm-for-rnamod", "predict rnamod --model {ptm} --input r.fa --output out",
         r"model \S+ptm/model\.keras is not a rnamod model: it is not a VQ-RNA model",
         {"r.fa": f">r\n{RNA}\n"}, needs="models"),
    case("model-ptm-for-binding", "predict binding --model {ptm} --input pairs.csv --output out",
         r"is not a binding model: it does not map token_ids/padding_mask", {"pairs.csv": GOOD_PAIRS},
         needs="models"),
    case("model-binding-for-motif", f"run motif --model {{binding}} --output out --input s.csv",
         r"is not a motif model: it has 2 inputs", {"s.csv": f"Seqs\n{DNA600}\n"}, needs="models"),
    case("model-ptm-for-motif", f"{RUN_MOTIF} s.csv".replace("{motif}", "{ptm}"),
         r"model input shape \(49,\) does not fit \(600, 4\)", {"s.csv": f"Seqs\n{DNA600}\n"},
         needs="models"),
    # --- sizes, epochs, folds, flag values ------------------------------------------------
    case("epochs-0", "run ptm --epochs 0 --output out", r"epochs \(--epochs\) must be at least 1, got 0"),
    case("epochs-negative", "run ptm --epochs -3 --output out", r"epochs \(--epochs\) must be at least 1, got -3"),
    case("folds-1", "run ptm --folds 1 --output out", r"folds \(--folds\) must be 0 \(no cross-validation\) or at least 2"),
    case("batch-size-0", "train rnamod --batch-size 0 --output out",
         r"batch_size \(--batch-size\) must be at least 1, got 0"),
    case("max-windows-5", "run ptm --max-windows 5 --output out", r"max_windows \(--max-windows\) must be at least 10"),
    case("motif-epochs-negative-main-py", "--task motif --epochs -1 --output out",
         r"epochs \(--epochs\) must be at least 1, got -1", script="main.py"),
    case("epochs-not-a-number", "run ptm --epochs abc --output out", r"--epochs takes an integer, got 'abc'"),
    case("learning-rate-negative", "run binding --learning-rate -1 --output out",
         r"learning_rate \(--learning-rate\) must be at least"),
    case("sequence-length-even", "run rnamod --sequence-length 100 --output out",
         r"sequence_length \(--sequence-length\) must be odd, got 100"),
    case("unknown-modification", "run rnamod --modifications XYZ --output out", r"unknown RNA modification 'XYZ'"),
    case("unknown-encoder", "run ptm --residue-encoders foo --output out",
         r"residue_encoders \(--residue-encoders\) must be one of physicochemical"),
    case("verbose-5", "run ptm --verbose 5 --output out", r"argument --verbose: invalid choice: 5"),
    case("ptm-flag-for-motif", "run motif --sampler random --output out", r"unrecognized arguments: --sampler random"),
    case("rnamod-flag-for-ptm-train-py", "--task ptm --modifications Am --output out",
         r"unrecognized arguments: --modifications Am", script="train.py"),
    case("motif-flag-for-binding", "run binding --motif-length 6 --output out",
         r"unrecognized arguments: --motif-length 6"),
    case("learning-rate-nan", "run ptm --learning-rate nan --output out",
         r"--learning-rate takes a finite number, got 'nan'"),
    case("learning-rate-inf", "run ptm --learning-rate inf --output out",
         r"--learning-rate takes a finite number, got 'inf'"),
    case("dropout-nan", "run rnamod --dropout nan --output out", r"--dropout takes a finite number, got 'nan'"),
    case("dropout-minus-inf", "run motif --dropout=-inf --output out",
         r"--dropout takes a finite number, got '-inf'"),
    case("config-null-learning-rate", "run ptm --config p.json --output out",
         r"--config p\.json: learning_rate is null; it needs a finite number",
         {"p.json": '{"task": "ptm", "learning_rate": null}'}),
    case("config-nan-learning-rate", "run ptm --config p.json --output out",
         r"--config p\.json: learning_rate must be a finite number, got nan",
         {"p.json": '{"task": "ptm", "learning_rate": NaN}'}),
    case("config-infinite-dropout", "run rnamod --config p.json --output out",
         r"--config p\.json: dropout must be a finite number, got inf",
         {"p.json": '{"task": "rnamod", "dropout": Infinity}'}),
    case("config-null-deterministic", "run ptm --config p.json --output out",
         r"--config p\.json: deterministic is null; it needs a value \(default True\)",
         {"p.json": '{"task": "ptm", "deterministic": null}'}),
    case("config-null-seed", "run motif --config p.json --output out",
         r"--config p\.json: seed is null; it needs a value \(default 0\)",
         {"p.json": '{"task": "motif", "seed": null}'}),
    case("config-missing", "run ptm --config missing.json --output out", r"--config missing\.json: no such file"),
    case("config-other-task", "run ptm --config p.json --output out",
         r"--config p\.json: parameters of task 'rnamod', not 'ptm'", {"p.json": '{"task": "rnamod"}'}),
    case("train-motif-with-model", "train motif --model m.keras --output out", r"'train motif' trains the CNN"),
    # --- outputs -----------------------------------------------------------------------------
    case("output-is-a-file", "run ptm --epochs 1 --output taken", r"output taken is a file, not a folder",
         {"taken": "x"}, absent="taken/params.json"),
    case("predict-output-under-a-file", "predict ptm --model {ptm} --input p.fa --output taken/p.csv",
         r"output taken is a file, not a folder", {"taken": "x", "p.fa": f">p1\n{PROT}\n"},
         absent="taken/p.csv"),
    case("interpret-output-is-a-file", f"interpret ptm --model {{ptm}} --input w.fa --output taken",
         r"output taken is a file, not a folder", {"taken": "x", "w.fa": f">w\n{WIN}\n"}, absent="taken/x"),
    case("output-not-writable", "run ptm --epochs 1 --output ro/run",
         r"output ro/run: folder ro is not writable", {"ro": DIR}, needs="non-root", absent="ro/run"),
    # --- tasks and modes ---------------------------------------------------------------------
    case("unknown-task", "run nosuch --output out", r"invalid choice: 'nosuch' \(choose from 'ptm'"),
    case("main-py-no-task", "--epochs 3", r"main\.py needs --task, one of ptm, rnamod", script="main.py"),
    case("main-py-task-no-value", "--task", r"--task needs a value", script="main.py"),
    case("predict-pretrain", "predict pretrain --model m.keras --input x.fa", r"task pretrain has no predict mode"),
    case("interpret-rnamod", "interpret rnamod --model m.keras --input x.fa", r"task rnamod has no interpret mode"),
    # --- with the data mirror ----------------------------------------------------------------
    case("rnamod-untrainable", "train rnamod --modifications m1A --output out",
         r"no train/valid data for \['m1A'\]: m1A: valid split only", needs="data"),
    case("ptm-max-windows-too-small", "train ptm --max-windows 10 --folds 0 --output out",
         r"--max-windows 10 is too small to keep every label combination", needs="data"),
]


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_run):
    """Trained models: rnamod (Am), motif and binding from the shared tiny runs (``tiny_run``), and
    a tiny PTM network trained here (the tiny PTM run holds trees: ``ptm_model.skops``)."""
    out = tmp_path_factory.mktemp("models")
    command = ("train ptm --model-type network --compare none --no-grouped-cv --epochs 1 --folds 0 "
               "--max-windows 700 --saliency-windows 0 --residue-encoders physicochemical")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = cli.main(shlex.split(command) + ["--output", str(out / "ptm"), "--verbose", "0"])
    assert status == 0, f"training the ptm model failed: {err.getvalue()}"
    rnamod, motif, binding = (tiny_run(task) for task in ("rnamod", "motif", "binding"))
    return {"ptm": out / "ptm" / "model.keras", "rnamod": rnamod,
            "rnamod_am": rnamod / "Am" / "model.keras", "motif": motif / "model.keras",
            "binding": binding / "model_fold1.keras"}


def _prepare(request, tmp_path, argv, files, needs):
    """Writes the case's files into ``tmp_path``; returns the argv (model paths filled in)."""
    if needs == "non-root" and hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("runs as root: every folder is writable, so 0o500 cannot be tested")
    if needs == "data":
        request.getfixturevalue("data_dir")
    paths = {}
    if needs == "models":
        paths = request.getfixturevalue("models")
    elif any("{" + key + "}" in argv for key in MODEL_KEYS):
        # The input is checked before the model loads: without the data mirror (no trained
        # models) a missing model file stands in.
        try:
            paths = request.getfixturevalue("models")
        except pytest.skip.Exception:
            paths = {key: f"no-{key}-model.keras" for key in MODEL_KEYS}
    for name, spec in files.items():
        path = tmp_path / name
        if spec is DIR:
            path.mkdir()
        elif callable(spec):
            path.write_bytes(spec(paths))
        elif isinstance(spec, bytes):
            path.write_bytes(spec)
        else:
            path.write_text(spec)
    if needs == "non-root":
        (tmp_path / "ro").chmod(0o500)
    return shlex.split(argv.format(**{k: str(v) for k, v in paths.items()}))


def _check_failure(status, out, err, expected_status, pattern, tmp_path, absent):
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err + out, err
    assert status == expected_status, (status, err)
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert lines[0].startswith("deepbio: error: "), lines[0]
    assert re.search(pattern, lines[0]), f"{pattern!r} not in {lines[0]!r}"
    assert not (tmp_path / absent).exists(), f"{absent} was left behind"
    assert not (tmp_path / "runs").exists(), "runs/ was written"


@pytest.mark.parametrize("argv, pattern, files, needs, absent, script", CASES)
def test_bad_input_fails_well(argv, pattern, files, needs, absent, script, request, tmp_path,
                              monkeypatch, capsys):
    args = _prepare(request, tmp_path, argv, files, needs)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    status = cli.script_main(script, args) if script else cli.main(args)
    out, err = capsys.readouterr()
    _check_failure(status, out, err, 2, pattern, tmp_path, absent)


def test_corpus_is_large_enough():
    assert len(CASES) >= 36


def test_other_failures_exit_1_and_debug_shows_the_traceback(models, tmp_path, monkeypatch, capsys):
    from deepbio.ptm import task as ptm

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ptm, "predict_proteins", broken)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.fa").write_text(f">p1\n{PROT}\n")
    args = ["predict", "ptm", "--model", str(models["ptm"]), "--input", "p.fa", "--output", "out"]
    capsys.readouterr()
    status = cli.main(args)
    out, err = capsys.readouterr()
    _check_failure(status, out, err, 1, r"RuntimeError: disk on fire \(run again with --debug", tmp_path,
                   "out")
    assert cli.main(args + ["--debug"]) == 1  # --debug adds the traceback, not another status
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: disk on fire" in err


def test_debug_keeps_exit_status_2_for_bad_input(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.fa").write_text(">p1\nMKXAK\n")
    args = ["predict", "ptm", "--model", "m.keras", "--input", "p.fa", "--output", "out"]
    assert cli.main(args) == 2
    assert cli.main(args + ["--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().endswith("non-standard residue 'X' at position 3; only "
                                                       "the 20 standard residues ACDEFGHIKLMNPQRSTVWY "
                                                       "are allowed")


def test_good_inputs_still_work(models, tmp_path, monkeypatch, capsys):
    """Lower case is accepted (and upper-cased), ``-`` pads PTM windows, 'dna' is DNA, a run
    folder stands for its model.keras."""
    import pandas as pd

    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.fa").write_text(f">p1\n{PROT.lower()}\n>p2\nMKAAK\n")
    (tmp_path / "w.fa").write_text(f">w1\n{'-' * 10}{WIN[10:]}\n>w2\n{WIN.lower()}\n")
    (tmp_path / "r.fa").write_text(f">r1\n{RNA.lower()}\n>r2\n{RNA.replace('U', 'T')}AA\n")
    (tmp_path / "pairs.csv").write_text("protein,nucleic_acid,type\nmkvlaagik,acgtacgt,dna\n")
    for args in (["predict", "ptm", "--model", str(models["ptm"]), "--input", "p.fa", "--output", "p.csv"],
                 ["predict", "ptm", "--model", str(models["ptm"].parent), "--input", "p.fa",
                  "--output", "folder_model.csv"],
                 ["predict", "rnamod", "--model", str(models["rnamod"]), "--input", "r.fa", "--output",
                  "r.csv"],
                 ["predict", "binding", "--model", str(models["binding"]), "--input", "pairs.csv",
                  "--output", "b.csv"]):
        assert cli.main(args + ["--verbose", "0"]) == 0, capsys.readouterr().err
    ptm_frame = pd.read_csv(tmp_path / "p.csv")
    assert len(ptm_frame) == PROT.count("K") + 2 and set(ptm_frame["protein"]) == {"p1", "p2"}
    assert ptm_frame["window"].str.isupper().all()
    assert pd.read_csv(tmp_path / "folder_model.csv").equals(ptm_frame)
    from deepbio.data.fasta import read_fasta
    from deepbio.ptm.task import encode_windows

    ids, windows = read_fasta(tmp_path / "w.fa")  # interpret ptm's windows: '-' pads the ends
    assert encode_windows(windows, ids, "w.fa").shape == (2, 49)
    assert pd.read_csv(tmp_path / "r.csv")["id"].tolist() == ["r1", "r2"]
    assert pd.read_csv(tmp_path / "b.csv")["type"].tolist() == ["DNA"]


def _console(args, cwd, **kwargs):
    """``python -m deepbio ARGS`` as a user runs it (subprocess, offline)."""
    env = {**os.environ, "DEEPBIO_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user runs it: deepbio itself silences TensorFlow
    return subprocess.run([sys.executable, "-m", "deepbio", *args], cwd=cwd, env=env,
                          capture_output=True, timeout=300, **kwargs)


def test_lysine_free_proteins_have_no_sites(models, tmp_path, monkeypatch, capsys):
    """A proteome with lysine-free proteins is scored; they are counted, not refused."""
    import pandas as pd

    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.fa").write_text(f">p1\n{PROT}\n>noK\nMAAAA\n>p2\nMKAAK\n>noK2\nMW\n")
    args = ["predict", "ptm", "--model", str(models["ptm"]), "--input", "p.fa", "--output", "p.csv"]
    assert cli.main(args + ["--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert f"{PROT.count('K') + 2} lysine sites of 4 proteins" in out
    assert "2 protein(s) without lysine (K) have no site" in out
    frame = pd.read_csv(tmp_path / "p.csv")
    assert frame["protein"].tolist() == ["p1"] * PROT.count("K") + ["p2", "p2"]
    (tmp_path / "none.fa").write_text(">noK\nMAAAA\n")  # no site at all: a header-only CSV
    args[5], args[7] = "none.fa", "none.csv"
    assert cli.main(args + ["--verbose", "0"]) == 0
    assert (tmp_path / "none.csv").read_text().startswith("protein,position,window,")
    assert len(pd.read_csv(tmp_path / "none.csv")) == 0


def test_ids_cannot_become_spreadsheet_formulas(models, tmp_path, monkeypatch):
    """IDs starting with = + - @ tab CR are prefixed with ' in the CSV; plain IDs are unchanged."""
    import csv

    monkeypatch.chdir(tmp_path)
    names = ['=HYPERLINK("http://x")', "+SUM(1)", "-2+3", "@cmd", "plain_id", "sp|P04637|P53"]
    (tmp_path / "p.fa").write_text("".join(f">{n}\nMKAAK\n" for n in names))
    assert cli.main(["predict", "ptm", "--model", str(models["ptm"]), "--input", "p.fa",
                     "--output", "p.csv", "--verbose", "0"]) == 0
    with open(tmp_path / "p.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(dict.fromkeys(r["protein"] for r in rows)) == [
        "'" + n for n in names[:4]] + names[4:]
    assert rows[0]["window"].startswith("-" * 20)  # '-'-padded windows are data, left as they are
    (tmp_path / "pairs.csv").write_text("protein,nucleic_acid,type,=note\nMKVLAAGIK,ACGTACGT,DNA,"
                                        "=1+1\n")
    assert cli.main(["predict", "binding", "--model", str(models["binding"]), "--input",
                     "pairs.csv", "--output", "b.csv", "--verbose", "0"]) == 0
    header, row = (tmp_path / "b.csv").read_text().splitlines()
    assert header == "protein,nucleic_acid,type,'=note,complementary,predicted_dg"
    assert row.startswith("MKVLAAGIK,ACGTACGT,DNA,'=1+1,,")
    assert -30 < float(row.split(",")[-1]) < 30  # ΔG (kcal/mol), a number, not neutralised


def test_standard_input_and_pipes_are_read(models, tmp_path, monkeypatch):
    """``--input -`` reads standard input, a named pipe is read, both as the same file would be.

    Standard input needs a process of its own (the real command); the file and the pipe are read
    in this process.
    """
    fasta = f">p1\n{PROT}\n>p2\nMKAAK\n".encode()
    (tmp_path / "p.fa").write_bytes(fasta)
    monkeypatch.chdir(tmp_path)
    common = ["predict", "ptm", "--model", str(models["ptm"]), "--verbose", "0"]
    assert cli.main(common + ["--input", "p.fa", "--output", "file.csv"]) == 0
    result = _console(common + ["--input", "-", "--output", "stdin.csv"], tmp_path, input=fasta)
    assert result.returncode == 0, result.stderr
    result = _console(common + ["--input", "-", "--output", "gz.csv"], tmp_path,
                      input=gzip.compress(fasta))
    assert result.returncode == 0, result.stderr
    expected = (tmp_path / "file.csv").read_bytes()
    assert (tmp_path / "stdin.csv").read_bytes() == expected == (tmp_path / "gz.csv").read_bytes()
    bad = _console(common + ["--input", "-", "--output", "bad.csv"], tmp_path, input=b">p1\nMKXK\n")
    assert bad.returncode == 2 and bad.stderr.decode().strip() == (
        "deepbio: error: standard input: record 1 ('p1') has non-standard residue 'X' at position "
        "3; only the 20 standard residues ACDEFGHIKLMNPQRSTVWY are allowed")
    fifo = tmp_path / "pipe.fa"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"cat p.fa > {fifo}"], cwd=tmp_path)
    status = cli.main(common + ["--input", str(fifo), "--output", "fifo.csv"])
    writer.wait(timeout=60)
    assert status == 0 and writer.returncode == 0
    assert (tmp_path / "fifo.csv").read_bytes() == expected


def test_a_killed_predict_leaves_nothing_after_the_next_run(models, tmp_path):
    """SIGKILL mid-scoring leaves a hidden temporary file; the next run of that output removes it."""
    import signal
    import time

    proteins = "".join(f">p{i}\n{PROT * 4}\n" for i in range(3000))  # 72,000 sites
    (tmp_path / "big.fa").write_text(proteins)
    env = {**os.environ, "DEEPBIO_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen([sys.executable, "-m", "deepbio", "predict", "ptm", "--model",
                                str(models["ptm"]), "--input", "big.fa", "--output", "p.csv",
                                "--chunk-size", "64", "--verbose", "0"], cwd=tmp_path, env=env)
    deadline = time.time() + 240
    while not list(tmp_path.glob(".p.*.csv")) and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    leftovers = list(tmp_path.glob(".p.*.csv"))
    assert len(leftovers) == 1 and not (tmp_path / "p.csv").exists()
    alive = tmp_path / f".p.deepbio-{leftovers[0].name.split('-')[1]}-{os.getpid()}.abcdefgh.csv"
    alive.write_text("a live writer's file\n")  # this process is alive: its file stays
    (tmp_path / "small.fa").write_text(f">p1\n{PROT}\n")
    result = _console(["predict", "ptm", "--model", str(models["ptm"]), "--input", "small.fa",
                       "--output", "p.csv", "--verbose", "0"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(tmp_path.glob(".p.*.csv")) == [alive]
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 1 + PROT.count("K")


CONSOLE_CASES = [
    pytest.param(["-m", "deepbio", "run", "ptm", "--epochs", "abc"], r"--epochs takes an integer, got 'abc'",
                 {}, False, id="flag-type"),
    pytest.param([str(ROOT / "main.py"), "--epochs", "3"], r"main\.py needs --task", {}, False,
                 id="main-py-no-task"),
    pytest.param([str(ROOT / "train.py"), "--task", "motif", "--epochs", "-1", "--output", "out"],
                 r"epochs \(--epochs\) must be at least 1, got -1", {}, False, id="train-py-epochs"),
    pytest.param([str(ROOT / "main.py"), "--task", "ptm", "--predict", "binary.fa", "--model", "{ptm}",
                  "--output", "out"], r"FASTA file binary\.fa is not a text file",
                 {"binary.fa": RANDOM_BYTES}, True, id="main-py-predict-binary"),
    pytest.param(["-m", "deepbio", "predict", "ptm", "--model", "{rnamod_am}", "--input", "p.fa",
                  "--output", "out"], r"is not a ptm model: its input is \(101, 4\)",
                 {"p.fa": f">p1\n{PROT}\n".encode()}, True, id="model-of-another-task"),
]


@pytest.mark.parametrize("args, pattern, files, uses_models", CONSOLE_CASES)
def test_console_path(args, pattern, files, uses_models, request, tmp_path):
    """The real command (subprocess, the user's environment): one line, status 2, no traceback."""
    paths = request.getfixturevalue("models") if uses_models else {}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    args = [a.format(**{k: str(v) for k, v in paths.items()}) for a in args]
    env = {**os.environ, "DEEPBIO_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user runs it: deepbio itself silences TensorFlow
    result = subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    _check_failure(result.returncode, result.stdout, result.stderr, 2, pattern, tmp_path, "out")
