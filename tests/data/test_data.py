import hashlib

import numpy as np
import pytest

from deepbio.data.registry import REGISTRY, fetch
from deepbio.data.fasta import check_ptm_windows, read_fasta
from deepbio.ptm.data import combination_to_labels, labels_to_combination, load_ptm

GOOD = "A" * 24 + "K" + "C" * 24


def test_registry_covers_manifest_with_held_out_rows():
    import deepbio.multiomic.contacts.data  # noqa: F401  (registers the 295 structure files)

    structures = [p for p in REGISTRY if p.startswith("structures/")]
    assert len(structures) == 295  # the structures/ rows of MANIFEST.tsv
    assert len(REGISTRY) - len(structures) == 76
    held = [e for e in REGISTRY.values() if e.held_out]
    assert {e.local_path.split("/")[0] for e in held} == {"omnik_ptm", "vqrna"}
    entry = REGISTRY["omnik_ptm/test/(1)Test4062.txt"]
    assert entry.url == ("https://raw.githubusercontent.com/jiyuzhaoo/OmniK-PTM/"
                         "73bc853a7efff306dca2458e9d919c4539864720/dataset/Test%20dataset/%281%29Test4062.txt")


def test_combination_codes_round_trip():
    labels = combination_to_labels(np.arange(1, 12))
    assert labels.tolist()[4] == [1, 1, 0, 0]  # 5 = ac
    assert labels.tolist()[10] == [1, 1, 1, 1]  # 11 = acms
    assert labels_to_combination(labels).tolist() == list(range(1, 12))
    assert labels_to_combination([[0, 0, 1, 1]]).tolist() == [0]  # "ms" is no class
    with pytest.raises(ValueError, match="1..11"):
        combination_to_labels([12])


@pytest.mark.parametrize("window, message", [
    (GOOD[:-1], "length 48, expected 49"),
    ("A" * 24 + "R" + "C" * 24, "'R' at its centre"),
    ("B" + GOOD[1:], "non-standard residue 'B' at position 1"),
])
def test_bad_window_names_record_and_problem(window, message):
    with pytest.raises(ValueError, match=message) as info:
        check_ptm_windows([GOOD, window], ids=["P1", "P2"], source="x.fa")
    assert "record 2 ('P2')" in str(info.value) and "x.fa" in str(info.value)


def test_read_fasta_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_fasta(tmp_path / "missing.fa")
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    with pytest.raises(ValueError, match="no FASTA record"):
        read_fasta(empty)
    good = tmp_path / "good.fa"
    good.write_text(">P1   \nacgk\n>P2\nMK\n")
    assert read_fasta(good) == (["P1", "P2"], ["ACGK", "MK"])


def test_fetch_resolution_and_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("DEEPBIO_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(FileNotFoundError, match="DEEPBIO_DATA"):
        fetch("omnik_ptm/test/(11)Test36.txt", download=False)
    with pytest.raises(KeyError):
        fetch("nope.txt")
    # A mirror file with the wrong bytes is refused, naming the file.
    bad = tmp_path / "mirror" / "omnik_ptm" / "train" / "(11)Train73.txt"
    bad.parent.mkdir(parents=True)
    bad.write_text(">X\n" + GOOD + "\n")
    with pytest.raises(ValueError, match="sha256"):
        fetch("omnik_ptm/train/(11)Train73.txt", data_dir=tmp_path / "mirror")


def test_load_ptm_real_train_split(data_dir):
    ds = load_ptm("train", data_dir=data_dir)
    assert len(ds.windows) == 12983 and ds.labels.shape == (12983, 4)
    assert np.bincount(ds.classes).tolist()[1:] == [9279, 710, 600, 454, 561, 251, 360, 88, 153, 454, 73]
    assert ds.labels.sum(axis=0).tolist() == [11131, 2039, 1165, 1341]
    assert (ds.labels[ds.classes == 1] == [1, 0, 0, 0]).all()
    assert all(w[24] == "K" for w in ds.windows)
    path = fetch("omnik_ptm/train/(8)Train88.txt", data_dir=data_dir)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == REGISTRY[
        "omnik_ptm/train/(8)Train88.txt"].sha256


def test_write_json_is_strict(tmp_path):
    import json

    import numpy as np

    from deepbio.core.io import write_json

    write_json({"a": float("nan"), "b": [np.float32(1.5), np.inf], "c": {"d": np.int64(3)}},
               tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text()
    assert json.loads(text) == {"a": None, "b": [1.5, None], "c": {"d": 3}}
    assert "NaN" not in text and "Infinity" not in text


def test_motif_sequences_csv_fasta_and_errors(data_dir, tmp_path):
    from deepbio.motif.data import DATA_FILE, default_input, load_sequences

    frame = load_sequences(default_input(data_dir))
    assert default_input(data_dir).name == DATA_FILE.rsplit("/", 1)[1]
    assert len(frame) == 1497 and list(frame.columns) == ["id", "sequence"]
    assert set(frame["sequence"].str.len()) == {600}
    fasta = tmp_path / "s.fa"
    fasta.write_text(">a\nacgt\n>b\nNNAC\n")
    assert load_sequences(fasta).values.tolist() == [["a", "ACGT"], ["b", "NNAC"]]
    (tmp_path / "x.csv").write_text("id,foo\n1,ACGT\n")
    with pytest.raises(ValueError, match="no sequence column"):
        load_sequences(tmp_path / "x.csv")
    with pytest.raises(FileNotFoundError):
        load_sequences(tmp_path / "missing.csv")


def _one_hot_rna_reference(sequences, length):
    """The byte-table loop `one_hot_rna` used before it called `Feature_extraction_algorithms.one_hot`."""
    table = np.zeros((256, 4), np.float32)
    for i, base in enumerate("ACGU"):
        table[ord(base), i] = 1.0
    table[ord("T"), 3] = 1.0
    table[ord("N")] = 0.25
    codes = np.zeros((len(sequences), length), np.uint8)
    for row, sequence in enumerate(sequences):
        start = len(sequence) // 2 - length // 2
        codes[row] = np.frombuffer(sequence[start:start + length].encode("ascii"), np.uint8)
    return table[codes]


def test_one_hot_rna_equals_reference_on_real_windows(data_dir):
    from deepbio.rnamod.data import load_rnamod, one_hot_rna

    windows = load_rnamod("train", "Psi", data_dir=data_dir).sequences[:1500]
    assert any("N" in w for w in windows)  # the N rows (0.25 each channel) are exercised
    for length in (None, 51):
        expected = _one_hot_rna_reference(windows, length or len(windows[0]))
        out = one_hot_rna(windows, length)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, expected)
    mixed = ["ACGTUNA", "TTUUNNC"]
    np.testing.assert_array_equal(one_hot_rna(mixed, 5), _one_hot_rna_reference(mixed, 5))
    assert one_hot_rna([]).shape == (0, 0, 4) and one_hot_rna([], 5).shape == (0, 5, 4)
    with pytest.raises(ValueError, match="window 2 has 3 nt, fewer than 5"):
        one_hot_rna(["ACGUA", "ACG"], 5)
    with pytest.raises(ValueError, match="differ in length"):
        one_hot_rna(["ACGUA", "ACG"])
