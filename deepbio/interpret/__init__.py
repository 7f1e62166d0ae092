"""Interpretation: saliency maps (tf-keras-vis)."""

from deepbio.interpret.saliency import mean_saliency, plot_saliency_heatmap
