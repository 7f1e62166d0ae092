"""Keras functional models of deepbio."""

from deepbio.models.ptm import PTMClassifier
