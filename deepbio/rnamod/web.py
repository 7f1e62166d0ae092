"""The RNA-modification tab of ``deepbio serve`` (``RNAModTask.web``): every position of a sequence.

The tab serves every ``<runs>/rnamod/<modification>/model.keras`` through
`deepbio.rnamod.predict.predict_rna_positions` (the function of
``deepbio predict rnamod``): each position is scored as the centre of a
window of the model's length, padded with N beyond the ends. Endpoints:
``/predict_rnamod`` (the table, the profile plot, the CSV) and ``/rnamod_ism``
(the saturation-mutagenesis logo of one position).
"""

import uuid

from deepbio.core.io import write_csv
from deepbio.rnamod.data import check_rna_windows, one_hot_rna
from deepbio.rnamod.predict import _models_at, position_windows, predict_rna_positions
from deepbio.serve.figures import PLOT_LOCK, pyplot, save
from deepbio.serve.reports import fmt, trust
from deepbio.serve.tab import WebTab, parse_text, shown


class RNAModTab(WebTab):
    """The VQ-RNA tab: per-position probabilities, their plot, the CSV and an ISM logo."""

    title = "RNA modification"
    train_command = ("`deepbio run rnamod --output {folder}` (quick: `--modifications Am "
                     "--epochs 1 --max-windows-per-split 80`)")
    limits = {"nt": 2_000}

    def find(self):
        return self.folder if any(self.folder.glob("*/model.keras")) else None

    def missing(self):
        why = (f"the models could not be loaded: {self.error}. " if self.error else
               f"no {self.folder}/<modification>/model.keras. ")
        return why + "Train one with: " + self.train_command.format(folder=self.folder)

    def load(self):
        self.models = _models_at(self.folder)
        self.names = [n for names, _ in self.models for n in names]
        self.length = max(m.sequence_length for _, m in self.models)
        self.flank = int((self.report or {}).get("params", {}).get("logo_flank", 20))

    def honest(self, report):
        return rnamod_summary(report, self.names)

    def sequence(self, text, upload=None):
        """``(name, sequence)`` of the one record of the request, checked."""
        ids, sequences = parse_text(text, "RNA or DNA sequence", upload)
        if len(ids) > 1:
            raise ValueError(f"{len(ids)} records given; paste one RNA or DNA sequence")
        name, sequence = ids[0], sequences[0]
        if len(sequence) > self.limits["nt"]:
            raise ValueError(f"the sequence has {len(sequence):,} nt; the limit is "
                             f"{self.limits['nt']:,} nt (every position is scored in its own "
                             f"window)")
        odd = sequence if len(sequence) % 2 else sequence + "N"  # the bases only
        check_rna_windows([odd], [name], source="input", min_length=1)
        return name, sequence

    def predict(self, text, upload=None):
        """Per-position probabilities (`predict_rna_positions`), their plot and the CSV file."""
        self.require()
        name, sequence = self.sequence(text, upload)
        with self.lock:
            frame = predict_rna_positions(self.models, sequence, name, "input")
        csv = self.out(".csv")
        write_csv(frame, csv)
        return frame, profile_figure(frame, self.names, self.out(".png")), str(csv)

    def ism(self, text, position=None, modification=None, upload=None):
        """ISM logo (saturation mutagenesis) of the window centred on one position."""
        from deepbio.interpret.ism import saturation_mutagenesis  # deferred: imports TensorFlow

        self.require()
        name, sequence = self.sequence(text, upload)
        modification = modification or self.names[0]
        if modification not in self.names:
            raise ValueError(f"modification {modification!r} is not served; choose one of "
                             f"{', '.join(self.names)}")
        try:
            position = int(position) if position not in (None, "") else len(sequence) // 2 + 1
        except (TypeError, ValueError):
            raise ValueError(f"position must be a whole number, got {position!r}") from None
        if not 1 <= position <= len(sequence):
            raise ValueError(f"position {position} is outside the sequence (1..{len(sequence)})")
        names, model = next((n, m) for n, m in self.models if modification in n)
        window = position_windows(sequence, model.sequence_length)[position - 1]
        x = one_hot_rna([window], model.sequence_length)
        with self.lock:
            attributions = saturation_mutagenesis(model.classifier(), x,
                                                  output_index=names.index(modification))
        return logo_figure(attributions, x, self.workdir,
                           f"{modification}_position_{position}_{uuid.uuid4().hex[:6]}",
                           self.flank)

    def build(self, gr):
        gr.Markdown(self.summary())
        names = getattr(self, "names", [])
        length = getattr(self, "length", None)
        gr.Markdown(f"Every position is scored as the centre of a window of the model's length "
                    f"({length or '?'} nt), padded with N beyond the ends of the sequence. RNA or "
                    f"DNA (T is read as U; N for unknown). Limit: {self.limits['nt']:,} nt.")
        text = gr.Textbox(label="RNA or DNA sequence (FASTA or bare)", lines=5, max_lines=10,
                          elem_id="rnamod-input")
        button = gr.Button("Predict", variant="primary", elem_id="rnamod-predict")
        table = gr.Dataframe(label="per-position probabilities", interactive=False,
                             elem_id="rnamod-table", max_height=360)
        with gr.Row():
            plot = gr.Image(label="probabilities along the sequence", type="filepath", scale=3)
            csv = gr.File(label="CSV download", scale=1)
        with gr.Row():
            position = gr.Number(label="position for the ISM logo (default: the centre)",
                                 value=None, precision=0)
            modification = gr.Dropdown(label="modification", choices=names,
                                       value=names[0] if names else None)
            ism_button = gr.Button("ISM logo of this site")
        logo = gr.Image(label="in-silico saturation mutagenesis logo", type="filepath")

        def predict(text):
            frame, plot_file, csv_file = self.predict(text)
            return shown(frame), plot_file, csv_file

        def ism(text, position=None, modification=None):
            return self.ism(text, position, modification)

        self.click(gr, button, predict, [text], [table, plot, csv], api_name="predict_rnamod")
        self.click(gr, ism_button, ism, [text, position, modification], [logo],
                   api_name="rnamod_ism")


def rnamod_summary(report, served=None):
    """Markdown: each served modification's valid AUROC beside the k-mer baseline and 0.5."""
    rows, better = [], False
    for name in served or report.get("modifications", []):
        entry = report.get("per_modification", {}).get(name)
        if not entry:
            rows.append(f"{name}: not in report.json")
            continue
        valid = (entry.get("valid") or {}).get("auroc")
        kmer = ((entry.get("baseline_kmer") or {}).get("valid") or {}).get("auroc")
        rows.append(f"{name}: valid AUROC **{fmt(valid)}** (k-mer baseline {fmt(kmer)}, "
                    f"chance 0.5)")
        better = better or (valid is not None and valid > max(0.55, (kmer or 0)))
    note = "" if better else trust(False, "the valid split (not above the k-mer baseline)")
    return "; ".join(rows) + "." + note


def profile_figure(frame, names, path):
    """Per-position probability of each modification along a sequence."""
    with PLOT_LOCK:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(9, 3))
        for name in names:
            ax.plot(frame["position"], frame[name], lw=1, label=name)
        ax.set_ylim(-0.02, 1.02)
        ax.set(xlabel="position (window centre)", ylabel="probability",
               title=f"{len(frame)} positions")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        return save(fig, path)


def logo_figure(attributions, X, out_dir, name, flank):
    """The ISM logo of one window, through the run's `plot_ism`; returns the logo PNG."""
    from deepbio.interpret.ism import plot_ism  # deferred: imports TensorFlow

    with PLOT_LOCK:
        files = plot_ism(attributions, X, out_dir, name, flank=flank)
    return str(next(f for f in files if str(f).endswith("_logo.png")))
