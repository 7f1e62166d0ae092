"""k-mer autonomous functionality and sequence-context synergy, after DeepASMM.

`data` (the Basset-style sequences), `model` (the Basset CNN), `training`
(ensembles), the perturbation engine (`kmers`, `common`, `naive` — the
reference —, `fast`, `stem`, `aggregate`), `jaspar` (annotation), `task`
(``deepbio run motif``).
"""
