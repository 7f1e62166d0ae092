"""RNA modification sites of the VQ-RNA benchmark: loading, validation, one-hot."""

import collections

import numpy as np

from Feature_extraction_algorithms.one_hot import one_hot
from deepbio.data.fasta import read_fasta
from deepbio.data.registry import fetch

# File index i of ``{split}/{i}-{0,1}.fasta`` → modification name, as in VQ-RNA
# (pseudouridine Ψ is spelled "Psi": the names become file and layer names).
RNAMOD_NAMES = {1: "Am", 2: "Cm", 3: "Gm", 4: "Um", 5: "m1A", 6: "m5C", 7: "m5U", 8: "m6A",
                9: "m6Am", 10: "Psi"}
RNAMOD_INDEX = {name: index for index, name in RNAMOD_NAMES.items()}
RNA_BASES = "ACGU"
WINDOW_LENGTH = 1001

RNAModDataset = collections.namedtuple("RNAModDataset", ["sequences", "ids", "labels"])
RNAModDataset.__doc__ = """Windows of one modification and split.

Attributes:
    sequences: list of n str, RNA windows (``U``, upper case) centre-cropped
        to the requested length; the site is at index ``length // 2``.
    ids: list of n str, FASTA record names.
    labels: int32 array (n,), 1 for modified sites (``-1`` files), 0 for
        negatives (``-0`` files); negatives come first.
"""


def modification_index(modification):
    """The VQ-RNA file index (1..10) of a modification name or index.

    Args:
        modification: str (``"Am"``, ``"m6A"``, ``"Psi"``/``"Ψ"``...) or int 1..10.

    Returns:
        int in 1..10.

    Raises:
        ValueError: an unknown name or index.
    """
    if isinstance(modification, (int, np.integer)):
        if int(modification) in RNAMOD_NAMES:
            return int(modification)
    else:
        text = str(modification).strip()
        if text.isdigit() and int(text) in RNAMOD_NAMES:
            return int(text)
        aliases = {"ψ": "Psi", "pseudouridine": "Psi", "y": "Psi"}
        text = aliases.get(text.lower(), text)
        for name, index in RNAMOD_INDEX.items():
            if name.lower() == text.lower():
                return index
    raise ValueError(f"unknown RNA modification {modification!r}; expected one of "
                     f"{', '.join(RNAMOD_NAMES.values())} or an index 1..10")


def centre_crop(sequence, length):
    """The central ``length`` characters of an odd-length window (site kept central)."""
    start = len(sequence) // 2 - length // 2
    return sequence[start:start + length]


def check_rna_windows(sequences, ids=None, source="input", min_length=51, start=1):
    """Checks RNA windows: odd length ≥ ``min_length``, bases A, C, G, T/U, N only.

    Args:
        sequences: sequence of str (upper case).
        ids: optional sequence of str, record names used in messages.
        source: str, where the windows come from (a file name).
        min_length: int, the shortest allowed window (the model's input
            length; longer windows are centre-cropped).
        start: int, the record number (1-based, in ``source``) of
            ``sequences[0]``, for messages (a file checked in pieces).

    Raises:
        ValueError: naming the source, the record and the problem (a bad
            base and its position, an even or too short length).
    """
    allowed = set("ACGTUN")
    for number, window in enumerate(sequences):
        name = f"record {number + start}" + (f" ({ids[number]!r})" if ids is not None else "")
        bad = set(window) - allowed
        if bad:
            position = min(window.index(c) for c in bad)
            if window[position] == "-":
                raise ValueError(f"{source}: {name} has a gap '-' at position {position + 1}; give "
                                 f"ungapped windows (N for an unknown base)")
            raise ValueError(f"{source}: {name} has invalid base {window[position]!r} at position "
                             f"{position + 1}; only A, C, G, T/U and N are allowed")
        if len(window) < min_length or len(window) % 2 == 0:
            why = "an even length has no centre" if len(window) % 2 == 0 else "too short"
            least = f" of at least {min_length} nt" if min_length > 1 else ""
            raise ValueError(f"{source}: {name} has length {len(window)} ({why}); expected an odd "
                             f"length{least} with the site at the centre")


def one_hot_rna(sequences, length=None):
    """One-hot encodes RNA/DNA windows, centre-cropped to ``length``.

    A thin wrapper of `Feature_extraction_algorithms.one_hot` (alphabet
    ``"rna"``, ``unknown_value=0.25``) after the centre crop.

    Args:
        sequences: sequence of n str over A, C, G, T/U, N (checked by the
            caller, see `check_rna_windows`).
        length: int or None. Central length kept (None: the windows' own
            length, which must then be equal).

    Returns:
        float32 array (n, length, 4), channels A, C, G, U (T is read as U);
        N is 0.25 in each channel.

    Raises:
        ValueError: windows of unequal length with ``length=None``, one
            shorter than ``length``, or a letter other than A, C, G, T, U, N
            (naming the window and the position).
    """
    sequences = list(sequences)
    if length is None:
        lengths = {len(s) for s in sequences}
        if len(lengths) > 1:
            raise ValueError(f"windows differ in length ({sorted(lengths)}); pass length=")
        length = lengths.pop() if lengths else 0
    else:
        for row, sequence in enumerate(sequences):
            if len(sequence) < length:
                raise ValueError(f"window {row + 1} has {len(sequence)} nt, fewer than {length}")
        sequences = [centre_crop(s, length) for s in sequences]
    return one_hot(sequences, alphabet="rna", dtype="float32", length=length, unknown_value=0.25)


def load_rnamod(split, modification, length=None, data_dir=None, download=None):
    """Loads one modification's windows of the VQ-RNA benchmark.

    Source: VQ-RNA (github.com/1gao2/VQ-RNA, ``data/{split}/{i}-{0,1}.fasta``,
    MultiRM-derived): 1001-nt windows centred on the site, DNA alphabet.

    Args:
        split: str, ``"train"``, ``"valid"`` or ``"test"`` (held out of the
            shared mirror).
        modification: name or index, see `modification_index`.
        length: int or None. Centre-crop to this odd length (None: 1001).
        data_dir: optional local mirror, see `deepbio.data.registry.fetch`.
        download: optional bool, see `deepbio.data.registry.fetch`.

    Returns:
        An `RNAModDataset` (negatives first, then positives).

    Raises:
        ValueError: unknown split or modification, an even ``length``, or a
            record that is not a 1001-nt window of A, C, G, T/U, N (named).
        KeyError: the split has no file for this modification (e.g. train
            for m1A, anything for m6A).
        FileNotFoundError: a registered file cannot be found or fetched.
    """
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be 'train', 'valid' or 'test', got {split!r}")
    index = modification_index(modification)
    length = WINDOW_LENGTH if length is None else int(length)
    if length % 2 == 0 or not 1 <= length <= WINDOW_LENGTH:
        raise ValueError(f"length must be odd and at most {WINDOW_LENGTH}, got {length}")
    sequences, ids, labels = [], [], []
    for label in (0, 1):
        path = fetch(f"vqrna/{split}/{index}-{label}.fasta", data_dir=data_dir, download=download)
        record_ids, windows = read_fasta(path)
        check_rna_windows(windows, record_ids, source=str(path), min_length=WINDOW_LENGTH)
        for record, window in zip(record_ids, windows):
            if len(window) != WINDOW_LENGTH:
                raise ValueError(f"{path}: record {record!r} has length {len(window)}, expected "
                                 f"{WINDOW_LENGTH}")
        sequences += [centre_crop(w, length).replace("T", "U") for w in windows]
        ids += record_ids
        labels += [label] * len(windows)
    return RNAModDataset(sequences, ids, np.asarray(labels, np.int32))


def available_modifications(split, data_dir=None):
    """Modifications with both files of ``split`` present locally (no download).

    Returns:
        list of names in index order.
    """
    names = []
    for index, name in RNAMOD_NAMES.items():
        try:
            for label in (0, 1):
                fetch(f"vqrna/{split}/{index}-{label}.fasta", data_dir=data_dir, download=False)
        except (KeyError, FileNotFoundError):
            continue
        names.append(name)
    return names
