"""Streaming ``deepbio predict``: gzip, chunks, shards, progress, atomic output.

The models are tiny and built here in a few seconds, without the data mirror:
a tree PTM predictor fitted on random windows, an untrained VQ-RNA (Am) and
an untrained binding regressor. What is checked does not depend on what they
learned: the streamed output equals the in-memory prediction of the whole
file (the slow, obvious reference), gzip equals plain text, the shards'
union equals the unsharded output, and a failure leaves no file behind.
"""

import contextlib
import gzip
import io
import random
import re

import numpy as np
import pandas as pd
import pytest

from deepbio import cli
from deepbio.data.fasta import TextStream, iter_fasta, read_fasta, read_text
from deepbio.core import predict_stream

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"


def _proteins(n, seed=0):
    rng = random.Random(seed)
    return [(f"P{i}", "M" + "".join(rng.choice(AMINO_ACIDS) for _ in range(rng.randint(30, 160))) + "K")
            for i in range(n)]


def _fasta(records, width=60):
    return "".join(f">{name} description {i}\n" + "\n".join(seq[j:j + width]
                                                          for j in range(0, len(seq), width)) + "\n"
                   for i, (name, seq) in enumerate(records))


def _rna(n, seed=0, lengths=(101, 103, 121)):
    rng = random.Random(seed)
    return [(f"r{i}", "".join(rng.choice("ACGU") for _ in range(rng.choice(lengths))))
            for i in range(n)]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """``{"ptm": folder with ptm_model.skops, "rnamod": VQ-RNA .keras, "binding": .keras}``."""
    import keras

    from deepbio.ptm.data import combination_to_labels
    from deepbio.rnamod.model import VQRNA
    from deepbio.multiomic.binding_model import BindingAffinityRegressor
    from deepbio.multiomic.backbone import MultiomicBackbone
    from deepbio.multiomic.builders import make_tokenizer
    from deepbio.ptm.predictor import save_ptm_predictor
    from deepbio.ptm.task import PTMConfig
    from deepbio.ptm.trees import MODEL_BLOCKS, fit_window_model, window_feature_blocks

    out = tmp_path_factory.mktemp("stream_models")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    letters = rng.choice(list(AMINO_ACIDS), size=(240, 49))
    letters[:, 24] = "K"
    windows = ["".join(row) for row in letters]
    classes = np.where([w[25] in "DEKR" for w in windows], 5, rng.choice([1, 2, 3, 4], size=240))
    config = PTMConfig(tree_iterations=20, inner_folds=2)
    predictor, _, _ = fit_window_model(config, window_feature_blocks(windows, ("trees",)),
                                       combination_to_labels(classes), classes, MODEL_BLOCKS)
    (out / "ptm").mkdir()
    save_ptm_predictor(predictor, out / "ptm" / "ptm_model.skops")
    VQRNA(101, modification_names=["Am"], encoder_filters=(8, 16), hidden_dim=16, num_embeddings=32,
          num_layers=1, num_heads=2, intermediate_dim=16, head_dim=8).save(out / "rnamod.keras")
    tokenizer = make_tokenizer()
    backbone = MultiomicBackbone(vocabulary_size=tokenizer.vocabulary_size, num_layers=1, num_heads=2,
                                 hidden_dim=16, intermediate_dim=32,
                                 segment_token_ids=list(tokenizer.tag_ids.values()),
                                 isolated_segment_token_id=tokenizer.tag_ids["protein"])
    regressor = BindingAffinityRegressor(backbone, -9.0, 2.0)
    regressor.head.kernel.assign(rng.normal(size=regressor.head.kernel.shape).astype("float32"))
    regressor.save(out / "binding.keras")
    return {"ptm": out / "ptm", "rnamod": out / "rnamod.keras", "binding": out / "binding.keras"}


def _cli(args, expect=0):
    """Runs ``deepbio`` in-process; returns ``(status, stdout, stderr)``, asserting ``expect``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main([str(a) for a in args])
    assert status == expect, err.getvalue()
    return status, out.getvalue(), err.getvalue()


def _predict(task, model, source, output, *extra):
    return _cli(["predict", task, "--model", model, "--input", source, "--output", output,
                 "--verbose", "0", *extra])


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- the reader ------------------------------------------------------------------------------
def test_gzip_is_read_transparently_whatever_the_name(tmp_path):
    text = "\n>p1 first\nmkv\nKA\n>p2\nMK\n"  # a blank first line, lower case, wrapped lines
    (tmp_path / "plain.fa").write_text(text)
    (tmp_path / "packed.txt").write_bytes(gzip.compress(text.encode()))
    expected = (["p1", "p2"], ["MKVKA", "MK"])
    assert read_fasta(tmp_path / "plain.fa") == read_fasta(tmp_path / "packed.txt") == expected
    assert read_text(tmp_path / "packed.txt") == text
    (tmp_path / "bom.fa").write_bytes(b"\xef\xbb\xbf>x\nMK\n")
    assert read_fasta(tmp_path / "bom.fa") == (["x"], ["MK"])


def test_text_stream_mixes_read_and_readline(tmp_path):
    (tmp_path / "a.txt").write_bytes(gzip.compress("ab\ncd\nef".encode()))
    with TextStream(tmp_path / "a.txt") as stream:
        assert stream.read(0) == "" and stream.read(1) == "a" and stream.readline() == "b\n"
        assert stream.read(4) == "cd\ne" and list(stream) == ["f"] and stream.read() == ""


@pytest.mark.parametrize("data, pattern", [
    (gzip.compress(b">p1\nMKV\n")[:-9], r"FASTA file \S*x\.fa: gzip data is corrupt or truncated"),
    (gzip.compress(b">p1\nMKV\n>p2\nM\x00K\n"), r"is not a text file \(binary byte 0x00 at offset 13\)"),
    (b">p1\nMKV\n>p2\nM\xe9K\n", r"is not a text file \(binary byte 0xe9 at offset 13\)"),
    (b"PK\x03\x04rest", r"FASTA file \S*x\.fa is a zip archive"),
], ids=["truncated-gzip", "nul-in-gzip", "latin-1", "zip"])
def test_unreadable_input_is_named(tmp_path, data, pattern):
    (tmp_path / "x.fa").write_bytes(data)
    with pytest.raises(ValueError, match=pattern):
        read_fasta(tmp_path / "x.fa")


def test_records_stream_lazily_and_keep_the_messages(tmp_path):
    records = _proteins(5)
    (tmp_path / "p.fa").write_text(_fasta(records[:3]) + ">P3\n>P4\nMK\n")
    stream = iter_fasta(tmp_path / "p.fa")
    assert [next(stream) for _ in range(3)] == records[:3]  # yielded before the bad record is read
    with pytest.raises(ValueError, match=r"p\.fa: record 4 \('P3'\) has an empty sequence"):
        next(stream)
    (tmp_path / "d.fa").write_text(_fasta(records[:2] + records[:1]))
    with pytest.raises(ValueError, match=r"d\.fa: record 3 repeats the name 'P0' of record 1"):
        list(iter_fasta(tmp_path / "d.fa", unique_ids=True))


# --- the streaming helpers ---------------------------------------------------------------------
def test_shard_parsing_and_selection():
    assert predict_stream.parse_shard("2/8") == (2, 8)
    for bad in ("0/3", "4/3", "1/0", "x", "1/2/3", ""):
        with pytest.raises(ValueError):
            predict_stream.parse_shard(bad)
    shards = [list(predict_stream.select_shard(range(10), (i, 3))) for i in (1, 2, 3)]
    assert shards == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]


def test_chunks_are_bounded_and_keep_the_order():
    items = [3, 1, 4, 1, 5, 9, 2, 6]
    chunks = list(predict_stream.chunked(items, 6, weight=lambda w: w))
    assert [x for c in chunks for x in c] == items
    assert chunks == [[3, 1], [4, 1], [5], [9], [2], [6]]  # 9 > 6 is a chunk of its own


# --- ptm --------------------------------------------------------------------------------------
def test_ptm_stream_equals_the_whole_file_and_is_chunked(models, tmp_path, monkeypatch):
    from deepbio.ptm.predictor import load_ptm_predictor
    from deepbio.ptm import predict as ptm_predict

    records = _proteins(40)
    (tmp_path / "p.fa").write_text(_fasta(records))
    sizes = []
    real = ptm_predict.predict_protein_sites

    def spy(predictor, ids, proteins, source="input"):
        frame = real(predictor, ids, proteins, source)
        sizes.append(len(frame))
        return frame

    monkeypatch.setattr(ptm_predict, "predict_protein_sites", spy)
    _, out, _ = _predict("ptm", models["ptm"], tmp_path / "p.fa", tmp_path / "streamed.csv",
                         "--chunk-size", 20)
    sites = sum(seq.count("K") for _, seq in records)
    assert out.strip() == f"{sites} lysine sites of 40 proteins → {tmp_path / 'streamed.csv'}"
    longest = max(seq.count("K") for _, seq in records)
    assert len(sizes) > 5 and max(sizes) <= max(20, longest) and sum(sizes) == sites
    # the reference: every protein at once, in memory
    whole = real(load_ptm_predictor(models["ptm"]), *zip(*records), "p.fa")
    assert (tmp_path / "streamed.csv").read_text() == whole.to_csv(index=False)
    assert list(whole.columns) == ptm_predict.prediction_columns()


def test_ptm_gzip_and_shards(models, tmp_path):
    text = _fasta(_proteins(23, seed=1))
    (tmp_path / "p.fa").write_text(text)
    (tmp_path / "p.fa.gz").write_bytes(gzip.compress(text.encode()))
    _predict("ptm", models["ptm"], tmp_path / "p.fa", tmp_path / "plain.csv")
    _predict("ptm", models["ptm"], tmp_path / "p.fa.gz", tmp_path / "gzip.csv", "--chunk-size", 7)
    plain = (tmp_path / "plain.csv").read_text()
    assert (tmp_path / "gzip.csv").read_text() == plain
    parts = []
    for i in (1, 2, 3):
        _predict("ptm", models["ptm"], tmp_path / "p.fa.gz", tmp_path / f"s{i}.csv", "--shard",
                 f"{i}/3", "--chunk-size", 10)
        parts.append(pd.read_csv(tmp_path / f"s{i}.csv", keep_default_na=False))
        assert set(parts[-1]["protein"]) == {f"P{k}" for k in range(i - 1, 23, 3)}
    union = pd.concat(parts).sort_values(["protein", "position"], key=_natural).reset_index(drop=True)
    whole = pd.read_csv(tmp_path / "plain.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(union, whole.sort_values(["protein", "position"], key=_natural)
                                  .reset_index(drop=True))
    # more shards than records: a header-only file
    _, out, _ = _predict("ptm", models["ptm"], tmp_path / "p.fa", tmp_path / "empty.csv", "--shard",
                         "30/30")
    assert (tmp_path / "empty.csv").read_text() == plain.splitlines(keepends=True)[0]
    assert out.startswith("0 lysine sites of 0 proteins (shard 30/30)")


def _natural(column):
    return column.map(lambda v: int(v[1:]) if isinstance(v, str) else v)


def test_a_bad_record_in_the_middle_writes_nothing(models, tmp_path, monkeypatch):
    records = _proteins(30)
    records[17] = ("P17", records[17][1][:20] + "X" + records[17][1][21:])
    (tmp_path / "p.fa.gz").write_bytes(gzip.compress(_fasta(records).encode()))
    monkeypatch.chdir(tmp_path)
    _, _, err = _cli(["predict", "ptm", "--model", models["ptm"], "--input", "p.fa.gz", "--output",
                      "out.csv", "--chunk-size", 5], expect=2)
    assert err.strip() == ("deepbio: error: p.fa.gz: record 18 ('P17') has non-standard residue "
                           "'X' at position 21; only the 20 standard residues "
                           "ACDEFGHIKLMNPQRSTVWY are allowed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.fa.gz"]


def test_a_failure_while_writing_removes_the_temporary(models, tmp_path, monkeypatch):
    from deepbio.ptm import predict as ptm_predict

    (tmp_path / "p.fa").write_text(_fasta(_proteins(30)))
    (tmp_path / "out.csv").write_text("an earlier output\n")
    real, calls = ptm_predict.predict_protein_sites, []

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return real(*args)

    monkeypatch.setattr(ptm_predict, "predict_protein_sites", failing)
    _, _, err = _cli(["predict", "ptm", "--model", models["ptm"], "--input", tmp_path / "p.fa",
                      "--output", tmp_path / "out.csv", "--chunk-size", 10, "--verbose", "0"], expect=1)
    assert re.fullmatch(r"deepbio: error: RuntimeError: disk on fire \(run again with --debug.*\)\n",
                        err), err
    assert len(calls) == 3
    assert (tmp_path / "out.csv").read_text() == "an earlier output\n"
    assert _leftovers(tmp_path) == []


def test_progress_bar_on_stderr_unless_verbose_0(models, tmp_path):
    (tmp_path / "p.fa").write_text(_fasta(_proteins(4)))
    args = ["predict", "ptm", "--model", models["ptm"], "--input", tmp_path / "p.fa", "--output",
            tmp_path / "o.csv"]
    _, _, err = _cli(args)
    assert "predicting" in err and "site" in err
    _, _, err = _cli(args + ["--verbose", "0"])
    assert err == ""


@pytest.mark.parametrize("flags, pattern", [
    (["--shard", "0/3"], r"argument --shard: shard i/n needs 1 ≤ i ≤ n, got '0/3'"),
    (["--shard", "4/3"], r"argument --shard: shard i/n needs 1 ≤ i ≤ n, got '4/3'"),
    (["--shard", "half"], r"argument --shard: expected i/n \(shard i of n, e\.g\. 2/8\), got 'half'"),
    (["--chunk-size", "0"], r"argument --chunk-size: must be at least 1, got 0"),
    (["--chunk-size", "many"], r"argument --chunk-size: --chunk-size takes an integer, got 'many'"),
])
def test_bad_stream_flags_fail_in_one_line(tmp_path, flags, pattern):
    _, _, err = _cli(["predict", "ptm", "--model", "m", "--input", "p.fa", "--output",
                      tmp_path / "o.csv", *flags], expect=2)
    assert len(err.strip().splitlines()) == 1 and re.search(pattern, err), err
    assert not (tmp_path / "o.csv").exists()


# --- rnamod -----------------------------------------------------------------------------------
def test_rnamod_windows_stream_gzip_and_shards(models, tmp_path):
    from deepbio.rnamod.predict import _models_at, predict_rna_windows

    records = _rna(25)
    text = _fasta(records)
    (tmp_path / "r.fa").write_text(text)
    (tmp_path / "r.fa.gz").write_bytes(gzip.compress(text.encode()))
    _predict("rnamod", models["rnamod"], tmp_path / "r.fa", tmp_path / "plain.csv", "--chunk-size", 4)
    _predict("rnamod", models["rnamod"], tmp_path / "r.fa.gz", tmp_path / "gzip.csv", "--chunk-size", 4)
    assert (tmp_path / "gzip.csv").read_text() == (tmp_path / "plain.csv").read_text()
    streamed = pd.read_csv(tmp_path / "plain.csv")
    whole = predict_rna_windows(_models_at(models["rnamod"]), *zip(*records))
    assert list(streamed.columns) == ["id", "length", "Am"] == list(whole.columns)
    assert streamed[["id", "length"]].equals(whole[["id", "length"]])
    np.testing.assert_allclose(streamed["Am"], whole["Am"], atol=1.5e-6)  # float32, other batches
    parts = [pd.read_csv(tmp_path / f"s{i}.csv") for i in (1, 2)
             if _predict("rnamod", models["rnamod"], tmp_path / "r.fa.gz", tmp_path / f"s{i}.csv",
                         "--shard", f"{i}/2", "--chunk-size", 4)]
    assert sorted(pd.concat(parts)["id"]) == sorted(streamed["id"])
    assert set(parts[0]["id"]) == {f"r{k}" for k in range(0, 25, 2)}


def test_rnamod_too_short_window_is_found_before_writing(models, tmp_path):
    records = _rna(6) + [("short", "ACGUA" * 9 + "A"), ("shorter", "ACG")]
    (tmp_path / "r.fa").write_text(_fasta(records))
    _, _, err = _cli(["predict", "rnamod", "--model", models["rnamod"], "--input", tmp_path / "r.fa",
                      "--output", tmp_path / "o.csv"], expect=2)
    assert "record 7 ('short') has length 46 (an even length" in err
    records[6] = ("short", "ACGUA" * 9)
    (tmp_path / "r.fa").write_text(_fasta(records))
    _, _, err = _cli(["predict", "rnamod", "--model", models["rnamod"], "--input", tmp_path / "r.fa",
                      "--output", tmp_path / "o.csv"], expect=2)
    assert "record 7 ('short') has length 45 (too short); expected an odd length of at least 101" in err
    assert not (tmp_path / "o.csv").exists() and _leftovers(tmp_path) == []


def test_rnamod_scan_equals_per_position_prediction(models, tmp_path):
    from deepbio.rnamod.predict import _models_at, predict_rna_positions

    rng = random.Random(5)
    records = [(f"t{i}", "".join(rng.choice("ACGT") for _ in range(n)))
               for i, n in enumerate((1, 40, 250, 2, 131))]
    (tmp_path / "t.fa.gz").write_bytes(gzip.compress(_fasta(records).encode()))
    _, out, _ = _predict("rnamod", models["rnamod"], tmp_path / "t.fa.gz", tmp_path / "scan.csv",
                         "--scan", "--chunk-size", 64)
    assert out.startswith("424 positions of 5 sequences scored")
    streamed = pd.read_csv(tmp_path / "scan.csv", keep_default_na=False)
    models_ = _models_at(models["rnamod"])
    whole = pd.concat([predict_rna_positions(models_, seq, name).assign(id=name)
                       for name, seq in records], ignore_index=True)
    assert list(streamed.columns) == ["id", "position", "base", "Am"]
    assert streamed[["id", "position", "base"]].equals(whole[["id", "position", "base"]])
    np.testing.assert_allclose(streamed["Am"], whole["Am"], atol=1.5e-6)


# --- binding ----------------------------------------------------------------------------------
def test_binding_stream_gzip_and_shards(models, tmp_path):
    from deepbio.core.loading import load_task_model
    from deepbio.multiomic.builders import make_tokenizer
    from deepbio.multiomic.binding_predict import predict_complex_dg

    rng = random.Random(7)
    rows = [(f"c{i}", "".join(rng.choice(AMINO_ACIDS) for _ in range(rng.randint(5, 60))),
             "".join(rng.choice("ACGT") for _ in range(rng.randint(4, 20))), rng.choice(["DNA", "dna"]))
            for i in range(21)]
    text = "name,protein,nucleic_acid,type\n" + "".join(",".join(r) + "\n" for r in rows)
    (tmp_path / "pairs.csv").write_text(text)
    (tmp_path / "pairs.csv.gz").write_bytes(gzip.compress(text.encode()))
    _predict("binding", models["binding"], tmp_path / "pairs.csv", tmp_path / "plain.csv",
             "--chunk-size", 5)
    _predict("binding", models["binding"], tmp_path / "pairs.csv.gz", tmp_path / "gzip.csv",
             "--chunk-size", 5)
    assert (tmp_path / "gzip.csv").read_text() == (tmp_path / "plain.csv").read_text()
    streamed = pd.read_csv(tmp_path / "plain.csv", keep_default_na=False, dtype={"predicted_dg": float})
    pairs = pd.read_csv(io.StringIO(text), keep_default_na=False, dtype=str)
    pairs["complementary"] = ""
    pairs["type"] = pairs["type"].str.upper()
    whole = predict_complex_dg(load_task_model(models["binding"], "binding"), make_tokenizer(), pairs)
    assert list(streamed.columns) == list(whole.columns)
    assert streamed.drop(columns="predicted_dg").equals(whole.drop(columns="predicted_dg"))
    np.testing.assert_allclose(streamed["predicted_dg"], whole["predicted_dg"], atol=1e-5)
    assert np.ptp(whole["predicted_dg"]) > 0
    parts = []
    for i in (1, 2, 3, 4):
        _predict("binding", models["binding"], tmp_path / "pairs.csv", tmp_path / f"s{i}.csv",
                 "--shard", f"{i}/4", "--chunk-size", 3)
        parts.append(pd.read_csv(tmp_path / f"s{i}.csv", keep_default_na=False))
    union = pd.concat(parts).set_index("name").loc[streamed["name"]].reset_index()
    assert union.drop(columns="predicted_dg").equals(streamed.drop(columns="predicted_dg"))
    np.testing.assert_allclose(union["predicted_dg"], streamed["predicted_dg"], atol=1e-5)


def test_prediction_under_a_mirrored_strategy(models, tmp_path):
    """``--strategy mirrored``: the Keras models predict with each batch split over 2 logical CPUs
    (in a fresh process: logical devices are set before TensorFlow starts), as on one device."""
    import json
    import os
    import subprocess
    import sys

    from conftest import ROOT

    records = _rna(13)
    (tmp_path / "r.fa").write_text(_fasta(records))
    rows = "".join(f"c{i},{'MKV' * (i + 2)},{'ACGT' * (i + 1)},DNA\n" for i in range(9))
    (tmp_path / "pairs.csv").write_text("name,protein,nucleic_acid,type\n" + rows)
    env = {**os.environ, "DEEPBIO_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    tasks = (("rnamod", "r.fa"), ("binding", "pairs.csv"))
    # ONE fresh process (one TensorFlow start) runs both mirrored commands, as `deepbio` would
    commands = [["predict", task, "--model", str(models[task]), "--input", str(tmp_path / source),
                 "--output", str(tmp_path / f"{task}_mir.csv"), "--verbose", "0", "--strategy",
                 "mirrored", "--cpu-replicas", "2"] for task, source in tasks]
    script = ("import json, sys\nfrom deepbio import cli\n"
              "print('STATUSES', [cli.main(c) for c in json.loads(sys.argv[1])])")
    done = subprocess.run([sys.executable, "-c", script, json.dumps(commands)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=ROOT)
    assert done.returncode == 0 and "STATUSES [0, 0]" in done.stdout, done.stderr[-3000:]
    for task, source in tasks:
        _predict(task, models[task], tmp_path / source, tmp_path / f"{task}_one.csv")
        one = pd.read_csv(tmp_path / f"{task}_one.csv", keep_default_na=False)
        mirrored = pd.read_csv(tmp_path / f"{task}_mir.csv", keep_default_na=False)
        value = "Am" if task == "rnamod" else "predicted_dg"
        assert mirrored.drop(columns=value).equals(one.drop(columns=value))
        np.testing.assert_allclose(mirrored[value], one[value], atol=1e-5)
    _cli(["predict", "rnamod", "--model", models["rnamod"], "--input", tmp_path / "r.fa",
          "--output", tmp_path / "x.csv", "--cpu-replicas", "2"], expect=2)
