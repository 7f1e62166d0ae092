"""Proteins clustered by sequence identity, and cross-validation folds that keep each cluster whole.

Identity of two proteins is the number of identical aligned residues divided by the length of the
shorter one, from one optimal alignment of Biopython's ``PairwiseAligner`` (global with free end
gaps, BLOSUM62, gap open −10, extend −0.5: EMBOSS needle's scores). Two proteins are homologues
when identity ≥ 30 % and the alignment scores ≥ 1 BLOSUM62 unit per residue of the shorter
sequence: at 30 % a gapped global alignment of two unrelated proteins reaches the identity by
chance (random pairs of these benchmarks' proteins: ~1 % of pairs; they score 0.2 ± 0.1 per
residue, true homologues > 1). Clusters are the connected components of the homologue graph
(single linkage), so a protein and all its homologues fall on the same side of every fold.

OmniBioTE's own contact folds (``evals/PDB_contact_eval.py``) split each protein's complexes
across train and test (``i % 10 == fold`` within a protein); deepbio does not (a deliberate
deviation: a contact model must be scored on proteins it has not seen).
"""

from concurrent.futures import ProcessPoolExecutor

import numpy as np
from Bio.Align import PairwiseAligner, substitution_matrices
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

IDENTITY_THRESHOLD = 0.30
MIN_SCORE_PER_RESIDUE = 1.0
PRONAB_IDENTITY = 0.90
_KMER = 3


def make_aligner():
    """The aligner used for every identity: global, end gaps free, BLOSUM62, −10 / −0.5."""
    aligner = PairwiseAligner(mode="global",
                              substitution_matrix=substitution_matrices.load("BLOSUM62"),
                              open_gap_score=-10.0, extend_gap_score=-0.5, end_gap_score=0.0)
    return aligner


def sequence_identity(first, second, aligner=None):
    """Identical aligned residues / length of the shorter sequence.

    Args:
        first: str, protein sequence (one-letter; ``X`` scores as BLOSUM62's X).
        second: str, protein sequence.
        aligner: `PairwiseAligner`, optional (`make_aligner` by default).

    Returns:
        float in [0, 1].

    Raises:
        ValueError: an empty sequence.
    """
    if not first or not second:
        raise ValueError("sequence_identity needs two non-empty sequences")
    if first == second:
        return 1.0
    aligner = aligner or make_aligner()
    alignment = aligner.align(first, second)[0]
    return alignment.counts().identities / min(len(first), len(second))


def is_homologue(first, second, threshold=IDENTITY_THRESHOLD, min_score=MIN_SCORE_PER_RESIDUE,
                 aligner=None):
    """Whether two proteins count as homologues.

    Both criteria hold: identity (`sequence_identity`) ≥ ``threshold`` and the alignment's
    BLOSUM62 score ≥ ``min_score`` per residue of the shorter sequence. The score is computed
    first (no traceback), so unrelated pairs cost one score-only alignment.

    Args:
        first: str, protein sequence.
        second: str, protein sequence.
        threshold: float in (0, 1].
        min_score: float, BLOSUM62 units per residue.
        aligner: `PairwiseAligner`, optional.

    Returns:
        bool.
    """
    if first == second:
        return True
    aligner = aligner or make_aligner()
    if aligner.score(first, second) < min_score * min(len(first), len(second)):
        return False
    return sequence_identity(first, second, aligner) >= threshold


def _link_rows(task):
    sequences, rows, threshold, min_score = task
    aligner = make_aligner()
    return [[j for j in range(i + 1, len(sequences))
             if is_homologue(sequences[i], sequences[j], threshold, min_score, aligner)]
            for i in rows]


def homologue_pairs(sequences, threshold=IDENTITY_THRESHOLD, min_score=MIN_SCORE_PER_RESIDUE,
                    workers=1):
    """Every pair of homologues among ``sequences`` (`is_homologue`).

    Args:
        sequences: list of str (n,).
        threshold: float, identity.
        min_score: float, BLOSUM62 score per residue of the shorter sequence.
        workers: int, processes (rows dealt round-robin).

    Returns:
        list of (i, j) with i < j.
    """
    n, workers = len(sequences), max(int(workers), 1)
    tasks = [(list(sequences), list(range(w, n, workers)), threshold, min_score)
             for w in range(workers) if w < n]
    if workers > 1 and n > 50:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_link_rows, tasks))
    else:
        results = [_link_rows(task) for task in tasks]
    return sorted((i, j) for task, linked in zip(tasks, results)
                  for i, row in zip(task[1], linked) for j in row)


def cluster_sequences(sequences, threshold=IDENTITY_THRESHOLD, min_score=MIN_SCORE_PER_RESIDUE,
                      workers=1):
    """Single-linkage clusters of homologues (`is_homologue`).

    Args:
        sequences: list of str (n,), may repeat (identical sequences share a cluster).
        threshold: float in (0, 1], identity linking two proteins.
        min_score: float, BLOSUM62 score per residue of the shorter sequence.
        workers: int, processes for the alignments.

    Returns:
        int array (n,), cluster label of each sequence, numbered 0.. by first appearance.

    Raises:
        ValueError: ``threshold`` outside (0, 1].
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"identity threshold must be in (0, 1], got {threshold!r}")
    unique = list(dict.fromkeys(sequences))
    pairs = np.asarray(homologue_pairs(unique, threshold, min_score, workers), np.int64)
    pairs = pairs.reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                       shape=(len(unique),) * 2)
    _, labels = connected_components(graph, directed=False)
    position = {s: k for k, s in enumerate(unique)}
    raw = labels[[position[s] for s in sequences]]
    order = {label: k for k, label in enumerate(dict.fromkeys(raw.tolist()))}
    return np.asarray([order[label] for label in raw.tolist()], np.int64)


def grouped_folds(groups, sizes, n_splits=5, seed=0):
    """Folds with whole groups, balanced by total size.

    Groups are shuffled with ``seed``, taken largest first, and each goes to the fold with the
    smallest total so far.

    Args:
        groups: int array (n,), the cluster of each example.
        sizes: array (n,), each example's weight (e.g. its residue count).
        n_splits: int, number of folds (≤ number of groups).
        seed: int.

    Returns:
        int array (n,), the test fold (0..n_splits−1) of each example.

    Raises:
        ValueError: fewer groups than folds.
    """
    groups, sizes = np.asarray(groups), np.asarray(sizes, np.float64)
    unique = np.unique(groups)
    if len(unique) < n_splits:
        raise ValueError(f"{len(unique)} protein clusters cannot make {n_splits} folds")
    rng = np.random.default_rng(seed)
    unique = rng.permutation(unique)
    totals = np.array([sizes[groups == g].sum() for g in unique])
    order = unique[np.argsort(-totals, kind="stable")]
    fold_total, assignment = np.zeros(n_splits), {}
    for group in order:
        fold = int(np.argmin(fold_total))
        assignment[group] = fold
        fold_total[fold] += sizes[groups == group].sum()
    return np.asarray([assignment[g] for g in groups], np.int64)


def _kmers(sequence):
    return {sequence[i:i + _KMER] for i in range(len(sequence) - _KMER + 1)}


def pronab_overlap(sequences, reference, threshold=PRONAB_IDENTITY):
    """Which sequences are (nearly) contained in a sequence of ``reference`` (e.g. ProNAB's).

    A structure's protein counts as present when some reference protein aligns to it with
    identical residues over ≥ ``threshold`` of the structure protein's own length (a structure
    of a domain of a longer ProNAB protein counts; a short ProNAB peptide does not). A pair is
    aligned only when the reference holds ≥ 40 % of the query's 3-mers (at 90 % identity at
    least ~70 % of them survive).

    Args:
        sequences: list of str (n,), the structures' proteins.
        reference: iterable of str, e.g. ProNAB's protein sequences.
        threshold: float, identity over the query's length.

    Returns:
        bool array (n,).
    """
    reference = [r for r in dict.fromkeys(reference) if len(r) >= _KMER]
    reference_kmers = [_kmers(r) for r in reference]
    aligner, found, memo = make_aligner(), [], {}
    for sequence in sequences:
        if sequence not in memo:
            kmers = _kmers(sequence)
            memo[sequence] = bool(kmers) and any(
                len(kmers & other) >= 0.4 * len(kmers)
                and aligner.align(sequence, ref)[0].counts().identities >= threshold * len(sequence)
                for ref, other in zip(reference, reference_kmers))
        found.append(memo[sequence])
    return np.asarray(found, bool)


def cluster_summary(groups):
    """Sizes of the clusters: dict with ``clusters``, ``largest``, ``singletons``."""
    counts = np.bincount(np.asarray(groups))
    counts = counts[counts > 0]
    return {"clusters": int(len(counts)), "largest": int(counts.max()),
            "singletons": int((counts == 1).sum())}

