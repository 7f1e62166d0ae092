"""Per-residue physicochemical descriptors from AAindex scales.

Default descriptors (the three-channel per-residue branch of OmniK-PTM)
----------------------------------------------------------------------
OmniK-PTM (https://github.com/jiyuzhaoo/OmniK-PTM) feeds a ``(batch, 49, 3)``
physicochemical tensor to the 3-channel ``Conv1d`` of its ``CAFN`` model; it is
built by ``Feature_extraction_algorithms.Physicochemical.PC_feature``, a module
that is not in the published repository. The same ``PC_feature`` function, called
from a character-for-character identical ``dataProcess.feature_extraction`` on the
same training files (``(1)Train9279.txt`` ...), is published in the sister
project MlyPredCSED (https://github.com/xzfang00/MlyPredCSED,
``MlyPredCSED-code/Feature_extraction_algorithms/Physicochemical.py``). Its
3-column table ``data_new_dict`` holds, per residue (identified by correlating
each column with all 564 AAindex entries):

1. a rescaled molecular weight: Pearson r = 0.9987 with **FASG760101**
   (Molecular weight, Fasman 1976); the best match among all AAindex entries;
2. a rescaled isoelectric point: r = 0.954 with **ZIMJ680104** (Isoelectric
   point, Zimmerman et al. 1968), the best match (next best: net charge,
   r = 0.84);
3. a binary hydrophobic (+1) / hydrophilic (-1) class, +1 exactly for
   ``A C F H I L M V W Y``.

Upstream rescaled channels 1-2 to roughly [0, 1] with its own (unpublished)
tables. This module uses the published AAindex values instead, so the default
``PhysicochemicalEncoder()`` returns ``(FASG760101, ZIMJ680104,
HYDROPHOBIC_CLASS)`` in physical units (daltons, pH units, +/-1); pass
``standardize="minmax"`` for the upstream-like [0, 1] range or
``standardize="zscore"`` (``True``) for zero mean / unit variance over the 20
residues. The hydrophobic class is upstream's own binary definition, not an
AAindex entry.

Built-in scales (values in AAindex order A R N D C Q E G H I L K M F P S T W Y V
are the published AAindex values; those also in Biopython are taken from
``Bio.SeqUtils.ProtParamData`` rather than retyped):

================= =========================== =================================================
ID                aliases                     source
================= =========================== =================================================
FASG760101        molecular_weight            Fasman (1976) Handbook of Biochemistry and
                                              Molecular Biology, 3rd ed., Proteins vol. 1. Da.
ZIMJ680104        isoelectric_point, pi       Zimmerman, Eliezer & Simha (1968) J. Theor.
                                              Biol. 21:170-201. pH units.
HYDROPHOBIC_CLASS hydrophobic_class           OmniK-PTM / MlyPredCSED ``PC_feature`` column 3:
                                              +1 for ACFHILMVWY, -1 otherwise.
KYTJ820101        kyte_doolittle, hydropathy  Kyte & Doolittle (1982) J. Mol. Biol. 157:105-132
                                              (Biopython ``kd``).
HOPT810101        hopp_woods, hydrophilicity  Hopp & Woods (1981) PNAS 78:3824-3828
                                              (Biopython ``hw``).
GRAR740102        grantham_polarity, polarity Grantham (1974) Science 185:862-864.
GRAR740103        grantham_volume, volume     Grantham (1974) Science 185:862-864. Side-chain
                                              volume.
ZIMJ680102        bulkiness                   Zimmerman et al. (1968) J. Theor. Biol. 21:170-201.
ZIMJ680103        zimmerman_polarity          Zimmerman et al. (1968) J. Theor. Biol. 21:170-201.
ZIMJ680101        zimmerman_hydrophobicity    Zimmerman et al. (1968) (Biopython ``zi``).
VINM940101        flexibility                 Vihinen, Torkkila & Riikonen (1994) Proteins
                                              19:141-149; average B-value flexibility
                                              (Biopython ``Flex``).
EISD840101        eisenberg                   Eisenberg (1984) Ann. Rev. Biochem. 53:595-623;
                                              consensus normalized hydrophobicity.
================= =========================== =================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from Bio.SeqUtils import ProtParamData
from sklearn.base import BaseEstimator, TransformerMixin

from .alphabets import PROTEIN_ALPHABET, encode_residues

__all__ = [
    "Scale",
    "SCALES",
    "DEFAULT_SCALES",
    "available_scales",
    "get_scale",
    "physicochemical_table",
    "resolve_scales",
    "PhysicochemicalEncoder",
]

_AAINDEX_ORDER = "ARNDCQEGHILKMFPSTWYV"


@dataclass(frozen=True)
class Scale:
    """One per-residue descriptor.

    Attributes:
        id: AAindex accession (e.g. ``"KYTJ820101"``), or an upper-case name for
            a non-AAindex descriptor.
        description: Short description, with units where they exist.
        citation: Literature reference (and provenance of the numbers).
        values: Mapping residue letter -> value for the 20 standard residues.
        aliases: Lowercase alternative names accepted by :func:`get_scale`.
    """

    id: str
    description: str
    citation: str
    values: dict = field(repr=False)
    aliases: tuple = ()

    def vector(self) -> np.ndarray:
        """Return the values as a ``float64`` array in ``PROTEIN_ALPHABET`` order."""
        return np.array([self.values[a] for a in PROTEIN_ALPHABET], dtype=np.float64)


def _from_aaindex_row(row: str) -> dict:
    """Parse 20 numbers given in AAindex order (A R N D C Q E G H I L K M F P S T W Y V)."""
    numbers = [float(x) for x in row.split()]
    assert len(numbers) == 20
    return dict(zip(_AAINDEX_ORDER, numbers))


_ZIMMERMAN = "Zimmerman, J.M., Eliezer, N. and Simha, R. (1968) J. Theor. Biol. 21, 170-201"
_GRANTHAM = "Grantham, R. (1974) Amino acid difference formula to help explain protein evolution. Science 185, 862-864"

_SCALE_LIST = [
    Scale(
        "FASG760101",
        "Molecular weight of the free amino acid (Da)",
        "Fasman, G.D., ed. (1976) Handbook of Biochemistry and Molecular Biology, 3rd ed., "
        "Proteins - Volume 1, CRC Press; AAindex FASG760101",
        _from_aaindex_row(
            "89.09 174.20 132.12 133.10 121.15 146.15 147.13 75.07 155.16 131.17 "
            "131.17 146.19 149.21 165.19 115.13 105.09 119.12 204.24 181.19 117.15"
        ),
        ("molecular_weight", "mw"),
    ),
    Scale(
        "ZIMJ680104",
        "Isoelectric point (pH units)",
        _ZIMMERMAN + "; AAindex ZIMJ680104",
        _from_aaindex_row(
            "6.00 10.76 5.41 2.77 5.05 5.65 3.22 5.97 7.59 6.02 "
            "5.98 9.74 5.74 5.48 6.30 5.68 5.66 5.89 5.66 5.96"
        ),
        ("isoelectric_point", "pi"),
    ),
    Scale(
        "HYDROPHOBIC_CLASS",
        "Binary hydrophobicity class: +1 hydrophobic (A C F H I L M V W Y), -1 otherwise",
        "OmniK-PTM (github.com/jiyuzhaoo/OmniK-PTM) PC_feature, third channel, as published in "
        "MlyPredCSED (github.com/xzfang00/MlyPredCSED) Feature_extraction_algorithms/Physicochemical.py; "
        "not an AAindex entry",
        {a: (1.0 if a in "ACFHILMVWY" else -1.0) for a in PROTEIN_ALPHABET},
        ("hydrophobic_class",),
    ),
    Scale(
        "KYTJ820101",
        "Hydropathy index (Kyte-Doolittle)",
        "Kyte, J. and Doolittle, R.F. (1982) J. Mol. Biol. 157, 105-132; AAindex KYTJ820101; "
        "values from Bio.SeqUtils.ProtParamData.kd",
        dict(ProtParamData.kd),
        ("kyte_doolittle", "hydropathy", "kd"),
    ),
    Scale(
        "HOPT810101",
        "Hydrophilicity value (Hopp-Woods)",
        "Hopp, T.P. and Woods, K.R. (1981) Proc. Natl. Acad. Sci. USA 78, 3824-3828; AAindex HOPT810101; "
        "values from Bio.SeqUtils.ProtParamData.hw",
        dict(ProtParamData.hw),
        ("hopp_woods", "hydrophilicity", "hw"),
    ),
    Scale(
        "GRAR740102",
        "Polarity (Grantham)",
        _GRANTHAM + "; AAindex GRAR740102",
        _from_aaindex_row(
            "8.1 10.5 11.6 13.0 5.5 10.5 12.3 9.0 10.4 5.2 4.9 11.3 5.7 5.2 8.0 9.2 8.6 5.4 6.2 5.9"
        ),
        ("grantham_polarity", "polarity"),
    ),
    Scale(
        "GRAR740103",
        "Side-chain volume (Grantham; cubic angstroms)",
        _GRANTHAM + "; AAindex GRAR740103",
        _from_aaindex_row(
            "31 124 56 54 55 85 83 3 96 111 111 119 105 132 32.5 32 61 170 136 84"
        ),
        ("grantham_volume", "volume"),
    ),
    Scale(
        "ZIMJ680102",
        "Bulkiness (Zimmerman)",
        _ZIMMERMAN + "; AAindex ZIMJ680102",
        _from_aaindex_row(
            "11.50 14.28 12.82 11.68 13.46 14.45 13.57 3.40 13.69 21.40 "
            "21.40 15.71 16.25 19.80 17.43 9.47 15.77 21.67 18.03 21.57"
        ),
        ("bulkiness",),
    ),
    Scale(
        "ZIMJ680103",
        "Polarity (Zimmerman)",
        _ZIMMERMAN + "; AAindex ZIMJ680103",
        _from_aaindex_row(
            "0.00 52.00 3.38 49.70 1.48 3.53 49.90 0.00 51.60 0.13 "
            "0.13 49.50 1.43 0.35 1.58 1.67 1.66 2.10 1.61 0.13"
        ),
        ("zimmerman_polarity",),
    ),
    Scale(
        "ZIMJ680101",
        "Hydrophobicity (Zimmerman)",
        _ZIMMERMAN + "; AAindex ZIMJ680101; values from Bio.SeqUtils.ProtParamData.zi",
        dict(ProtParamData.zi),
        ("zimmerman_hydrophobicity",),
    ),
    Scale(
        "VINM940101",
        "Normalized flexibility parameters (B-values), average",
        "Vihinen, M., Torkkila, E. and Riikonen, P. (1994) Accuracy of protein flexibility predictions. "
        "Proteins 19, 141-149; AAindex VINM940101; values from Bio.SeqUtils.ProtParamData.Flex",
        dict(ProtParamData.Flex),
        ("flexibility", "flex"),
    ),
    Scale(
        "EISD840101",
        "Consensus normalized hydrophobicity scale (Eisenberg)",
        "Eisenberg, D. (1984) Three-dimensional structure of membrane and surface proteins. "
        "Ann. Rev. Biochem. 53, 595-623; AAindex EISD840101",
        _from_aaindex_row(
            "0.25 -1.76 -0.64 -0.72 0.04 -0.69 -0.62 0.16 -0.40 0.73 "
            "0.53 -1.10 0.26 0.61 -0.07 -0.26 -0.18 0.37 0.02 0.54"
        ),
        ("eisenberg",),
    ),
]

#: Built-in scales keyed by ID.
SCALES: dict[str, Scale] = {s.id: s for s in _SCALE_LIST}
#: The three per-residue descriptors of OmniK-PTM (see module docstring).
DEFAULT_SCALES = ("FASG760101", "ZIMJ680104", "HYDROPHOBIC_CLASS")

_NAME_TO_ID = {}
for _s in _SCALE_LIST:
    _NAME_TO_ID[_s.id.lower()] = _s.id
    for _alias in _s.aliases:
        _NAME_TO_ID[_alias.lower()] = _s.id


def available_scales() -> list[str]:
    """List the built-in scales.

    Returns:
        list[str]: One line per scale, ``"ID (alias, ...): description"``.
    """
    return [f"{s.id} ({', '.join(s.aliases)}): {s.description}" for s in _SCALE_LIST]


def get_scale(name: str) -> Scale:
    """Look up a built-in scale by AAindex ID or alias (case-insensitive).

    Args:
        name: e.g. ``"KYTJ820101"``, ``"kyte_doolittle"``, ``"molecular_weight"``.

    Returns:
        Scale: The scale record.

    Raises:
        ValueError: If ``name`` is unknown; the message lists the available scales.
    """
    key = _NAME_TO_ID.get(str(name).lower())
    if key is None:
        raise ValueError(f"unknown scale {name!r}; available scales:\n  " + "\n  ".join(available_scales()))
    return SCALES[key]


_STANDARDIZE = {False: None, None: None, "none": None, True: "zscore", "zscore": "zscore", "minmax": "minmax"}


def _standardize_mode(standardize):
    try:
        return _STANDARDIZE[standardize]
    except (KeyError, TypeError):
        raise ValueError(
            f"standardize must be False/None, True/'zscore' or 'minmax', got {standardize!r}"
        ) from None


def physicochemical_table(scales: str | Sequence[str] | None = None, standardize=False) -> np.ndarray:
    """Residue-by-scale value table.

    Args:
        scales: Scale IDs or aliases (see :data:`SCALES`); a single name is
            accepted; ``None`` selects :data:`DEFAULT_SCALES`.
        standardize: ``False``/``None`` for the published values; ``True`` or
            ``"zscore"`` to subtract each scale's mean and divide by its
            population standard deviation (``ddof=0``) over the 20 standard
            residues; ``"minmax"`` to map each scale to [0, 1] over the 20
            residues.

    Returns:
        np.ndarray: ``float64`` array of shape ``(20, n_scales)``; row ``k`` is
        residue ``PROTEIN_ALPHABET[k]``.

    Raises:
        ValueError: For an unknown scale name, an empty scale list or an unknown
            ``standardize`` option.
    """
    ids = resolve_scales(scales)
    mode = _standardize_mode(standardize)
    table = np.stack([SCALES[i].vector() for i in ids], axis=1)
    if mode == "zscore":
        table = (table - table.mean(axis=0)) / table.std(axis=0)
    elif mode == "minmax":
        lo, hi = table.min(axis=0), table.max(axis=0)
        table = (table - lo) / (hi - lo)
    return table


def resolve_scales(scales: str | Sequence[str] | None) -> tuple[str, ...]:
    """Normalise scale names/aliases to a tuple of IDs.

    Args:
        scales: A name, a sequence of names, or ``None`` for :data:`DEFAULT_SCALES`.

    Returns:
        tuple[str, ...]: The scale IDs, in the order given.

    Raises:
        ValueError: If a name is unknown (message lists the available scales) or
            the list is empty.
    """
    if scales is None:
        return DEFAULT_SCALES
    if isinstance(scales, str):
        scales = [scales]
    ids = tuple(get_scale(s).id for s in scales)
    if not ids:
        raise ValueError("scales must name at least one scale")
    return ids


class PhysicochemicalEncoder(TransformerMixin, BaseEstimator):
    """Encode protein sequences as per-residue physicochemical descriptors.

    Stateless (``fit`` is a no-op), scikit-learn compatible. By default the three
    OmniK-PTM descriptors (molecular weight FASG760101, isoelectric point
    ZIMJ680104, binary hydrophobic class; see the module docstring for the
    evidence) in published units.

    Args:
        scales: Scale IDs or aliases (e.g. ``["KYTJ820101", "flexibility"]``);
            ``None`` for :data:`DEFAULT_SCALES`. See :func:`available_scales`.
        standardize: ``False`` (published values), ``True``/``"zscore"``
            (z-score of each scale over the 20 residues, population std) or
            ``"minmax"`` ([0, 1] over the 20 residues).

    Raises:
        ValueError: At construction, for an unknown scale (the message lists the
            available ones) or an unknown ``standardize`` option.

    Example:
        >>> PhysicochemicalEncoder(["kyte_doolittle"]).transform(["IR"])[0, :, 0].tolist()
        [4.5, -4.5]
    """

    def __init__(self, scales=None, standardize=False):
        self.scales = scales
        self.standardize = standardize
        # Validate eagerly so that a typo fails where it is written.
        self._table = physicochemical_table(scales, standardize)

    @property
    def scale_ids(self) -> tuple[str, ...]:
        """tuple[str, ...]: The IDs of the selected scales, in channel order."""
        return resolve_scales(self.scales)

    @property
    def table(self) -> np.ndarray:
        """np.ndarray: ``(20, n_scales)`` float64 values, rows in ``PROTEIN_ALPHABET`` order."""
        return self._table.copy()

    def fit(self, sequences=None, y=None):
        """No-op (the encoder has no learned state); returns ``self``."""
        return self

    def transform(self, sequences: str | Iterable[str], ids: Sequence | None = None) -> np.ndarray:
        """Encode sequences.

        Args:
            sequences: ``n`` equal-length protein sequences over the 20 standard
                residues (lowercase accepted).
            ids: Optional record identifiers, quoted in error messages.

        Returns:
            np.ndarray: ``float32`` array of shape ``(n, length, n_scales)``.

        Raises:
            ValueError: For unequal lengths or a non-standard residue, naming the
                record, the 1-based position and the letter.
        """
        idx = encode_residues(sequences, "protein", ids=ids)
        return self._table.astype(np.float32)[idx]

    __call__ = transform
