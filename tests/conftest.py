import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
# CI sets a relative DEEPBIO_DATA (../shared/data); scripts run by subprocess in other folders need
# it absolute.
if os.environ.get("DEEPBIO_DATA"):
    os.environ["DEEPBIO_DATA"] = str(Path(os.environ["DEEPBIO_DATA"]).resolve())


@pytest.fixture(scope="session")
def data_dir():
    """The local data mirror named by DEEPBIO_DATA (CI sets it to ../shared/data)."""
    value = os.environ.get("DEEPBIO_DATA")
    if not value:
        pytest.skip("DEEPBIO_DATA is not set to a data mirror")
    if not Path(value).is_dir():  # set but wrong: a real failure, not a silent skip
        pytest.fail(f"DEEPBIO_DATA={value} is not a folder; point it at the data mirror")
    return Path(value)


def run_script(args, cwd, timeout=900, ok=True):
    """Runs a Python script by subprocess (offline); asserts success unless ``ok`` is False."""
    env = {**os.environ, "DEEPBIO_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if ok:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result
