"""README's two set-up commands stay true: CI runs exactly the README's test command."""

import re

from conftest import ROOT


def _commands():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(python3 -m venv .venv[^\n]*)\n```", text)


def test_readme_has_the_two_setup_commands():
    commands = _commands()
    assert any(c.endswith("python main.py --task ptm") for c in commands)
    assert any(c.endswith("DEEPBIO_DATA=../shared/data python -m pytest -q") for c in commands)


def test_ci_runs_the_readme_test_command():
    test_command = next(c for c in _commands() if "pytest" in c)
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines
    assert any(line.startswith("export DEEPBIO_DATA=") for line in ci_lines)
