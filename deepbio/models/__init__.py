"""Keras functional models of deepbio."""

from deepbio.models.ptm import PTMClassifier
from deepbio.models.motif import basset_cnn
