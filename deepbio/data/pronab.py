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
    with open(source) as handle:
        raw = json.load(handle)
    counts = {"entries": 0, "dropped_type": 0, "dropped_zero_kd_or_dg": 0,
              "dropped_empty_nucleic_acid": 0, "dropped_nonstandard_residue": 0,
              "dropped_nonstandard_base": 0}
    rows = []
    for accession, record in raw.items():
        if "Sequence" not in record or "binding data" not in record:
            raise ValueError(f"{source}: record {accession!r} lacks 'Sequence' or 'binding data'")
        protein = str(record["Sequence"]).strip().upper()
        protein_ok = bool(protein) and set(protein) <= PROTEIN_RESIDUES
        for number, item in enumerate(record["binding data"], 1):
            if not isinstance(item, (list, tuple)) or len(item) != 5:
                raise ValueError(f"{source}: {accession!r} binding row {number} is not "
                                 f"[na_seq, type, Kd, dG, complementary]: {item!r}")
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
