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


def _fingerprint(folder):
    """``{relative path: (size, mtime_ns)}`` of every file under ``folder``."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _shared_root(tmp_path_factory):
    """The folder every pytest-xdist worker of this session shares (the session's own basetemp
    when the tests run in one process)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, data_dir):
    """Factory ``tiny_run(task, mode="run")``: the folder of ``deepbio MODE TASK <TINY> --seed 0``.

    Each (task, mode) runs once per test session, in-process, and is shared by every test that
    only needs a finished tiny run of that task; under pytest-xdist the first worker to ask runs
    it under a file lock and the others read its folder. The folder is READ-ONLY by contract: a
    test that changes files copies it first (``shutil.copytree``); each process fails at its end
    if a shared folder was changed. A failed run fails every test that asks for it (it is not
    retried).
    """
    import contextlib
    import io
    import json

    from filelock import FileLock

    from deepbio import cli
    from tiny_flags import TINY

    done, prints = {}, {}
    root = _shared_root(tmp_path_factory)

    def first_run(task, mode, home):
        out = home / "run"
        stderr = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
            status = cli.main([mode, task, *TINY[task], "--seed", "0", "--output", str(out),
                               "--data-dir", str(data_dir), "--verbose", "0"])
        return {"status": status, "stderr": stderr.getvalue()[-3000:]}

    def run(task, mode="run"):
        key = (task, mode)
        if key not in done:
            home = root / f"tiny_{task}_{mode}"
            with FileLock(str(home) + ".lock"):
                outcome_file = home / "outcome.json"
                if not outcome_file.is_file():
                    home.mkdir(exist_ok=True)
                    outcome_file.write_text(json.dumps(first_run(task, mode, home)))
                outcome = json.loads(outcome_file.read_text())
            done[key] = home / "run" if outcome["status"] == 0 else (
                f"the shared tiny run '{mode} {task}' exited {outcome['status']}: {outcome['stderr']}")
            if outcome["status"] == 0:
                prints[key] = _fingerprint(done[key])
        if isinstance(done[key], str):
            pytest.fail(done[key])
        return done[key]

    yield run
    changed = [f"{mode} {task}" for (task, mode), before in prints.items()
               if _fingerprint(done[task, mode]) != before]
    assert not changed, f"tests changed the shared tiny run(s) {changed}; copy the folder first"


def run_cli(args, script=None):
    """``deepbio ARGS`` (or ``python SCRIPT ARGS`` for ``main.py`` / ``train.py``) in this process:
    no new Python or TensorFlow start. Returns ``(status, stdout, stderr)``."""
    import contextlib
    import io

    from deepbio import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        args = [str(a) for a in args]
        status = cli.script_main(script, args) if script else cli.main(args)
    return status, out.getvalue(), err.getvalue()


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
