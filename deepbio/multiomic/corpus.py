"""Masked-LM pre-training corpus of the multi-omic transformer (after OmniBioTE, arXiv:2408.16245).

`pretraining_corpus` gathers protein, DNA and RNA sequences from the training
files of the local data sets (or from FASTA files) for masked-LM pre-training
(`deepbio.multiomic.pretraining`).
"""

import re
from pathlib import Path

import numpy as np
import pandas as pd

from deepbio.data.fasta import read_fasta
from deepbio.multiomic.pronab import load_pronab
from deepbio.data.registry import fetch, files


def pretraining_corpus(data_dir=None, fasta_paths=(), max_per_source=None, seed=0):
    """Sequences for masked-LM pre-training.

    Default: ProNAB proteins and nucleic-acid strands (labels unused),
    OmniK-PTM training windows, VQ-RNA train/valid windows (RNA, T for U),
    Basset 8988T sequences (DNA); held-out test splits are never read.
    Local sequences with other letters (N padding of VQ-RNA windows) keep
    their longest clean stretch; stretches shorter than 8 are dropped.
    With ``fasta_paths``, those files only; a record made of A/C/G/T is
    taken as DNA (with U: RNA), anything else as protein.

    Args:
        data_dir: optional data mirror.
        fasta_paths: sequence of FASTA paths (replaces the default corpus).
        max_per_source: int or None, random cap per source.
        seed: int.

    Returns:
        DataFrame with ``sequence``, ``modality`` ("protein", "DNA", "RNA"),
        ``source``.
    """
    rows = []
    if fasta_paths:
        for path in fasta_paths:
            ids, sequences = read_fasta(path)
            for sequence in sequences:
                letters = set(sequence)
                modality = ("DNA" if letters <= set("ACGT") else
                            "RNA" if letters <= set("ACGU") else "protein")
                rows.append((sequence, modality, Path(path).name))
    else:
        data = load_pronab(data_dir)
        frame = data.frame
        rows += [(p, "protein", "pronab_protein") for p in frame["protein"].unique()]
        strands = pd.concat([frame[["nucleic_acid", "type"]],
                             frame.loc[frame["complementary"] != "", ["complementary", "type"]]
                             .rename(columns={"complementary": "nucleic_acid"})])
        rows += [(s, t, "pronab_nucleic_acid") for s, t in
                 strands.drop_duplicates().itertuples(index=False)]
        rows += [(w, "protein", "omnik_ptm_train") for w in _omnik_ptm_train(data_dir)]
        for entry in files("vqrna/train/") + files("vqrna/valid/"):
            _, sequences = read_fasta(fetch(entry.local_path, data_dir))
            rows += [(s, "RNA", "vqrna_train_valid") for s in sequences]
        basset = pd.read_csv(fetch("deepasmm/basset_8988T.csv", data_dir))
        rows += [(s.upper(), "DNA", "basset_8988T") for s in basset["Seqs"]]
        # VQ-RNA windows near transcript ends are padded with N: keep the longest clean stretch.
        rows = [(_longest_clean(s, "ACDEFGHIKLMNPQRSTVWY" if m == "protein" else "ACGTU"), m, src)
                for s, m, src in rows]
        rows = [row for row in rows if len(row[0]) >= 8]
    corpus = pd.DataFrame(rows, columns=["sequence", "modality", "source"])
    if max_per_source:
        rng = np.random.default_rng(seed)
        keep = np.concatenate([rng.permutation(index)[:max_per_source] for index in
                               corpus.groupby("source", sort=False).indices.values()])
        corpus = corpus.iloc[np.sort(keep)].reset_index(drop=True)
    return corpus


def _longest_clean(sequence, alphabet):
    """The longest substring made only of ``alphabet`` (the sequence itself when clean)."""
    if set(sequence) <= set(alphabet):
        return sequence
    return max(re.findall(f"[{alphabet}]+", sequence) or [""], key=len)


def _omnik_ptm_train(data_dir):
    """OmniK-PTM's training windows (49 residues), in the class order ``(1)`` … ``(11)``.

    Read from the registry directly: the multi-omic method imports no other method.
    """
    entries = sorted(files("omnik_ptm/train/"),
                     key=lambda e: int(re.search(r"\((\d+)\)", e.local_path).group(1)))
    windows = []
    for entry in entries:
        windows += read_fasta(fetch(entry.local_path, data_dir))[1]
    return windows
