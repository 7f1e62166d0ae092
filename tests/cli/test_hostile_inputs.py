"""Hostile and huge inputs, below the command line: bombs stopped early, formula-safe CSV cells,
stale temporaries, bounded attention batches (the command-line cases are in test_cli_errors.py)."""

import gzip
import os
import subprocess
import sys
import tracemalloc

import pandas as pd
import pytest

from deepbio.data.fasta import TextStream, iter_fasta, read_fasta, read_text
from deepbio.core.io import (atomic_path, check_output_file, neutralise_cell, neutralise_formulas,
                              remove_stale_temporaries, write_csv)

MB = 1 << 20


def _bomb(path, header=b">p1\n", megabytes=64, letter=b"A", newline_every=None):
    """A gzip file of ``megabytes`` MiB of one letter (about 1,000 times smaller on disk).

    ``newline_every``: line length (a newline after each line), else one line of 1 MiB pieces.
    """
    line = letter * (newline_every or MB) + (b"\n" if newline_every else b"")
    lines = megabytes * MB // (newline_every or MB)
    per_write = max(1, MB // len(line))  # ~1 MiB per write, not one write per short line
    with gzip.open(path, "wb", compresslevel=9) as handle:
        handle.write(header)
        for start in range(0, lines, per_write):
            handle.write(line * min(per_write, lines - start))
    return path


def _peak(call):
    """``(result or raised error, peak traced Python memory in MiB)`` of ``call()``."""
    tracemalloc.start()
    try:
        try:
            result = call()
        except ValueError as error:
            result = error
        return result, tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()


def test_the_page_stops_reading_an_upload_at_its_limit(tmp_path):
    """A 64 MiB gzip bomb (~65 kB on disk) uploaded to the page: refused after ~200 kB were read."""
    from deepbio.serve.backend import LIMITS, parse_text

    bomb = _bomb(tmp_path / "bomb.fa.gz")
    assert bomb.stat().st_size < 200_000
    error, peak = _peak(lambda: parse_text("", "protein", bomb))
    assert isinstance(error, ValueError)
    assert str(error) == (f"uploaded file bomb.fa.gz has more than {LIMITS['characters']:,} "
                          f"characters (decompressed); the limit is {LIMITS['characters']:,} (use "
                          f"'deepbio predict' for larger inputs)")
    assert peak < 6, f"{peak:.1f} MiB traced while refusing the bomb"  # one 1 MiB piece, not 64
    ok = tmp_path / "ok.fa.gz"
    ok.write_bytes(gzip.compress(b">p1\nMKAAK\n"))
    assert parse_text("", "protein", ok) == (["p1"], ["MKAAK"])


def test_whole_file_readers_stop_at_their_limit(tmp_path):
    bomb = _bomb(tmp_path / "bomb.csv.gz", header=b"Seqs\n", newline_every=600, letter=b"C")
    error, peak = _peak(lambda: read_text(bomb, "sequence file", max_bytes=4 * MB))
    assert str(error) == (f"sequence file {bomb} holds more than 4,194,304 bytes (decompressed); "
                          f"the limit is 4,194,304")
    assert peak < 16, f"{peak:.1f} MiB"
    error, _ = _peak(lambda: read_fasta(_bomb(tmp_path / "many.fa.gz", megabytes=8,
                                              newline_every=60), max_bytes=2 * MB))
    assert "holds more than 2,097,152 bytes" in str(error)


def test_one_enormous_record_is_refused_in_bounded_memory(tmp_path):
    """A stream holds one record: a 64 MiB record (one line, or many) stops at the record limit."""
    for name, every in (("one_line.fa.gz", None), ("lines.fa.gz", 80)):
        bomb = _bomb(tmp_path / name, header=b">ok\nMKV\n>huge protein\n", letter=b"K",
                     newline_every=every)
        error, peak = _peak(lambda: sum(1 for _ in iter_fasta(bomb, max_record=2 * MB)))
        assert str(error) == (f"FASTA file {bomb}: record 2 ('huge') is longer than 2,097,152 "
                              f"bytes, the limit of one record")
        assert peak < 12, f"{name}: {peak:.1f} MiB"
    fine = tmp_path / "fine.fa"
    fine.write_text(">a\n" + "K" * 1000 + "\n>b\nMK\n")
    assert [len(s) for _, s in iter_fasta(fine, max_record=1010)] == [1000, 2]
    with pytest.raises(ValueError, match=r"record 1 \('a'\) is longer than 1,000 bytes"):
        list(iter_fasta(fine, max_record=1000))  # '>a\n' + 1000 K + '\n' = 1,005 bytes


def test_one_enormous_csv_line_is_refused(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("protein,nucleic_acid,type\n" + "M" * 5000 + ",ACGT,DNA\n")
    with TextStream(path, "pairs file", max_line=4096) as stream:
        with pytest.raises(ValueError, match=r"pairs file \S+pairs\.csv: line at byte 26 is longer "
                                             r"than 4,096 bytes, the limit of one line"):
            stream.read()


@pytest.mark.parametrize("cell, safe", [
    ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'), ("+1+1", "'+1+1"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tcmd", "'\tcmd"), ("\rcmd", "'\rcmd"), ("-cmd|x", "'-cmd|x"),
    ("sp|P04637|P53_HUMAN", "sp|P04637|P53_HUMAN"), ("p1", "p1"), ("", ""), ("a=b", "a=b"),
    ("-1.5", "-1.5"), ("+2e-3", "+2e-3"), ("----MKTAK--", "----MKTAK--"), (-1.5, -1.5), (None, None),
])
def test_cells_that_spreadsheets_run_get_a_quote(cell, safe):
    assert neutralise_cell(cell) == safe


def test_csv_writers_neutralise_text_not_numbers(tmp_path):
    frame = pd.DataFrame({"id": ["=1+1", "p2"], "window": ["--MKA", "AKA"], "dg": [-1.25, 2.0],
                          "=header": [1, 2]})
    write_csv(frame, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text().splitlines() == [
        "id,window,dg,'=header", "'=1+1,--MKA,-1.25,1", "p2,AKA,2.0,2"]
    assert neutralise_formulas(frame.iloc[1:, :3]).equals(frame.iloc[1:, :3])  # nothing to change


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    target = tmp_path / "p.csv"
    with atomic_path(target) as tmp:
        own = tmp.name  # .p.deepbio-<host>-<pid>.XXXXXXXX.csv
        tmp.write_text("x")
    host = own.split(".")[2].split("-")[1]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".p.deepbio-{host}-{dead}.abcd1234.csv"
    live = tmp_path / f".p.deepbio-{host}-{os.getpid()}.abcd1234.csv"
    other_host = tmp_path / f".p.deepbio-otherhost-{dead}.abcd1234.csv"
    foreign = tmp_path / ".p.abcd1234.csv"
    for path in (stale, live, other_host, foreign):
        path.write_text("left over")
    assert remove_stale_temporaries(target) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["p.csv", live.name, other_host.name, foreign.name])


def test_output_checks_before_the_work(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(ValueError, match=r"output \S+folder\.csv is a folder"):
        check_output_file(tmp_path / "folder.csv")
    with pytest.raises(ValueError, match=r"output /dev/null is not a regular file"):
        check_output_file("/dev/null")
    with pytest.raises(ValueError, match=r"output /proc/x\.csv: cannot write in folder /proc"):
        check_output_file("/proc/x.csv")
    check_output_file(tmp_path / "new" / "deeper" / "p.csv")  # folders made later: fine
    assert not (tmp_path / "new").exists() and not list(tmp_path.glob(".deepbio-write-test*"))


def test_attention_batches_stay_within_the_budget():
    from deepbio.multiomic.binding_predict import ATTENTION_BUDGET, _batches

    lengths = [10] * 40 + [2048, 2048, 2048, 600, 600, 600, 600]
    ranges = list(_batches([[0] * n for n in lengths]))
    assert ranges == [(0, 32), (32, 40), (40, 42), (42, 44), (44, 47)]
    for start, stop in ranges:
        assert (stop - start) * max(lengths[start:stop]) ** 2 <= ATTENTION_BUDGET


def test_streams_that_are_not_text_are_refused_before_copying(tmp_path, monkeypatch, capsys):
    from deepbio import cli

    monkeypatch.chdir(tmp_path)  # /dev/zero is a path: in this process, as on the command line
    capsys.readouterr()
    assert cli.main(["predict", "ptm", "--input", "/dev/zero", "--output", "o.csv"]) == 2
    assert capsys.readouterr().err.strip() == ("deepbio: error: /dev/zero is not text (binary "
                                               "bytes in its first 65,536); give a plain-text or "
                                               "gzip-compressed file")
    assert not (tmp_path / "o.csv").exists()
    # a closed standard input needs a process of its own
    closed = subprocess.run(["sh", "-c", f"'{sys.executable}' -m deepbio predict ptm --input - "
                                         f"--output o.csv <&-"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "DEEPBIO_OFFLINE": "1"})
    assert closed.returncode == 2 and closed.stderr.strip().endswith(
        "--input -: standard input is closed; pipe the file in, or give its path")


def test_sigterm_while_reading_standard_input_leaves_no_copy(tmp_path):
    """SIGTERM (timeout, Slurm) ends the command like Ctrl-C: the copied input is removed."""
    import signal
    import time

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "DEEPBIO_OFFLINE": "1", "TMPDIR": str(scratch)}
    process = subprocess.Popen([sys.executable, "-m", "deepbio", "predict", "ptm", "--input", "-",
                                "--output", "o.csv"], cwd=tmp_path, env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdin.write(b">p1\nMKAAK\n" * 10_000)  # past the 64 KiB head: the copy has started
    process.stdin.flush()
    deadline = time.time() + 120
    while not list(scratch.glob("deepbio-input-*")) and time.time() < deadline:
        time.sleep(0.1)
    assert list(scratch.glob("deepbio-input-*")), "the input was never copied"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and b"deepbio: interrupted" in err
    assert not list(scratch.iterdir())


def test_long_output_names_are_checked_first(tmp_path):
    with pytest.raises(ValueError, match="the file name is longer than 255 bytes"):
        check_output_file(tmp_path / ("a" * 300 + ".csv"))
    long_name = tmp_path / ("b" * 240 + ".csv")  # fits, and so does its temporary's name
    check_output_file(long_name)
    write_csv(pd.DataFrame({"a": [1]}), long_name)
    assert long_name.read_text() == "a\n1\n"


def test_quoted_csv_rows_count_whole(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text('protein,nucleic_acid,type,note\nMKV,ACGT,DNA,"a\nb"\n' + 'MKV,ACGT,DNA,"' +
                    "x\n" * 600)
    with TextStream(path, "pairs file", max_csv_row=1000) as stream:
        with pytest.raises(ValueError, match=r"row 3 is longer than 1,000 bytes, the limit of one "
                                             r"row \(an unclosed '\"' quote\?\)"):
            stream.read()
    with TextStream(path, "pairs file", max_csv_row=1000) as stream:
        assert stream.readline() + stream.readline() + stream.readline() == \
            'protein,nucleic_acid,type,note\nMKV,ACGT,DNA,"a\nb"\n'
