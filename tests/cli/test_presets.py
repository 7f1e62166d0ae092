"""The presets that ship in deepbio/presets/: files match their cards, pinned predictions repeat,
the command line and the page use them without any training or data mirror."""

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import stop_server, wait_for_page
from deepbio import cli, presets
from deepbio.presets.build import pinned_predictions

EXPECTED = {"ptm-trees": "ptm", "ptm-network": "ptm", "rnamod-vqrna": "rnamod",
            "motif-basset": "motif", "binding-dg": "binding"}
ALL = presets.list_presets()
PROTEINS = ">p53_fragment\nMEEPQSDPSVEPPLSQETFSDLWKLLPENNVLSPLPSQAMDDLMLSPDDIEQWFTEDPGPDEAPRMPEAAPPVAPAPAAPTPAAPAPAPSWPLSSSVPSQKTYQGSYGFRLGFLHSGTAKSVTCTYSPALNKMFCQLAKTCPVQLWVDSTPPPGTRVRAMAIYKQSQHMTEVVRRCPHHERCSDSDGLAPPQHLIRVEGNLRVEYLDDRNTFRHSVVVPYEPPEVGSDCTTIHYNYMCNSSCMGGMNRRPILTIITLEDSSGNLLGRNSFEVRVCACPGRDRRTEEENLRKKGEPHHELPPGSTKRALPNNT\n"


def _cli(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def test_every_method_has_its_presets():
    assert {p.name: p.task for p in ALL} == EXPECTED
    assert {p.task for p in ALL if p.default} == {"ptm", "rnamod", "motif", "binding"}
    assert presets.default_preset("ptm").name == "ptm-trees"
    assert presets.default_preset("ptm", "interpret").name == "ptm-network"
    total = sum(p.size_bytes for p in ALL)
    assert total < 30e6, f"presets take {total / 1e6:.1f} MB"


@pytest.mark.parametrize("preset", ALL, ids=lambda p: p.name)
def test_files_match_their_card(preset):
    preset.verify()  # every file's sha256 equals preset.json's
    card = preset.card()
    for section in ("## Training data", "## How it was built", "## Figures (beside the trivial "
                    "baseline)", "## Intended use", "## Limits", "## Files (sha256)"):
        assert section in card, section
    for name, digest in preset.files.items():
        assert f"`{name}`: `{digest}`" in card
    assert f"deepbio {' '.join(preset.meta['command'])} --output DIR" in card
    assert preset.headline and preset.headline in card
    figures = card.split("## Figures")[1].split("## Intended use")[0]
    assert re.search(r"baseline|constant|training-fold mean", figures.split("\n", 1)[1])
    pinned = preset.path / preset.meta["pinned"]["input"]
    assert presets.sha256(pinned) == preset.meta["pinned"]["sha256"]


@pytest.mark.parametrize("preset", ALL, ids=lambda p: p.name)
def test_pinned_predictions_repeat(preset):
    """The shipped model gives the predictions recorded when it was built (float32 rounding)."""
    expected = np.asarray(preset.meta["pinned"]["predictions"], np.float64)
    found = pinned_predictions(preset.task, preset.path, preset.path / preset.meta["pinned"]["input"],
                               cli.main)
    assert found.shape == expected.shape and expected.size > 0
    np.testing.assert_allclose(found, expected, atol=2e-6)


def test_a_tampered_preset_is_refused(tmp_path):
    preset = presets.get("ptm-trees")
    copy = tmp_path / "ptm-trees"
    shutil.copytree(preset.path, copy)
    with open(copy / "thresholds.json", "a") as handle:
        handle.write(" ")
    tampered = presets.Preset(preset.name, preset.task, preset.version, preset.default, copy,
                              preset.meta)
    with pytest.raises(ValueError, match=r"preset ptm-trees: thresholds\.json has sha256 [0-9a-f]{64}, "
                                         r"its card says"):
        tampered.model_path()


def test_python_api_loads_each_kind():
    predictor = presets.load("ptm-trees")
    window = "A" * 24 + "K" + "A" * 24
    probabilities = np.asarray(predictor.predict_proba([window]))
    assert probabilities.shape == (1, 4) and np.all((probabilities >= 0) & (probabilities <= 1))
    model = presets.load("binding-dg")
    assert {t.name.split(":")[0] for t in model.inputs} >= {"token_ids", "padding_mask"}
    with pytest.raises(ValueError, match=r"no preset named 'nope'; the presets are: binding-dg"):
        presets.load("nope")


def test_predict_without_a_model_uses_the_preset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEEPBIO_DATA", raising=False)
    (tmp_path / "p.fa").write_text(PROTEINS)
    status, out, err = _cli(["predict", "ptm", "--input", "p.fa", "--output", "default.csv",
                             "--verbose", "0"])
    assert status == 0, err
    status, _, err = _cli(["predict", "ptm", "--model", "ptm-trees", "--input", "p.fa", "--output",
                           "named.csv", "--verbose", "0"])
    assert status == 0, err
    default = pd.read_csv(tmp_path / "default.csv")
    assert default.equals(pd.read_csv(tmp_path / "named.csv"))
    assert len(default) == PROTEINS.split("\n")[1].count("K")
    status, _, err = _cli(["predict", "ptm", "--model", "rnamod-vqrna", "--input", "p.fa",
                           "--output", "x.csv", "--verbose", "0"])
    assert status == 2 and err.strip() == ("deepbio: error: preset rnamod-vqrna is a rnamod model, "
                                           "not a ptm model; the ptm presets are: ptm-network, "
                                           "ptm-trees")


def test_presets_command(tmp_path):
    status, out, _ = _cli(["presets"])
    assert status == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == ["name", "task", "size", "headline"]
    assert [line.split()[0] for line in lines[1:]] == sorted(EXPECTED)
    status, out, _ = _cli(["presets", "show", "rnamod-vqrna"])
    assert status == 0 and out.startswith("# rnamod-vqrna (v1): ")
    status, _, err = _cli(["presets", "show", "nope"])
    assert status == 2 and err.startswith("deepbio: error: no preset named 'nope'")


def test_the_page_serves_the_presets():
    from deepbio.serve.backend import load_services

    services = load_services(presets.runs_folder())
    assert all(service.available for service in services.values()), {
        task: service.missing() for task, service in services.items() if not service.available}
    for task, service in services.items():
        name = presets.default_preset(task).name
        assert f"Serving the preset **{name}**" in service.summary()
    frame, _, _ = services["ptm"].predict(PROTEINS)
    assert len(frame) == PROTEINS.split("\n")[1].count("K")


FRESH_PREDICTS = r"""
from deepbio import cli

for task, source in (("ptm", "p.fa"), ("rnamod", "r.fa"), ("binding", "pairs.csv")):
    status = cli.main(["predict", task, "--input", source, "--output", f"{task}.csv",
                       "--verbose", "0"])
    print("STATUS", task, status, flush=True)
"""


def test_fresh_process_without_data_or_network(tmp_path):
    """As a new user right after pip install: no DEEPBIO_DATA, offline, no --model."""
    (tmp_path / "p.fa").write_text(PROTEINS)
    (tmp_path / "r.fa").write_text(">r1\n" + "ACGU" * 25 + "A\n")
    (tmp_path / "pairs.csv").write_text("protein,nucleic_acid,type\nMKVLAAGIKRSTE,ACGTACGTAC,DNA\n")
    env = {k: v for k, v in os.environ.items() if k != "DEEPBIO_DATA"}
    env.update(DEEPBIO_OFFLINE="1", HOME=str(tmp_path), KERAS_HOME=str(tmp_path / "keras"))
    # ONE fresh process (one TensorFlow start) runs the three commands as `deepbio` would
    result = subprocess.run([sys.executable, "-c", FRESH_PREDICTS], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    statuses = [line.split() for line in result.stdout.splitlines() if line.startswith("STATUS ")]
    assert statuses == [["STATUS", "ptm", "0"], ["STATUS", "rnamod", "0"],
                        ["STATUS", "binding", "0"]], result.stderr[-3000:]
    for task in ("ptm", "rnamod", "binding"):
        assert len(pd.read_csv(tmp_path / f"{task}.csv")) >= 1
    assert len(pd.read_csv(tmp_path / "ptm.csv")) == PROTEINS.split("\n")[1].count("K")
    cached = [p.name for p in (tmp_path / "keras").glob("*")] if (tmp_path / "keras").exists() else []
    assert set(cached) <= {"keras.json"}, cached  # Keras's own settings only: nothing downloaded


def test_serve_without_flags_answers_every_tab(tmp_path):
    """``deepbio serve`` with no flags (no runs folder, no data mirror) serves the presets."""
    import socket

    pytest.importorskip("gradio", reason="the web extra (gradio) is not installed")
    from gradio_client import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "DEEPBIO_DATA"}
    env.update(DEEPBIO_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", TF_CPP_MIN_LOG_LEVEL="3")
    log = tmp_path / "server.log"
    with open(log, "w") as handle:  # --port only because the default 7860 may be taken
        process = subprocess.Popen([sys.executable, "-m", "deepbio", "serve", "--port", str(port)],
                                   stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_page(process, url, log, seconds=240)
        client = Client(url, verbose=False)
        ptm = client.predict(PROTEINS, api_name="/predict_ptm")
        rnamod = client.predict(">r\n" + "ACGU" * 30 + "\n", api_name="/predict_rnamod")
        motifs = client.predict("\n".join(f">s{i}\n" + ("ACGTTGCA" * 75)[i:] + "ACGTTGCA"[:i]
                                          for i in range(8)), api_name="/score_motifs")
        binding = client.predict(">protein\nMKVLAAGIKRSTEKKR\n>strand\nACGTACGTAC\n",
                                 api_name="/predict_binding")
        for name, answer in (("ptm", ptm), ("rnamod", rnamod), ("motif", motifs),
                             ("binding", binding)):
            assert answer is not None and len(answer) >= 2, (name, answer)
        table = ptm[0]
        assert len(table["data"]) == PROTEINS.split("\n")[1].count("K")
        assert len(rnamod[0]["data"]) == 120
    finally:
        stop_server(process)
    assert "deepbio-presets-" in log.read_text()  # it served the presets' runs folder


def test_rebuild_repeats_a_preset_on_this_machine(tmp_path, data_dir):
    """make_preset → rebuild with the recorded command gives the same pinned predictions."""
    from deepbio.presets.build import make_preset, rebuild

    command = ["train", "ptm", "--max-windows", "700", "--folds", "0", "--no-grouped-cv",
               "--compare", "none", "--tree-iterations", "20", "--inner-folds", "2", "--seed", "0"]
    status, _, err = _cli([*command, "--output", tmp_path / "run", "--verbose", "0"])
    assert status == 0, err
    (tmp_path / "pinned.fasta").write_text(PROTEINS)
    spec = dict(name="tiny-ptm", task="ptm", version="0", default=False, default_modes=[], seed=0,
                title="a tiny test preset", command=command, headline="tiny (constant score 0.5)",
                files=["ptm_model.skops", "thresholds.json", "params.json"], question="test",
                data="700 training windows", figures="none (constant score 0.5)",
                intended_use="tests", limits="tiny")
    folder = make_preset(spec, tmp_path / "run", tmp_path / "pinned.fasta", cli.main,
                         tmp_path / "tiny-ptm")
    meta = json.loads((folder / "preset.json").read_text())
    preset = presets.Preset("tiny-ptm", "ptm", "0", False, folder, meta)
    preset.verify()
    assert len(meta["pinned"]["predictions"]) == PROTEINS.split("\n")[1].count("K")
    result = rebuild(preset, str(tmp_path / "rebuilt"), cli.main, data_dir=str(data_dir))
    assert result["identical"] and result["max_abs_difference"] <= 1e-6
    with open(tmp_path / "run" / "thresholds.json") as a, open(tmp_path / "rebuilt" / "thresholds.json") as b:
        assert json.load(a) == json.load(b)


def test_stray_files_and_local_namesakes(tmp_path, monkeypatch):
    preset = presets.get("ptm-trees")
    copy = tmp_path / "copy"
    shutil.copytree(preset.path, copy)
    (copy / "model.keras").write_bytes(b"not listed")  # a loader would prefer it: refused
    stray = presets.Preset(preset.name, preset.task, preset.version, preset.default, copy, preset.meta)
    with pytest.raises(ValueError, match=r"preset ptm-trees: model\.keras is not listed in its card"):
        stray.verify()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ptm-trees").mkdir()  # a local folder named like the preset: the folder, with a note
    (tmp_path / "p.fa").write_text(PROTEINS)
    status, _, err = _cli(["predict", "ptm", "--model", "ptm-trees", "--input", "p.fa", "--output",
                           "o.csv", "--verbose", "0"])
    lines = err.strip().splitlines()
    assert status == 2 and lines[0].startswith("deepbio: note: ptm-trees is a local file or folder "
                                               "and also a preset name")
    assert lines[1].startswith("deepbio: error: model ptm-trees is a folder")
    status, _, err = _cli(["predict", "ptm", "--model", str(preset.path), "--input", "p.fa",
                           "--output", "o.csv", "--verbose", "0"])  # the installed folder: verified
    assert status == 0, err
