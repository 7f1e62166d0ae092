"""OmniBioTE's JASPAR specificity test of a ΔG model (arXiv:2408.16245, ``motif_selectivity.py``).

For every JASPAR matrix whose UniProt accession is a ProNAB protein, the
consensus site and random point mutants of it are scored against that
protein; a model that learned specificity predicts weaker binding (ΔΔG > 0)
for the mutants.
"""

import numpy as np
import pandas as pd


def jaspar_sites(accession_proteins, release="JASPAR2026", collection="CORE"):
    """JASPAR matrices whose UniProt accession is a ProNAB protein.

    Returns:
        DataFrame ``matrix_id, name, accession, protein, consensus`` (one row
        per matrix and matching accession; consensus = most frequent base per
        column).
    """
    from pyjaspar import jaspardb

    motifs = jaspardb(release=release).fetch_motifs(collection=collection, tax_group=None)
    rows = []
    for motif in motifs:
        counts = np.array([motif.counts[b] for b in "ACGT"], np.float64)
        consensus = "".join("ACGT"[i] for i in counts.argmax(axis=0))
        for accession in dict.fromkeys(motif.acc or []):
            if accession in accession_proteins:
                rows.append((motif.matrix_id, motif.name, accession, accession_proteins[accession],
                             consensus))
    return pd.DataFrame(rows, columns=["matrix_id", "name", "accession", "protein", "consensus"])


def mutate(consensus, rate, replicates, rng, max_tries=10000):
    """``replicates`` distinct mutants of ``consensus``, each base replaced with probability ``rate``.

    A replaced base becomes one of the three other bases; mutants equal to
    the consensus or to an earlier mutant are redrawn (OmniBioTE's
    ``motif_selectivity.py``).

    Raises:
        ValueError: fewer than ``replicates`` distinct mutants found in
            ``max_tries`` draws.
    """
    found = []
    for _ in range(max_tries):
        bases = list(consensus)
        for i, base in enumerate(bases):
            if rng.random() < rate:
                bases[i] = rng.choice([b for b in "ACGT" if b != base])
        mutant = "".join(bases)
        if mutant != consensus and mutant not in found:
            found.append(mutant)
            if len(found) == replicates:
                return found
    raise ValueError(f"could not draw {replicates} distinct mutants of {consensus!r} at rate {rate}")


def reverse_complement(sequence):
    """The reverse complement of a DNA sequence (A/C/G/T)."""
    return sequence.translate(str.maketrans("ACGT", "TGCA"))[::-1]


def jaspar_queries(sites, replicates, rate, seed):
    """The consensus and mutant sites to score: DataFrame with ``site``, ``kind``, ``site_index``."""
    rng = np.random.default_rng(seed)
    rows = []
    for index, site in enumerate(sites.itertuples(index=False)):
        rows.append((index, "consensus", site.consensus))
        rows += [(index, "mutant", m) for m in mutate(site.consensus, rate, replicates, rng)]
    return pd.DataFrame(rows, columns=["site_index", "kind", "site"])


def query_complexes(sites, queries, groups_of_protein):
    """The queries as ProNAB-style complexes: double-stranded DNA sites against their protein.

    Args:
        sites: from `jaspar_sites`.
        queries: from `jaspar_queries`.
        groups_of_protein: dict protein sequence → ProNAB protein group.

    Returns:
        DataFrame ``accession, protein, nucleic_acid, type, complementary,
        group`` (one row per query), ready for
        `deepbio.multiomic.fine_tuning.encode_complexes`.
    """
    frame = pd.DataFrame({
        "accession": sites["accession"].to_numpy()[queries["site_index"]],
        "protein": sites["protein"].to_numpy()[queries["site_index"]],
        "nucleic_acid": queries["site"].to_numpy(), "type": "DNA",
        "complementary": [reverse_complement(s) for s in queries["site"]]})
    frame["group"] = frame["protein"].map(groups_of_protein).astype(int)
    return frame


def summarize_jaspar(queries, predictions):
    """Mean ΔΔG (mutant − consensus, kcal/mol; > 0: weaker) and fraction of weaker mutants."""
    if not len(queries):
        return None
    frame = queries.assign(dg=predictions)
    consensus = frame[frame["kind"] == "consensus"].set_index("site_index")["dg"]
    mutants = frame[frame["kind"] == "mutant"]
    ddg = mutants["dg"].to_numpy() - consensus.loc[mutants["site_index"]].to_numpy()
    per_site = pd.Series(ddg).groupby(mutants["site_index"].to_numpy()).mean()
    return {"sites": int(len(consensus)), "mutants": int(len(ddg)),
            "mean_ddg": float(ddg.mean()),
            "sem_ddg": float(per_site.std(ddof=1) / np.sqrt(len(per_site))) if len(per_site) > 1 else None,
            "fraction_weaker": float((ddg > 0).mean())}
