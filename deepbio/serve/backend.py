"""The models behind ``deepbio serve``, without Gradio.

One service per task loads the model of its run folder once and answers
requests through the task module's own in-memory prediction function, the
same one ``deepbio predict`` calls (`ptm.predict_protein_sites`,
`rnamod.predict_rna_positions` / `predict_rna_windows`,
`binding_predict.predict_complex_dg`; the motif tab calls `score_motifs` and the
JASPAR annotation of ``deepbio run motif``). Every user error is a
``ValueError`` whose message is shown in the page; a lock per model keeps
concurrent requests from sharing a model call.
"""

import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from deepbio.data.fasta import PROTEIN_RESIDUES, parse_fasta_text, read_text
from deepbio.rnamod.data import check_rna_windows
from deepbio.serve import figures
from deepbio.serve.reports import TRAIN_COMMANDS, honest_summary, read_report

#: Input limits, named in the page and in every refusal.
LIMITS = {"characters": 200_000, "ptm_proteins": 20, "ptm_residues": 20_000, "rna_nt": 2_000,
          "motif_sequences": 100, "motif_length": 2_000, "motif_demo": 40,
          "binding_protein": 1_000, "binding_strand": 200, "upload_bytes": 5_000_000}


def _workdir():
    """A scratch folder for the page's files, removed when the process exits."""
    import atexit
    import shutil

    path = Path(tempfile.mkdtemp(prefix="deepbio-serve-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _bounded_upload(upload):
    """The text of an uploaded file, read as a stream that stops past ``LIMITS["characters"]``.

    A small gzip file that inflates to gigabytes (a decompression bomb) is
    refused after at most the limit plus one piece (1 MiB) was read.

    Raises:
        ValueError: over the limit (naming the file), or not text.
    """
    try:
        return read_text(upload, "uploaded file", max_bytes=LIMITS["characters"])
    except ValueError as error:
        if "holds more than" not in str(error):
            raise
        raise ValueError(f"uploaded file {Path(upload).name} has more than "
                         f"{LIMITS['characters']:,} characters (decompressed); the limit is "
                         f"{LIMITS['characters']:,} (use 'deepbio predict' for larger inputs)") \
            from None


def parse_text(text, what="sequence", upload=None):
    """``(ids, sequences)`` of pasted FASTA or a plain sequence (or an uploaded file).

    Args:
        text: str, FASTA (``>name`` lines) or one bare sequence (whitespace ignored).
        what: str, what is expected, for messages ("protein").
        upload: optional path of an uploaded file, read instead of ``text``.

    Raises:
        ValueError: empty, too long, not FASTA nor a plain sequence, or bad FASTA.
    """
    source = "input"
    if upload:
        source = f"uploaded file {Path(upload).name}"
        text = _bounded_upload(upload)
    text = text or ""
    if len(text) > LIMITS["characters"]:
        raise ValueError(f"{source} has {len(text):,} characters; the limit is "
                         f"{LIMITS['characters']:,} (use 'deepbio predict' for larger inputs)")
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"the input is empty: paste a {what} (FASTA or the bare sequence)")
    if stripped.startswith(">"):
        return parse_fasta_text(stripped, source, unique_ids=True)
    joined = "".join(stripped.split())
    bad = next((i for i, c in enumerate(joined) if not (c.isalpha() or c in "-*")), None)
    if bad is not None:
        raise ValueError(f"{source} is neither FASTA (no '>' header line) nor a plain {what}: "
                         f"character {joined[bad]!r} at position {bad + 1}; paste FASTA or the "
                         f"bare sequence")
    return ["query"], [joined.upper()]


class Service:
    """A task's run folder: its model (loaded once), its report, a lock, a scratch folder."""

    task = None
    files = ("model.keras",)

    def __init__(self, runs):
        self.folder = Path(runs) / self.task
        self.path = self.find()
        self.report = read_report(self.folder) if self.path else None
        self.lock = threading.Lock()
        self.workdir = _workdir()
        self.error = None
        if self.path is not None:
            try:
                self.load()
            except ValueError as error:  # a damaged or foreign model: the tab says so
                self.error, self.path = str(error), None

    def find(self):
        """The model file served, or None."""
        return next((self.folder / f for f in self.files if (self.folder / f).is_file()), None)

    @property
    def available(self):
        return self.path is not None

    def missing(self):
        """What the tab shows without a model: which command trains one."""
        where = " or ".join(str(self.folder / f) for f in self.files)
        why = f"the model could not be loaded: {self.error}. " if self.error else f"no model at {where}. "
        return why + "Train one with: " + TRAIN_COMMANDS[self.task].format(folder=self.folder)

    def require(self):
        if not self.available:
            raise ValueError(self.missing())

    def summary(self):
        """Markdown: the run served and its honest metric beside the trivial baseline."""
        if not self.available:
            return f"**No {self.task} model.** " + self.missing()
        from deepbio.presets import preset_of

        preset = preset_of(self.folder)
        if preset is not None:  # a shipped preset: its name and its card's figures
            return (f"Serving the preset **{preset.name}** (v{preset.version}; `deepbio presets "
                    f"show {preset.name}` prints its card). {preset.headline}")
        return honest_summary(self.task, self.path, self.report, getattr(self, "served", None))

    def out(self, suffix):
        """A fresh file path in the scratch folder (files older than an hour are removed)."""
        now = time.time()
        for old in self.workdir.glob("*"):
            try:
                if old.is_file() and now - old.stat().st_mtime > 3600:
                    old.unlink()
            except OSError:
                pass
        return self.workdir / f"{self.task}-{uuid.uuid4().hex[:10]}{suffix}"

    def load(self):
        raise NotImplementedError


class PTMService(Service):
    task = "ptm"
    # as load_ptm_predictor prefers them; an old pickled ptm_model.joblib is found so that the tab
    # says why it is refused (retrain), never opened
    files = ("ptm_model.skops", "model.keras", "ptm_model.joblib")

    def load(self):
        from deepbio.ptm.predictor import load_ptm_predictor

        self.predictor = load_ptm_predictor(self.path)
        self.network = hasattr(self.predictor, "model")  # KerasPredictor: saliency maps

    def proteins(self, text, upload=None):
        ids, proteins = parse_text(text, "protein", upload)
        if len(ids) > LIMITS["ptm_proteins"]:
            raise ValueError(f"{len(ids)} proteins given; the limit is {LIMITS['ptm_proteins']} per "
                             f"request (use 'deepbio predict ptm' for more)")
        total = sum(map(len, proteins))
        if total > LIMITS["ptm_residues"]:
            raise ValueError(f"{total:,} residues given; the limit is {LIMITS['ptm_residues']:,} "
                             f"per request (use 'deepbio predict ptm' for more)")
        return ids, proteins

    def predict(self, text, upload=None):
        """The site table (`ptm.predict_protein_sites`), the profile plot and the CSV."""
        from deepbio.ptm import task as ptm
        from deepbio.ptm.protocol import PROBABILITY_COLUMNS
        from deepbio.core.io import write_csv

        self.require()
        ids, proteins = self.proteins(text, upload)
        _require_lysine(ids, proteins)
        with self.lock:
            frame = ptm.predict_protein_sites(self.predictor, ids, proteins, "input")
        csv = self.out(".csv")
        write_csv(frame, csv)
        plot = figures.ptm_profile(frame, PROBABILITY_COLUMNS, self.out(".png"))
        return frame, plot, str(csv)

    @staticmethod
    def site_label(protein, position):
        return f"{protein} K{position}"

    def saliency(self, text, site=None, upload=None):
        """One lysine's window: saliency (network) or substitution importance (other models)."""
        from deepbio.ptm.data import PTM_LABEL_NAMES, PTM_LABELS
        from deepbio.ptm import task as ptm

        self.require()
        ids, proteins = self.proteins(text, upload)
        _require_lysine(ids, proteins)
        rows, windows = ptm.protein_site_windows(ids, proteins, "input")
        labels = [self.site_label(p, k) for p, k in rows]
        site = site or labels[0]
        if site not in labels:
            raise ValueError(f"site {site!r} is not a lysine of the input; choose one of "
                             f"{', '.join(labels[:5])}{' ...' if len(labels) > 5 else ''}")
        window = windows[labels.index(site)]
        names = [f"{l} ({n})" for l, n in zip(PTM_LABELS, PTM_LABEL_NAMES)]
        if self.network:
            from deepbio.interpret.saliency import mean_saliency

            tokens = ptm.encode_windows([window], source="input")
            with self.lock:
                classifier, inputs = ptm.saliency_inputs(self.predictor.model, tokens)
                _, matrix = mean_saliency(classifier, inputs, len(PTM_LABELS),
                                          logits_layer="logits")
            return figures.ptm_saliency(matrix, names, window, self.out(".png"),
                                        f"saliency of each label's logit, {site}")
        with self.lock:
            matrix = substitution_importance(self.predictor, window)
        return figures.ptm_saliency(matrix, names, window, self.out(".png"),
                                    f"{site}: each residue replaced by the 19 others",
                                    colorbar="mean |Δ probability|")


def _require_lysine(ids, proteins):
    """Refuses a request in which no protein has a lysine (nothing to score or show)."""
    if not any("K" in protein for protein in proteins):
        raise ValueError(f"none of the {len(ids)} protein(s) contains a lysine (K): there is no "
                         f"site to score")


def substitution_importance(predictor, window):
    """(4, 49) mean |Δ probability| over the 19 substitutions of each residue of one window.

    The model-agnostic map of one site for the tree / linear models, which
    have no gradient: every flanking residue (not ``-`` padding, not the
    central K) is replaced by each other standard residue and the window
    scored again.
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


class RNAModService(Service):
    task = "rnamod"

    def find(self):
        return self.folder if any(self.folder.glob("*/model.keras")) else None

    def missing(self):
        why = (f"the models could not be loaded: {self.error}. " if self.error else
               f"no {self.folder}/<modification>/model.keras. ")
        return why + "Train one with: " + TRAIN_COMMANDS[self.task].format(folder=self.folder)

    def load(self):
        from deepbio.rnamod import task as rnamod

        self.models = rnamod._models_at(self.folder)
        self.names = [n for names, _ in self.models for n in names]
        self.served = self.names
        self.length = max(m.sequence_length for _, m in self.models)
        self.flank = int((self.report or {}).get("params", {}).get("logo_flank", 20))

    def sequence(self, text, upload=None):
        ids, sequences = parse_text(text, "RNA or DNA sequence", upload)
        if len(ids) > 1:
            raise ValueError(f"{len(ids)} records given; paste one RNA or DNA sequence")
        name, sequence = ids[0], sequences[0]
        if len(sequence) > LIMITS["rna_nt"]:
            raise ValueError(f"the sequence has {len(sequence):,} nt; the limit is "
                             f"{LIMITS['rna_nt']:,} nt (every position is scored in its own window)")
        odd = sequence if len(sequence) % 2 else sequence + "N"  # the bases only
        check_rna_windows([odd], [name], source="input", min_length=1)
        return name, sequence

    def predict(self, text, upload=None):
        """Per-position probabilities (`rnamod.predict_rna_positions`) and their plot."""
        from deepbio.rnamod import task as rnamod
        from deepbio.core.io import write_csv

        self.require()
        name, sequence = self.sequence(text, upload)
        with self.lock:
            frame = rnamod.predict_rna_positions(self.models, sequence, name, "input")
        csv = self.out(".csv")
        write_csv(frame, csv)
        return frame, figures.rna_profile(frame, self.names, self.out(".png")), str(csv)

    def ism(self, text, position=None, modification=None, upload=None):
        """ISM logo (saturation mutagenesis) of the window centred on one position."""
        from deepbio.rnamod.data import one_hot_rna
        from deepbio.interpret.ism import saturation_mutagenesis
        from deepbio.rnamod import task as rnamod

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
        window = rnamod.position_windows(sequence, model.sequence_length)[position - 1]
        x = one_hot_rna([window], model.sequence_length)
        with self.lock:
            attributions = saturation_mutagenesis(model.classifier(), x,
                                                  output_index=names.index(modification))
        return figures.rna_logo(attributions, x, self.workdir,
                                f"{modification}_position_{position}_{uuid.uuid4().hex[:6]}",
                                self.flank)


class MotifService(Service):
    task = "motif"

    def load(self):
        import dataclasses

        from deepbio.core.loading import load_task_model
        from deepbio.motif import task as motif
        from deepbio.core.task import config_from_dict, read_params

        self.model = load_task_model(self.path, "motif", motif._user_model_check)
        base = motif.MotifConfig()
        params = self.folder / "params.json"
        values = read_params(params, "motif", motif.MotifConfig) if params.is_file() else {}
        self.config = config_from_dict(motif.MotifConfig, {**dataclasses.asdict(base), **values},
                                       source=str(params))

    def sequences(self, text, upload=None, demo=False, data_dir=None):
        from deepbio.motif.data import default_input, load_sequences

        if demo:
            frame = load_sequences(default_input(data_dir)).iloc[:LIMITS["motif_demo"]]
            return frame["id"].tolist(), frame["sequence"].tolist()
        if upload:
            _bounded_upload(upload)
            frame = load_sequences(Path(upload))
            ids, sequences = frame["id"].tolist(), frame["sequence"].tolist()
        else:
            ids, sequences = parse_text(text, "DNA sequence")
        if len(ids) > LIMITS["motif_sequences"]:
            raise ValueError(f"{len(ids)} sequences given; the limit is {LIMITS['motif_sequences']} "
                             f"per request (use 'deepbio interpret motif' for more)")
        longest = max(map(len, sequences))
        if longest > LIMITS["motif_length"]:
            raise ValueError(f"a sequence has {longest:,} nt; the limit is "
                             f"{LIMITS['motif_length']:,} nt")
        return ids, sequences

    def score(self, text, upload=None, demo=False, data_dir=None):
        """The top motifs (AF / SCS, JASPAR matches), the scatter plot and the full CSV."""
        from deepbio.motif.aggregate import score_motifs
        from deepbio.motif.common import _input_adapter
        from deepbio.motif.kmers import check_sequences
        from deepbio.motif import task as motif
        from deepbio.core.io import write_csv

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
                                  output_index=motif.parse_output_index(config.output_index),
                                  engine=config.engine, batch_size=config.scoring_batch_size,
                                  ids=ids, verbose=0)
        table = result.table
        if table.empty:
            raise ValueError(f"no {config.motif_length}-mer occurs {config.min_motif_count} times "
                             f"in these {len(ids)} sequences; give more or longer sequences")
        top = motif._top_motifs(table, config)
        if top is None:
            top = table.sort_values("autonomous_functionality_score", ascending=False).head(20)
        csv = self.out(".csv")
        write_csv(table, csv)
        plot, _ = figures.motif_scatter(table, self.out(".png"), seed=config.seed)
        return top, plot, str(csv), len(ids)


class BindingService(Service):
    task = "binding"
    files = ("model_fold1.keras", "model.keras", "scratch_model_fold1.keras")

    def load(self):
        from deepbio.core.loading import load_task_model
        from deepbio.multiomic.builders import make_tokenizer
        from deepbio.multiomic import binding_predict

        self.model = load_task_model(self.path, "binding", binding_predict._binding_model_check)
        self.tokenizer = make_tokenizer()  # as deepbio predict binding

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
            raise ValueError(f"protein: non-standard residue {protein[bad]!r} at position {bad + 1}; "
                             f"only the 20 standard residues {PROTEIN_RESIDUES} are allowed")
        if len(protein) > LIMITS["binding_protein"]:
            raise ValueError(f"the protein has {len(protein):,} residues; the limit is "
                             f"{LIMITS['binding_protein']:,}")
        for label, seq in (("strand", strand), ("complementary strand", complementary)):
            bad = next((i for i, c in enumerate(seq) if c not in "ACGTU"), None)
            if bad is not None:
                raise ValueError(f"{label}: invalid base {seq[bad]!r} at position {bad + 1}; only "
                                 f"A, C, G, T/U are allowed")
            if len(seq) > LIMITS["binding_strand"]:
                raise ValueError(f"the {label} has {len(seq)} nt; the limit is "
                                 f"{LIMITS['binding_strand']} nt")
        kind = (kind or "auto").upper()
        if kind == "AUTO":
            kind = "RNA" if "U" in strand + complementary else "DNA"
        if kind not in ("DNA", "RNA"):
            raise ValueError(f"type must be DNA, RNA or auto, got {kind!r}")
        return protein, strand, kind, complementary

    def predict(self, text, strand="", complementary="", kind="auto", upload=None):
        """ΔG (`binding_predict.predict_complex_dg`) and the attention map between the molecules."""
        from deepbio.multiomic import binding_predict

        self.require()
        protein, strand, kind, complementary = self.complex(text, strand, complementary, kind,
                                                            upload)
        pairs = pd.DataFrame([{"protein": protein, "nucleic_acid": strand, "type": kind,
                               "complementary": complementary}])
        with self.lock:
            predicted = binding_predict.predict_complex_dg(self.model, self.tokenizer, pairs, "input")
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
        return figures.attention_map(block, row_labels, column_labels, self.out(".png"), title)


SERVICES = {"ptm": PTMService, "rnamod": RNAModService, "motif": MotifService,
            "binding": BindingService}


def load_services(runs):
    """One service per task over the run folders in ``runs``.

    Raises:
        FileNotFoundError: ``runs`` is not a folder.
    """
    runs = Path(runs)
    if not runs.is_dir():
        raise FileNotFoundError(f"runs folder {runs} not found; train a model first (e.g. "
                                f"'deepbio run ptm --output {runs}/ptm') or give --runs")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return {task: cls(runs) for task, cls in SERVICES.items()}
