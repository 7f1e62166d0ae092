from deepbio.models.ptm.ptm_classifier import PTMClassifier
from deepbio.models.ptm.sequence_model import PlattScaling
