"""Per-residue BLOSUM62 encoding.

Each residue is replaced by its row of the BLOSUM62 substitution matrix
(Henikoff, S. and Henikoff, J.G. (1992) Amino acid substitution matrices from
protein blocks. Proc. Natl. Acad. Sci. USA 89, 10915-10919), restricted to the
20 standard residues in ``PROTEIN_ALPHABET`` order. The matrix is loaded from
Biopython (``Bio.Align.substitution_matrices.load("BLOSUM62")``), not retyped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .alphabets import PROTEIN_ALPHABET, encode_residues

__all__ = ["blosum62_matrix", "blosum62", "BLOSUM62Encoder"]


@lru_cache(maxsize=1)
def _blosum62_cached() -> np.ndarray:
    from Bio.Align import substitution_matrices

    matrix = substitution_matrices.load("BLOSUM62")
    table = np.array([[matrix[a, b] for b in PROTEIN_ALPHABET] for a in PROTEIN_ALPHABET], dtype=np.float32)
    table.setflags(write=False)
    return table


def blosum62_matrix() -> np.ndarray:
    """Return the 20 x 20 BLOSUM62 matrix over the standard residues.

    Returns:
        np.ndarray: ``float32`` array of shape ``(20, 20)``, rows and columns in
        ``PROTEIN_ALPHABET`` (``ACDEFGHIKLMNPQRSTVWY``) order; entries are the
        BLOSUM62 log-odds scores in half-bit units (e.g. ``W``/``W`` = 11).
    """
    return _blosum62_cached().copy()


def blosum62(sequences: str | Iterable[str], ids: Sequence | None = None) -> np.ndarray:
    """Encode each residue by its BLOSUM62 row.

    Args:
        sequences: ``n`` equal-length protein sequences over the 20 standard
            residues (lowercase accepted); a single string is one record.
        ids: Optional record identifiers, quoted in error messages.

    Returns:
        np.ndarray: ``float32`` array of shape ``(n, length, 20)``; channel ``k``
        is the score against ``PROTEIN_ALPHABET[k]``.

    Raises:
        ValueError: For unequal lengths or a non-standard residue (``X``, ``B``,
            ``*`` ...), naming the record, the 1-based position and the letter.
    """
    idx = encode_residues(sequences, "protein", ids=ids)
    return _blosum62_cached()[idx]


class BLOSUM62Encoder(TransformerMixin, BaseEstimator):
    """Scikit-learn style wrapper around :func:`blosum62` (stateless).

    ``transform(sequences)`` returns ``float32`` of shape ``(n, length, 20)``;
    ``fit`` is a no-op. Source: Henikoff & Henikoff (1992) PNAS 89:10915, via
    Biopython's ``substitution_matrices.load("BLOSUM62")``.
    """

    def fit(self, sequences=None, y=None):
        """No-op; returns ``self``."""
        return self

    def transform(self, sequences: str | Iterable[str], ids: Sequence | None = None) -> np.ndarray:
        """Encode sequences; see :func:`blosum62` for shapes and errors."""
        return blosum62(sequences, ids=ids)

    __call__ = transform
