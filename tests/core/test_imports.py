"""Quiet imports: the NumPy data layer and encoders must not pull in TensorFlow or Keras."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # the repository (tests/<area>/this file)
HEAVY = ("tensorflow", "keras")


def _heavy_modules_after(statement):
    """Runs ``statement`` in a fresh interpreter; returns the heavy modules it imported."""
    code = (f"import sys\n{statement}\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("package", ["Feature_extraction_algorithms", "Resample", "deepbio.data"])
def test_import_does_not_load_tensorflow_or_keras(package):
    assert _heavy_modules_after(f"import {package}") == []


def _top_level_imports(path):
    """Root names of the modules imported at module level (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("folder", ["deepbio/data", "Feature_extraction_algorithms", "Resample"])
def test_no_top_level_tensorflow_or_keras_import(folder):
    offenders = {str(p.relative_to(ROOT)): sorted(_top_level_imports(p) & set(HEAVY))
                 for p in sorted((ROOT / folder).glob("*.py"))
                 if p.relative_to(ROOT).as_posix() != "Feature_extraction_algorithms/layers.py"}
    assert len(offenders) >= 2, f"no modules found in {ROOT / folder}"  # the check saw files
    assert {p: names for p, names in offenders.items() if names} == {}


def test_keras_layers_load_lazily():
    code = ("import sys\nimport Feature_extraction_algorithms as fea\n"
            "assert 'keras' not in sys.modules\n"
            "import keras\n"
            "assert issubclass(fea.PSTAAPEncoding, keras.layers.Layer)\n"
            "assert issubclass(fea.OneHotEncoding, keras.layers.Layer)\n"
            "assert issubclass(fea.PhysicochemicalEmbedding, keras.layers.Layer)\n"
            "assert keras.saving.get_registered_object('deepbio>PSTAAPEncoding') is fea.PSTAAPEncoding\n"
            "assert {'OneHotEncoding', 'PSTAAPEncoding'} <= set(fea.__all__) <= set(dir(fea))\n"
            "try:\n    fea.no_such_name\nexcept AttributeError:\n    pass\n"
            "else:\n    raise AssertionError('no AttributeError')\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
