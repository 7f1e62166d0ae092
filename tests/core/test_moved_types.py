"""PTM models saved before the one-folder-per-method layout still load (`MOVED_MODULES`)."""

import io
import json
import zipfile
from pathlib import Path

import pytest

from deepbio.core.safe_files import MOVED_MODULES, load_object, renamed_modules

PRESET = Path(__file__).resolve().parents[2] / "deepbio" / "presets" / "ptm-trees" / "ptm_model.skops"


def modules(blob):
    found = set()

    def walk(node):
        if isinstance(node, dict):
            found.add(node.get("__module__"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        walk(json.loads(archive.read("schema.json")))
    return {m for m in found if m and m.startswith("deepbio")}


def test_an_old_file_is_renamed_and_loads():
    blob = PRESET.read_bytes()  # saved by deepbio 0.2.0 under the old module names
    assert modules(blob) == {"deepbio.models.ptm.predictor", "deepbio.training.calibration"}
    renamed = renamed_modules(blob)
    assert modules(renamed) == {"deepbio.ptm.predictor", "deepbio.ptm.calibration"}
    assert renamed_modules(renamed) is renamed  # nothing left to move
    with zipfile.ZipFile(io.BytesIO(blob)) as old, zipfile.ZipFile(io.BytesIO(renamed)) as new:
        assert sorted(old.namelist()) == sorted(new.namelist())  # the arrays travel unchanged
        assert all(old.read(n) == new.read(n) for n in old.namelist() if n != "schema.json")
    predictor = load_object(blob, "ptm_model.skops")
    assert type(predictor).__module__ == "deepbio.ptm.predictor"


def test_a_renamed_file_is_still_checked_against_the_allow_list():
    with zipfile.ZipFile(io.BytesIO(PRESET.read_bytes())) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    schema = json.loads(members["schema.json"])
    schema["__module__"], schema["__class__"] = "deepbio.models.ptm.predictor", "Evil"
    members["schema.json"] = json.dumps(schema).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match=r"types deepbio does not trust \(deepbio\.ptm\.predictor\.Evil"):
        load_object(buffer.getvalue(), "evil.skops")
    assert set(MOVED_MODULES.values()) <= {"deepbio.ptm.predictor", "deepbio.ptm.calibration",
                                           "deepbio.ptm.trees"}
