"""Label-free per-residue features of 49-residue PTM windows (fixed tables, not fitted).

Blocks after OmniK-PTM's residue branch (physicochemical descriptors), plus
BLOSUM62 rows and one-hot; see `Feature_extraction_algorithms`.
"""

import numpy as np

import Feature_extraction_algorithms as fea

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
