"""deepbio's import graph: no circles, and the layers of `.importlinter` hold.

The graph is read from the source (every ``import`` statement, those inside
functions included), so a circle hidden in a function body counts too.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "deepbio"


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph():
    """``{module: {imported deepbio module, ...}}`` over deepbio's source files."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            else:
                continue
            for target in found:
                while target and target not in modules:  # `from pkg import name` → pkg
                    target = target.rpartition(".")[0]
                if target and target != name and target != "deepbio":
                    targets.add(target)
        graph[name] = targets
    return graph


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_graph_reader_sees_a_known_edge_and_a_planted_circle():
    graph = import_graph()
    assert "deepbio.core.io" in graph["deepbio.core.run_folder"]
    assert "deepbio.core.task" in graph["deepbio.cli"]
    planted = {"a": {"b"}, "b": {"c", "d"}, "c": {"a"}, "d": set(), "e": {"a", "e2"}, "e2": {"e"}}
    assert sorted(cycles(planted)) == [["a", "b", "c"], ["e", "e2"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_among_deepbio_modules():
    assert cycles(import_graph()) == []


def test_lint_imports_contracts_hold():
    """`lint-imports` (import-linter) with the contracts of ``.importlinter``; .ci/run runs it too."""
    linter = Path(sys.executable).with_name("lint-imports")
    if not linter.exists():
        pytest.fail("import-linter is not installed (it is in the test extra of setup.py)")
    result = subprocess.run([str(linter), "--config", str(ROOT / ".importlinter")], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Contracts: " in result.stdout and " broken" in result.stdout
    assert "0 broken" in result.stdout
