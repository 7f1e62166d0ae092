"""Keras functional models of deepbio."""

from deepbio.models.ptm import PTMClassifier
from deepbio.models.motif import basset_cnn
from deepbio.models.multiomic import (BindingAffinityRegressor, MultiomicBackbone,
                                     MultiomicMaskedLM, MultiomicTokenizer)
from deepbio.models.rna_modification import VQRNA
