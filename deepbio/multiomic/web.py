"""The binding tab of ``deepbio serve`` (``BindingTask.web``): ΔG of a protein–nucleic-acid complex.

The tab serves ``<runs>/binding`` (fold 1's fine-tuned model, or the scratch
arm's) through `deepbio.multiomic.binding_predict.predict_complex_dg`, the
function of ``deepbio predict binding``, and draws the mean attention of the
nucleic-acid tokens to the protein residues. Endpoint: ``/predict_binding``
(ΔG, a note with the cross-validated error, the attention map).
"""

import json

import numpy as np
import pandas as pd

from deepbio.core.loading import load_task_model
from deepbio.data.fasta import PROTEIN_RESIDUES
from deepbio.data.registry import fetch
from deepbio.multiomic.binding_predict import _binding_model_check, predict_complex_dg
from deepbio.serve.figures import PLOT_LOCK, pyplot, save
from deepbio.serve.reports import fmt, trust
from deepbio.serve.tab import WebTab, parse_text


class BindingTab(WebTab):
    """The OmniBioTE ΔG tab: one complex, its predicted ΔG and an attention map."""

    title = "Binding ΔG"
    files = ("model_fold1.keras", "model.keras", "scratch_model_fold1.keras")
    train_command = ("`deepbio run binding --output {folder}` (quick: `--max-complexes 60 --folds 2 "
                     "--epochs 1 --no-pretrain --no-jaspar`)")
    limits = {"protein": 1_000, "strand": 200}

    def load(self):
        from deepbio.multiomic.builders import make_tokenizer  # deferred: imports TensorFlow

        self.model = load_task_model(self.path, "binding", _binding_model_check)
        self.tokenizer = make_tokenizer()  # as deepbio predict binding

    def honest(self, report):
        overall = report.get("overall")
        if not overall:
            return ("No cross-validated figures in report.json (trained on every complex without "
                    "CV: `deepbio train binding`); its error is unknown.")
        mean = report["baseline"]["training_mean"]
        ridge = report["baseline"].get("kmer_ridge") or {}
        return (f"Protein-grouped CV ({overall['n']} complexes, arm {overall.get('arm')}): "
                f"Pearson r **{fmt(overall['pearson_r'])}**, MAE **{fmt(overall['mae'], 2)} "
                f"kcal/mol** (training-mean baseline MAE {fmt(mean['mae'], 2)}, k-mer ridge MAE "
                f"{fmt(ridge.get('mae'), 2)}). The model served is fold 1's."
                + trust(overall["mae"] < mean["mae"] - 0.01, "cross-validation"))

    def mae(self):
        """The run's cross-validated MAE (kcal/mol), put beside each prediction, or None."""
        overall = (self.report or {}).get("overall")
        return overall["mae"] if overall else None

    def complex(self, text, strand="", complementary="", kind="auto", upload=None):
        """``(protein, strand, type, complementary)`` of the form, checked."""
        ids, records = parse_text(text, "protein", upload)
        if len(records) > 3:
            raise ValueError(f"{len(records)} records given; give the protein, then one or two "
                             f"nucleic-acid strands")
        protein = records[0]
        strand = "".join((strand or "").split()).upper() or (records[1] if len(records) > 1 else "")
        complementary = ("".join((complementary or "").split()).upper()
                         or (records[2] if len(records) > 2 else ""))
        if not strand:
            raise ValueError("no nucleic-acid strand: fill in the strand (or paste FASTA with the "
                             "protein, then the strand)")
        bad = next((i for i, c in enumerate(protein) if c not in PROTEIN_RESIDUES), None)
        if bad is not None:
            raise ValueError(f"protein: non-standard residue {protein[bad]!r} at position "
                             f"{bad + 1}; only the 20 standard residues {PROTEIN_RESIDUES} are "
                             f"allowed")
        if len(protein) > self.limits["protein"]:
            raise ValueError(f"the protein has {len(protein):,} residues; the limit is "
                             f"{self.limits['protein']:,}")
        for label, seq in (("strand", strand), ("complementary strand", complementary)):
            bad = next((i for i, c in enumerate(seq) if c not in "ACGTU"), None)
            if bad is not None:
                raise ValueError(f"{label}: invalid base {seq[bad]!r} at position {bad + 1}; only "
                                 f"A, C, G, T/U are allowed")
            if len(seq) > self.limits["strand"]:
                raise ValueError(f"the {label} has {len(seq)} nt; the limit is "
                                 f"{self.limits['strand']} nt")
        kind = (kind or "auto").upper()
        if kind == "AUTO":
            kind = "RNA" if "U" in strand + complementary else "DNA"
        if kind not in ("DNA", "RNA"):
            raise ValueError(f"type must be DNA, RNA or auto, got {kind!r}")
        return protein, strand, kind, complementary

    def predict(self, text, strand="", complementary="", kind="auto", upload=None):
        """ΔG (`predict_complex_dg`), the attention map and the prediction table."""
        self.require()
        protein, strand, kind, complementary = self.complex(text, strand, complementary, kind,
                                                            upload)
        pairs = pd.DataFrame([{"protein": protein, "nucleic_acid": strand, "type": kind,
                               "complementary": complementary}])
        with self.lock:
            predicted = predict_complex_dg(self.model, self.tokenizer, pairs, "input")
            plot = self.attention(protein, strand, kind, complementary)
        return float(predicted["predicted_dg"].iloc[0]), plot, predicted

    def attention(self, protein, strand, kind, complementary):
        """Mean attention (layers × heads) of the nucleic-acid tokens to the protein residues."""
        backbone = getattr(self.model, "backbone", None)
        if backbone is None or not hasattr(backbone, "attention_maps"):
            return None
        t = self.tokenizer
        segments = [t.tokenize(protein, "protein"), t.tokenize(strand, kind)]
        if complementary:
            segments.append(t.tokenize(complementary, kind))
        ids, mask = t.pad([[t.cls_id] + [i for s in segments for i in s]])
        maps = backbone.attention_maps(ids, mask.astype(np.int32))
        mean = np.mean([m[0].mean(axis=0) for m in maps], axis=0)
        start = 1  # <cls>
        spans = []
        for segment in segments:  # content tokens, without each segment's tag and <eos>
            spans.append(np.arange(start + 1, start + len(segment) - 1))
            start += len(segment)
        rows = np.concatenate(spans[1:])
        block = mean[np.ix_(rows, spans[0])]
        per_residue = len(spans[0]) == len(protein)
        column_labels = list(protein) if per_residue else [str(i + 1) for i in range(len(spans[0]))]
        bases = strand + complementary
        row_labels = ([f"{b}{i + 1}" for i, b in enumerate(strand)] +
                      [f"{b}{i + 1}'" for i, b in enumerate(complementary)]
                      if len(rows) == len(bases) else [str(i + 1) for i in range(len(rows))])
        isolated = getattr(backbone, "isolated_segment_token_id", None) is not None
        title = (f"attention of the nucleic acid to the protein, mean of {len(maps)} layers × "
                 f"{maps[0].shape[1]} heads" + (" (protein tokens attend only to the protein)"
                                                if isolated else ""))
        return attention_figure(block, row_labels, column_labels, self.out(".png"), title)

    def build(self, gr):
        gr.Markdown(self.summary())
        gr.Markdown(f"A protein and one or two nucleic-acid strands (5'→3'); or paste FASTA with "
                    f"the protein, then the strand(s), in the first box. Limits: "
                    f"{self.limits['protein']:,} residues, {self.limits['strand']} nt per strand.")
        text = gr.Textbox(label="protein (FASTA or bare sequence)", lines=4, max_lines=8,
                          elem_id="binding-protein")
        with gr.Row():
            strand = gr.Textbox(label="nucleic-acid strand", value="", elem_id="binding-strand")
            complementary = gr.Textbox(label="complementary strand (optional)", value="")
            kind = gr.Radio(["auto", "DNA", "RNA"], value="auto", label="type (auto: RNA if U)")
        example = p53_complex(self.data_dir)
        if example:
            gr.Examples([example], inputs=[text, strand, complementary],
                        label="example: p53 with a ProNAB DNA site")
        button = gr.Button("Predict ΔG", variant="primary", elem_id="binding-predict")
        dg = gr.Number(label="predicted ΔG (kcal/mol)", elem_id="binding-dg")
        note = gr.Markdown(elem_id="binding-note")
        attention = gr.Image(label="attention between the nucleic acid and the protein",
                             type="filepath")
        mae = self.mae()

        def predict(text, strand="", complementary="", kind="auto"):
            value, plot, _ = self.predict(text, strand, complementary, kind)
            spread = (f"cross-validated MAE ±{mae:.2f} kcal/mol" if mae is not None else
                      "no cross-validated error in report.json")
            return round(value, 4), f"ΔG = **{value:.2f} kcal/mol** ({spread}).", plot

        self.click(gr, button, predict, [text, strand, complementary, kind], [dg, note, attention],
                   api_name="predict_binding")


def p53_complex(data_dir):
    """``[protein, strand, complementary]`` of p53 with a ProNAB DNA site, when at hand; else None."""
    try:
        pronab = json.loads(fetch("pronab/pronab_no_mutations.json", data_dir=data_dir,
                                  download=False).read_text())
        p53 = pronab["P04637"]
        dna = next(row for row in p53["binding data"] if row[1] == "DNA")
        return [p53["Sequence"], dna[0], dna[4] or ""]
    except Exception:  # noqa: BLE001  (the example is optional)
        return None


def attention_figure(matrix, row_labels, column_labels, path, title):
    """Attention from the nucleic-acid tokens (rows) to the protein residues (columns)."""
    with PLOT_LOCK:
        plt = pyplot()
        rows, columns = matrix.shape
        fig, ax = plt.subplots(figsize=(min(14, max(6, 0.12 * columns + 2)),
                                        min(8, max(2.5, 0.22 * rows + 1.5))))
        image = ax.imshow(matrix, aspect="auto", cmap="magma", interpolation="nearest")
        step = max(1, columns // 60)
        ax.set_xticks(np.arange(0, columns, step),
                      [f"{column_labels[i]}{i + 1}" if step > 1 else column_labels[i]
                       for i in range(0, columns, step)], fontsize=6, rotation=90)
        ax.set_yticks(np.arange(rows), row_labels, fontsize=6)
        ax.set_xlabel("protein residue (key)")
        ax.set_ylabel("nucleic-acid base (query)")
        ax.set_title(title, fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.025, label="attention")
        fig.tight_layout()
        return save(fig, path)
