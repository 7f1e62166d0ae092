"""Interpretation every method can use: saliency maps (tf-keras-vis) and in-silico mutagenesis (ISM).

Method-specific interpretation lives with its method: DeepASMM motif scoring in
``deepbio.motif``, the codebook feature spectrum in ``deepbio.rnamod``, PTM
saliency in ``deepbio.ptm.saliency``.
"""

from deepbio.interpret.ism import (ism_importance, naive_ism, plot_ism, reference_logo_matrix,
                                   saturation_mutagenesis)
from deepbio.interpret.saliency import mean_saliency, plot_saliency_heatmap
