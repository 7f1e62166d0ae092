"""Data layer: registry of real data sets (URL + sha256), loaders, FASTA."""

from deepbio.data.datasets import (PTM_COMBINATIONS, PTM_LABEL_NAMES, PTM_LABELS, PTMDataset,
                                   combination_to_labels, labels_to_combination, load_ptm)
from deepbio.data.fasta import check_ptm_windows, read_fasta
from deepbio.data.registry import REGISTRY, DataFile, fetch, files
