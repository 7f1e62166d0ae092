"""A task from another installed package: found through the ``deepbio.tasks`` entry points.

The test writes a tiny package (one module, a `Task` with one flag), installs it
with pip into a temporary folder, and drives it through the command line:
``--help``, ``run`` (the framework writes ``params.json`` and ``report.json``),
``predict``, its tab of ``deepbio serve`` (answering through gradio_client) and a
bad flag (exit status 2) — nothing in deepbio is edited.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TOY_MODULE = '''
"""A toy deepbio task: scales the numbers of a text file by a learned mean."""

import dataclasses
import json
from pathlib import Path

from deepbio.core.task import PredictConfig, Task, TrainingConfig, option
from deepbio.serve.tab import WebTab


@dataclasses.dataclass
class ToyConfig(TrainingConfig):
    scale: float = option(2.0, "multiplies the mean of the training numbers", minimum=0)
    numbers: tuple[float, ...] = option((1.0, 2.0, 6.0), "the training numbers")


@dataclasses.dataclass
class ToyPredictConfig(PredictConfig):
    offset: float = option(0.0, "added to every prediction")


class ToyTask(Task):
    name = "toy"
    brief = "a toy task from another package"
    rank = 900
    config_class = ToyConfig
    predict_config_class = ToyPredictConfig
    description = "Learns scale x mean(numbers); predicts it times each input number."
    predict_input = "a text file, one number per line"
    tiny_flags = ("--numbers", "1,2,3")
    web = "deepbio_toy_task:ToyTab"

    def run(self, config, folder):
        weight = config.scale * sum(config.numbers) / len(config.numbers)
        folder.write_json({"weight": weight}, "model.json")
        return {"weight": weight}

    def predict(self, config, output):
        weight = json.loads((Path(config.model) / "model.json").read_text())["weight"]
        values = [float(line) for line in Path(config.input).read_text().split()]
        rows = [f"{v},{v * weight + config.offset}" for v in values]
        Path(output).write_text("value,prediction\\n" + "\\n".join(rows) + "\\n")
        return f"{len(rows)} numbers scored -> {output}"

    def summary(self, report):
        return [f"weight {report['weight']:.3f}"]


class ToyTab(WebTab):
    title = "Toy"
    files = ("model.json",)
    train_command = "deepbio run toy --output {folder}"

    def load(self):
        self.weight = json.loads(self.path.read_text())["weight"]

    def predict(self, text):
        self.require()
        return [[float(v), float(v) * self.weight] for v in text.split()]

    def build(self, gr):
        gr.Markdown(self.summary())
        text = gr.Textbox(label="numbers")
        button = gr.Button("Scale")
        table = gr.Dataframe(headers=["value", "prediction"], interactive=False)
        self.click(gr, button, self.predict, [text], [table], api_name="predict_toy")


TASK = ToyTask()
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "deepbio-toy-task"
version = "0.1"

[tool.setuptools]
py-modules = ["deepbio_toy_task"]

[project.entry-points."deepbio.tasks"]
toy = "deepbio_toy_task:TASK"
'''


@pytest.fixture(scope="module")
def toy_site(tmp_path_factory):
    """The toy package, pip-installed (no index, no dependencies) into a temporary folder."""
    source = tmp_path_factory.mktemp("toy_source")
    (source / "deepbio_toy_task.py").write_text(textwrap.dedent(TOY_MODULE))
    (source / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    site = tmp_path_factory.mktemp("toy_site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--no-build-isolation", "--target", str(site), str(source)], check=True,
                   capture_output=True, text=True)
    assert (site / "deepbio_toy_task.py").is_file()
    return site


def deepbio(site, *args, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "deepbio", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def serve_and_ask(site, tmp_path, run_folder, text):
    """``deepbio serve --runs`` over the toy run; the toy tab's answer to ``text`` (gradio_client)."""
    pytest.importorskip("gradio", reason="the web extra (gradio) is not installed")
    from gradio_client import Client

    from conftest import stop_server, wait_for_page

    runs = tmp_path / "runs"
    (runs / "toy").mkdir(parents=True)
    shutil.copy(run_folder / "model.json", runs / "toy" / "model.json")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "serve.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "deepbio", "serve", "--runs", str(runs),
                                    "--port", str(port)], cwd=tmp_path, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_page(process, url, log)
        client = Client(url, verbose=False)
        assert "/predict_toy" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        return client.predict(text, api_name="/predict_toy")
    finally:
        stop_server(process)


def test_toy_task_from_an_installed_package(toy_site, tmp_path):
    listing = deepbio(toy_site, "--help", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "toy" in listing.stdout and "a toy task from another package" in listing.stdout
    assert listing.stdout.index("  ptm ") < listing.stdout.index("  toy ")  # rank 900: last

    flags = deepbio(toy_site, "run", "toy", "--help", cwd=tmp_path)
    assert flags.returncode == 0 and "--scale" in flags.stdout and "toy options" in flags.stdout

    run = deepbio(toy_site, "run", "toy", "--scale", "3", "--output", "out", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "weight 9.000" in run.stdout  # 3 × mean(1, 2, 6) = 3 × 3
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["task"] == "toy" and report["weight"] == 9.0 and "total" in report["seconds"]
    params = json.loads((tmp_path / "out" / "params.json").read_text())
    assert params["task"] == "toy" and params["scale"] == 3.0 and params["numbers"] == [1.0, 2.0, 6.0]

    (tmp_path / "in.txt").write_text("1\n-2.5\n")
    predicted = deepbio(toy_site, "predict", "toy", "--model", "out", "--input", "in.txt",
                        "--offset", "0.5", "--output", "p.csv", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert (tmp_path / "p.csv").read_text() == "value,prediction\n1.0,9.5\n-2.5,-22.0\n"

    tab = serve_and_ask(toy_site, tmp_path, run_folder=tmp_path / "out", text="2 0.5")
    assert tab["data"] == [[2.0, 18.0], [0.5, 4.5]]

    bad = deepbio(toy_site, "run", "toy", "--scale", "-1", "--output", "bad", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "deepbio: error: scale (--scale) must be at least 0, got -1.0"]


def test_two_tasks_of_one_name_are_refused(toy_site, tmp_path):
    clash = tmp_path / "clash"
    clash.mkdir()
    info = clash / "deepbio_clash-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: deepbio-clash\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[deepbio.tasks]\nptm = deepbio_toy_task:TASK\n")
    (clash / "deepbio_toy_task.py").write_text(
        textwrap.dedent(TOY_MODULE).replace('name = "toy"', 'name = "ptm"'))
    result = deepbio(clash, "--help", cwd=tmp_path)
    assert result.returncode == 2
    assert "two tasks are named 'ptm'" in result.stderr
