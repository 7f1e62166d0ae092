"""The end-to-end PTM model: residue tokens → four probabilities (after OmniK-PTM)."""

import keras
import numpy as np

import Feature_extraction_algorithms as fea
from deepbio.ptm.features import residue_features


@keras.saving.register_keras_serializable(package="deepbio")
class PlattScaling(keras.layers.Layer):
    """Per-label Platt scaling of probabilities: ``σ(slope · logit(p) + intercept)``.

    The calibration fitted inside the training fold (`deepbio.ptm.calibration`),
    as a fixed layer at the end of ``model.keras``.

    Args:
        slopes, intercepts: sequences of L floats.
    """

    def __init__(self, slopes, intercepts, **kwargs):
        super().__init__(**kwargs)
        self.slopes = [float(v) for v in slopes]
        self.intercepts = [float(v) for v in intercepts]

    def call(self, probabilities):
        p = keras.ops.clip(keras.ops.cast(probabilities, "float32"), 1e-6, 1 - 1e-6)
        z = keras.ops.log(p) - keras.ops.log(1 - p)
        slopes = keras.ops.convert_to_tensor(self.slopes, "float32")
        intercepts = keras.ops.convert_to_tensor(self.intercepts, "float32")
        return keras.ops.sigmoid(slopes * z + intercepts)

    def get_config(self):
        return {**super().get_config(), "slopes": self.slopes, "intercepts": self.intercepts}


def ptm_sequence_model(classifier, encoder, pstaap_scaling, residue_encoders, calibration=None):
    """An end-to-end model: residue tokens (batch, 49) int32 → probabilities.

    The fitted PSTAAP table and the per-residue feature tables become
    non-trainable lookups inside the graph, so ``model.keras`` alone
    predicts from sequence. Token 20 is padding (used at protein ends): its
    residue features and the PSTAAP values of tripeptides that touch it are 0.

    Args:
        classifier: a trained feature-level `PTMClassifier`.
        encoder: the fitted `Feature_extraction_algorithms.PSTAAP`.
        pstaap_scaling: ``(mean, variance)``, arrays (46,), the standardisation
            the classifier was trained with.
        residue_encoders: tuple of names from `RESIDUE_ENCODERS`.
        calibration: optional fitted Platt `LabelCalibrator` (its ``slopes_``
            and ``intercepts_``): a `PlattScaling` layer then makes the
            outputs calibrated probabilities.

    Returns:
        A functional `keras.Model` named ``ptm_sequence_model``.
    """
    residue_table = residue_features(list(fea.PROTEIN_ALPHABET), residue_encoders)[:, 0, :]
    residue_table = np.vstack([residue_table, np.zeros((1, residue_table.shape[1]), np.float32)])
    tokens = keras.Input((classifier.residue_length,), dtype="int32", name="tokens")
    pstaap = fea.PSTAAPEncoding.from_encoder(encoder, name="pstaap_encoding")(tokens)
    pstaap = keras.layers.Normalization(mean=pstaap_scaling[0], variance=pstaap_scaling[1],
                                        name="pstaap_scaling")(pstaap)
    pstaap = keras.layers.Reshape((classifier.pstaap_length, 1), name="pstaap_channels")(pstaap)
    residues = keras.layers.Embedding(
        len(residue_table), residue_table.shape[1], trainable=False,
        embeddings_initializer=keras.initializers.Constant(residue_table),
        name="residue_encoding")(tokens)
    outputs = classifier([pstaap, residues])
    if calibration is not None and calibration.method == "platt":
        outputs = PlattScaling(calibration.slopes_, calibration.intercepts_, dtype="float32",
                               name="calibration")(outputs)
    return keras.Model(tokens, outputs, name="ptm_sequence_model")
