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


def wait_for_page(process, url, log, seconds=180):
    """Waits until ``url`` answers 200 (a server started by the tests); fails with its log."""
    import time
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, f"the server exited: {log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"no page after {seconds} s: {log.read_text()[-3000:]}"
        time.sleep(0.5)


def stop_server(process):
    """Terminates a server process (killed if it does not stop within 20 s)."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)
