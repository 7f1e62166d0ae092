"""Label-free per-residue features of 49-residue PTM windows (fixed tables, not fitted).

Blocks after OmniK-PTM's residue branch (physicochemical descriptors), plus
BLOSUM62 rows and one-hot; see `Feature_extraction_algorithms`.
"""

import numpy as np

import Feature_extraction_algorithms as fea
from deepbio.data.fasta import check_ptm_windows

RESIDUE_ENCODERS = ("physicochemical", "blosum62", "one_hot")


def residue_features(windows, encoders):
    """Per-residue features, label-free: (n, 49, channels) float32.

    The physicochemical scales are z-scored over the 20 residues and BLOSUM62
    scores divided by 4, so every block is of unit order (fixed tables, not
    fitted to data).

    Args:
        windows: list of n str.
        encoders: tuple of names from `RESIDUE_ENCODERS`.
    """
    blocks = {"physicochemical": lambda w: fea.PhysicochemicalEncoder(standardize=True).transform(w),
              "blosum62": lambda w: fea.blosum62(w) / 4.0,
              "one_hot": lambda w: fea.one_hot(w, alphabet="protein")}
    return np.concatenate([np.asarray(blocks[name](windows), np.float32) for name in encoders],
                          axis=-1)


# ---------------------------------------------------------------------------------------------
# Flat per-window features for the tree and linear models (label-free, fixed tables)
# ---------------------------------------------------------------------------------------------
WINDOW_BLOCKS = ("one_hot", "one_hot_centre", "composition", "regions", "aaindex",
                 "aaindex_regions", "blosum62", "kspaced")
"""Names of the flat feature blocks of `window_features`."""

# Window regions around the central K (0-based columns of a 49-residue window; K at 24).
REGIONS = ((0, 12), (12, 19), (19, 24), (25, 30), (30, 37), (37, 49))
KSPACED_GAPS = (0, 1, 2, 3)
CENTRE = 8  # one_hot_centre: positions −8..−1, +1..+8


def _tokens(windows):
    """Windows → int (n, 49): residue index 0..19, -1 for padding ``-``."""
    return fea.residue_codes(windows, fea.PROTEIN_ALPHABET)


def _per_position(windows, table):
    """Per-residue values from ``table`` (20, d), padding 0, the central K column dropped."""
    codes = _tokens(windows)
    values = np.vstack([np.asarray(table, np.float32), np.zeros((1, table.shape[1]), np.float32)])
    out = values[np.where(codes < 0, 20, codes)]
    return np.delete(out, codes.shape[1] // 2, axis=1).reshape(len(codes), -1)


def window_features(windows, blocks=("one_hot", "composition")):
    """Flat label-free features of K-centred windows: float32 (n, d).

    Blocks (see `WINDOW_BLOCKS`):
        ``one_hot``: one-hot of the 48 flanking positions (960; padding all 0);
        ``one_hot_centre``: the same for positions −8..−1, +1..+8 (320);
        ``composition``: residue shares over the window, and the padding share (21);
        ``regions``: residue shares in 6 flank regions (−24..−13, −12..−6, −5..−1,
        +1..+5, +6..+12, +13..+24) (120);
        ``aaindex``: the 12 AAindex scales (z-scored over residues) per flanking
        position (576);
        ``aaindex_regions``: their mean per region (72);
        ``blosum62``: BLOSUM62 rows / 4 per flanking position (960);
        ``kspaced``: k-spaced residue pairs, k = 0..3 (1600).

    Args:
        windows: list of n str, 49 residues (``-`` allowed as padding).
        blocks: tuple of block names.

    Raises:
        ValueError: an unknown block.
    """
    unknown = [b for b in blocks if b not in WINDOW_BLOCKS]
    if unknown:
        raise ValueError(f"unknown window feature block {unknown[0]!r}; choose from "
                         f"{', '.join(WINDOW_BLOCKS)}")
    windows = list(windows)
    scales = fea.physicochemical_table(tuple(fea.SCALES), standardize=True)
    parts = []
    for block in blocks:
        if block == "one_hot":
            parts.append(_per_position(windows, np.eye(20)))
        elif block == "one_hot_centre":
            flank = _per_position(windows, np.eye(20)).reshape(len(windows), -1, 20)
            middle = flank.shape[1] // 2
            parts.append(flank[:, middle - CENTRE:middle + CENTRE].reshape(len(windows), -1))
        elif block == "composition":
            codes = _tokens(windows)
            shares = fea.region_composition(windows, [(0, codes.shape[1])])
            parts += [shares, (codes < 0).mean(axis=1, keepdims=True)]
        elif block == "regions":
            parts.append(fea.region_composition(windows, REGIONS))
        elif block == "aaindex":
            parts.append(_per_position(windows, scales))
        elif block == "aaindex_regions":
            shares = fea.region_composition(windows, REGIONS).reshape(len(windows), len(REGIONS), 20)
            parts.append((shares @ scales.astype(np.float32)).reshape(len(windows), -1))
        elif block == "blosum62":
            parts.append(_per_position(windows, fea.blosum62_matrix() / 4.0))
        else:
            parts.append(fea.kspaced_pairs(windows, KSPACED_GAPS))
    return np.concatenate([np.asarray(p, np.float32) for p in parts], axis=1)


_WIDTHS = {"one_hot": 960, "one_hot_centre": 40 * CENTRE, "composition": 21, "regions": 20 * len(REGIONS), "aaindex": 48 * 12,
           "aaindex_regions": 12 * len(REGIONS), "blosum62": 960, "kspaced": 400 * len(KSPACED_GAPS)}


def block_width(block):
    """Columns of one `window_features` block for 49-residue windows."""
    return _WIDTHS[block]


def encode_windows(windows, ids=None, source="input"):
    """Validated windows → int32 tokens (n, 49); ``-`` (padding) → 20.

    Raises:
        ValueError: a window that is not 49 residues of the 20 standard ones
            centred on K, with ``-`` only as padding at its ends (the message
            names ``source`` and the record).
    """
    check_ptm_windows(windows, ids, source, padding=True)
    return fea.encode_residues(windows, alphabet=fea.PROTEIN_ALPHABET + "-")
