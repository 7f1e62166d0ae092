"""Motif autonomy and context synergy (DeepASMM): per-motif scores and the entry point.

Holds :func:`score_motifs` (locate, perturb, aggregate), :func:`aggregate_scores`,
:func:`combine_scores`, :class:`MotifScores` and :data:`SCORE_COLUMNS`, and
describes the whole method. Reimplements the scoring of DeepASMM (Li et al.,
"DeepASMM: Decoding Cis-Regulatory Mechanisms via Quantification of Motif
Autonomy and Contextual Synergy", https://github.com/Jie-Lii/DeepASMM,
commit 0f35ebb). The code is split as fastISM separates ``ism_base.py`` from
``fast_ism.py``: k-mers (:mod:`~deepbio.motif.kmers`), what the
engines share (:mod:`~deepbio.motif.common`), the two engines
(:mod:`~deepbio.motif.naive`, :mod:`~deepbio.motif.fast`
with :mod:`~deepbio.motif.stem`) and this aggregation. The method:

* every k-mer (without ``N``) with at least ``min_count`` occurrences in the
  sequences is located (:func:`~deepbio.motif.kmers.locate_kmers`);
* **sequence-context synergy** (SCS) of one occurrence: zero the k one-hot
  rows of the occurrence in its native sequence (all-zero rows, the encoding
  of ``N``) and compare the prediction with the native one;
* **autonomous functionality** (AF) of one occurrence: put the k-mer at the
  same position of an all-zero sequence and compare with the prediction of
  the all-zero sequence;
* the score of one perturbation is ``Σ_outputs |(y_ref − y_pert) / (y_ref +
  1e-8)|`` on the model with its last activation made linear (upstream's
  ``tf_model_loder`` sets ``model.layers[-1].activation = linear``);
* per motif, the mean over the top-r fraction of its occurrences (or all of
  them), and the combined scores ``minmax(count) × minmax(score)``
  (:func:`aggregate_scores`, :func:`combine_scores`).

Two engines compute the per-occurrence scores and agree to float round-off:

* :class:`~deepbio.motif.naive.NaiveMotifScorer`, the reference:
  follows upstream literally, one full perturbed sequence per row through
  ``model.predict``, no reuse;
* :class:`~deepbio.motif.fast.MotifScorer`, the fast engine:
  XLA-compiled batches; as fastISM (Nair et al. 2022, "fastISM: performant
  in silico saturation mutagenesis for convolutional neural networks",
  Bioinformatics 38:2397) exploits, the
  convolutional stem of the model is recomputed only on the window of each
  layer that a perturbation changes (a convolution by adding the
  convolution of its input's change to its cached output), spliced into the
  cached activations of the unperturbed sequence; AF perturbations
  deduplicated by (k-mer, position), and their stem computed once per
  (k-mer, phase against the strides) wherever it reads only the constant
  all-zero background (translation equivariance); memory bounded by
  processing sequences and k-mers in blocks.

Deviations from upstream, on purpose (each one is a bug there):

* upstream's SCS compares each perturbation with the *perturbed* prediction
  of the row whose index is the sequence index
  (``ori_result[motif_pos[0]]`` with ``ori_result`` the perturbed batch);
  here ``y_ref`` is the native prediction of the occurrence's sequence;
* upstream's SCS "top r" takes the first occurrences in scanning order
  without sorting them (its AF sorts); here both take the highest scores.

Kept from upstream: the 1e-8 in the denominator, and the top-r divisor: with
``n = floor(count × r)`` if that is ≥ ``min_top_r_num`` else
``min_top_r_num``, the motif score is the sum of its ``n`` highest scores
divided by ``n`` even when the motif has fewer than ``n`` occurrences (the
missing ones count as 0).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

import Feature_extraction_algorithms as fea
from deepbio.motif.common import PerturbationScores, _input_adapter
from deepbio.motif.fast import MotifScorer
from deepbio.motif.kmers import KmerOccurrences, locate_kmers
from deepbio.motif.naive import NaiveMotifScorer

__all__ = ["aggregate_scores", "combine_scores", "ensemble_table", "MotifScores", "score_motifs",
           "score_motifs_ensemble", "SCORE_COLUMNS", "SD_COLUMNS"]

SCORE_COLUMNS = ("motif", "count", "af_score", "scs_score", "autonomous_functionality_score",
                 "sequence_context_synergy_score")

#: Standard deviations across ensemble members, written after `SCORE_COLUMNS`.
SD_COLUMNS = tuple(f"{c}_sd" for c in SCORE_COLUMNS[2:])


def aggregate_scores(scores, motif_index, counts, top_r=None, min_top_r_num=30):
    """Per-motif score: mean of the top-r fraction of its occurrence scores.

    Upstream's rule: with ``top_r`` None ("all") the mean over all
    occurrences; otherwise ``n = floor(count × top_r)`` if ``count × top_r >=
    min_top_r_num``, else ``n = min_top_r_num``, and the score is the sum of
    the ``n`` highest occurrence scores divided by ``n`` (also when the motif
    has fewer than ``n`` occurrences, as upstream).

    Args:
        scores: float (n_occ,), per-occurrence scores.
        motif_index: int (n_occ,), motif of each occurrence.
        counts: int (m,), occurrences per motif (``bincount(motif_index)``).
        top_r: float in (0, 1] or None.
        min_top_r_num: int >= 1, the floor of n.

    Returns:
        float64 (m,).

    Raises:
        ValueError: ``top_r`` outside (0, 1] or ``min_top_r_num`` < 1.
    """
    scores, motif_index = np.asarray(scores, np.float64), np.asarray(motif_index)
    counts = np.asarray(counts, np.int64)
    m = len(counts)
    if top_r is None:
        return np.bincount(motif_index, scores, minlength=m) / np.maximum(counts, 1)
    if not 0.0 < float(top_r) <= 1.0:
        raise ValueError(f"top_r must be in (0, 1] or 'all', got {top_r}")
    if min_top_r_num < 1:
        raise ValueError(f"min_top_r_num must be >= 1, got {min_top_r_num}")
    wanted = counts * float(top_r)
    take = np.where(wanted >= min_top_r_num, np.floor(wanted), min_top_r_num).astype(np.int64)
    order = np.lexsort((-scores, motif_index))
    sorted_motif = motif_index[order]
    group_start = np.searchsorted(sorted_motif, sorted_motif, side="left")
    rank = np.arange(len(order)) - group_start
    chosen = rank < take[sorted_motif]
    total = np.bincount(sorted_motif[chosen], scores[order][chosen], minlength=m)
    return total / np.maximum(take, 1)


def _minmax(values):
    values = np.asarray(values, np.float64)
    span = values.max() - values.min() if len(values) else 0.0
    return np.zeros_like(values) if span == 0 else (values - values.min()) / span


def combine_scores(counts, af_score, scs_score):
    """Upstream's combined scores: minmax(count) × minmax(score).

    Args:
        counts, af_score, scs_score: float (m,).

    Returns:
        ``(autonomous_functionality_score, sequence_context_synergy_score)``,
        float64 (m,) each, in [0, 1] (all 0 when a column is constant).
    """
    count_norm = _minmax(counts)
    return count_norm * _minmax(af_score), count_norm * _minmax(scs_score)


@dataclasses.dataclass
class MotifScores:
    """Result of :func:`score_motifs`.

    Attributes:
        table: DataFrame with `SCORE_COLUMNS`, one row per motif, in order of
            first appearance.
        occurrences: `KmerOccurrences`.
        perturbations: `PerturbationScores` (per occurrence).
        seconds: dict, ``locate``, ``scs``, ``af``, ``aggregate`` seconds.
        members: for :func:`score_motifs_ensemble`, the table of each member
            (`SCORE_COLUMNS`); None for one model.
    """

    table: pd.DataFrame
    occurrences: KmerOccurrences
    perturbations: PerturbationScores
    seconds: dict
    members: list | None = None


def score_motifs(model, sequences, motif_length=8, min_motif_count=10, top_r=0.1,
                 min_top_r_num=30, output_index=None, engine="fast", batch_size=2048,
                 ids=None, verbose=0):
    """DeepASMM motif scores of ``sequences`` under ``model``.

    Args:
        model: `keras.Model` on one-hot DNA: input ``(L, 4)`` channels last
            (``A, C, G, T``), or ``(4, L)``, ``(L, 4, 1)``, ``(1, L, 4)``, or any
            shape of ``4 L`` values (filled from the (L, 4) array in row-major
            order). Any number of outputs; its output layers' activations
            are made linear for scoring.
        sequences: n str of equal length L (A/C/G/T/N).
        motif_length: int, k (4..12 in DeepASMM).
        min_motif_count: int. Minimum occurrences of a k-mer.
        top_r: float in (0, 1], or None / ``"all"``.
        min_top_r_num: int. Floor of the number of occurrences averaged.
        output_index: int, list of int or None (all outputs summed).
        engine: ``"fast"`` (`MotifScorer`) or ``"naive"`` (`NaiveMotifScorer`).
        batch_size: int. Perturbations per batch.
        ids: optional n record names for error messages.
        verbose: int. 1 shows progress bars.

    Returns:
        `MotifScores`.

    Raises:
        ValueError: bad sequences (naming the record), bad parameters, or a
            model input that does not fit.
    """
    if isinstance(top_r, str):
        top_r = None if top_r.lower() == "all" else float(top_r)
    if engine not in ("fast", "naive"):
        raise ValueError(f"engine must be 'fast' or 'naive', got {engine!r}")
    seconds = {}
    start = time.perf_counter()
    occurrences = locate_kmers(sequences, motif_length, min_motif_count, ids=ids)
    x = fea.one_hot(list(sequences), alphabet="dna", ids=ids)
    _input_adapter(model, x.shape[1])
    seconds["locate"] = time.perf_counter() - start
    scorer = (MotifScorer(model, output_index, batch_size=batch_size) if engine == "fast" else
              NaiveMotifScorer(model, output_index))
    perturbations = scorer.score(x, occurrences, verbose=verbose)
    seconds.update(perturbations.seconds)
    start = time.perf_counter()
    af = aggregate_scores(perturbations.af, occurrences.motif_index, occurrences.counts, top_r,
                          min_top_r_num)
    scs = aggregate_scores(perturbations.scs, occurrences.motif_index, occurrences.counts, top_r,
                           min_top_r_num)
    af_combined, scs_combined = combine_scores(occurrences.counts, af, scs)
    table = pd.DataFrame({"motif": occurrences.kmers, "count": occurrences.counts,
                          "af_score": af, "scs_score": scs,
                          "autonomous_functionality_score": af_combined,
                          "sequence_context_synergy_score": scs_combined})
    seconds["aggregate"] = time.perf_counter() - start
    return MotifScores(table, occurrences, perturbations, seconds)


def ensemble_table(tables):
    """Mean and sample standard deviation of the members' motif scores.

    Args:
        tables: list of DataFrames with `SCORE_COLUMNS`, one per ensemble
            member, over the same motifs in the same order.

    Returns:
        DataFrame with `SCORE_COLUMNS` (the four scores: the members' mean)
        followed by `SD_COLUMNS` (sample standard deviation, ``ddof=1``; 0
        with one member).

    Raises:
        ValueError: no tables, or tables over different motifs or counts.
    """
    if not tables:
        raise ValueError("ensemble_table needs at least one member table")
    first = tables[0]
    for i, other in enumerate(tables[1:], start=1):
        if (len(other) != len(first) or not np.array_equal(other["motif"], first["motif"])
                or not np.array_equal(other["count"], first["count"])):
            raise ValueError(f"member {i} scores other motifs than member 0 "
                             f"({len(other)} vs {len(first)} rows)")
    table = first[["motif", "count"]].copy()
    for column in SCORE_COLUMNS[2:]:
        values = np.stack([t[column].to_numpy(np.float64) for t in tables])
        table[column] = values.mean(axis=0)
    for column in SCORE_COLUMNS[2:]:
        values = np.stack([t[column].to_numpy(np.float64) for t in tables])
        table[f"{column}_sd"] = values.std(axis=0, ddof=1) if len(tables) > 1 else 0.0
    return table


def score_motifs_ensemble(models, sequences, verbose=0, **kwargs):
    """DeepASMM motif scores under every model of an ensemble, and their mean and sd.

    Each member is scored by :func:`score_motifs` (its own top-r aggregation
    and min-max combination); the table holds, per motif, the mean of the
    members' four scores (rank by these) and their sample standard
    deviations (`ensemble_table`).

    Args:
        models: list of `keras.Model` (at least one), each as
            :func:`score_motifs` takes it, all on the same input length.
        sequences: n str of equal length L.
        verbose: int, 1 shows progress bars.
        **kwargs: the other arguments of :func:`score_motifs`.

    Returns:
        `MotifScores`: ``table`` (`SCORE_COLUMNS` + `SD_COLUMNS`),
        ``occurrences``, the first member's ``perturbations``, ``seconds``
        summed over the members, ``members`` (each member's table).

    Raises:
        ValueError: no models, or as :func:`score_motifs`.
    """
    models = list(models)
    if not models:
        raise ValueError("score_motifs_ensemble needs at least one model")
    results = []
    for i, model in enumerate(models):
        if verbose:
            print(f"scoring with ensemble member {i + 1}/{len(models)}", flush=True)
        results.append(score_motifs(model, sequences, verbose=verbose, **kwargs))
    seconds = {}
    for result in results:
        for key, value in result.seconds.items():
            seconds[key] = seconds.get(key, 0.0) + value
    start = time.perf_counter()
    members = [r.table for r in results]
    table = ensemble_table(members)
    seconds["aggregate"] += time.perf_counter() - start
    return MotifScores(table, results[0].occurrences, results[0].perturbations, seconds, members)
