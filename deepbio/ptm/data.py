"""Lysine PTM sites of OmniK-PTM: labels, combinations and the `load_ptm` loader.

The files are registered in `deepbio.data.registry`.
"""

import collections
import re

import numpy as np

from deepbio.data.fasta import check_ptm_windows, read_fasta
from deepbio.data.registry import files, fetch

PTM_LABELS = ("a", "c", "m", "s")
PTM_LABEL_NAMES = ("acetylation", "crotonylation", "methylation", "succinylation")
# OmniK-PTM's 11 label-combination classes (file prefix "(k)") and their label sets.
PTM_COMBINATIONS = {1: "a", 2: "c", 3: "m", 4: "s", 5: "ac", 6: "am", 7: "as",
                    8: "cm", 9: "acm", 10: "acs", 11: "acms"}

PTMDataset = collections.namedtuple("PTMDataset", ["windows", "accessions", "classes", "labels"])
PTMDataset.__doc__ = """Lysine-PTM windows of one split.

Attributes:
    windows: list of n str, 49 residues centred on K (position 25, 1-based).
    accessions: list of n str, UniProt accessions.
    classes: int32 array (n,), combination code 1..11 (`PTM_COMBINATIONS`).
    labels: int32 array (n, 4), the multi-label target (a, c, m, s).
"""


def combination_to_labels(classes):
    """Maps OmniK-PTM combination codes 1..11 to (a, c, m, s) label vectors.

    Args:
        classes: int array-like (n,), codes in 1..11.

    Returns:
        int32 array (n, 4).

    Raises:
        ValueError: a code outside 1..11.
    """
    table = np.zeros((12, 4), np.int32)
    for code, letters in PTM_COMBINATIONS.items():
        for letter in letters:
            table[code, PTM_LABELS.index(letter)] = 1
    classes = np.asarray(classes, np.int64)
    if classes.size and (classes.min() < 1 or classes.max() > 11):
        raise ValueError(f"combination codes must lie in 1..11, got {sorted(set(classes.tolist()))}")
    return table[classes]


def labels_to_combination(labels):
    """Maps (a, c, m, s) label vectors back to OmniK-PTM combination codes.

    Args:
        labels: binary array-like (n, 4).

    Returns:
        int32 array (n,), codes 1..11, or 0 for a label set that is not one
        of the 11 combinations (e.g. no label at all).
    """
    lookup = {tuple(combination_to_labels([code])[0]): code for code in PTM_COMBINATIONS}
    return np.array([lookup.get(tuple(int(v) for v in row), 0) for row in np.asarray(labels)],
                    np.int32)


def load_ptm(split="train", data_dir=None, download=None):
    """Loads a split of the OmniK-PTM multi-label lysine benchmark.

    Source: OmniK-PTM (jiyuzhaoo/OmniK-PTM, ``dataset/``), after PreMLS /
    MlyPredCSED. One file per label-combination class ``(k)TrainN.txt``.

    Args:
        split: str. ``"train"`` (12,983 windows) or ``"test"`` (5,662 windows,
            held out of the shared mirror).
        data_dir: optional local mirror, see `deepbio.data.registry.fetch`.
        download: optional bool, see `deepbio.data.registry.fetch`.

    Returns:
        A `PTMDataset`, records in registry file order.

    Raises:
        ValueError: unknown split, or a record that is not a 49-residue
            window of standard residues centred on K (the message names the
            file, the record and the problem).
        FileNotFoundError: a file of the split cannot be found or fetched.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    entries = sorted(files(f"omnik_ptm/{split}/"),
                     key=lambda e: int(re.search(r"\((\d+)\)", e.local_path).group(1)))
    windows, accessions, classes = [], [], []
    for entry in entries:
        code = int(re.search(r"\((\d+)\)", entry.local_path).group(1))
        path = fetch(entry.local_path, data_dir=data_dir, download=download)
        ids, sequences = read_fasta(path)
        check_ptm_windows(sequences, ids, source=str(path))
        windows += sequences
        accessions += ids
        classes += [code] * len(sequences)
    classes = np.asarray(classes, np.int32)
    return PTMDataset(windows, accessions, classes, combination_to_labels(classes))
