"""Training loops, one module per model family (import the submodules).

Multi-omic transformer (after OmniBioTE, arXiv:2408.16245): `masked_lm`,
masked-LM pre-training and held-out evaluation; `fine_tuning`, ProNAB
complex encoding, shared-protein / padded batching and ΔG regression
fine-tuning; `optimizers`, the warm-up + cosine AdamW both use.
"""
