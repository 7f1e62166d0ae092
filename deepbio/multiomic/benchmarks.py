"""Readers of the single-omic fine-tuning benchmarks OmniBioTE reports: GUE (nucleic acids) and TAPE (proteins).

* GUE (Zhou et al. 2023, DNABERT-2, arXiv:2306.15006): one folder per task
  with ``train.csv``, ``dev.csv``, ``test.csv``, each a header line
  ``sequence,label`` then one ``ACGT…,<int class>`` per line (the layout
  OmniBioTE's ``evals/gue.py`` reads). Metric: Matthews correlation.
* TAPE (Rao et al. 2019, arXiv:1906.08230, github.com/songlab-cal/tape):
  the raw-data JSON files (``data_raw/<task>.tar.gz``), each a JSON list
  of records with the sequence under ``primary`` and the target under a
  task key: ``log_fluorescence`` and ``stability_score`` (a one-item
  list, regression, Spearman ρ), ``fold_label`` (int, remote homology,
  accuracy), ``ss3`` / ``ss8`` (one int per residue, secondary structure).

A split is a local path or a URL; URLs are fetched with
`keras.utils.get_file` into the Keras cache (``~/.keras/deepbio``). A URL
fragment may name the archive member and the sha256 to check:
``https://…/fluorescence.tar.gz#member=fluorescence/fluorescence_train.json&sha256=…``.
Downloads are off when ``DEEPBIO_OFFLINE`` is set. NumPy / pandas only
(Keras is imported to download).
"""

import csv
import io
import json
import os
import tarfile
import urllib.parse
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from deepbio.data.fasta import read_text

TAPE_TARGETS = {"log_fluorescence": "regression", "stability_score": "regression",
                "fold_label": "classification", "ss3": "token_classification",
                "ss8": "token_classification"}
TAPE_URLS = {task: f"http://s3.amazonaws.com/proteindata/data_raw/{task}.tar.gz"
             for task in ("fluorescence", "stability", "remote_homology", "secondary_structure")}


def resolve(source, cache_subdir="deepbio"):
    """The local path of a split given as a path or a URL (downloaded once, then cached).

    Args:
        source: str or path-like; ``http(s)://`` / ``ftp://`` URLs are
            fetched (fragment keys ``member`` = file inside a ``.tar.gz`` /
            ``.zip``, ``sha256`` = the expected hash of the download).
        cache_subdir: str, folder under the Keras cache.

    Returns:
        `pathlib.Path` of a local file.

    Raises:
        FileNotFoundError: no such local file; a download that is off
            (``DEEPBIO_OFFLINE``) or failed; an archive without ``member``.
        ValueError: a folder given as a file, or an archive URL without
            ``member``.
    """
    text = str(source)
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme not in ("http", "https", "ftp"):
        path = Path(text)
        if path.is_dir():
            raise ValueError(f"{path} is a folder; give the split's file (e.g. {path}/train.csv)")
        if not path.is_file():
            raise FileNotFoundError(f"benchmark file {path} not found")
        return path
    fragment = dict(urllib.parse.parse_qsl(parsed.fragment))
    url = urllib.parse.urlunsplit(parsed._replace(fragment=""))
    name = Path(parsed.path).name or "download"
    if os.environ.get("DEEPBIO_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise FileNotFoundError(f"{url}: downloads are off (DEEPBIO_OFFLINE); download it and "
                                "give the local path")
    import keras

    try:
        path = Path(keras.utils.get_file(fname=name, origin=url, file_hash=fragment.get("sha256"),
                                         hash_algorithm="sha256", cache_subdir=cache_subdir))
    except Exception as error:  # get_file raises bare Exceptions on URL errors
        raise FileNotFoundError(f"download of {url} failed ({error})") from None
    archive = name.endswith((".tar.gz", ".tgz", ".tar", ".zip"))
    if not archive:
        return path
    member = fragment.get("member")
    if not member:
        raise ValueError(f"{url} is an archive; name the file inside it with "
                         f"'#member=PATH' (e.g. {name.split('.')[0]}/{name.split('.')[0]}_train.json)")
    target = path.parent / (name.split(".")[0] + "_files") / member
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as handle:
                names = handle.namelist()
                found = next((n for n in names if n == member or n.endswith("/" + member)), None)
                data = handle.read(found) if found else None
        else:
            with tarfile.open(path) as handle:
                names = handle.getnames()
                found = next((n for n in names if n == member or n.endswith("/" + member)), None)
                data = handle.extractfile(found).read() if found else None
        if data is None:
            raise FileNotFoundError(f"{url} has no member {member!r} (it holds "
                                    f"{', '.join(names[:6])}…)")
        target.write_bytes(data)
    return target


def _read_text(path, what):
    """The whole text of ``path`` (plain or gzip), bounded (see `deepbio.data.fasta.read_text`)."""
    return read_text(path, what)


def read_gue_csv(source):
    """One GUE split: ``sequence,label`` lines under a header.

    Args:
        source: path or URL of ``train.csv`` / ``dev.csv`` / ``test.csv``.

    Returns:
        DataFrame with ``sequence`` (str, upper case) and ``label`` (int).

    Raises:
        FileNotFoundError: see `resolve`.
        ValueError: no header ``sequence,label``, no rows, an empty
            sequence, or a label that is not an integer; the message names
            the file and the line.
    """
    path = resolve(source)
    text = _read_text(path, "GUE CSV file")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["sequence", "label"]:
        found = ",".join(rows[0]) if rows else "an empty file"
        raise ValueError(f"{path}: expected the header 'sequence,label' (GUE layout), found "
                         f"{found!r}")
    sequences, labels = [], []
    for line, row in enumerate(rows[1:], 2):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2 or not row[0].strip():
            raise ValueError(f"{path} line {line}: expected 'sequence,label', got {','.join(row)!r}")
        try:
            label = int(row[1].strip())
        except ValueError:
            raise ValueError(f"{path} line {line}: label {row[1]!r} is not an integer class") \
                from None
        sequences.append(row[0].strip().upper())
        labels.append(label)
    if not sequences:
        raise ValueError(f"{path}: no rows after the header")
    return pd.DataFrame({"sequence": sequences, "label": labels})


def read_tape_json(source, target=None):
    """One TAPE split in the raw-data JSON form: a list of records with ``primary`` and a target.

    Args:
        source: path or URL of e.g. ``fluorescence_train.json``.
        target: optional key (default: the first of `TAPE_TARGETS` the
            first record has).

    Returns:
        ``(frame, target, kind)``: DataFrame with ``sequence`` and ``label``
        (float for regression, int for classification, an int array per
        residue for token classification), the target key and its kind
        (``regression``, ``classification`` or ``token_classification``).

    Raises:
        FileNotFoundError: see `resolve`.
        ValueError: not JSON, not a list of records, a record without
            ``primary`` or the target, a target that is not a number (or
            per-residue list of the sequence's length); the message names
            the file and the record.
    """
    path = resolve(source)
    try:
        records = json.loads(_read_text(path, "TAPE JSON file"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error})") from None
    if not isinstance(records, list) or not records or not all(isinstance(r, dict)
                                                               for r in records):
        raise ValueError(f"{path}: expected a JSON list of records (TAPE's raw-data layout)")
    if target is None:
        target = next((key for key in TAPE_TARGETS if key in records[0]), None)
        if target is None:
            raise ValueError(f"{path}: record 0 has none of the TAPE targets "
                             f"{sorted(TAPE_TARGETS)} (keys: {sorted(records[0])[:8]})")
    kind = TAPE_TARGETS.get(target, "regression")
    sequences, labels = [], []
    for number, record in enumerate(records):
        name = f"{path} record {number} (id {record.get('id', number)!r})"
        if not isinstance(record.get("primary"), str) or not record["primary"].strip():
            raise ValueError(f"{name}: no 'primary' sequence")
        if target not in record:
            raise ValueError(f"{name}: no {target!r}")
        sequence, value = record["primary"].strip().upper(), record[target]
        try:
            if kind == "token_classification":
                value = np.asarray(value, np.int64)
                if value.shape != (len(sequence),):
                    raise ValueError
            else:
                value = np.asarray(value, np.float64).reshape(-1)
                if value.size != 1 or not np.isfinite(value[0]):
                    raise ValueError
                value = int(value[0]) if kind == "classification" else float(value[0])
        except (TypeError, ValueError):
            shape = "one int per residue" if kind == "token_classification" else "one number"
            raise ValueError(f"{name}: {target} {record[target]!r} is not {shape}") from None
        sequences.append(sequence)
        labels.append(value)
    return pd.DataFrame({"sequence": sequences, "label": labels}), target, kind


def read_split(source, target=None):
    """A GUE CSV or TAPE JSON split, by its suffix.

    Returns:
        ``(frame, kind)``: ``sequence`` / ``label`` frame and
        ``classification`` (GUE, TAPE ``fold_label``), ``regression`` or
        ``token_classification``.

    Raises:
        FileNotFoundError, ValueError: see `read_gue_csv`, `read_tape_json`;
        ValueError for another suffix.
    """
    text = str(source)
    member = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(text).fragment)).get("member", "")
    name = (member or urllib.parse.urlsplit(text).path or text).lower()
    if name.endswith(".csv"):
        return read_gue_csv(source), "classification"
    if name.endswith(".json"):
        frame, _, kind = read_tape_json(source, target)
        return frame, kind
    raise ValueError(f"{source}: expected a GUE .csv or a TAPE .json split")
