"""ProNAB protein–nucleic-acid binding affinities (as distributed with OmniBioTE).

``pronab/pronab_no_mutations.json`` is a dict keyed by UniProt accession:
``Sequence``, ``Protein Name``, ``Protein source`` and ``binding data``, a
list of ``[nucleic_acid, type ("DNA" | "RNA" | "Other"), Kd (M), ΔG
(kcal/mol), complementary strand or ""]``.
"""

import dataclasses
import json

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from deepbio.data.registry import fetch
from deepbio.core.io import atomic_path

PRONAB_FILE = "pronab/pronab_no_mutations.json"
PROTEIN_RESIDUES = set("ACDEFGHIKLMNPQRSTVWY")
BASES = set("ACGT")


@dataclasses.dataclass
class ProNABData:
    """Filtered, merged ProNAB complexes.

    Attributes:
        frame: DataFrame, one row per distinct (protein, nucleic acid, type,
            complementary strand): ``accession`` (the first UniProt
            accession with this protein sequence), ``accessions``
            (";"-joined), ``protein_name``, ``protein``, ``nucleic_acid``,
            ``type`` ("DNA"/"RNA"), ``complementary`` ("" if none), ``dg``
            (mean ΔG, kcal/mol), ``dg_std`` (spread of the merged entries),
            ``kd`` (geometric mean Kd, M), ``n_entries`` (entries merged),
            ``group`` (int id of the protein sequence).
        counts: dict of int, entries read, dropped per reason, kept, and
            complexes after merging.
        accession_proteins: dict UniProt accession → protein sequence, for
            every kept protein.
    """

    frame: pd.DataFrame
    counts: dict
    accession_proteins: dict


def _binding_entries(source):
    """``(accession, record, protein, protein_ok, row number, entry)`` for every binding entry of the JSON.

    Raises:
        ValueError: a record without 'Sequence' / 'binding data', or an entry
            that is not ``[na_seq, type, Kd, dG, complementary]`` (named).
    """
    with open(source) as handle:
        raw = json.load(handle)
    for accession, record in raw.items():
        if "Sequence" not in record or "binding data" not in record:
            raise ValueError(f"{source}: record {accession!r} lacks 'Sequence' or 'binding data'")
        protein = str(record["Sequence"]).strip().upper()
        protein_ok = bool(protein) and set(protein) <= PROTEIN_RESIDUES
        for number, item in enumerate(record["binding data"], 1):
            if not isinstance(item, (list, tuple)) or len(item) != 5:
                raise ValueError(f"{source}: {accession!r} binding row {number} is not "
                                 f"[na_seq, type, Kd, dG, complementary]: {item!r}")
            yield accession, record, protein, protein_ok, number, item


def load_pronab(data_dir=None, download=None, path=None):
    """Reads, filters and merges ProNAB as OmniBioTE's ΔG task uses it.

    Filters, in order (counted in ``counts``): type other than DNA/RNA
    (OmniBioTE skips them), Kd or ΔG equal to 0 (unusable), an empty nucleic
    acid, a protein with a residue outside the 20 standard ones, a strand
    with a base outside A/C/G/T (U is read as T). Entries that then share
    protein sequence, nucleic acid, type and complementary strand are merged
    (mean ΔG, geometric-mean Kd).

    Args:
        data_dir: optional local data mirror (see `deepbio.data.fetch`).
        download: optional bool, passed to `fetch`.
        path: optional explicit JSON path (bypasses the registry).

    Returns:
        `ProNABData`.

    Raises:
        FileNotFoundError: the file cannot be found (see `fetch`).
        ValueError: a record lacks ``Sequence`` or ``binding data``, or a
            binding row is not a 5-item list; the message names the
            accession and row.
    """
    source = path if path is not None else fetch(PRONAB_FILE, data_dir, download)
    counts = {"entries": 0, "dropped_type": 0, "dropped_zero_kd_or_dg": 0,
              "dropped_empty_nucleic_acid": 0, "dropped_nonstandard_residue": 0,
              "dropped_nonstandard_base": 0}
    rows = []
    for accession, record, protein, protein_ok, number, item in _binding_entries(source):
        counts["entries"] += 1
        nucleic, kind, kd, dg, complementary = item
        nucleic = str(nucleic).strip().upper().replace("U", "T")
        complementary = str(complementary or "").strip().upper().replace("U", "T")
        if kind not in ("DNA", "RNA"):
            counts["dropped_type"] += 1
        elif not kd or not dg:
            counts["dropped_zero_kd_or_dg"] += 1
        elif not nucleic:
            counts["dropped_empty_nucleic_acid"] += 1
        elif not protein_ok:
            counts["dropped_nonstandard_residue"] += 1
        elif not (set(nucleic) <= BASES and set(complementary) <= BASES):
            counts["dropped_nonstandard_base"] += 1
        else:
            rows.append((accession, record.get("Protein Name", ""), protein, nucleic, kind,
                         complementary, float(dg), float(kd)))
    frame = pd.DataFrame(rows, columns=["accession", "protein_name", "protein", "nucleic_acid",
                                        "type", "complementary", "dg", "kd"])
    counts["kept_entries"] = len(frame)
    accessions = frame.groupby("protein", sort=False)["accession"].agg(
        lambda a: ";".join(dict.fromkeys(a)))
    frame["log_kd"] = np.log10(frame["kd"].clip(lower=1e-30))
    merged = frame.groupby(["protein", "nucleic_acid", "type", "complementary"], sort=False).agg(
        accession=("accession", "first"), protein_name=("protein_name", "first"),
        dg=("dg", "mean"), dg_std=("dg", "std"), log_kd=("log_kd", "mean"),
        n_entries=("dg", "size")).reset_index()
    merged["dg_std"] = merged["dg_std"].fillna(0.0)
    merged["kd"] = 10.0 ** merged.pop("log_kd")
    merged["accessions"] = merged["protein"].map(accessions)
    merged["group"] = pd.factorize(merged["protein"])[0]
    merged = merged[["accession", "accessions", "protein_name", "protein", "nucleic_acid", "type",
                     "complementary", "dg", "dg_std", "kd", "n_entries", "group"]]
    counts["complexes"] = len(merged)
    counts["proteins"] = int(merged["group"].nunique())
    accession_proteins = {a: p for a, p in zip(frame["accession"], frame["protein"])}
    return ProNABData(merged, counts, accession_proteins)


def protein_grouped_folds(groups, n_splits=10, seed=0):
    """K folds with no protein in two folds (OmniBioTE's grouped cross-validation).

    scikit-learn's `GroupKFold` with shuffled groups (seeded), so fold sizes
    in complexes vary (on ProNAB 259–498 complexes for 10 folds).

    Args:
        groups: int array (n,), e.g. ``ProNABData.frame["group"]``.
        n_splits: int ≥ 2.
        seed: int, shuffles which proteins go together.

    Returns:
        list of ``(train_indices, test_indices)`` int arrays.

    Raises:
        ValueError: fewer distinct groups than ``n_splits``.
    """
    groups = np.asarray(groups)
    if len(np.unique(groups)) < n_splits:
        raise ValueError(f"{len(np.unique(groups))} proteins cannot make {n_splits} grouped folds")
    splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(groups, groups=groups)]


def subset_complexes(frame, max_complexes, seed):
    """Whole proteins, in random (seeded) order, until ``max_complexes`` complexes.

    Args:
        frame: `load_pronab` frame (a ``group`` column per protein).
        max_complexes: int or None (None: all).
        seed: int.

    Returns:
        The subset, index reset.
    """
    if not max_complexes or max_complexes >= len(frame):
        return frame.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    keep, total = [], 0
    sizes = frame.groupby("group").size()
    for group in rng.permutation(sizes.index.to_numpy()):
        if total >= max_complexes:
            break
        keep.append(group)
        total += int(sizes[group])
    return frame[frame["group"].isin(keep)].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# OmniBioTE's ΔG protocol: one row per measurement, BLOSUM62 similarity, folds with train-only
# proteins (``deepbio run binding --protocol paper``)
# ---------------------------------------------------------------------------------------------
PAPER_BASES = set("ACGTU")
BLOSUM62_THRESHOLD = 1.5
BLOSUM62_GAPS = {"open_gap_score": -10.0, "extend_gap_score": -0.5}
_SIMILARITY_VERSION = 1


def load_pronab_measurements(data_dir=None, download=None, path=None):
    """ProNAB as OmniBioTE's ΔG protocol reads it: one row per measurement, nothing merged.

    Filters, in order (each counted in ``counts``): the paper's filter,
    a protein with a residue outside the 20 standard ones
    (``dropped_nonstandard_residue``) or a strand with a base outside A, C,
    G, T, U (``dropped_nonstandard_base``); then what OmniBioTE's
    ``evals/pronab.py`` skips: a type other than DNA / RNA
    (``dropped_type``), ΔG equal to 0 (``dropped_zero_dg``); and an empty
    nucleic acid (``dropped_empty_nucleic_acid``, nothing to tokenize).
    ``counts["paper_filter"]`` gives the entries and distinct proteins left
    after the paper's filter alone (the paper reports 850 proteins and
    15,994 complexes from the ProNAB release it used; the JSON OmniBioTE
    distributes is keyed by UniProt accession and holds fewer).

    Args:
        data_dir: optional local data mirror (see `deepbio.data.fetch`).
        download: optional bool, passed to `fetch`.
        path: optional explicit JSON path (bypasses the registry).

    Returns:
        `ProNABData` whose frame has one row per kept measurement:
        ``accession``, ``protein_name``, ``protein``, ``nucleic_acid`` and
        ``complementary`` (upper case, U written T), ``type``, ``dg``
        (kcal/mol), ``kd`` (M), ``n_entries`` (1), ``group`` (int id of the
        protein sequence, in order of first appearance).

    Raises:
        FileNotFoundError: the file cannot be found (see `fetch`).
        ValueError: a record lacks ``Sequence`` or ``binding data``, or a
            binding row is not a 5-item list, or a ΔG is not a number; the
            message names the file, the accession and the row.
    """
    source = path if path is not None else fetch(PRONAB_FILE, data_dir, download)
    reasons = ("dropped_nonstandard_residue", "dropped_nonstandard_base", "dropped_type",
               "dropped_zero_dg", "dropped_empty_nucleic_acid")
    counts = {"entries": 0, **{reason: 0 for reason in reasons}}
    rows, paper_proteins, paper_entries = [], set(), 0
    for accession, record, protein, protein_ok, number, item in _binding_entries(source):
        counts["entries"] += 1
        nucleic, kind, kd, dg, complementary = item
        nucleic = str(nucleic).strip().upper()
        complementary = str(complementary or "").strip().upper()
        if not protein_ok:
            reason = "dropped_nonstandard_residue"
        elif not set(nucleic + complementary) <= PAPER_BASES:
            reason = "dropped_nonstandard_base"
        else:
            paper_entries += 1
            paper_proteins.add(protein)
            try:
                dg = float(dg)
            except (TypeError, ValueError):
                raise ValueError(f"{source}: {accession!r} binding row {number} has ΔG "
                                 f"{dg!r}, not a number") from None
            reason = ("dropped_type" if kind not in ("DNA", "RNA") else
                      "dropped_zero_dg" if dg == 0 else
                      "dropped_empty_nucleic_acid" if not nucleic else None)
        if reason:
            counts[reason] += 1
            continue
        rows.append((accession, record.get("Protein Name", ""), protein,
                     nucleic.replace("U", "T"), kind, complementary.replace("U", "T"), dg,
                     float(kd or 0.0)))
    frame = pd.DataFrame(rows, columns=["accession", "protein_name", "protein", "nucleic_acid",
                                        "type", "complementary", "dg", "kd"])
    frame["n_entries"] = 1
    frame["group"] = pd.factorize(frame["protein"])[0]
    counts["paper_filter"] = {"entries": paper_entries, "proteins": len(paper_proteins)}
    counts["kept_entries"] = counts["complexes"] = len(frame)
    counts["proteins"] = int(frame["group"].nunique())
    accession_proteins = {a: p for a, p in zip(frame["accession"], frame["protein"])}
    return ProNABData(frame, counts, accession_proteins)


def _blosum62_aligner():
    from Bio.Align import PairwiseAligner, substitution_matrices

    return PairwiseAligner(mode="global", substitution_matrix=substitution_matrices.load("BLOSUM62"),
                           **BLOSUM62_GAPS)


def blosum62_score(first, second, aligner=None):
    """OmniBioTE's length-normalised similarity of two proteins (identical sequences ≈ 5.2).

    The score of the best global (Needleman–Wunsch) alignment under BLOSUM62
    with affine gaps (open −10, extend −0.5, end gaps charged: EMBOSS
    needle's protein defaults), divided by the length of the longer
    sequence. An identical pair scores the mean BLOSUM62 diagonal entry of
    its residues (4 for A, I, L, S, V … 11 for W; about 5.2 for ProNAB's
    proteins). Symmetric.

    Args:
        first, second: str, protein sequences (upper case).
        aligner: optional `Bio.Align.PairwiseAligner` set up as above (reused
            for speed).

    Returns:
        float, score per residue of the longer sequence.

    Raises:
        ValueError: an empty sequence, or a letter BLOSUM62 does not have.
    """
    if not first or not second:
        raise ValueError("blosum62_score needs two non-empty sequences")
    aligner = aligner or _blosum62_aligner()
    try:
        score = aligner.score(first, second)
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(f"blosum62_score: a letter outside BLOSUM62's alphabet ({error})") from None
    return float(score) / max(len(first), len(second))


def _score_rows(task):
    """Worker: the normalised scores of ``(i, [j...])`` rows (``blosum62_similarity``)."""
    proteins, work = task
    aligner = _blosum62_aligner()
    return [(i, partners, [blosum62_score(proteins[i], proteins[j], aligner) for j in partners])
            for i, partners in work]


def _upper_bounds(proteins):
    """Exact upper bounds of `blosum62_score` for every pair (n, n); inf where none is known.

    Each aligned pair (x, y) scores at most min(B(x,x), B(y,y)) in BLOSUM62
    (its diagonal dominates each row and column over the 20 residues,
    checked here), so the pairs of an alignment score at most
    min(Σ B(a,a), Σ B(b,b)); a global alignment leaves at least |la − lb|
    residues against gaps, which cost at least open + (d − 1)·extend.
    """
    from Bio.Align import substitution_matrices

    matrix = substitution_matrices.load("BLOSUM62")
    residues = sorted(PROTEIN_RESIDUES)
    diagonal = {r: float(matrix[r][r]) for r in residues}
    if any(matrix[x][y] > min(diagonal[x], diagonal[y]) for x in residues for y in residues):
        return np.full((len(proteins),) * 2, np.inf)
    self_scores = np.array([sum(diagonal.get(r, np.inf) for r in p) for p in proteins])
    lengths = np.array([len(p) for p in proteins], np.float64)
    gap = np.abs(lengths[:, None] - lengths[None, :])
    gap_cost = np.where(gap > 0, BLOSUM62_GAPS["open_gap_score"]
                        + (gap - 1) * BLOSUM62_GAPS["extend_gap_score"], 0.0)
    bound = np.minimum(self_scores[:, None], self_scores[None, :]) + gap_cost
    return bound / np.maximum(lengths[:, None], lengths[None, :])


def blosum62_similarity(proteins, threshold=BLOSUM62_THRESHOLD, workers=None, cache_dir=None,
                        prune=True):
    """Which proteins have a BLOSUM62 score above ``threshold`` with any other (all pairs, exact).

    Every pair is scored with `blosum62_score`, except pairs whose exact
    upper bound (`_upper_bounds`: shared residues' diagonal sum less the
    gap cost of the length difference, per residue of the longer) is at
    most ``threshold``: they cannot exceed it, so the result equals scoring
    all pairs (tests check this on a sample). On ProNAB's proteins this
    skips the pairs of very different lengths. Pairs are spread over
    ``workers`` processes; the result is cached as ``.npz`` under
    ``cache_dir`` (default ``$KERAS_HOME/deepbio/cache``, i.e.
    ``~/.keras/deepbio/cache``), keyed by the sequences, the scoring and
    the threshold.

    Args:
        proteins: sequence of distinct str, protein sequences (20 standard
            residues).
        threshold: float, OmniBioTE's 1.5.
        workers: int, processes (default: the CPUs this process may use,
            at most 8); 1 scores in this process.
        cache_dir: optional folder for the cache (False: no cache).
        prune: bool, skip the pairs the bound rules out (False: score all).

    Returns:
        dict with ``similar`` (bool array (n,): a partner scores above
        ``threshold``), ``best_score`` (float (n,), the best partner's score
        among the pairs scored; NaN when every pair was ruled out),
        ``best_partner`` (int (n,), its index, −1 if none), ``pairs`` (int
        (m, 2) and ``scores`` (m,), every pair above ``threshold``),
        ``scored_pairs``, ``pruned_pairs`` and ``seconds``.

    Raises:
        ValueError: duplicate or empty sequences.
    """
    import time

    proteins = [str(p) for p in proteins]
    if len(set(proteins)) != len(proteins) or not all(proteins):
        raise ValueError("blosum62_similarity needs distinct, non-empty protein sequences")
    cache = _similarity_cache(proteins, threshold, prune, cache_dir)
    if cache is not None and cache.is_file():
        with np.load(cache) as stored:
            return {name: stored[name] if stored[name].ndim else stored[name].item()
                    for name in stored.files}
    start = time.perf_counter()
    n = len(proteins)
    bound = _upper_bounds(proteins) if prune else np.full((n, n), np.inf)
    work = [(i, np.flatnonzero(bound[i, i + 1:] > threshold) + i + 1) for i in range(n)]
    scored = int(sum(len(p) for _, p in work))
    result = _similar_pairs(_score_work(proteins, work, workers), n, threshold)
    result.update(scored_pairs=scored, pruned_pairs=n * (n - 1) // 2 - scored,
                  seconds=round(time.perf_counter() - start, 1))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **result)
    return result


def _similarity_cache(proteins, threshold, prune, cache_dir):
    """The ``.npz`` cache file of `blosum62_similarity` (None when ``cache_dir`` is False).

    Keyed by the scoring version, the gaps, the threshold, ``prune`` and
    the sequences; under ``cache_dir`` or ``$KERAS_HOME/deepbio/cache``
    (``~/.keras/deepbio/cache``).
    """
    import hashlib
    import os
    from pathlib import Path

    if cache_dir is False:
        return None
    key = hashlib.sha256(json.dumps([_SIMILARITY_VERSION, BLOSUM62_GAPS, float(threshold),
                                     bool(prune), proteins]).encode()).hexdigest()[:20]
    base = Path(cache_dir) if cache_dir else Path(
        os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "deepbio" / "cache"
    return base / f"blosum62_{len(proteins)}_{key}.npz"


def _score_work(proteins, work, workers):
    """Scores the ``(i, [j...])`` rows of ``work`` over ``workers`` processes (`_score_rows`).

    Rows are dealt onto ``4 × workers`` chunks of about equal cost (the
    product of the lengths), longest first; small jobs (or ``workers`` ≤ 1,
    or a process pool that cannot start) run in this process.

    Returns:
        list of the chunks' results: lists of ``(i, partners, scores)``.
    """
    import os

    cost = [int(sum(len(proteins[i]) * len(proteins[j]) for j in p)) for i, p in work]
    workers = workers or min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                             else os.cpu_count() or 1)
    chunks = [[] for _ in range(max(1, workers) * 4)]
    loads = np.zeros(len(chunks))
    for index in np.argsort(cost)[::-1]:  # longest rows first, onto the lightest chunk
        target = int(np.argmin(loads))
        chunks[target].append(work[index])
        loads[target] += cost[index]
    tasks = [(proteins, chunk) for chunk in chunks if chunk]
    if workers <= 1 or sum(cost) < 5e7:  # small jobs: not worth starting processes
        return [_score_rows(task) for task in tasks]
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # fork is safe before TensorFlow starts its threads; after, spawn (which re-imports the
    # caller's __main__: a script without the `if __name__ == "__main__"` guard breaks it,
    # and then the pairs are scored here instead)
    method = "spawn" if "tensorflow" in sys.modules else "fork"
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
            return list(pool.map(_score_rows, tasks))
    except (BrokenProcessPool, RuntimeError):
        return [_score_rows(task) for task in tasks]


def _similar_pairs(results, n, threshold):
    """Each protein's best partner and the pairs above ``threshold``, from `_score_work`'s results.

    Returns:
        dict with ``similar``, ``best_score``, ``best_partner``, ``pairs``
        (sorted) and ``scores`` (see `blosum62_similarity`).
    """
    best = np.full(n, -np.inf)
    partner = np.full(n, -1)
    pairs, scores = [], []
    for rows in results:
        for i, partners, values in rows:
            for j, value in zip(partners, values):
                for a, b in ((i, j), (j, i)):
                    if value > best[a]:
                        best[a], partner[a] = value, b
                if value > threshold:
                    pairs.append((min(i, j), max(i, j)))
                    scores.append(value)
    order = np.lexsort(np.array(pairs).T[::-1]) if pairs else np.zeros(0, int)
    return {"similar": best > threshold, "best_score": np.where(np.isfinite(best), best, np.nan),
            "best_partner": partner,
            "pairs": np.asarray(pairs, np.int64).reshape(-1, 2)[order],
            "scores": np.asarray(scores, np.float64)[order]}


def paper_folds(frame, n_splits=10, seed=0, train_only=None):
    """OmniBioTE's ΔG folds: proteins in turn over the folds, similar proteins train-only.

    The proteins not in ``train_only`` are shuffled (seeded) and dealt to
    the folds in turn (protein ``k`` of the shuffled order to fold
    ``k mod n_splits``, as upstream's ``i % num_splits == fold``), so no
    protein sequence is in two folds; every row of a ``train_only`` protein
    is in the training side of every fold and never tested.

    Args:
        frame: DataFrame with ``group`` (int protein id) per row, e.g.
            `load_pronab_measurements`'s.
        n_splits: int ≥ 2.
        seed: int.
        train_only: optional bool array indexed by ``group`` id, or a set of
            group ids, the proteins kept out of every test fold.

    Returns:
        ``(folds, fold_of)``: ``folds`` a list of ``(train_indices,
        test_indices)`` int arrays, ``fold_of`` int (n,) each row's test fold
        (1-based; 0 for train-only rows).

    Raises:
        ValueError: fewer cross-validated proteins than ``n_splits``.
    """
    groups = frame["group"].to_numpy()
    unique = np.unique(groups)
    if train_only is None:
        excluded = set()
    elif isinstance(train_only, (set, frozenset)):
        excluded = set(int(g) for g in train_only)
    else:
        mask = np.asarray(train_only, bool)
        excluded = set(int(g) for g in unique if mask[g])
    cross = np.array([g for g in unique if int(g) not in excluded])
    if len(cross) < n_splits:
        raise ValueError(f"{len(cross)} cross-validated proteins cannot make {n_splits} folds")
    order = np.random.default_rng(seed).permutation(cross)
    fold_of_group = {int(g): 1 + k % n_splits for k, g in enumerate(order)}
    fold_of = np.array([fold_of_group.get(int(g), 0) for g in groups], np.int32)
    folds = [(np.flatnonzero(fold_of != number), np.flatnonzero(fold_of == number))
             for number in range(1, n_splits + 1)]
    return folds, fold_of
