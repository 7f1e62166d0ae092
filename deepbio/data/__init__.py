"""Data layer: registry of real data sets (URL + sha256), loaders, FASTA.

NumPy / pandas only: importing ``deepbio.data`` (or any of its modules) does
not import TensorFlow or Keras (Keras is imported only to download a file).

Modules: `registry` (the registered files, `fetch`), `fasta` (FASTA reading,
PTM window checks), `ptm` (OmniK-PTM lysine PTM sites), `rnamod` (VQ-RNA
modification sites), `pronab` (ProNAB binding affinities), `motif` (the motif
task's sequences).
"""

from deepbio.data.fasta import check_ptm_windows, read_fasta
from deepbio.ptm.data import (PTM_COMBINATIONS, PTM_LABEL_NAMES, PTM_LABELS, PTMDataset,
                              combination_to_labels, labels_to_combination, load_ptm)
from deepbio.data.registry import REGISTRY, DataFile, fetch, files
