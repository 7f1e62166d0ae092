"""JASPAR annotation of k-mers by a Tomtom-style motif comparison (offline).

JASPAR matrices come from pyjaspar's bundled SQLite database (no network):
by default the JASPAR2026 CORE collection, vertebrate taxon.

The comparison follows Tomtom (Gupta, Stamatoyannopoulos, Bailey & Noble
2007, "Quantifying similarity between motifs", Genome Biol. 8:R24) with its
default column score, the Pearson correlation coefficient (PCC):

* a query (a k-mer, taken as a one-hot PFM, or any (k, 4) PFM) is aligned
  to every target at every offset with at least ``min_overlap`` overlapping
  columns, on both strands of the target; the alignment score is the sum of
  the column PCCs over the overlap;
* the null distribution of one query column's score is its PCC with every
  column of the database; the null of an alignment score is the convolution
  of its columns' nulls (scores binned at ``1 / bins_per_unit``), which gives
  the alignment's p-value;
* a target's p-value is its best alignment's p-value corrected for the
  number of alignments tried, ``1 − (1 − p)^n_alignments``; the E-value is
  that times the number of targets.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd

__all__ = ["JasparMotif", "load_jaspar", "compare_motifs", "annotate_kmers", "kmer_pfm"]


@dataclasses.dataclass(frozen=True)
class JasparMotif:
    """One JASPAR matrix.

    Attributes:
        matrix_id: str, e.g. ``"MA0139.2"``.
        name: str, the transcription factor, e.g. ``"CTCF"``.
        pfm: float64 (m, 4), position frequency matrix, columns A, C, G, T,
            each row summing to 1.
    """

    matrix_id: str
    name: str
    pfm: np.ndarray


@functools.lru_cache(maxsize=4)
def _load(release, collection, tax_group):
    from pyjaspar import jaspardb

    db = jaspardb(release=release)
    motifs = db.fetch_motifs(collection=collection, tax_group=[tax_group] if tax_group else None)
    out = []
    for motif in motifs:
        counts = np.array([motif.counts[b] for b in "ACGT"], np.float64).T
        out.append(JasparMotif(motif.matrix_id, motif.name,
                               counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-12)))
    return tuple(out)


def load_jaspar(release="JASPAR2026", collection="CORE", tax_group="vertebrates"):
    """The JASPAR matrices of one release, collection and taxon (offline, cached).

    Args:
        release: str, a release bundled with pyjaspar (``"JASPAR2026"``, ...).
        collection: str, e.g. ``"CORE"``.
        tax_group: str or None, e.g. ``"vertebrates"``; None for all.

    Returns:
        tuple of `JasparMotif`.

    Raises:
        ValueError: the release is not bundled with the installed pyjaspar, or
            the selection is empty.
    """
    from pyjaspar import jaspardb

    releases = jaspardb().get_releases()
    if release not in releases:
        raise ValueError(f"JASPAR release {release!r} is not in pyjaspar's bundled releases {releases}")
    motifs = _load(release, collection, tax_group)
    if not motifs:
        raise ValueError(f"no JASPAR {release} matrices for collection={collection!r}, "
                         f"tax_group={tax_group!r}")
    return motifs


def kmer_pfm(kmer):
    """float64 (k, 4) one-hot PFM of a k-mer of A/C/G/T (ValueError otherwise)."""
    kmer = kmer.upper()
    bad = set(kmer) - set("ACGT")
    if bad or not kmer:
        raise ValueError(f"k-mer {kmer!r} must be a non-empty string of A, C, G, T")
    return np.eye(4)[["ACGT".index(b) for b in kmer]]


def _pcc(query, columns):
    """PCC of each query column (q, 4) with each column (n, 4): (q, n); 0 for constant columns."""
    qc = query - query.mean(axis=1, keepdims=True)
    cc = columns - columns.mean(axis=1, keepdims=True)
    qn, cn = np.linalg.norm(qc, axis=1), np.linalg.norm(cc, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (qc @ cc.T) / np.outer(qn, cn)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


class _Comparer:
    def __init__(self, targets, bins_per_unit=100, min_overlap=5):
        self.targets = targets
        self.bins = bins_per_unit
        self.min_overlap = min_overlap
        self.columns = np.concatenate([t.pfm for t in targets])
        self.bounds = np.cumsum([0] + [len(t.pfm) for t in targets])
        rc = [t.pfm[::-1, ::-1] for t in targets]  # reverse complement (A<->T, C<->G)
        self.rc_columns = np.concatenate(rc)

    def _null(self, query_pcc_all):
        """Per query column, the pmf of its binned score against all database columns."""
        scaled = np.rint(query_pcc_all * self.bins).astype(np.int64) + self.bins  # 0..2*bins
        return [np.bincount(row, minlength=2 * self.bins + 1) / row.size for row in scaled]

    def compare(self, query):
        query = np.asarray(query, np.float64)
        k = len(query)
        fwd = _pcc(query, self.columns)
        rev = _pcc(query, self.rc_columns)
        nulls = self._null(np.concatenate([fwd, rev], axis=1))
        pvalue_cache = {}

        def pvalue(i, w, score):
            key = (i, w)
            if key not in pvalue_cache:
                pmf = nulls[i]
                for j in range(i + 1, i + w):
                    pmf = np.convolve(pmf, nulls[j])
                pvalue_cache[key] = np.cumsum(pmf[::-1])[::-1]  # P(S >= s), index s + w*bins
            survival = pvalue_cache[key]
            index = int(np.rint(score * self.bins)) + w * self.bins
            return float(survival[min(max(index, 0), len(survival) - 1)])

        rows = []
        for t, target in enumerate(self.targets):
            lo, hi = self.bounds[t], self.bounds[t + 1]
            m = hi - lo
            overlap_min = min(self.min_overlap, k, m)
            best = None
            n_alignments = 0
            for strand, matrix in (("+", fwd[:, lo:hi]), ("-", rev[:, lo:hi])):
                for offset in range(-(k - 1), m):  # query column i sits on target column i + offset
                    i0, i1 = max(0, -offset), min(k, m - offset)
                    width = i1 - i0
                    if width < overlap_min:
                        continue
                    n_alignments += 1
                    score = float(np.trace(matrix, offset=offset))
                    if best is None or score > best[0]:
                        best = (score, strand, offset, i0, width)
            score, strand, offset, i0, width = best
            p = pvalue(i0, width, score)
            corrected = -np.expm1(n_alignments * np.log1p(-min(p, 1 - 1e-16)))
            rows.append((target.matrix_id, target.name, score, width, offset, strand, corrected))
        frame = pd.DataFrame(rows, columns=["matrix_id", "name", "score", "overlap", "offset",
                                            "strand", "p_value"])
        frame["e_value"] = frame["p_value"] * len(self.targets)
        return frame.sort_values(["p_value", "score"], ascending=[True, False], kind="stable") \
            .reset_index(drop=True)


def compare_motifs(query, targets=None, min_overlap=5, bins_per_unit=100):
    """Tomtom-style comparison of one query PFM with every target.

    Args:
        query: str k-mer, or float (k, 4) PFM (columns A, C, G, T).
        targets: sequence of `JasparMotif`; default `load_jaspar()`.
        min_overlap: int. Minimum aligned columns (Tomtom's default 5;
            lowered to the shorter motif's length when needed).
        bins_per_unit: int. Score resolution of the null distribution.

    Returns:
        DataFrame, one row per target, best first: ``matrix_id, name, score``
        (sum of column PCCs of the best alignment), ``overlap`` (columns),
        ``offset`` (target column under query column 0), ``strand`` (``-``:
        the target's reverse complement), ``p_value``, ``e_value``.
    """
    targets = load_jaspar() if targets is None else tuple(targets)
    query = kmer_pfm(query) if isinstance(query, str) else np.asarray(query, np.float64)
    if query.ndim != 2 or query.shape[1] != 4:
        raise ValueError(f"query must be a k-mer or a (k, 4) PFM, got shape {query.shape}")
    return _Comparer(targets, bins_per_unit, min_overlap).compare(query)


def annotate_kmers(kmers, targets=None, min_overlap=5):
    """Best-matching JASPAR matrix of each k-mer.

    Args:
        kmers: iterable of str (A/C/G/T).
        targets: sequence of `JasparMotif`; default JASPAR2026 CORE
            vertebrates.
        min_overlap: int, see `compare_motifs`.

    Returns:
        DataFrame with ``motif, jaspar_id, jaspar_name, jaspar_score,
        jaspar_overlap, jaspar_strand, jaspar_p_value, jaspar_e_value``, one
        row per k-mer in the order given.
    """
    targets = load_jaspar() if targets is None else tuple(targets)
    comparer = _Comparer(targets, 100, min_overlap)
    rows = []
    for kmer in kmers:
        best = comparer.compare(kmer_pfm(kmer)).iloc[0]
        rows.append({"motif": kmer, "jaspar_id": best["matrix_id"], "jaspar_name": best["name"],
                     "jaspar_score": round(float(best["score"]), 4),
                     "jaspar_overlap": int(best["overlap"]), "jaspar_strand": best["strand"],
                     "jaspar_p_value": float(best["p_value"]),
                     "jaspar_e_value": float(best["e_value"])})
    return pd.DataFrame(rows, columns=["motif", "jaspar_id", "jaspar_name", "jaspar_score",
                                       "jaspar_overlap", "jaspar_strand", "jaspar_p_value",
                                       "jaspar_e_value"])
