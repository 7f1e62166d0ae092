"""The PTM tab of ``deepbio serve`` (``PTMTask.web``): every lysine of pasted proteins.

The tab serves ``<runs>/ptm`` (a calibrated window model, ``ptm_model.skops``,
or the network, ``model.keras``) through `deepbio.ptm.predict.predict_protein_sites`,
the function ``deepbio predict ptm`` calls, so the page's CSV equals the
command line's. Endpoints: ``/predict_ptm`` (the site table, the profile plot,
the CSV) and ``/ptm_saliency`` (one site's map: saliency for the network,
substitution importance for the other models).
"""

import json

import numpy as np

from deepbio.core.io import write_csv
from deepbio.data.fasta import PROTEIN_RESIDUES
from deepbio.data.registry import fetch
from deepbio.ptm import task as ptm
from deepbio.ptm.data import PTM_LABEL_NAMES, PTM_LABELS
from deepbio.ptm.predict import predict_protein_sites, protein_site_windows
from deepbio.ptm.predictor import load_ptm_predictor
from deepbio.ptm.protocol import PROBABILITY_COLUMNS
from deepbio.serve.figures import PLOT_LOCK, pyplot, save
from deepbio.serve.reports import fmt, trust
from deepbio.serve.tab import WebTab, parse_text, shown

PTM_NOTE = ("**The probabilities are conditional on the lysine being modified.** Every window of "
            "the OmniK-PTM benchmark is a modified lysine, so the model says *which* of the four "
            "modifications (a acetylation, c crotonylation, m methylation, s succinylation) a "
            "lysine carries *if* it is modified, not whether it is modified at all. Calls use the "
            "run's per-label thresholds.")
MAX_PROTEINS_PLOTTED = 8


class PTMTab(WebTab):
    """The lysine PTM tab: site table, profile plot, CSV and a per-site map."""

    title = "PTM (lysine)"
    # as load_ptm_predictor prefers them; an old pickled ptm_model.joblib is found so that the tab
    # says why it is refused (retrain), never opened
    files = ("ptm_model.skops", "model.keras", "ptm_model.joblib")
    train_command = ("`deepbio run ptm --output {folder}` (quick: `--model-type network --epochs 1 "
                     "--folds 2 --max-windows 700 --compare none`)")
    limits = {"proteins": 20, "residues": 20_000}

    def load(self):
        self.predictor = load_ptm_predictor(self.path)
        self.network = hasattr(self.predictor, "model")  # KerasPredictor: saliency maps

    def honest(self, report):
        return ptm_summary(report)

    def proteins(self, text, upload=None):
        """``(ids, proteins)`` of the request, within the tab's limits."""
        ids, proteins = parse_text(text, "protein", upload)
        if len(ids) > self.limits["proteins"]:
            raise ValueError(f"{len(ids)} proteins given; the limit is {self.limits['proteins']} "
                             f"per request (use 'deepbio predict ptm' for more)")
        total = sum(map(len, proteins))
        if total > self.limits["residues"]:
            raise ValueError(f"{total:,} residues given; the limit is {self.limits['residues']:,} "
                             f"per request (use 'deepbio predict ptm' for more)")
        _require_lysine(ids, proteins)
        return ids, proteins

    def predict(self, text, upload=None):
        """The site table (`predict_protein_sites`), the profile plot and the CSV file."""
        self.require()
        ids, proteins = self.proteins(text, upload)
        with self.lock:
            frame = predict_protein_sites(self.predictor, ids, proteins, "input")
        csv = self.out(".csv")
        write_csv(frame, csv)
        return frame, profile_figure(frame, PROBABILITY_COLUMNS, self.out(".png")), str(csv)

    @staticmethod
    def site_label(protein, position):
        return f"{protein} K{position}"

    def saliency(self, text, site=None, upload=None):
        """One lysine's window: saliency (network) or substitution importance (other models)."""
        self.require()
        ids, proteins = self.proteins(text, upload)
        rows, windows = protein_site_windows(ids, proteins, "input")
        labels = [self.site_label(p, k) for p, k in rows]
        site = site or labels[0]
        if site not in labels:
            raise ValueError(f"site {site!r} is not a lysine of the input; choose one of "
                             f"{', '.join(labels[:5])}{' ...' if len(labels) > 5 else ''}")
        window = windows[labels.index(site)]
        names = [f"{l} ({n})" for l, n in zip(PTM_LABELS, PTM_LABEL_NAMES)]
        if self.network:
            from deepbio.interpret.saliency import mean_saliency  # deferred: imports TensorFlow

            tokens = ptm.encode_windows([window], source="input")
            with self.lock:
                classifier, inputs = ptm.saliency_inputs(self.predictor.model, tokens)
                _, matrix = mean_saliency(classifier, inputs, len(PTM_LABELS),
                                          logits_layer="logits")
            return site_figure(matrix, names, window, self.out(".png"),
                               f"saliency of each label's logit, {site}")
        with self.lock:
            matrix = substitution_importance(self.predictor, window)
        return site_figure(matrix, names, window, self.out(".png"),
                           f"{site}: each residue replaced by the 19 others",
                           colorbar="mean |Δ probability|")

    def build(self, gr):
        gr.Markdown(self.summary())
        gr.Markdown(PTM_NOTE + f" Limits: {self.limits['proteins']} proteins and "
                    f"{self.limits['residues']:,} residues per request (20 standard residues; "
                    f"every K is scored in its 49-residue window).")
        with gr.Row():
            text = gr.Textbox(label="protein FASTA or a bare sequence", lines=6, max_lines=12,
                              placeholder=">name\nMEEPQSDPSV...", elem_id="ptm-input")
            upload = gr.File(label="or upload a FASTA file", type="filepath", elem_id="ptm-upload",
                             height=150)
        example = p53_example(self.data_dir)
        if example:
            gr.Examples([[example]], inputs=[text], label="example: human p53 (P04637)")
        button = gr.Button("Predict", variant="primary", elem_id="ptm-predict")
        table = gr.Dataframe(label="every lysine: probabilities and calls", interactive=False,
                             elem_id="ptm-table", max_height=420)
        with gr.Row():
            plot = gr.Image(label="the four probabilities along each protein", type="filepath",
                            elem_id="ptm-plot", scale=3)
            csv = gr.File(label="CSV download (as deepbio predict ptm writes it)",
                          elem_id="ptm-csv", scale=1)
        with gr.Row():
            site = gr.Dropdown(label="site for the saliency map", choices=[], value=None,
                               allow_custom_value=True, elem_id="ptm-site")
            saliency_button = gr.Button("Map of this site", elem_id="ptm-saliency")
        what = ("saliency of each label's logit" if getattr(self, "network", False) else
                "mean |Δ probability| when each residue is replaced by the 19 others")
        saliency = gr.Image(label=f"per label × window position: {what}", type="filepath",
                            elem_id="ptm-saliency-map")

        def predict(text, upload=None):
            frame, plot_file, csv_file = self.predict(text, upload)
            labels = [self.site_label(p, k) for p, k in zip(frame["protein"], frame["position"])]
            return shown(frame), plot_file, csv_file, gr.Dropdown(choices=labels, value=labels[0])

        def explain(text, site=None, upload=None):
            return self.saliency(text, site, upload)

        self.click(gr, button, predict, [text, upload], [table, plot, csv, site],
                   api_name="predict_ptm")
        self.click(gr, saliency_button, explain, [text, site, upload], [saliency],
                   api_name="ptm_saliency")


def _require_lysine(ids, proteins):
    """Refuses a request in which no protein has a lysine (nothing to score or show)."""
    if not any("K" in protein for protein in proteins):
        raise ValueError(f"none of the {len(ids)} protein(s) contains a lysine (K): there is no "
                         f"site to score")


def p53_example(data_dir):
    """Human p53 (P04637) from ProNAB as FASTA, when the data is at hand; else None."""
    try:
        pronab = json.loads(fetch("pronab/pronab_no_mutations.json", data_dir=data_dir,
                                  download=False).read_text())
        p53 = pronab["P04637"]
        return f">P04637 {p53['Protein Name']}\n{p53['Sequence']}"
    except Exception:  # noqa: BLE001  (the example is optional)
        return None


def substitution_importance(predictor, window):
    """(4, 49) mean |Δ probability| over the 19 substitutions of each residue of one window.

    The model-agnostic map of one site for the tree / linear models, which
    have no gradient: every flanking residue (not ``-`` padding, not the
    central K) is replaced by each other standard residue and the window
    scored again.

    Args:
        predictor: a PTM predictor (``predict_proba`` of windows).
        window: str, a 49-residue K-centred window.
    """
    base = np.asarray(predictor.predict_proba([window]))[0]
    mutants, where = [], []
    for i, residue in enumerate(window):
        if residue == "-" or i == len(window) // 2:
            continue
        for other in PROTEIN_RESIDUES:
            if other != residue:
                mutants.append(window[:i] + other + window[i + 1:])
                where.append(i)
    matrix = np.zeros((len(base), len(window)))
    if mutants:
        change = np.abs(np.asarray(predictor.predict_proba(mutants)) - base)
        for i in set(where):
            matrix[:, i] = change[np.asarray(where) == i].mean(axis=0)
    return matrix


def ptm_summary(report):
    """Markdown: CV Absolute-True and per-label AUROC beside the always-'a' baseline."""
    cv, base = report.get("cv"), report.get("baseline_cv")
    if not cv or not base:
        return "No cross-validated figures in report.json (trained without CV folds)."
    params = report.get("params", {})
    grouped = report.get("grouped_cv")
    honest = grouped or cv  # accession-grouped CV when the run has it: no protein on both sides
    labels = honest.get("per_label", {})
    aurocs = ", ".join(f"{l} {fmt(v.get('auroc'))}" for l, v in labels.items())
    text = (f"{params.get('model_type', 'network')} model; {params.get('folds', '?')}-fold CV on "
            f"{report['data']['train']} training windows: Absolute-True "
            f"**{fmt(cv['absolute_true'])}** stratified")
    if grouped:
        text += (f", **{fmt(grouped['absolute_true'])}** accession-grouped (always-'a' baseline "
                 f"{fmt(report['baseline_grouped_cv']['absolute_true'])})")
    else:
        text += f" (always-'a' baseline {fmt(base['absolute_true'])})"
    text += (f"; per-label AUROC{' (grouped)' if grouped else ''} {aurocs} (baseline 0.5). "
             f"Calls at thresholds chosen for {report.get('call_objective', 'exact match')}.")
    if report.get("test"):
        text += (f" Test split: Absolute-True {fmt(report['test']['absolute_true'])} (baseline "
                 f"{fmt(report['baseline_test']['absolute_true'])}).")
    better = honest["absolute_true"] > base["absolute_true"] + 0.005 or any(
        (v.get("auroc") or 0) > 0.55 for v in labels.values())
    return text + trust(better, "cross-validation")


def profile_figure(frame, label_names, path):
    """The four PTM probabilities at every K along each protein (the first few proteins)."""
    with PLOT_LOCK:
        plt = pyplot()
        proteins = list(dict.fromkeys(frame["protein"]))[:MAX_PROTEINS_PLOTTED]
        fig, axes = plt.subplots(len(proteins), 1, figsize=(9, 2.2 * len(proteins) + 0.4),
                                 squeeze=False)
        for ax, protein in zip(axes[:, 0], proteins):
            rows = frame[frame["protein"] == protein]
            for name in label_names:
                short = name.replace("_given_modified", "").replace("p_", "", 1)
                ax.plot(rows["position"], rows[name], marker="o", ms=3, lw=1, label=short)
            ax.set_ylim(-0.02, 1.02)
            ax.set_ylabel("P(PTM | modified)")
            ax.set_title(f"{protein}: {len(rows)} lysines", fontsize=9, loc="left")
            ax.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("position of the lysine in the protein")
        axes[0, 0].legend(fontsize=7, ncol=4, loc="upper right")
        fig.tight_layout()
        return save(fig, path)


def site_figure(matrix, row_labels, window, path, title, colorbar=None):
    """The map of one window: through the run's `plot_saliency_heatmap` (saliency), or drawn
    here with ``colorbar`` as the colour scale's label (substitution importance)."""
    from deepbio.interpret.saliency import plot_saliency_heatmap  # deferred: imports TensorFlow

    ticks = [f"{p}\n{r}" if p % 4 == 0 else r for p, r in zip(range(-24, 25), window)]
    xlabel = "position relative to the central K (residue below)"
    with PLOT_LOCK:
        if colorbar is None:
            plot_saliency_heatmap(matrix, row_labels, path, title, ticks, xlabel)
            return str(path)
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(11, 0.6 * len(row_labels) + 1.6))
        image = ax.imshow(matrix, aspect="auto", cmap="viridis")
        ax.set_yticks(range(len(row_labels)), row_labels)
        ax.set_xticks(range(len(ticks)), ticks, fontsize=6, rotation=90)
        ax.set(xlabel=xlabel, title=title)
        fig.colorbar(image, ax=ax, fraction=0.025, label=colorbar)
        fig.tight_layout()
        return save(fig, path, dpi=150)
