"""Basset-style CNN for motif perturbation analysis (DeepASMM's model)."""

from deepbio.models.motif.basset_cnn import basset_cnn
