"""Feature encoders for biological sequences (NumPy / scikit-learn and Keras 3 layers).

Reimplements, cleanly and leak-free, the feature extraction of OmniK-PTM
(https://github.com/jiyuzhaoo/OmniK-PTM): PSTAAP and per-residue
physicochemical descriptors, plus one-hot and BLOSUM62 encodings.

Public API:
    * Alphabets: :data:`PROTEIN_ALPHABET`, :data:`DNA_ALPHABET`,
      :data:`RNA_ALPHABET`, :func:`encode_residues`.
    * :func:`one_hot` -- ``(n, L, |alphabet|)`` one-hot.
    * :class:`PhysicochemicalEncoder` -- ``(n, L, n_scales)`` AAindex descriptors.
    * :func:`blosum62` / :class:`BLOSUM62Encoder` -- ``(n, L, 20)`` BLOSUM62 rows.
    * :class:`PSTAAP` -- ``(n, 46)`` position-specific tripeptide propensity,
      ``fit`` on training labels only.
    * :class:`KmerComposition` / :func:`kmer_composition` -- ``(n, |alphabet|^k)``
      k-mer frequencies (the ridge baseline of the binding task).
    * :func:`kspaced_pairs` -- ``(n, len(ks) * 400)`` composition of k-spaced
      residue pairs (CKSAAP); :func:`region_composition` -- residue shares per
      window region (position-specific composition).
    * Keras 3 layers: :class:`OneHotEncoding`, :class:`PhysicochemicalEmbedding`,
      :class:`PSTAAPEncoding`, registered as ``deepbio>...`` when
      :mod:`Feature_extraction_algorithms.layers` is imported, so
      ``keras.models.load_model`` finds them.

Importing this package does not import TensorFlow or Keras: the NumPy /
scikit-learn encoders load eagerly, the three Keras layers lazily, on first
access of the attribute (``Feature_extraction_algorithms.PSTAAPEncoding``) or on
``import Feature_extraction_algorithms.layers`` (PEP 562 ``__getattr__``).
"""

from .alphabets import (
    ALPHABETS,
    DNA_ALPHABET,
    PROTEIN_ALPHABET,
    RNA_ALPHABET,
    UNKNOWN_INDEX,
    encode_residues,
    resolve_alphabet,
)
from .blosum import BLOSUM62Encoder, blosum62, blosum62_matrix
from .kmer import KmerComposition, kmer_composition, kmer_names
from .kspaced import kspaced_pairs, region_composition, residue_codes
from .one_hot import one_hot
from .physicochemical import (
    DEFAULT_SCALES,
    SCALES,
    PhysicochemicalEncoder,
    available_scales,
    get_scale,
    physicochemical_table,
)
from .pstaap import PSTAAP, tripeptide_indices
from .shuffle import dinucleotide_shuffle, dinucleotide_shuffles

__all__ = [
    "PROTEIN_ALPHABET",
    "DNA_ALPHABET",
    "RNA_ALPHABET",
    "ALPHABETS",
    "UNKNOWN_INDEX",
    "resolve_alphabet",
    "encode_residues",
    "one_hot",
    "PhysicochemicalEncoder",
    "SCALES",
    "DEFAULT_SCALES",
    "available_scales",
    "get_scale",
    "physicochemical_table",
    "blosum62",
    "blosum62_matrix",
    "BLOSUM62Encoder",
    "PSTAAP",
    "KmerComposition",
    "kmer_composition",
    "kmer_names",
    "kspaced_pairs",
    "region_composition",
    "residue_codes",
    "tripeptide_indices",
    "OneHotEncoding",
    "PhysicochemicalEmbedding",
    "PSTAAPEncoding",
]

#: Names served lazily from :mod:`.layers` (importing it imports Keras).
_LAZY_LAYERS = ("OneHotEncoding", "PhysicochemicalEmbedding", "PSTAAPEncoding")


def __getattr__(name):
    """Import the Keras layers on first access (PEP 562), keeping the package TF-free."""
    if name in _LAZY_LAYERS:
        from . import layers

        return getattr(layers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
