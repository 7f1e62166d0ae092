from deepbio.models.ptm.ptm_classifier import PTMClassifier
