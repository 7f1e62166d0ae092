"""``deepbio serve``: the page's functions equal ``deepbio predict``; a real browser drives the page.

Tiny models of the four tasks are trained once on slices of the real data
(in-process, `run_task`). Each tab's function is compared with the command
line on the same real input (a protein of the PTM training windows with its
full ProNAB sequence, a VQ-RNA valid window, a slice of the Basset demo set, a
ProNAB complex). Then ``deepbio serve`` runs as a subprocess on 127.0.0.1:
headless Chromium (Selenium) pastes a protein, clicks Predict and reads the
table; a bad input shows its message and the server keeps serving; 20
concurrent ``gradio_client`` calls all return the right table. A toy task
defined here (`ToyTask`, whose ``web`` names `ToyTab`) gets its own tab and
endpoint without any change to deepbio: the page is built from the tasks.

Screenshots are left under the test's tmp_path; DEEPBIO_UPDATE_SCREENSHOT=1
also copies one to demo/web/screenshot.png.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, stop_server, wait_for_page
from deepbio.core.task import Task
from deepbio.serve.tab import WebTab, parse_text

PROBABILITIES = [f"p_{name}_given_modified"
                 for name in ("acetylation", "crotonylation", "methylation", "succinylation")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    """Tiny run folders of ptm, rnamod, motif and binding (about two minutes on 2 cores)."""
    from deepbio.core.run_folder import run_task

    out = tmp_path_factory.mktemp("runs")
    common = {"data_dir": str(data_dir), "verbose": 0, "epochs": 1}
    run_task("ptm", out / "ptm", mode="run", model_type="network", folds=2, max_windows=700,
             saliency_windows=0, residue_encoders=("physicochemical",), compare=("none",),
             grouped_cv=False, **common)
    run_task("rnamod", out / "rnamod", mode="run", modifications=("Am",), max_windows=80,
             multitask=False, ism_windows=0, saliency_windows=0, **common)
    run_task("motif", out / "motif", mode="run", max_sequences=40, motif_length=5, jaspar_top=3,
             ensemble=2, **common)
    run_task("binding", out / "binding", mode="run", max_complexes=60, folds=2, pretrain=False,
             jaspar=False, **common)
    return out


@pytest.fixture(scope="module")
def services(runs):
    from deepbio.serve.backend import load_services

    return load_services(runs)


@pytest.fixture(scope="module")
def pronab(data_dir):
    from deepbio.multiomic.pronab import load_pronab

    return load_pronab(data_dir)


@pytest.fixture(scope="module")
def real_protein(data_dir, pronab):
    """An accession of the PTM training windows, with its full ProNAB sequence."""
    from deepbio.ptm.data import load_ptm

    train = load_ptm("train", data_dir)
    accession = sorted(set(train.accessions) & set(pronab.accession_proteins))[0]
    return accession, pronab.accession_proteins[accession]


def _cli(argv):
    from deepbio.cli import main

    assert main(argv) == 0, argv


def test_every_tab_names_its_run_and_honest_metric(services, runs):
    reports = {t: json.loads((runs / t / "report.json").read_text()) for t in services}
    ptm = services["ptm"].summary()
    assert str(runs / "ptm" / "model.keras") in ptm
    assert f"{reports['ptm']['cv']['absolute_true']:.3f}" in ptm
    assert f"always-'a' baseline {reports['ptm']['baseline_cv']['absolute_true']:.3f}" in ptm
    am = reports["rnamod"]["per_modification"]["Am"]
    rna = services["rnamod"].summary()
    assert f"valid AUROC **{am['valid']['auroc']:.3f}**" in rna
    assert f"k-mer baseline {am['baseline_kmer']['valid']['auroc']:.3f}" in rna
    assert f"**{reports['motif']['heldout']['auroc']:.3f}** (constant score 0.5)" in services["motif"].summary()
    binding = services["binding"].summary()
    assert f"MAE **{reports['binding']['overall']['mae']:.2f} kcal/mol**" in binding
    assert f"training-mean baseline MAE {reports['binding']['baseline']['training_mean']['mae']:.2f}" in binding
    assert services["binding"].path.name == "scratch_model_fold1.keras"  # --no-pretrain: scratch arm


def test_missing_models_say_which_command_trains_them(tmp_path):
    from deepbio.serve.backend import load_services

    empty = load_services(tmp_path)
    for task, service in empty.items():
        assert not service.available
        assert f"deepbio run {task} --output {tmp_path / task}" in service.summary()
    with pytest.raises(ValueError, match="deepbio run ptm"):
        empty["ptm"].predict(">p\nMKV")


def test_ptm_tab_equals_deepbio_predict(services, runs, real_protein, tmp_path):
    accession, protein = real_protein
    text = f">{accession}\n{protein}\n"
    frame, plot, csv = services["ptm"].predict(text)
    fasta = tmp_path / "protein.fasta"
    fasta.write_text(text)
    _cli(["predict", "ptm", "--model", str(runs / "ptm"), "--input", str(fasta), "--output",
          str(tmp_path / "cli.csv"), "--verbose", "0"])
    assert Path(csv).read_bytes() == (tmp_path / "cli.csv").read_bytes()  # the page's CSV download
    cli = pd.read_csv(tmp_path / "cli.csv", keep_default_na=False)
    assert frame[["protein", "position", "window", "predicted"]].values.tolist() == \
        cli[["protein", "position", "window", "predicted"]].values.tolist()
    np.testing.assert_allclose(frame[PROBABILITIES].to_numpy(np.float64), cli[PROBABILITIES], atol=1e-6)
    assert frame["position"].tolist() == [i + 1 for i, r in enumerate(protein) if r == "K"]
    padded = "-" * 24 + protein + "-" * 24  # by hand: 24 residues each side, "-" beyond the ends
    assert frame["window"].tolist() == [padded[p - 1:p + 48] for p in frame["position"]]
    assert Path(plot).stat().st_size > 1000
    site = f"{accession} K{frame['position'].iloc[0]}"
    assert Path(services["ptm"].saliency(text, site)).stat().st_size > 1000


def test_ptm_tab_serves_a_window_ensemble(data_dir, real_protein, tmp_path):
    """The default PTM models (trees / linear / stack: ptm_model.skops) through the same path."""
    from deepbio.ptm.data import load_ptm
    from deepbio.ptm.predictor import save_ptm_predictor
    from deepbio.ptm.task import PTMConfig
    from deepbio.ptm.web import PTMTab
    from deepbio.ptm.training import subset
    from deepbio.ptm.trees import MODEL_BLOCKS, fit_window_model, window_feature_blocks

    train = subset(load_ptm("train", data_dir), 300, 0)
    model, _, _ = fit_window_model(PTMConfig(model_type="linear", inner_folds=2),
                                   window_feature_blocks(train.windows, ("linear",)), train.labels,
                                   train.classes, MODEL_BLOCKS)
    (tmp_path / "runs" / "ptm").mkdir(parents=True)
    save_ptm_predictor(model, tmp_path / "runs" / "ptm" / "ptm_model.skops")
    service = PTMTab(tmp_path / "runs", "ptm")
    assert service.path.name == "ptm_model.skops" and not service.network
    accession, protein = real_protein
    text = f">{accession}\n{protein}\n"
    frame, _, csv = service.predict(text)
    (tmp_path / "protein.fasta").write_text(text)
    _cli(["predict", "ptm", "--model", str(tmp_path / "runs" / "ptm"), "--input",
          str(tmp_path / "protein.fasta"), "--output", str(tmp_path / "cli.csv"), "--verbose", "0"])
    assert Path(csv).read_bytes() == (tmp_path / "cli.csv").read_bytes()
    np.testing.assert_allclose(frame[PROBABILITIES], model.predict_proba(list(frame["window"])),
                               atol=1e-6)
    site = f"{accession} K{frame['position'].iloc[-1]}"
    assert Path(service.saliency(text, site)).stat().st_size > 1000  # substitution map


def test_rnamod_tab_equals_deepbio_predict(services, runs, data_dir, tmp_path):
    from deepbio.rnamod.data import load_rnamod

    valid = load_rnamod("valid", "Am", None, data_dir)
    window = valid.sequences[int(np.flatnonzero(valid.labels == 1)[0])]  # 1001 nt, a real Am site
    frame, plot, _ = services["rnamod"].predict(window)
    assert len(frame) == len(window) and frame["base"].str.cat() == window
    length = services["rnamod"].length
    half = length // 2
    positions = [1, 2, len(window) // 2 + 1, len(window)]
    padded = "N" * half + window + "N" * half  # by hand: each position centred, N beyond the ends
    fasta = tmp_path / "windows.fasta"
    fasta.write_text("".join(f">p{p}\n{padded[p - 1:p - 1 + length]}\n" for p in positions))
    assert padded[len(window) // 2:len(window) // 2 + length] == window[500 - half:501 + half]
    _cli(["predict", "rnamod", "--model", str(runs / "rnamod"), "--input", str(fasta), "--output",
          str(tmp_path / "cli.csv"), "--verbose", "0"])
    cli = pd.read_csv(tmp_path / "cli.csv")
    page = frame.set_index("position").loc[positions, "Am"].to_numpy(np.float64)
    np.testing.assert_allclose(page, cli["Am"], atol=1e-6)
    logo = services["rnamod"].ism(window, len(window) // 2 + 1, "Am")
    assert logo.endswith("_logo.png") and Path(logo).stat().st_size > 1000


def test_motif_tab_equals_deepbio_run_with_model(services, runs, data_dir, tmp_path):
    from deepbio.motif.data import default_input, load_sequences

    demo = load_sequences(default_input(data_dir))
    ids, sequences = services["motif"].sequences("", demo=True, data_dir=data_dir)
    assert ids == demo["id"].tolist()[:40] and sequences == demo["sequence"].tolist()[:40]
    chosen = demo.iloc[:12]
    text = "".join(f">{i}\n{s}\n" for i, s in zip(chosen["id"], chosen["sequence"]))
    top, plot, csv, n = services["motif"].score(text)
    fasta = tmp_path / "slice.fasta"
    fasta.write_text(text)
    _cli(["run", "motif", "--model", str(runs / "motif" / "model.keras"), "--input",
          str(fasta), "--motif-length", "5", "--jaspar-top", "3", "--output", str(tmp_path / "cli"),
          "--data-dir", str(data_dir), "--verbose", "0"])
    cli = pd.read_csv(tmp_path / "cli" / "motif_scores.csv")
    page = pd.read_csv(csv)
    assert n == 12 and page["motif"].tolist() == cli["motif"].tolist()
    numeric = page.select_dtypes("number").columns
    np.testing.assert_allclose(page[numeric], cli[numeric], rtol=1e-6, atol=1e-9)
    cli_top = pd.read_csv(tmp_path / "cli" / "top_motifs.csv")
    assert top["motif"].tolist() == cli_top["motif"].tolist()
    assert top["jaspar_id"].tolist() == cli_top["jaspar_id"].tolist()
    assert Path(plot).stat().st_size > 1000


def test_binding_tab_equals_deepbio_predict(services, pronab, tmp_path):
    rows = pronab.frame[(pronab.frame["complementary"] != "") &
                        (pronab.frame["protein"].str.len() <= 1000)]
    row = rows.iloc[0]
    dg, attention, _ = services["binding"].predict(row.protein, row.nucleic_acid, row.complementary,
                                                   row.type)
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame([{"protein": row.protein, "nucleic_acid": row.nucleic_acid, "type": row.type,
                   "complementary": row.complementary}]).to_csv(pairs, index=False)
    _cli(["predict", "binding", "--model", str(services["binding"].path), "--input", str(pairs),
          "--output", str(tmp_path / "cli.csv"), "--verbose", "0"])
    cli = pd.read_csv(tmp_path / "cli.csv")
    np.testing.assert_allclose(dg, cli["predicted_dg"].iloc[0], rtol=1e-6)
    fasta = f">protein\n{row.protein}\n>strand\n{row.nucleic_acid}\n>other\n{row.complementary}\n"
    np.testing.assert_allclose(services["binding"].predict(fasta)[0], dg, rtol=1e-6)  # as FASTA
    assert Path(attention).stat().st_size > 1000


@pytest.mark.parametrize("text, message", [
    ("", "the input is empty"),
    ("{'protein': 'MKV'}", "neither FASTA (no '>' header line) nor a plain protein"),
    (">weird\nMKBZ\n", "non-standard residue 'B' at position 3"),
    (">noK\nMAAAA\n", "none of the 1 protein(s) contains a lysine (K): there is no site to score"),
    ("".join(f">p{i}\nMK\n" for i in range(21)), "21 proteins given; the limit is 20"),
    (">big\n" + "K" * 20_001, "20,001 residues given; the limit is 20,000"),
    ("M" * 200_001, "the limit is 200,000"),
])
def test_bad_ptm_input_is_a_page_message(services, text, message):
    gr = pytest.importorskip("gradio", reason="the web extra (gradio) is not installed")
    from deepbio.serve.tab import guard

    with pytest.raises(gr.Error) as caught:
        guard(gr, services["ptm"].predict)(text)
    assert message in str(caught.value) and "Traceback" not in str(caught.value)


def test_a_lysine_free_protein_beside_others_has_no_rows(services):
    frame, _, csv = services["ptm"].predict(">noK\nMAAAA\n>p\nMKAAK\n")
    assert frame["protein"].tolist() == ["p", "p"] and frame["position"].tolist() == [2, 5]
    assert len(pd.read_csv(csv)) == 2


def test_bad_inputs_of_the_other_tabs(services):
    with pytest.raises(ValueError, match="invalid base 'X' at position 3"):
        services["rnamod"].predict("ACXGU")
    with pytest.raises(ValueError, match="2,001 nt; the limit is 2,000 nt"):
        services["rnamod"].predict("A" * 2001)
    with pytest.raises(ValueError, match="no nucleic-acid strand"):
        services["binding"].predict("MKVLAAG")
    with pytest.raises(ValueError, match="strand: invalid base 'Z' at position 2"):
        services["binding"].predict("MKVLAAG", "AZGT")
    with pytest.raises(ValueError, match="does not take these sequences"):
        services["motif"].score(">a\n" + "ACGT" * 30 + "\n>b\n" + "TTGA" * 30)


def test_serve_command_line():
    from deepbio.cli import legacy_argv, main

    assert legacy_argv(["--task", "serve", "--runs", "r", "--port", "9"], "main.py") == \
        ["serve", "--runs", "r", "--port", "9"]
    assert main(["serve", "--runs", "/no/such/runs"]) == 2
    assert main(["serve", "--port", "70000"]) == 2
    assert main(["serve", "--no-such-flag"]) == 2


# ---------------------------------------------------------------------------------------------
# The page is built from the tasks: a toy task brings its own tab
# ---------------------------------------------------------------------------------------------
class ToyTab(WebTab):
    """The protocol's example (`deepbio.serve.tab`): each sequence's length × the run's factor."""

    title = "Toy"
    files = ("toy.json",)
    train_command = "write {folder}/toy.json"
    limits = {"sequences": 5}

    def load(self):
        self.factor = json.loads(self.path.read_text())["factor"]

    def predict(self, text):
        self.require()
        ids, sequences = parse_text(text, "DNA sequence")
        if len(ids) > self.limits["sequences"]:
            raise ValueError(f"{len(ids)} sequences; the limit is {self.limits['sequences']}")
        return pd.DataFrame({"id": ids, "score": [self.factor * len(s) for s in sequences]})

    def build(self, gr):
        gr.Markdown(self.summary())
        text = gr.Textbox(label="DNA FASTA")
        button = gr.Button("Score")
        table = gr.Dataframe(interactive=False)
        self.click(gr, button, self.predict, [text], [table], api_name="predict_toy")


class ToyTask(Task):
    name = "toy"
    brief = "a toy task with its own tab"
    web = f"{__name__}:ToyTab"  # as a method's task names its tab: "deepbio.ptm.web:PTMTab"


class QuietTask(Task):
    name = "quiet"  # web = None (the base class's): no tab


def test_the_tabs_come_from_the_tasks(tmp_path):
    from deepbio.motif.web import MotifTab
    from deepbio.multiomic.web import BindingTab
    from deepbio.ptm.web import PTMTab
    from deepbio.rnamod.web import RNAModTab
    from deepbio.serve.backend import web_tab_class, web_tab_classes

    ours = {"ptm": PTMTab, "rnamod": RNAModTab, "motif": MotifTab, "binding": BindingTab}
    found = web_tab_classes()  # deepbio's tasks, in rank order; pretrain and finetune have none
    assert [(n, c) for n, c in found.items() if n in ours] == list(ours.items())
    assert "pretrain" not in found and "finetune" not in found
    assert web_tab_classes({"toy": ToyTask(), "quiet": QuietTask()}) == {"toy": ToyTab}
    for web, message in (("no_colon", "is not 'module:object'"),
                         ("no.such.module:Tab", "cannot be loaded (No module named 'no'"),
                         (f"{__name__}:Missing", "cannot be loaded"),
                         (f"{__name__}:QuietTask", "is not a web tab class")):
        with pytest.raises(ValueError, match="task toy: web = ") as caught:
            web_tab_class("toy", web)
        assert message in str(caught.value)

    empty = ToyTab(tmp_path, "toy")  # no toy.json: the tab says which command makes one
    assert not empty.available
    assert empty.summary() == (f"**No toy model.** no model at {tmp_path / 'toy' / 'toy.json'}. "
                               f"Train one with: write {tmp_path / 'toy'}/toy.json")
    with pytest.raises(ValueError, match="no model at"):
        empty.predict(">a\nACGT")


def test_a_toy_task_brings_its_own_tab(tmp_path):
    """Built from ``tasks`` (as `discover_tasks` gives them) and called with gradio_client."""
    pytest.importorskip("gradio", reason="the web extra (gradio) is not installed")
    from gradio_client import Client

    from deepbio.serve.app import build_app, launch_options

    (tmp_path / "runs" / "toy").mkdir(parents=True)
    (tmp_path / "runs" / "toy" / "toy.json").write_text('{"factor": 3}')
    app = build_app(tmp_path / "runs", tasks={"toy": ToyTask(), "quiet": QuietTask()})
    assert list(app.services) == ["toy"] and app.services["toy"].factor == 3
    port = _free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
               **launch_options(app))
    try:
        url = f"http://127.0.0.1:{port}/"
        with urllib.request.urlopen(url + "config", timeout=30) as response:
            config = json.loads(response.read())
        tabs = [c["props"] for c in config["components"] if c["type"] == "tabitem"]
        assert [(t["label"], t["id"]) for t in tabs] == [("Toy", "toy")]
        client = Client(url, verbose=False)
        endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert list(endpoints) == ["/predict_toy"]
        table = client.predict(">a\nACGT\n>b\nacg\n", api_name="/predict_toy")
        assert table["headers"] == ["id", "score"] and table["data"] == [["a", 12], ["b", 9]]
        with pytest.raises(Exception, match="6 sequences; the limit is 5"):  # a page message
            client.predict("".join(f">s{i}\nA\n" for i in range(6)), api_name="/predict_toy")
    finally:
        app.close()


# ---------------------------------------------------------------------------------------------
# The server, a real browser and concurrent API clients
# ---------------------------------------------------------------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(runs, data_dir, tmp_path_factory):
    """``deepbio serve`` on a free 127.0.0.1 port; always terminated."""
    pytest.importorskip("gradio", reason="the web extra (gradio) is not installed")
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "DEEPBIO_DATA": str(data_dir), "DEEPBIO_OFFLINE": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3", "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log, "w") as handle:
        process = subprocess.Popen([sys.executable, "-m", "deepbio", "serve", "--runs", str(runs),
                                    "--port", str(port), "--data-dir", str(data_dir)],
                                   stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=runs)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_page(process, url, log)
        yield {"url": url, "process": process, "log": log}
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def browser():
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        pytest.skip("no Chromium / chromedriver installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = binary
    profile = tempfile.mkdtemp(prefix="deepbio-chromium-")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                     "--window-size=1280,1500"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(driver))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _wait(driver, condition, seconds=90, what="the page"):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.25).until(condition)
    except TimeoutException:
        raise AssertionError(f"waited {seconds} s for {what}") from None


def _paste(driver, text):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.CSS_SELECTOR, "#ptm-input textarea")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(text)
    driver.find_element(By.ID, "ptm-predict").click()


def _page_table(driver):
    """The PTM table as the page shows it: header, rows (of those rendered), row count."""
    from selenium.webdriver.common.by import By

    def text(element):  # textContent: a cell scrolled out of view still has its text
        return element.get_attribute("textContent").strip()

    table = driver.find_element(By.ID, "ptm-table")
    header = [th.get_attribute("title") for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    rows = [[text(cell) for cell in row.find_elements(By.CSS_SELECTOR, "[role=gridcell]")]
            for row in table.find_elements(By.CSS_SELECTOR, "[role=row].virtual-row")]
    count = int(table.find_element(By.CSS_SELECTOR, "[role=grid]").get_attribute("aria-rowcount")) - 1
    return header, rows, count


def _check_page_rows(header, rows, expected):
    assert header[:len(expected.columns)] == list(expected.columns), header
    by_site = expected.set_index(["protein", "position"])
    assert rows, "no row rendered"
    for row in rows:
        want = by_site.loc[(row[0], int(row[1]))]
        assert row[2] == want["window"] and row[7] == want["predicted"], row
        np.testing.assert_allclose([float(v) for v in row[3:7]], want[PROBABILITIES].astype(float),
                                   atol=1e-6)


def _small_png(source, target):
    """A palette PNG copy (a few hundred kB at most) of a screenshot."""
    from PIL import Image

    with Image.open(source) as image:
        image.convert("RGB").quantize(128).save(target, optimize=True)


def test_browser_predicts_and_reports_bad_input(server, browser, services, pronab, tmp_path):
    from selenium.webdriver.common.by import By

    accession, protein = "P04637", pronab.accession_proteins["P04637"]  # human p53
    expected = services["ptm"].predict(f">{accession}\n{protein}\n")[0]
    browser.get(server["url"])
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#ptm-input textarea"))
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "conditional on the lysine being modified" in page and "Absolute-True" in page
    _paste(browser, f">{accession}\n{protein}\n")
    _wait(browser, lambda d: accession in d.find_element(By.ID, "ptm-table").text,
          what="the PTM table")
    header, rows, count = _page_table(browser)
    assert count == len(expected)
    _check_page_rows(header, rows, expected)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#ptm-plot img"), what="the plot")
    browser.execute_script("window.scrollTo(0, 0)")
    shot = tmp_path / "serve_ptm.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    _small_png(shot, tmp_path / "screenshot.png")
    if os.environ.get("DEEPBIO_UPDATE_SCREENSHOT") == "1":
        shutil.copy(tmp_path / "screenshot.png", ROOT / "demo" / "web" / "screenshot.png")

    _paste(browser, ">weird\nMKBZ\n")  # a bad input: a message in the page, no stack trace
    toast = _wait(browser, lambda d: [t for t in d.find_elements(By.CSS_SELECTOR, ".toast-body")
                                      if "non-standard residue 'B'" in t.text], what="the error")
    assert "input: record 1 ('weird')" in toast[0].text and "Traceback" not in toast[0].text
    browser.save_screenshot(str(tmp_path / "serve_ptm_error.png"))
    assert server["process"].poll() is None

    second = ">second\nMSKGEELFTGVVPILVELDGDVNGHKFSVSGEGEGDATYGKLTLKFICTT\n"  # the server keeps serving
    expected = services["ptm"].predict(second)[0]
    _paste(browser, second)
    _wait(browser, lambda d: "second" in d.find_element(By.ID, "ptm-table").text,
          what="the second table")
    header, rows, count = _page_table(browser)
    assert count == len(expected) == 4
    _check_page_rows(header, rows, expected)


def test_twenty_concurrent_api_clients(server, services, pronab):
    from gradio_client import Client

    client = Client(server["url"], verbose=False)
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/predict_ptm", "/predict_rnamod", "/score_motifs", "/predict_binding"} <= set(endpoints)
    with pytest.raises(Exception, match="contains a lysine"):  # gr.Error reaches the caller
        client.predict(">noK\nMAAAA", api_name="/predict_ptm")

    proteins = [(a, p) for a, p in sorted(pronab.accession_proteins.items())
                if "K" in p and len(p) <= 800][:20]
    texts = [f">{a}\n{p}\n" for a, p in proteins]
    expected = [services["ptm"].predict(t)[0] for t in texts]
    results, errors = [None] * len(texts), []

    def call(i):
        try:
            results[i] = Client(server["url"], verbose=False).predict(texts[i],
                                                                      api_name="/predict_ptm")
        except Exception as error:  # noqa: BLE001  (reported below)
            errors.append(f"{i}: {type(error).__name__}: {error}")

    start = time.perf_counter()
    threads = [threading.Thread(target=call, args=(i,), daemon=True) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, 240 - (time.perf_counter() - start)))
    wall = time.perf_counter() - start
    assert not any(t.is_alive() for t in threads), f"calls still running after {wall:.0f} s"
    assert not errors, errors
    for got, want in zip(results, expected):
        table = pd.DataFrame(got[0]["data"], columns=got[0]["headers"])
        assert table[["protein", "position", "window", "predicted"]].values.tolist() == \
            want[["protein", "position", "window", "predicted"]].values.tolist()
        np.testing.assert_allclose(table[PROBABILITIES].to_numpy(float),
                                   want[PROBABILITIES].to_numpy(float), atol=1e-6)
    status = Path(f"/proc/{server['process'].pid}/status")
    peak = next((int(line.split()[1]) / 1024 for line in status.read_text().splitlines()
                 if line.startswith("VmHWM")), None) if status.exists() else None
    print(f"\n[serve load] {len(texts)} concurrent /predict_ptm calls "
          f"({sum(len(e) for e in expected)} lysines): wall {wall:.1f} s; server peak RSS "
          f"{'n/a' if peak is None else f'{peak:.0f} MiB'}")
    assert server["process"].poll() is None
