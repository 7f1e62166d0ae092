"""The motif task: DeepASMM on chromatin accessibility, end to end.

Pipeline (``main.py --task motif``):

1. sequences: the 1,497 accessible 600-bp sequences of cell type 8988T from
   DeepASMM's Basset demo (``deepasmm/basset_8988T.csv`` through the data
   registry), or the user's ``--input`` CSV/FASTA;
2. model: the user's ``--model`` (``.keras`` or ``.h5``), or a Basset-style CNN
   (`deepbio.models.basset_cnn`) trained here on the accessible sequences
   against one dinucleotide-shuffled copy of each (Altschul–Erickson), with
   train / validation / test parts split by sequence pair (a sequence and its
   shuffled copy stay together); its held-out test AUROC is reported;
3. scoring: `deepbio.interpret.motif_scoring.score_motifs` (k-mers, SCS, AF,
   top-r, min-max combination) with the fast engine;
4. annotation: the top motifs' best JASPAR2026 CORE vertebrate matrices
   (`deepbio.interpret.jaspar`);
5. outputs in ``runs/motif``: ``params.json``, ``model.keras`` (when trained),
   ``motif_scores.csv``, ``top_motifs.csv``, ``motif_scores.png``,
   ``training_history.png``, ``report.json`` (counts, held-out AUROC,
   ``seconds`` per stage).
"""

import dataclasses
import json
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

import Feature_extraction_algorithms as fea
from deepbio.data.registry import fetch
from deepbio.metrics import binary_metrics
from deepbio.models import basset_cnn
from deepbio.utils import atomic_path, write_csv, write_json

DATA_FILE = "deepasmm/basset_8988T.csv"


@dataclasses.dataclass
class MotifConfig:
    """Parameters of a motif run (all saved to ``params.json``).

    Attributes:
        motif_length: int, k in [4, 12] (DeepASMM demo: 8).
        min_motif_count: int. Minimum occurrences of a k-mer (upstream 10).
        top_r: str, ``"all"`` or a fraction in (0, 1] (demo: ``"0.1"``).
        min_top_r_num: int. Floor of the occurrences averaged (upstream 30).
        output_index: str, ``"all"`` or comma-separated output indices.
        engine: ``"fast"`` or ``"naive"``.
        scoring_batch_size: int. Perturbations per compiled call.
        jaspar_top: int. Top motifs (by each combined score) annotated with
            JASPAR; 0 skips the annotation.
        jaspar_release: str. pyjaspar release (``"JASPAR2026"``).
        max_sequences: int or None. Use only the first sequences (quick runs).
        epochs, batch_size, learning_rate, patience: training of the CNN
            (Adam; early stopping on the validation AUROC, best weights kept).
        reverse_complement: bool. Add the reverse complement of every
            training sequence (both strands of the accessible region).
        test_fraction, val_fraction: held-out test part, and the part of the
            rest used for early stopping (both by sequence pair).
        seed: int. Seeds Keras, NumPy, the shuffles and the splits.
        filters, kernel_sizes, pool_sizes, dense_units, dropout: the CNN
            (see `deepbio.models.basset_cnn`).
    """

    motif_length: int = 8
    min_motif_count: int = 10
    top_r: str = "0.1"
    min_top_r_num: int = 30
    output_index: str = "all"
    engine: str = "fast"
    scoring_batch_size: int = 4096
    jaspar_top: int = 20
    jaspar_release: str = "JASPAR2026"
    max_sequences: int = None
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 5
    reverse_complement: bool = True
    test_fraction: float = 0.2
    val_fraction: float = 0.1
    seed: int = 0
    filters: tuple = (64, 64, 64)
    kernel_sizes: tuple = (19, 11, 7)
    pool_sizes: tuple = (3, 4, 4)
    dense_units: tuple = (128,)
    dropout: float = 0.3

    def __post_init__(self):
        for name in ("filters", "kernel_sizes", "pool_sizes", "dense_units"):
            setattr(self, name, tuple(int(v) for v in getattr(self, name)))
        if not 4 <= self.motif_length <= 12:
            raise ValueError(f"motif_length must be in [4, 12], got {self.motif_length}")
        if self.min_motif_count < 1 or self.min_top_r_num < 1:
            raise ValueError("min_motif_count and min_top_r_num must be >= 1")
        self.top_r = str(self.top_r)
        if self.top_r != "all" and not 0.0 < float(self.top_r) <= 1.0:
            raise ValueError(f"top_r must be 'all' or a fraction in (0, 1], got {self.top_r!r}")
        self.output_index = str(self.output_index)
        parse_output_index(self.output_index)
        if self.engine not in ("fast", "naive"):
            raise ValueError(f"engine must be 'fast' or 'naive', got {self.engine!r}")
        if not 0.0 < self.test_fraction < 1.0 or not 0.0 < self.val_fraction < 1.0:
            raise ValueError("test_fraction and val_fraction must be in (0, 1)")


def parse_output_index(value):
    """``"all"`` → None; ``"0"`` → 0; ``"0,2"`` → [0, 2] (ValueError otherwise)."""
    if value is None or str(value).strip().lower() == "all":
        return None
    try:
        parts = [int(p) for p in str(value).split(",") if p.strip()]
    except ValueError:
        raise ValueError(f"output index must be 'all' or comma-separated integers, got {value!r}") \
            from None
    if not parts:
        raise ValueError(f"output index must be 'all' or comma-separated integers, got {value!r}")
    return parts[0] if len(parts) == 1 else parts


def default_input(data_dir=None):
    """Path of DeepASMM's Basset 8988T sequences (through the data registry)."""
    return fetch(DATA_FILE, data_dir=data_dir)


def load_sequences(path):
    """Reads sequences from a CSV or FASTA file.

    A CSV needs a column ``Seqs`` (DeepASMM's format) or ``sequence``; an
    ``id``/``name`` column, if present, names the records (else ``seq<i>``).
    FASTA (``.fa``, ``.fasta``, ``.fna``, optionally ``.gz``) is read with
    Biopython. Sequences are upper-cased.

    Args:
        path: str or path-like.

    Returns:
        DataFrame with ``id`` and ``sequence``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown format, no sequence column, an empty record, or
            no records (the message names the file and the record).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sequence file {path} not found")
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".fa", ".fasta", ".fna")):
        import gzip

        from Bio import SeqIO

        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt") as handle:
            records = [(r.id, str(r.seq).upper()) for r in SeqIO.parse(handle, "fasta")]
        frame = pd.DataFrame(records, columns=["id", "sequence"])
    elif name.endswith((".csv", ".tsv")):
        frame = pd.read_csv(path, sep="\t" if name.endswith(".tsv") else ",")
        column = next((c for c in ("Seqs", "sequence", "seq", "Sequence") if c in frame.columns), None)
        if column is None:
            raise ValueError(f"{path}: no sequence column (expected 'Seqs' or 'sequence'), "
                             f"found {list(frame.columns)}")
        ids = next((c for c in ("id", "name", "ID") if c in frame.columns), None)
        frame = pd.DataFrame({
            "id": frame[ids].astype(str) if ids else [f"seq{i}" for i in range(len(frame))],
            "sequence": frame[column].astype(str).str.strip().str.upper()})
    else:
        raise ValueError(f"{path}: unknown sequence format (use .csv with a 'Seqs' column or FASTA)")
    if frame.empty:
        raise ValueError(f"{path}: no sequences")
    empty = frame["sequence"].str.len() == 0
    if empty.any():
        raise ValueError(f"{path}: record {frame['id'][empty.idxmax()]!r} is empty")
    return frame


def load_model(path):
    """Loads a user model (``.keras`` or legacy ``.h5``) without compiling it.

    Raises:
        FileNotFoundError: no such file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} not found")

    return keras.models.load_model(path, compile=False)


def _plot_history(history, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key in ("loss", "val_loss"):
        if key in history:
            ax.plot(np.arange(1, len(history[key]) + 1), history[key], label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("binary cross-entropy")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def plot_scores(table, path, max_points=5000, seed=0):
    """Scatter of the normalised ranks of the two combined scores (upstream's figure).

    Each motif is a point at (rank of its autonomous functionality score,
    rank of its sequence context synergy score), ranks scaled to [0, 1];
    at most ``max_points`` motifs drawn (a seeded random subset), with the
    Spearman correlation in the corner. Saved as PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import rankdata, spearmanr

    data = table
    if len(data) > max_points:
        data = data.sample(max_points, random_state=seed)
    def ranks(column):
        r = rankdata(data[column].to_numpy())
        return (r - 1) / max(len(r) - 1, 1)

    x, y = ranks("autonomous_functionality_score"), ranks("sequence_context_synergy_score")
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(x, y, c=np.sqrt(x + y), cmap="YlGn_r", s=8, edgecolor="none")
    rho = spearmanr(table["autonomous_functionality_score"],
                    table["sequence_context_synergy_score"]).statistic if len(table) > 2 else np.nan
    ax.text(0.03, 0.97, f"Spearman ρ = {rho:.3f}\n{len(table)} motifs", transform=ax.transAxes,
            va="top")
    ax.set_xlabel("Autonomous functionality score (normalised rank)")
    ax.set_ylabel("Sequence context synergy score (normalised rank)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
    return float(rho)


def _pair_splits(n, config):
    """Indices of the sequences in the train / validation / test parts."""
    idx = np.arange(n)
    rest, test = train_test_split(idx, test_size=config.test_fraction, random_state=config.seed)
    train, val = train_test_split(rest, test_size=config.val_fraction, random_state=config.seed)
    return np.sort(train), np.sort(val), np.sort(test)


def train(config, data_dir=None, output_dir=None, verbose=2, sequences=None):
    """Trains the Basset-style CNN: accessible sequences vs their dinucleotide shuffles.

    Args:
        config: `MotifConfig`.
        data_dir: local data mirror (else ``DEEPBIO_DATA`` / cache).
        output_dir: folder for ``model.keras`` and ``training_history.png``;
            None writes nothing.
        verbose: Keras verbosity.
        sequences: optional list of str (default: the Basset 8988T file,
            first ``max_sequences``).

    Returns:
        dict with ``model``, ``test`` (binary metrics on the held-out pairs:
        ``auroc``, ``auprc``, ...), ``splits`` (sizes), ``epochs_run``,
        ``history``.
    """
    keras.utils.set_random_seed(config.seed)
    if sequences is None:
        sequences = load_sequences(default_input(data_dir))["sequence"].tolist()
        if config.max_sequences:
            sequences = sequences[:config.max_sequences]
    positives = fea.one_hot(sequences, alphabet="dna")
    negatives = fea.one_hot(fea.dinucleotide_shuffles(sequences, random_state=config.seed),
                            alphabet="dna")
    train_idx, val_idx, test_idx = _pair_splits(len(sequences), config)

    def part(idx):
        x = np.concatenate([positives[idx], negatives[idx]])
        y = np.concatenate([np.ones(len(idx)), np.zeros(len(idx))]).astype(np.float32)
        return x, y

    x_train, y_train = part(train_idx)
    if config.reverse_complement:  # channels A, C, G, T: reversing both axes complements
        x_train = np.concatenate([x_train, x_train[:, ::-1, ::-1]])
        y_train = np.concatenate([y_train, y_train])
    x_val, y_val = part(val_idx)
    x_test, y_test = part(test_idx)
    model = basset_cnn(sequence_length=positives.shape[1], filters=config.filters,
                       kernel_sizes=config.kernel_sizes, pool_sizes=config.pool_sizes,
                       dense_units=config.dense_units, dropout=config.dropout)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss="binary_crossentropy", metrics=[keras.metrics.AUC(name="auroc")])
    stop = keras.callbacks.EarlyStopping(monitor="val_auroc", mode="max", patience=config.patience,
                                         restore_best_weights=True)
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=config.epochs,
                        batch_size=config.batch_size, shuffle=True, callbacks=[stop],
                        verbose=verbose)
    scores = model.predict(x_test, batch_size=512, verbose=0).ravel()
    result = {"model": model, "test": binary_metrics(y_test, scores),
              "splits": {"train": 2 * len(train_idx), "val": 2 * len(val_idx),
                         "test": 2 * len(test_idx)},
              "epochs_run": len(history.history["loss"]), "history": history.history}
    if output_dir is not None:
        out = Path(output_dir)
        with atomic_path(out / "model.keras") as tmp:
            model.save(tmp)
        _plot_history(history.history, out / "training_history.png")
    return result


def _versions():
    import tensorflow as tf

    return {"keras": keras.__version__, "tensorflow": tf.__version__, "numpy": np.__version__}


def run(config, output_dir="runs/motif", data_dir=None, verbose=1, model_path=None,
        input_path=None, train_only=False):
    """Runs the motif task; returns the report (also written to ``report.json``).

    Args:
        config: `MotifConfig`.
        output_dir: str or path. Output folder.
        data_dir: local data mirror for the default data.
        verbose: 0 silent, 1 progress bars, 2 one line per epoch.
        model_path: a user ``.keras`` / ``.h5`` model; None trains the CNN.
        input_path: a user CSV / FASTA of sequences; None uses the Basset
            8988T sequences.
        train_only: train (and evaluate) the CNN, skip the scoring.

    Returns:
        dict: the report.

    Raises:
        FileNotFoundError / ValueError: missing or malformed inputs.
    """
    t0 = time.perf_counter()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    seconds = {}
    params = {**dataclasses.asdict(config), "model_path": model_path, "input_path": input_path,
              "train_only": train_only, "versions": _versions()}
    write_json(params, out / "params.json")
    keras.utils.set_random_seed(config.seed)

    start = time.perf_counter()
    source = Path(input_path) if input_path else default_input(data_dir)
    frame = load_sequences(source)
    if config.max_sequences:
        frame = frame.iloc[:config.max_sequences].reset_index(drop=True)
    sequences, ids = frame["sequence"].tolist(), frame["id"].tolist()
    from deepbio.interpret.motif_scoring import check_sequences

    check_sequences(sequences, ids)  # fail before training on a malformed record
    seconds["load"] = time.perf_counter() - start

    report = {"task": "motif", "input": str(source), "sequences": len(sequences),
              "sequence_length": len(sequences[0]), "model": None, "heldout": None}
    start = time.perf_counter()
    if model_path:
        model = load_model(model_path)
        report["model"] = {"path": str(model_path), "trained_here": False}
    else:
        trained = train(config, data_dir, out, verbose=verbose, sequences=sequences)
        model = trained["model"]
        report["model"] = {"path": str(out / "model.keras"), "trained_here": True,
                           "epochs_run": trained["epochs_run"], "splits": trained["splits"],
                           "parameters": int(model.count_params())}
        report["heldout"] = trained["test"]
        print(f"held-out AUROC {trained['test']['auroc']:.4f} "
              f"({trained['splits']['test']} sequences: accessible + shuffled)")
    seconds["train"] = time.perf_counter() - start

    if not train_only:
        from deepbio.interpret.motif_scoring import score_motifs

        result = score_motifs(model, sequences, motif_length=config.motif_length,
                              min_motif_count=config.min_motif_count, top_r=config.top_r,
                              min_top_r_num=config.min_top_r_num,
                              output_index=parse_output_index(config.output_index),
                              engine=config.engine, batch_size=config.scoring_batch_size,
                              ids=ids, verbose=1 if verbose else 0)
        table = result.table
        write_csv(table, out / "motif_scores.csv")
        seconds.update({"locate": result.seconds["locate"], "scs": result.seconds["scs"],
                        "af": result.seconds["af"], "aggregate": result.seconds["aggregate"]})
        start = time.perf_counter()
        rho = plot_scores(table, out / "motif_scores.png", seed=config.seed) if len(table) else None
        seconds["plot"] = time.perf_counter() - start
        report["scoring"] = {
            "k": config.motif_length, "motifs": int(len(table)),
            "occurrences": int(len(result.occurrences)),
            "scs_perturbations": int(result.perturbations.forward_rows["scs"]),
            "af_perturbations": int(result.perturbations.forward_rows["af"]),
            "engine": config.engine, "spearman_af_scs": rho}
        start = time.perf_counter()
        top = _top_motifs(table, config)
        seconds["jaspar"] = time.perf_counter() - start
        if top is not None:
            write_csv(top, out / "top_motifs.csv")
            report["top_motifs"] = json.loads(top.to_json(orient="records"))
    seconds["total"] = time.perf_counter() - t0
    report["seconds"] = {k: round(v, 2) for k, v in seconds.items()}
    write_json(report, out / "report.json")
    return report


def _top_motifs(table, config):
    """The top motifs by each combined score, with their best JASPAR matches."""
    if config.jaspar_top <= 0 or table.empty:
        return None
    from deepbio.interpret.jaspar import annotate_kmers, load_jaspar

    parts = []
    for column, label in (("autonomous_functionality_score", "autonomous_functionality"),
                          ("sequence_context_synergy_score", "sequence_context_synergy")):
        best = table.sort_values([column, "count"], ascending=False, kind="stable") \
            .head(config.jaspar_top).copy()
        best.insert(0, "rank", np.arange(1, len(best) + 1))
        best.insert(0, "ranked_by", label)
        parts.append(best)
    top = pd.concat(parts, ignore_index=True)
    targets = load_jaspar(release=config.jaspar_release)
    unique = list(dict.fromkeys(top["motif"]))
    annotation = annotate_kmers(unique, targets).set_index("motif")
    return top.join(annotation, on="motif")
