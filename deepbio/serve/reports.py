"""What a tab says about the run it serves: read from the run's own ``report.json``.

Nothing is recomputed. Each tab's `deepbio.serve.tab.WebTab.honest` puts the
run's metric beside its trivial baseline with `fmt`, and `trust` adds the
warning when the model is no better than that baseline.
"""

import json


def read_report(folder):
    """The run's ``report.json`` as a dict, or None when it is missing or unreadable.

    Args:
        folder: Path, the run folder.
    """
    path = folder / "report.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def fmt(value, digits=3):
    """``value`` with ``digits`` decimals, or ``"n/a"`` for None."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def trust(better, what):
    """The warning shown when a model is no better than the trivial baseline on ``what`` ("")."""
    if better:
        return ""
    return (f"\n\n⚠ **No better than the trivial baseline** on {what}: treat these predictions "
            f"as uninformative.")
