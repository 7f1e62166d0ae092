"""What each tab says about the run it serves: the run's honest metric beside its trivial baseline.

Read from the run's own ``report.json`` (nothing is recomputed): PTM
cross-validated Absolute-True and per-label AUROC beside the always-'a'
baseline; rnamod valid AUROC beside the k-mer baseline and 0.5; motif
held-out AUROC beside 0.5; binding pooled out-of-fold r and MAE beside the
training-mean baseline.
"""

import json

#: The command that trains each tab's model (``{folder}``: the run folder served).
TRAIN_COMMANDS = {
    "ptm": "`deepbio run ptm --output {folder}` (quick: `--model-type network --epochs 1 --folds 2 "
           "--max-windows 700 --compare none`)",
    "rnamod": "`deepbio run rnamod --output {folder}` (quick: `--modifications Am --epochs 1 "
              "--max-windows-per-split 80`)",
    "motif": "`deepbio run motif --output {folder}` (quick: `--max-sequences 40 --epochs 1`)",
    "binding": "`deepbio run binding --output {folder}` (quick: `--max-complexes 60 --folds 2 "
               "--epochs 1 --no-pretrain --no-jaspar`)",
}


def read_report(folder):
    """The run's ``report.json`` as a dict, or None when it is missing or unreadable."""
    path = folder / "report.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _f(value, digits=3):
    return "n/a" if value is None else f"{value:.{digits}f}"


def _trust(better, what):
    if better:
        return ""
    return (f"\n\n⚠ **No better than the trivial baseline** on {what}: treat these predictions "
            f"as uninformative.")


def _ptm(report):
    cv, base = report.get("cv"), report.get("baseline_cv")
    if not cv or not base:
        return "No cross-validated figures in report.json (trained without CV folds)."
    params = report.get("params", {})
    grouped = report.get("grouped_cv")
    honest = grouped or cv  # accession-grouped CV when the run has it: no protein on both sides
    labels = honest.get("per_label", {})
    aurocs = ", ".join(f"{l} {_f(v.get('auroc'))}" for l, v in labels.items())
    text = (f"{params.get('model_type', 'network')} model; {params.get('folds', '?')}-fold CV on "
            f"{report['data']['train']} training windows: Absolute-True **{_f(cv['absolute_true'])}** "
            f"stratified")
    if grouped:
        text += (f", **{_f(grouped['absolute_true'])}** accession-grouped (always-'a' baseline "
                 f"{_f(report['baseline_grouped_cv']['absolute_true'])})")
    else:
        text += f" (always-'a' baseline {_f(base['absolute_true'])})"
    text += (f"; per-label AUROC{' (grouped)' if grouped else ''} {aurocs} (baseline 0.5). "
             f"Calls at thresholds chosen for {report.get('call_objective', 'exact match')}.")
    if report.get("test"):
        text += (f" Test split: Absolute-True {_f(report['test']['absolute_true'])} (baseline "
                 f"{_f(report['baseline_test']['absolute_true'])}).")
    better = honest["absolute_true"] > base["absolute_true"] + 0.005 or any(
        (v.get("auroc") or 0) > 0.55 for v in labels.values())
    return text + _trust(better, "cross-validation")


def _rnamod(report, served):
    rows, better = [], False
    for name in served or report.get("modifications", []):
        entry = report.get("per_modification", {}).get(name)
        if not entry:
            rows.append(f"{name}: not in report.json")
            continue
        valid = (entry.get("valid") or {}).get("auroc")
        kmer = ((entry.get("baseline_kmer") or {}).get("valid") or {}).get("auroc")
        rows.append(f"{name}: valid AUROC **{_f(valid)}** (k-mer baseline {_f(kmer)}, chance 0.5)")
        better = better or (valid is not None and valid > max(0.55, (kmer or 0)))
    note = "" if better else _trust(False, "the valid split (not above the k-mer baseline)")
    return "; ".join(rows) + "." + note


def _motif(report):
    heldout = report.get("heldout")
    if not heldout:
        return "No held-out AUROC in report.json (the model was not trained in this run)."
    return (f"Held-out AUROC of the CNN (accessible vs shuffled sequences): "
            f"**{_f(heldout['auroc'])}** (constant score 0.5)."
            + _trust(heldout["auroc"] > 0.55, "the held-out sequences"))


def _binding(report):
    overall = report.get("overall")
    if not overall:
        return ("No cross-validated figures in report.json (trained on every complex without "
                "CV: `deepbio train binding`); its error is unknown.")
    mean = report["baseline"]["training_mean"]
    ridge = report["baseline"].get("kmer_ridge") or {}
    return (f"Protein-grouped CV ({overall['n']} complexes, arm {overall.get('arm')}): Pearson r "
            f"**{_f(overall['pearson_r'])}**, MAE **{_f(overall['mae'], 2)} kcal/mol** "
            f"(training-mean baseline MAE {_f(mean['mae'], 2)}, k-mer ridge MAE "
            f"{_f(ridge.get('mae'), 2)}). The model served is fold 1's."
            + _trust(overall["mae"] < mean["mae"] - 0.01, "cross-validation"))


def honest_summary(task, path, report, served=None):
    """Markdown: which run is served and how far to trust it."""
    head = f"Serving `{path}`."
    if report is None:
        return head + " No report.json beside it: no honest metric to show."
    body = {"ptm": _ptm, "motif": _motif, "binding": _binding}.get(task)
    text = body(report) if body else _rnamod(report, served)
    return f"{head} {text}"


def metric(task, report):
    """The one number a tab puts beside each prediction (binding: the CV MAE), or None."""
    if task == "binding" and report and report.get("overall"):
        return report["overall"]["mae"]
    return None
