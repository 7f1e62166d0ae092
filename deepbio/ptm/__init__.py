"""Lysine PTM types from 49-residue windows, after OmniK-PTM.

`data` (the OmniK-PTM sets), `features` (PSTAAP and physicochemical
encoders), `model` (`PTMClassifier`: CNN branches, bidirectional
cross-attention, BiGRU), `trees` and `calibration` (calibrated trees),
`training` and `protocol` (cross-validation, thresholds, reports), `predictor`
and `predict` (whole proteins), `saliency`, `task` (``deepbio run ptm``).
"""
