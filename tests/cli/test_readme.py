"""README and the docs site stay true: CI runs the README's test command, every link resolves.

README.md is the overview (≤ 250 lines); everything else lives in the MkDocs site (``mkdocs.yml``,
``docs/``). These tests check what ``mkdocs build --strict`` cannot: the README's own links and
commands, that the nav and the pages agree, that the module paths the pages name exist, and that
``benchmarks/readme_tables.py`` finds its markers on the results page.
"""

import importlib.util
import re
import unicodedata

import pytest

from conftest import ROOT

DOCS = ROOT / "docs"
README = ROOT / "README.md"


def _commands():
    text = README.read_text()
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


def test_readme_is_an_overview():
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    for task in ("ptm", "rnamod", "motif", "binding", "contacts"):  # one example per method
        assert f"deepbio run {task}" in text, task
    # the results table: each headline figure beside its trivial baseline
    assert "| task | figure | deepbio | trivial baseline |" in text
    assert '0.715 (always "a")' in text and "training-fold mean 1.659" in text


def _nav_pages(node):
    """Every page file named in the ``nav`` of mkdocs.yml (nested sections included)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [page for value in node.values() for page in _nav_pages(value)]
    return [page for item in node for page in _nav_pages(item)]


def _mkdocs_config():
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def test_every_nav_page_exists_and_every_page_is_in_the_nav():
    config = _mkdocs_config()
    assert config["theme"]["name"] == "material"
    assert any("mkdocstrings" in (p if isinstance(p, str) else next(iter(p)))
               for p in config["plugins"])
    pages = _nav_pages(config["nav"])
    missing = [page for page in pages if not (DOCS / page).is_file()]
    assert not missing, f"mkdocs.yml nav names pages that do not exist: {missing}"
    on_disk = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md") if "_griffe" not in p.parts}
    assert on_disk == set(pages), f"pages outside the nav: {sorted(on_disk - set(pages))}"
    for page in ("index.md", "getting-started.md", "methods/ptm.md", "methods/rnamod.md",
                 "methods/motif.md", "methods/multiomic.md", "methods/contacts.md", "scale.md",
                 "serve.md", "safety.md", "architecture.md", "results.md"):
        assert page in pages, page


def _slug(heading):
    """The anchor Python-Markdown's ``toc`` gives a heading (its default ``slugify``)."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(path):
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#{1,6} +(.+?) *$", text, flags=re.M)}


def _local_links(path):
    """``(target, anchor)`` of every relative Markdown link in ``path`` (code blocks left out)."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    links = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        links.append((file, anchor))
    return links


def test_readme_links_resolve():
    links = _local_links(README)
    assert sum(f.startswith("docs/") for f, _ in links) >= 10
    for file, anchor in links:
        target = (ROOT / file) if file else README
        assert target.exists(), f"README links to {file}, which does not exist"
        if anchor:
            assert anchor in _anchors(target), f"README links to {file}#{anchor}: no such heading"


def test_docs_links_resolve():
    for page in DOCS.rglob("*.md"):
        for file, anchor in _local_links(page):
            target = (page.parent / file).resolve() if file else page
            assert target.is_file(), f"{page.relative_to(ROOT)} links to {file}: missing"
            if anchor:
                assert anchor in _anchors(target), f"{page.relative_to(ROOT)}: {file}#{anchor}"


def _module_exists(name):
    parts = name.split(".")
    path = ROOT.joinpath(*parts)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _defines(module, name):
    parts = module.split(".")
    path = ROOT.joinpath(*parts)
    source = (path.with_suffix(".py") if path.with_suffix(".py").is_file()
              else path / "__init__.py").read_text()
    return re.search(rf"^\s*(def|class) {name}\b|^{name}\s*=|\bimport .*\b{name}\b", source,
                     flags=re.M) is not None


def _prose(path):
    """A page's text outside fenced code blocks."""
    return re.sub(r"```.*?```", "", path.read_text(), flags=re.S)


def test_module_paths_named_in_the_docs_exist():
    entry_point_group = "deepbio.tasks"
    pages = [README, *DOCS.rglob("*.md")]
    named = 0
    for page in pages:
        text = _prose(page)
        for dotted in set(re.findall(r"`(deepbio(?:\.\w+)+)", text)):
            if dotted == entry_point_group:
                continue
            parts = dotted.split(".")
            cut = max(i for i in range(1, len(parts) + 1) if _module_exists(".".join(parts[:i])))
            module, rest = ".".join(parts[:cut]), parts[cut:]
            assert len(rest) <= 1, f"{page.name}: {dotted} (no module {module}.{rest[0]})"
            if rest:
                assert _defines(module, rest[0]), f"{page.name}: {module} defines no {rest[0]}"
            named += 1
        for folder in set(re.findall(r"`(deepbio/[\w/]+?)/?`", text)):
            assert (ROOT / folder).exists() or (ROOT / f"{folder}.py").exists(), \
                f"{page.name}: {folder}"
    assert named >= 20
    stale = ("deepbio/tasks/", "deepbio/models/", "deepbio/training/", "deepbio/utils/",
             "deepbio.models", "deepbio.training", "deepbio.utils", "Absolute-True ≥ 0.80",
             "9 min 23 s", "runs/ptm/model.keras")
    for page in [*pages, *ROOT.glob("demo/**/README.md"), ROOT / "benchmarks" / "README.md"]:
        text = page.read_text()
        for phrase in stale:
            assert phrase not in text, f"{page.relative_to(ROOT)} still says {phrase!r}"


def test_api_reference_names_only_modules_that_exist():
    modules = [m for page in (DOCS / "reference").glob("*.md")
               for m in re.findall(r"^::: (\S+)$", page.read_text(), flags=re.M)]
    assert "deepbio.core.task" in modules and "deepbio.ptm.model" in modules
    missing = [m for m in modules if not _module_exists(m)]
    assert not missing, missing


def _readme_tables():
    spec = importlib.util.spec_from_file_location("readme_tables",
                                                  ROOT / "benchmarks" / "readme_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_page_holds_every_task_between_its_markers():
    tables = _readme_tables()
    assert tables.DOCS_PAGE == DOCS / "results.md"
    text = tables.DOCS_PAGE.read_text()
    sections = {}
    for task in tables.TASKS:
        begin, end = tables.markers(task)
        assert text.count(begin) == 1 and text.count(end) == 1, task
        sections[task] = text.split(begin, 1)[1].split(end, 1)[0].strip()
        assert sections[task].startswith(f"### {task}\n"), task
    # writing the same sections back leaves the page as it is
    assert tables.replace_sections(text, sections) == text
    ptm = sections["ptm"]
    assert "| trees: CV mean AUROC | 0.7562 ± 0.0014 | 0.7576 | 0.7562 | 0.7548 |" in ptm
    assert '| always "a" (baseline): CV Absolute-True | 0.7147 ± 0.0000 |' in ptm
    changed = tables.replace_sections(text, {"motif": "### motif\n\nnew table"})
    assert "### motif\n\nnew table\n<!-- readme_tables:end motif -->" in changed
    assert changed.split("<!-- readme_tables:begin motif -->")[0] == \
        text.split("<!-- readme_tables:begin motif -->")[0]
    with pytest.raises(tables.UsageError, match="readme_tables:begin ptm"):
        tables.replace_sections("no markers here", {"ptm": "### ptm"})
