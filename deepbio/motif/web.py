"""The motif tab of ``deepbio serve`` (``MotifTask.web``): AF and SCS of the k-mers of sequences.

The tab serves ``<runs>/motif/model.keras`` with the run's own parameters
(``params.json``) and scores pasted, uploaded or demo sequences through
`deepbio.motif.aggregate.score_motifs` and the JASPAR annotation of
``deepbio run motif``, so its CSV equals that command's ``motif_scores.csv``.
Endpoint: ``/score_motifs`` (the top motifs, the AF / SCS scatter, the CSV,
a status line).
"""

import dataclasses
from pathlib import Path

from deepbio.core.io import save_figure, write_csv
from deepbio.core.loading import load_task_model
from deepbio.core.task import config_from_dict, read_params
from deepbio.motif.data import default_input, load_sequences
from deepbio.motif.kmers import check_sequences
from deepbio.motif.task import (MotifConfig, _top_motifs, _user_model_check, parse_output_index,
                                plot_scores)
from deepbio.serve.figures import PLOT_LOCK
from deepbio.serve.reports import fmt, trust
from deepbio.serve.tab import WebTab, bounded_upload, parse_text, shown


class MotifTab(WebTab):
    """The DeepASMM tab: the top motifs, their AF / SCS scatter and every motif's scores."""

    title = "Motifs"
    train_command = "`deepbio run motif --output {folder}` (quick: `--max-sequences 40 --epochs 1`)"
    limits = {"sequences": 100, "length": 2_000, "demo": 40}

    def load(self):
        self.model = load_task_model(self.path, "motif", _user_model_check)
        params = self.folder / "params.json"
        values = read_params(params, "motif", MotifConfig) if params.is_file() else {}
        self.config = config_from_dict(MotifConfig,
                                       {**dataclasses.asdict(MotifConfig()), **values},
                                       source=str(params))

    def honest(self, report):
        heldout = report.get("heldout")
        if not heldout:
            return "No held-out AUROC in report.json (the model was not trained in this run)."
        return (f"Held-out AUROC of the CNN (accessible vs shuffled sequences): "
                f"**{fmt(heldout['auroc'])}** (constant score 0.5)."
                + trust(heldout["auroc"] > 0.55, "the held-out sequences"))

    def sequences(self, text, upload=None, demo=False, data_dir=None):
        """``(ids, sequences)``: the demo set, an uploaded FASTA / CSV or the pasted FASTA."""
        if demo:
            frame = load_sequences(default_input(data_dir or self.data_dir))
            frame = frame.iloc[:self.limits["demo"]]
            return frame["id"].tolist(), frame["sequence"].tolist()
        if upload:
            bounded_upload(upload)
            frame = load_sequences(Path(upload))
            ids, sequences = frame["id"].tolist(), frame["sequence"].tolist()
        else:
            ids, sequences = parse_text(text, "DNA sequence")
        if len(ids) > self.limits["sequences"]:
            raise ValueError(f"{len(ids)} sequences given; the limit is "
                             f"{self.limits['sequences']} per request (use 'deepbio interpret "
                             f"motif' for more)")
        longest = max(map(len, sequences))
        if longest > self.limits["length"]:
            raise ValueError(f"a sequence has {longest:,} nt; the limit is "
                             f"{self.limits['length']:,} nt")
        return ids, sequences

    def score(self, text, upload=None, demo=False, data_dir=None):
        """The top motifs (AF / SCS, JASPAR matches), the scatter plot, the full CSV and the count."""
        from deepbio.motif.aggregate import score_motifs  # deferred: imports TensorFlow
        from deepbio.motif.common import _input_adapter  # deferred: imports TensorFlow

        self.require()
        ids, sequences = self.sequences(text, upload, demo, data_dir)
        check_sequences(sequences, ids)
        config = self.config
        with self.lock:
            try:
                _input_adapter(self.model, len(sequences[0]))
            except ValueError as error:
                raise ValueError(f"the model of {self.folder} does not take these sequences: "
                                 f"{error}") from None
            result = score_motifs(self.model, sequences, motif_length=config.motif_length,
                                  min_motif_count=config.min_motif_count, top_r=config.top_r,
                                  min_top_r_num=config.min_top_r_num,
                                  output_index=parse_output_index(config.output_index),
                                  engine=config.engine, batch_size=config.scoring_batch_size,
                                  ids=ids, verbose=0)
        table = result.table
        if table.empty:
            raise ValueError(f"no {config.motif_length}-mer occurs {config.min_motif_count} times "
                             f"in these {len(ids)} sequences; give more or longer sequences")
        top = _top_motifs(table, config)
        if top is None:
            top = table.sort_values("autonomous_functionality_score", ascending=False).head(20)
        csv = self.out(".csv")
        write_csv(table, csv)
        plot, _ = scatter_figure(table, self.out(".png"), seed=config.seed)
        return top, plot, str(csv), len(ids)

    def build(self, gr):
        gr.Markdown(self.summary())
        config = getattr(self, "config", None)
        limits = self.limits
        gr.Markdown(f"Each k-mer's autonomous functionality (AF: the k-mer alone) and "
                    f"sequence-context synergy (SCS: the occurrence zeroed in its sequence), by "
                    f"perturbing the CNN's input, after DeepASMM; k = "
                    f"{config.motif_length if config else '?'} as in the run. Sequences of equal "
                    f"length, the model's input length. Limits: {limits['sequences']} sequences "
                    f"of at most {limits['length']:,} nt. The demo set is the first "
                    f"{limits['demo']} Basset 8988T sequences.")
        with gr.Row():
            text = gr.Textbox(label="DNA FASTA", lines=5, max_lines=10, elem_id="motif-input")
            upload = gr.File(label="or upload FASTA / CSV (a 'sequence' column)", type="filepath",
                             height=150)
        demo = gr.Checkbox(label=f"use the demo set (Basset 8988T, {limits['demo']} sequences)",
                           value=False, elem_id="motif-demo")
        button = gr.Button("Score motifs", variant="primary", elem_id="motif-score")
        status = gr.Markdown()
        table = gr.Dataframe(label="top motifs by AF and by SCS, with their best JASPAR match",
                             interactive=False, elem_id="motif-table", max_height=420)
        with gr.Row():
            plot = gr.Image(label="AF vs SCS (normalised ranks)", type="filepath", scale=2)
            csv = gr.File(label="every motif's scores (CSV)", scale=1)

        def score(text, upload=None, demo=False):
            top, plot_file, csv_file, n = self.score(text, upload, demo)
            return shown(top, 4), plot_file, csv_file, f"{n} sequences scored."

        self.click(gr, button, score, [text, upload, demo], [table, plot, csv, status],
                   api_name="score_motifs")


def scatter_figure(table, path, seed=0):
    """The AF / SCS rank scatter, through the motif task's `plot_scores`; ``(PNG path, rho)``."""
    class _Folder:  # the one RunFolder method plot_scores uses
        @staticmethod
        def save_figure(fig, name):
            return save_figure(fig, Path(path).with_suffix(""), formats=("png",), dpi=110)

    with PLOT_LOCK:
        rho = plot_scores(table, _Folder(), seed=seed)
    return str(Path(path).with_suffix(".png")), rho
