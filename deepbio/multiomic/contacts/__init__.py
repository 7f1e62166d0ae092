"""Protein–nucleic-acid contacts on real complexes (``deepbio run contacts``), after OmniBioTE.

Modules: `structures` (PDB reader, distances, contact maps), `contact_list` (the protein–DNA
benchmark's ``contacts_b.dat``), `data` (the registered benchmark files as per-residue examples),
`homology` (identity clusters, grouped folds, ProNAB overlap), `encoding` (tokens ↔ residues),
`models` / `training` (token head, attention probe), `propensity` (baseline), `evaluation`,
`report`, `figures`, `pipeline` and `task`.
"""
