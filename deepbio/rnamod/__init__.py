"""Sites of ten RNA modifications, after VQ-RNA.

`data` (the VQ-RNA windows), `model` (`VQRNA`: a VQ-VAE feeding non-causal
transformer blocks), `training`, `predict` (windows and whole transcripts),
`feature_spectrum` (the codebook "feature spectrum"), `report` (ISM motifs and
logos), `task` (``deepbio run rnamod``).
"""
