"""The Gradio page of ``deepbio serve``: one tab per task over a runs folder.

Every button calls a `deepbio.serve.backend` service, which predicts through
the task module's own in-memory function (the one ``deepbio predict``
uses). A user error becomes a ``gr.Error`` message in the page (never a
stack trace); requests go through Gradio's queue, one at a time per button.
Stable API names, for ``gradio_client``: ``/predict_ptm``, ``/ptm_saliency``,
``/predict_rnamod``, ``/rnamod_ism``, ``/score_motifs``, ``/predict_binding``;
each takes the sequence text (FASTA or plain) first, every other input
optional.
"""

import functools
import json
import os
import signal
import sys
import traceback

from deepbio.serve import LOOPBACK
from deepbio.serve.backend import LIMITS, PTMService, load_services
from deepbio.serve.reports import metric

PTM_NOTE = ("**The probabilities are conditional on the lysine being modified.** Every window of "
            "the OmniK-PTM benchmark is a modified lysine, so the model says *which* of the four "
            "modifications (a acetylation, c crotonylation, m methylation, s succinylation) a "
            "lysine carries *if* it is modified, not whether it is modified at all. Calls use the "
            "run's per-label thresholds.")


def _gradio():
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gradio as gr
    except ImportError as error:
        raise ImportError(f"deepbio serve needs Gradio ({error}); install it with "
                          f"pip install -e \".[web]\"") from None
    return gr


def _one_line(text):
    return " ".join(str(text).split())


def _guard(gr, fn):
    """``fn`` with every failure turned into a one-line ``gr.Error`` shown in the page."""
    @functools.wraps(fn)
    def guarded(*args):
        try:
            return fn(*args)
        except gr.Error:
            raise
        except (ValueError, FileNotFoundError, IsADirectoryError, UnicodeDecodeError) as error:
            raise gr.Error(_one_line(error), print_exception=False) from None
        except Exception as error:  # noqa: BLE001  (the page never shows a traceback)
            traceback.print_exc(file=sys.stderr)
            raise gr.Error(f"internal error ({type(error).__name__}: {_one_line(error)[:300]}); "
                           f"the server keeps serving", print_exception=False) from None
    return guarded


def _shown(frame, digits=6):
    """The table as the page shows it: float32 columns as float64 rounded like the CSV."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype.kind == "f":
            frame[column] = frame[column].astype("float64").round(digits)
    return frame


def _examples(data_dir):
    """A real protein (p53 from ProNAB) and a real ProNAB complex, when the data is at hand."""
    try:
        from deepbio.data.registry import fetch

        pronab = json.loads(fetch("pronab/pronab_no_mutations.json", data_dir=data_dir,
                                  download=False).read_text())
        p53 = pronab["P04637"]
        dna = next(row for row in p53["binding data"] if row[1] == "DNA")
        return {"protein": f">P04637 {p53['Protein Name']}\n{p53['Sequence']}",
                "complex": [p53["Sequence"], dna[0], dna[4] or ""]}
    except Exception:  # noqa: BLE001  (examples are optional)
        return {}


def _ptm_tab(gr, service, examples):
    gr.Markdown(service.summary())
    gr.Markdown(PTM_NOTE + f" Limits: {LIMITS['ptm_proteins']} proteins and "
                f"{LIMITS['ptm_residues']:,} residues per request (20 standard residues; every K "
                f"is scored in its 49-residue window).")
    with gr.Row():
        text = gr.Textbox(label="protein FASTA or a bare sequence", lines=6, max_lines=12,
                          placeholder=">name\nMEEPQSDPSV...", elem_id="ptm-input")
        upload = gr.File(label="or upload a FASTA file", type="filepath", elem_id="ptm-upload",
                         height=150)
    if examples.get("protein"):
        gr.Examples([[examples["protein"]]], inputs=[text], label="example: human p53 (P04637)")
    button = gr.Button("Predict", variant="primary", elem_id="ptm-predict")
    table = gr.Dataframe(label="every lysine: probabilities and calls", interactive=False,
                         elem_id="ptm-table", max_height=420)
    with gr.Row():
        plot = gr.Image(label="the four probabilities along each protein", type="filepath",
                        elem_id="ptm-plot", scale=3)
        csv = gr.File(label="CSV download (as deepbio predict ptm writes it)", elem_id="ptm-csv",
                      scale=1)
    with gr.Row():
        site = gr.Dropdown(label="site for the saliency map", choices=[], value=None,
                           allow_custom_value=True, elem_id="ptm-site")
        saliency_button = gr.Button("Map of this site", elem_id="ptm-saliency")
    what = ("saliency of each label's logit" if getattr(service, "network", False) else
            "mean |Δ probability| when each residue is replaced by the 19 others")
    saliency = gr.Image(label=f"per label × window position: {what}", type="filepath",
                        elem_id="ptm-saliency-map")

    def predict(text, upload=None):
        frame, plot_file, csv_file = service.predict(text, upload)
        labels = [PTMService.site_label(p, k) for p, k in zip(frame["protein"], frame["position"])]
        return _shown(frame), plot_file, csv_file, gr.Dropdown(choices=labels, value=labels[0])

    def explain(text, site=None, upload=None):
        return service.saliency(text, site, upload)

    button.click(_guard(gr, predict), [text, upload], [table, plot, csv, site],
                 api_name="predict_ptm")
    saliency_button.click(_guard(gr, explain), [text, site, upload], [saliency],
                          api_name="ptm_saliency")


def _rnamod_tab(gr, service):
    gr.Markdown(service.summary())
    names = getattr(service, "names", [])
    length = getattr(service, "length", None)
    gr.Markdown(f"Every position is scored as the centre of a window of the model's length "
                f"({length or '?'} nt), padded with N beyond the ends of the sequence. RNA or DNA "
                f"(T is read as U; N for unknown). Limit: {LIMITS['rna_nt']:,} nt.")
    text = gr.Textbox(label="RNA or DNA sequence (FASTA or bare)", lines=5, max_lines=10,
                      elem_id="rnamod-input")
    button = gr.Button("Predict", variant="primary", elem_id="rnamod-predict")
    table = gr.Dataframe(label="per-position probabilities", interactive=False,
                         elem_id="rnamod-table", max_height=360)
    with gr.Row():
        plot = gr.Image(label="probabilities along the sequence", type="filepath", scale=3)
        csv = gr.File(label="CSV download", scale=1)
    with gr.Row():
        position = gr.Number(label="position for the ISM logo (default: the centre)", value=None,
                             precision=0)
        modification = gr.Dropdown(label="modification", choices=names,
                                   value=names[0] if names else None)
        ism_button = gr.Button("ISM logo of this site")
    logo = gr.Image(label="in-silico saturation mutagenesis logo", type="filepath")

    def predict(text):
        frame, plot_file, csv_file = service.predict(text)
        return _shown(frame), plot_file, csv_file

    def ism(text, position=None, modification=None):
        return service.ism(text, position, modification)

    button.click(_guard(gr, predict), [text], [table, plot, csv], api_name="predict_rnamod")
    ism_button.click(_guard(gr, ism), [text, position, modification], [logo],
                     api_name="rnamod_ism")


def _motif_tab(gr, service, data_dir):
    gr.Markdown(service.summary())
    config = getattr(service, "config", None)
    gr.Markdown(f"Each k-mer's autonomous functionality (AF: the k-mer alone) and sequence-context "
                f"synergy (SCS: the occurrence zeroed in its sequence), by perturbing the CNN's "
                f"input, after DeepASMM; k = {config.motif_length if config else '?'} as in the "
                f"run. Sequences of equal length, the model's input length. Limits: "
                f"{LIMITS['motif_sequences']} sequences of at most {LIMITS['motif_length']:,} nt. "
                f"The demo set is the first {LIMITS['motif_demo']} Basset 8988T sequences.")
    with gr.Row():
        text = gr.Textbox(label="DNA FASTA", lines=5, max_lines=10, elem_id="motif-input")
        upload = gr.File(label="or upload FASTA / CSV (a 'sequence' column)", type="filepath",
                         height=150)
    demo = gr.Checkbox(label=f"use the demo set (Basset 8988T, {LIMITS['motif_demo']} sequences)",
                       value=False, elem_id="motif-demo")
    button = gr.Button("Score motifs", variant="primary", elem_id="motif-score")
    status = gr.Markdown()
    table = gr.Dataframe(label="top motifs by AF and by SCS, with their best JASPAR match",
                         interactive=False, elem_id="motif-table", max_height=420)
    with gr.Row():
        plot = gr.Image(label="AF vs SCS (normalised ranks)", type="filepath", scale=2)
        csv = gr.File(label="every motif's scores (CSV)", scale=1)

    def score(text, upload=None, demo=False):
        top, plot_file, csv_file, n = service.score(text, upload, demo, data_dir)
        return _shown(top, 4), plot_file, csv_file, f"{n} sequences scored."

    button.click(_guard(gr, score), [text, upload, demo], [table, plot, csv, status],
                 api_name="score_motifs")


def _binding_tab(gr, service, examples):
    gr.Markdown(service.summary())
    gr.Markdown(f"A protein and one or two nucleic-acid strands (5'→3'); or paste FASTA with the "
                f"protein, then the strand(s), in the first box. Limits: "
                f"{LIMITS['binding_protein']:,} residues, {LIMITS['binding_strand']} nt per strand.")
    text = gr.Textbox(label="protein (FASTA or bare sequence)", lines=4, max_lines=8,
                      elem_id="binding-protein")
    with gr.Row():
        strand = gr.Textbox(label="nucleic-acid strand", value="", elem_id="binding-strand")
        complementary = gr.Textbox(label="complementary strand (optional)", value="")
        kind = gr.Radio(["auto", "DNA", "RNA"], value="auto", label="type (auto: RNA if U)")
    if examples.get("complex"):
        gr.Examples([examples["complex"]], inputs=[text, strand, complementary],
                    label="example: p53 with a ProNAB DNA site")
    button = gr.Button("Predict ΔG", variant="primary", elem_id="binding-predict")
    dg = gr.Number(label="predicted ΔG (kcal/mol)", elem_id="binding-dg")
    note = gr.Markdown(elem_id="binding-note")
    attention = gr.Image(label="attention between the nucleic acid and the protein",
                         type="filepath")
    mae = metric("binding", service.report)

    def predict(text, strand="", complementary="", kind="auto"):
        value, plot, _ = service.predict(text, strand, complementary, kind)
        spread = (f"cross-validated MAE ±{mae:.2f} kcal/mol" if mae is not None else
                  "no cross-validated error in report.json")
        return round(value, 4), f"ΔG = **{value:.2f} kcal/mol** ({spread}).", plot

    button.click(_guard(gr, predict), [text, strand, complementary, kind], [dg, note, attention],
                 api_name="predict_binding")


def build_app(runs, data_dir=None, services=None):
    """The Gradio Blocks over the run folders in ``runs`` (queued).

    Args:
        runs: the runs folder (``runs/ptm``, ``runs/rnamod``, ...).
        data_dir: optional data mirror (motif demo set, examples).
        services: optional preloaded `load_services` result.

    Returns:
        ``gr.Blocks`` with its queue enabled.
    """
    gr = _gradio()
    services = services or load_services(runs)
    examples = _examples(data_dir)
    with gr.Blocks(title="deepbio", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown(f"# deepbio\nTrained models of `{runs}`, one tab per task. Each tab names the "
                    f"run it serves and that run's honest metric beside the trivial baseline, so "
                    f"you know how far to trust it.")
        with gr.Tab("PTM (lysine)", id="ptm"):
            _ptm_tab(gr, services["ptm"], examples)
        with gr.Tab("RNA modification", id="rnamod"):
            _rnamod_tab(gr, services["rnamod"])
        with gr.Tab("Motifs", id="motif"):
            _motif_tab(gr, services["motif"], data_dir)
        with gr.Tab("Binding ΔG", id="binding"):
            _binding_tab(gr, services["binding"], examples)
    app.queue(max_size=256, default_concurrency_limit=1)
    app.services = services
    return app


def launch(runs, host="127.0.0.1", port=7860, data_dir=None, verbose=1):
    """Builds the app and serves it until interrupted (Ctrl-C)."""
    gr = _gradio()
    app = build_app(runs, data_dir)
    if host not in LOOPBACK:
        print(f"deepbio serve: WARNING: listening on {host}, not on 127.0.0.1 only: anyone who can "
              f"reach this machine can use the page and its models (no login, no TLS)",
              file=sys.stderr, flush=True)
    shown = f"[{host}]" if ":" in host else host
    print(f"deepbio serve: {runs} on http://{shown}:{port}/ (Ctrl-C stops)", flush=True)
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])

    def stop(*_):  # SIGTERM closes the server like Ctrl-C (scratch files removed at exit)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    app.launch(server_name=host, server_port=port, show_error=False, quiet=verbose < 2,
               ssr_mode=False, footer_links=["api"], theme=theme,
               max_file_size=LIMITS["upload_bytes"],  # bytes of an upload, as sent
               allowed_paths=[str(s.workdir) for s in app.services.values()])
    return 0
