"""Data every method shares: the registry of published files and the FASTA / stream readers.

NumPy only: importing ``deepbio.data`` (or any of its modules) does not import
TensorFlow or Keras (Keras is imported only to download a file). Modules:
`registry` (the registered files, `fetch`), `fasta` (FASTA reading, bounded
text streams). Each method's own data sets live in its package
(``deepbio.ptm.data``, ``deepbio.rnamod.data``, ``deepbio.motif.data``,
``deepbio.multiomic.pronab``).
"""

from deepbio.data.fasta import check_ptm_windows, read_fasta
from deepbio.data.registry import REGISTRY, DataFile, fetch, files
