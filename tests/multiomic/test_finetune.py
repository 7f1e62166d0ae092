"""Fine-tuning heads, GUE / TAPE readers and ``deepbio run finetune`` (fresh and converted backbones)."""

import io
import json
import tarfile

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from conftest import run_script as _run
from deepbio.multiomic import benchmarks
from deepbio.multiomic.benchmarks import read_gue_csv, read_split, read_tape_json
from deepbio.multiomic.backbone import MultiomicBackbone
from deepbio.multiomic.heads import MultiomicClassifier, MultiomicRegressor, MultiomicTokenClassifier

IDS = np.array([[1, 4, 10, 11, 12, 2, 0], [1, 4, 13, 2, 0, 0, 0]], np.int32)
FEED = {"token_ids": IDS, "padding_mask": (IDS != 0).astype(np.int32)}


def _randomize_head(model, seed=0):
    rng = np.random.default_rng(seed)
    model.head.set_weights([rng.normal(size=w.shape).astype("float32")
                            for w in model.head.get_weights()])


@pytest.fixture(scope="module")
def backbone():
    return MultiomicBackbone.from_preset("tiny", 31, hidden_dim=16, intermediate_dim=32,
                                         name="toy_backbone")


@pytest.mark.parametrize("kind", ["classifier_first", "classifier_mean", "regressor", "token"])
def test_heads_values_and_keras_round_trip(backbone, kind, tmp_path):
    if kind.startswith("classifier"):
        model = MultiomicClassifier(backbone, 3, pooling=kind.split("_")[1], head_scale=2.0)
    elif kind == "regressor":
        model = MultiomicRegressor(backbone, pooling="first", target_mean=-1.5, target_std=3.0)
    else:
        model = MultiomicTokenClassifier(backbone, 4)
    _randomize_head(model)
    out = keras.ops.convert_to_numpy(model(FEED))
    states = keras.ops.convert_to_numpy(backbone(FEED))
    kernel, bias = model.head.get_weights()
    mask = FEED["padding_mask"][:, :, None].astype("float32")
    pooled = {"classifier_first": states[:, 0], "regressor": states[:, 0],
              "classifier_mean": (states * mask).sum(1) / mask.sum(1), "token": states}[kind]
    expected = pooled @ kernel + bias
    expected = {"classifier_first": 2 * expected, "classifier_mean": 2 * expected,
                "regressor": expected * 3.0 - 1.5, "token": expected}[kind]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    model.save(tmp_path / "head.keras")
    again = keras.models.load_model(tmp_path / "head.keras")
    assert type(again) is type(model) and again.get_config()["head_scale"] == model.head_scale
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again(FEED)), out)


def test_heads_reject_bad_arguments(backbone):
    with pytest.raises(ValueError, match="num_classes"):
        MultiomicClassifier(backbone, 1)
    with pytest.raises(ValueError, match="pooling"):
        MultiomicClassifier(backbone, 2, pooling="max")
    with pytest.raises(ValueError, match="target_std"):
        MultiomicRegressor(backbone, target_std=0.0)


# ---------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------
def test_gue_reader_and_errors(tmp_path):
    (tmp_path / "train.csv").write_text("sequence,label\nacgtAC,1\nGGGT,0\n\n")
    frame = read_gue_csv(tmp_path / "train.csv")
    assert frame["sequence"].tolist() == ["ACGTAC", "GGGT"] and frame["label"].tolist() == [1, 0]
    assert read_split(tmp_path / "train.csv")[1] == "classification"
    (tmp_path / "bad.csv").write_text("sequence,label\nACGT,1\nACGT,maybe\n")
    with pytest.raises(ValueError, match=r"bad.csv line 3: label 'maybe'"):
        read_gue_csv(tmp_path / "bad.csv")
    (tmp_path / "header.csv").write_text("seq,y\nACGT,1\n")
    with pytest.raises(ValueError, match="header.csv: expected the header 'sequence,label'"):
        read_gue_csv(tmp_path / "header.csv")
    with pytest.raises(FileNotFoundError, match="missing.csv not found"):
        read_gue_csv(tmp_path / "missing.csv")


def test_tape_reader_targets_and_errors(tmp_path):
    records = [{"primary": "MKV", "log_fluorescence": [3.5], "id": "a"},
               {"primary": "MKVL", "log_fluorescence": [1.25], "id": "b"}]
    (tmp_path / "fluorescence_train.json").write_text(json.dumps(records))
    frame, target, kind = read_tape_json(tmp_path / "fluorescence_train.json")
    assert (target, kind) == ("log_fluorescence", "regression")
    assert frame["label"].tolist() == [3.5, 1.25]
    (tmp_path / "remote.json").write_text(json.dumps([{"primary": "MKV", "fold_label": 7}]))
    assert read_tape_json(tmp_path / "remote.json")[1:] == ("fold_label", "classification")
    (tmp_path / "ss.json").write_text(json.dumps([{"primary": "MKV", "ss3": [0, 1, 2]}]))
    frame, _, kind = read_tape_json(tmp_path / "ss.json")
    assert kind == "token_classification" and frame["label"][0].tolist() == [0, 1, 2]
    (tmp_path / "short.json").write_text(json.dumps([{"primary": "MKV", "ss3": [0, 1]}]))
    with pytest.raises(ValueError, match=r"short.json record 0 .*ss3 .* one int per residue"):
        read_tape_json(tmp_path / "short.json")
    (tmp_path / "nothing.json").write_text(json.dumps([{"primary": "MKV", "score": 1}]))
    with pytest.raises(ValueError, match="none of the TAPE targets"):
        read_tape_json(tmp_path / "nothing.json")
    assert read_tape_json(tmp_path / "nothing.json", target="score")[0]["label"][0] == 1.0


def test_urls_are_fetched_with_get_file(tmp_path, monkeypatch):
    member = json.dumps([{"primary": "MKV", "stability_score": [0.5]}]).encode()
    archive = tmp_path / "stability.tar.gz"
    with tarfile.open(archive, "w:gz") as handle:
        info = tarfile.TarInfo("stability/stability_valid.json")
        info.size = len(member)
        handle.addfile(info, io.BytesIO(member))
    calls = []

    def get_file(fname, origin, file_hash=None, **kwargs):
        calls.append((fname, origin, file_hash, kwargs.get("cache_subdir")))
        return str(archive)

    monkeypatch.delenv("DEEPBIO_OFFLINE", raising=False)
    monkeypatch.setattr(keras.utils, "get_file", get_file)
    url = "https://example.org/data_raw/stability.tar.gz"
    frame, kind = read_split(url + "#member=stability/stability_valid.json&sha256=ab12")
    assert kind == "regression" and frame["label"].tolist() == [0.5]
    assert calls == [("stability.tar.gz", url, "ab12", "deepbio")]
    with pytest.raises(ValueError, match="is an archive; name the file"):
        benchmarks.resolve(url)
    monkeypatch.setenv("DEEPBIO_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="downloads are off"):
        benchmarks.resolve("https://example.org/train.csv")


# ---------------------------------------------------------------------------------------------
# deepbio run finetune
# ---------------------------------------------------------------------------------------------
MOTIF = "GGGG"


def _write_gue(folder, seed=0, length=30, sizes=(("train", 400), ("dev", 120), ("test", 120))):
    """A learnable toy in GUE's layout: label 1 when the sequence holds GGGG (planted), else 0."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in sizes:
        rows = []
        for i in range(n):
            while True:
                seq = "".join(rng.choice(list("ACGT"), length))
                if MOTIF not in seq:
                    break
            label = int(i % 2)
            if label:
                at = rng.integers(0, length - len(MOTIF))
                seq = seq[:at] + MOTIF + seq[at + len(MOTIF):]
            rows.append((seq, label))
        pd.DataFrame(rows, columns=["sequence", "label"]).to_csv(folder / f"{split}.csv",
                                                                  index=False)
    return folder


def test_finetune_fresh_backbone_beats_the_majority_class(tmp_path):
    data = _write_gue(tmp_path / "gue")
    out = tmp_path / "run"
    result = _run([str(ROOT / "main.py"), "--task", "finetune", "--train", str(data / "train.csv"),
                   "--valid", str(data / "dev.csv"), "--test", str(data / "test.csv"),
                   "--epochs", "12", "--patience", "4", "--batch-size", "32",
                   "--learning-rate", "2e-3", "--output", str(out), "--verbose", "2"], cwd=tmp_path)
    report = json.loads((out / "report.json").read_text())
    assert report["objective"] == "classification" and report["data"]["modality"] == "DNA"
    assert report["backbone"]["pretrained"] is False and "nothing pre-trained" in \
        report["backbone"]["source"]
    assert report["baseline"]["name"] == "majority_class" and report["baseline"]["mcc"] == 0.0
    assert report["test"]["mcc"] > report["baseline"]["mcc"] + 0.2, report["test"]
    # selection used valid only: the selected epoch is the best valid MCC of the history
    history = report["history"]["val_mcc"]
    assert report["valid"]["selected_epoch"] == int(np.argmax(history)) + 1
    assert report["valid"]["mcc"] == pytest.approx(max(history), abs=1e-9)
    params = json.loads((out / "params.json").read_text())
    assert params["task"] == "finetune" and params["train"].endswith("train.csv")
    predictions = pd.read_csv(out / "predictions.csv")
    from sklearn.metrics import matthews_corrcoef

    assert report["test"]["mcc"] == pytest.approx(
        matthews_corrcoef(predictions["label"], predictions["predicted"]), abs=1e-12)
    model = keras.models.load_model(out / "model.keras")
    assert isinstance(model, MultiomicClassifier)
    assert "test MCC" in result.stdout


@pytest.fixture(scope="module")
def converted_backbone(tmp_path_factory):
    """A tiny OmniBioTA written by torch.save as upstream does, converted by convert_omnibiote."""
    reference = pytest.importorskip("test_omnibiote_convert")  # its PyTorch reference classes
    from deepbio.multiomic.convert import convert_omnibiote

    folder = tmp_path_factory.mktemp("converted")
    model = reference.random_binder(3).omnibiota  # context 48, width 64, 2 heads, vocabulary 49
    reference.save_as_upstream(model, folder / "omnibiota.pt")
    convert_omnibiote(folder / "omnibiota.pt", folder / "omnibiote")
    return folder / "omnibiote" / "backbone.keras", model


def test_finetune_with_a_converted_omnibiote_backbone(tmp_path, converted_backbone):
    from deepbio.multiomic.omnibiote_tokenizer import OmniBioTETokenizer
    from deepbio.multiomic.finetune_task import OmniBioTEInputs, backbone_tokenizer
    from deepbio.core.run_folder import run_task

    path, torch_model = converted_backbone
    tokenizer, converted = backbone_tokenizer(path)
    assert converted and isinstance(tokenizer, OmniBioTEInputs)
    ids = tokenizer.encode_sequence("acgtU", "RNA")
    assert ids == OmniBioTETokenizer("char").encode("<RNA>ACGTT<EOS>", "nuc") == [11, 4, 6, 7, 5, 5, 3]
    data = _write_gue(tmp_path / "gue", length=20, sizes=(("train", 64), ("dev", 32), ("test", 32)))
    report = run_task("finetune", tmp_path / "run", verbose=0, train=str(data / "train.csv"),
                      valid=str(data / "dev.csv"), test=str(data / "test.csv"),
                      backbone=str(path), epochs=2, batch_size=16)
    assert report["backbone"]["tokenizer"] == "OmniBioTE" and report["backbone"]["pretrained"]
    assert report["backbone"]["head_scale"] == 1024 / 64
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    assert model.backbone.get_config()["normalization"] == "omnibiote"
    # the fine-tuned model reads OmniBioTE's ids: <DNA> (9) first, <EOS> (3) last
    first = tokenizer.encode_sequence(pd.read_csv(data / "test.csv")["sequence"][0], "DNA")
    assert first[0] == 9 and first[-1] == 3 and len(first) == 22
    assert json.loads((tmp_path / "run" / "tokenizer.json").read_text())["mode"] == "char"


def test_finetune_fails_well(tmp_path):
    from deepbio.core.run_folder import run_task

    data = _write_gue(tmp_path / "gue", sizes=(("train", 8), ("dev", 4), ("test", 4)))
    with pytest.raises(ValueError, match="finetune needs --valid, --test"):
        run_task("finetune", tmp_path / "a", verbose=0, train=str(data / "train.csv"))
    (tmp_path / "ss.json").write_text(json.dumps([{"primary": "MKV", "ss3": [0, 1, 2]}]))
    with pytest.raises(ValueError, match="sequence-level targets"):
        run_task("finetune", tmp_path / "b", verbose=0, train=str(tmp_path / "ss.json"),
                 valid=str(data / "dev.csv"), test=str(data / "test.csv"))
    for name in ("a", "b"):  # a failed run leaves no output behind
        written = {f.name for f in (tmp_path / name).rglob("*")}
        assert not written & {"params.json", "report.json", "model.keras", "predictions.csv"}
