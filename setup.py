"""Installs deepbio and its two companion packages, Resample and Feature_extraction_algorithms."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def _requirements():
    lines = (HERE / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


setup(
    name="deepbio",
    version="0.2.0",
    description="Keras 3 deep learning for biological sequences: PTM, RNA modification, motif and multi-omic tasks.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(
        include=["deepbio", "deepbio.*", "Resample", "Resample.*",
                 "Feature_extraction_algorithms", "Feature_extraction_algorithms.*"]
    ),
    # The presets (trained models with their cards) ship inside the package: offline after install.
    package_data={"deepbio.presets": ["*/*.json", "*/*.md", "*/*.skops", "*/*.keras", "*/*.fasta",
                                      "*/*.csv", "*/*/*.keras"],
                  "deepbio.multiomic.contacts": ["structures.tsv"]},
    include_package_data=False,
    install_requires=_requirements(),
    # The OmniBioTE converter reads checkpoints with NumPy alone ("convert" needs no torch); the
    # tests build reference checkpoints with torch, capped below 2.14 so pip takes the 192 MB CPU
    # wheel (2.13.0+cpu) where one is on disk rather than a multi-GB CUDA build.
    # "web": deepbio serve (a Gradio page; gradio_client calls it); the tests drive the page in a
    # real browser with Selenium (system Chromium, see .ci/run).
    extras_require={"convert": [], "web": ["gradio>=6", "gradio_client>=2"],
                    "test": ["pytest>=8", "pytest-xdist>=3.5", "filelock>=3.12", "torch==2.13.0", "gradio>=6", "gradio_client>=2",
                             "selenium>=4.10", "snakemake>=8", "import-linter>=2.1,<3", "mkdocs>=1.6,<2",
                             "mkdocs-material>=9,<10", "mkdocstrings[python]>=0.25,<2"]},
    entry_points={"console_scripts": ["deepbio = deepbio.cli:main"]},
    license="MIT",
)
