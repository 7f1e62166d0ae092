"""Streaming prediction: records in, chunks scored, CSV rows out, renamed into place at the end.

``deepbio predict`` (ptm, rnamod, binding) reads its input twice as a stream:
once to check every record (so a bad record fails before the model loads and
before anything is written, and the progress bar knows its total), then to
score the records in chunks of about ``chunk_size`` sites / windows /
complexes. Each chunk's rows are appended to a hidden temporary file beside
the output (`CSVStream`), renamed into place when every chunk is written; a
failure removes it, so there is never a partial output. Memory holds one
chunk, whatever the input's size.

``--shard i/n`` (`parse_shard`, `in_shard`) keeps record k (0-based, in file
order) when ``k % n == i - 1``: the n shards' outputs, concatenated after
their headers, hold every record's rows exactly once.
"""

import collections
import sys

import pandas as pd

from deepbio.core.io import atomic_path, neutralise_formulas

DEFAULT_CHUNK_SIZE = 4096
"""Sites (ptm), windows or positions (rnamod) or complexes (binding) scored and written at a time."""

Streamed = collections.namedtuple("Streamed", ["records", "rows", "path", "without_sites"],
                                  defaults=(0,))
Streamed.__doc__ = """What a streamed prediction wrote: ``records`` (int, input records of the
shard), ``rows`` (int, CSV rows written), ``path`` (the output file) and ``without_sites`` (int,
records that had nothing to score, e.g. proteins without a lysine; 0 by default)."""


def parse_shard(text):
    """``"i/n"`` → ``(i, n)``, 1 ≤ i ≤ n.

    Args:
        text: str, e.g. ``"2/8"``.

    Returns:
        Tuple of two int.

    Raises:
        ValueError: not two integers ``i/n`` with 1 ≤ i ≤ n.
    """
    parts = str(text).strip().split("/")
    try:
        i, n = (int(p) for p in parts) if len(parts) == 2 else (None, None)
    except ValueError:
        i = n = None
    if i is None:
        raise ValueError(f"expected i/n (shard i of n, e.g. 2/8), got {text!r}")
    if n < 1 or not 1 <= i <= n:
        raise ValueError(f"shard i/n needs 1 ≤ i ≤ n, got {text!r}")
    return i, n


def shard_label(shard):
    """``" (shard i/n)"`` for summaries, "" without a shard."""
    return f" (shard {shard[0]}/{shard[1]})" if shard else ""


def in_shard(index, shard):
    """Whether record ``index`` (0-based, file order) belongs to ``shard`` (``(i, n)`` or None: all)."""
    return shard is None or index % shard[1] == shard[0] - 1


def select_shard(records, shard):
    """The items of ``records`` (any iterable, file order) that belong to ``shard``, lazily."""
    return (record for index, record in enumerate(records) if in_shard(index, shard))


def chunked(items, size, weight=None):
    """Groups ``items`` lazily into lists of total ``weight`` at most ``size``.

    Args:
        items: iterable.
        size: int ≥ 1, the most weight per chunk; an item heavier than
            ``size`` is a chunk of its own.
        weight: callable item → int (default: 1 per item).

    Yields:
        Non-empty lists of consecutive items, in order.
    """
    chunk, total = [], 0
    for item in items:
        w = 1 if weight is None else weight(item)
        if chunk and total + w > size:
            yield chunk
            chunk, total = [], 0
        chunk.append(item)
        total += w
    if chunk:
        yield chunk


def progress(total, unit, verbose=1, desc="predicting"):
    """A tqdm bar on stderr over ``total`` ``unit``s; silent with ``verbose=0``.

    On a terminal it redraws in place; otherwise (a log file) it writes a line
    at most every 30 s.
    """
    from tqdm.auto import tqdm

    interactive = sys.stderr.isatty()
    return tqdm(total=total, unit=unit, desc=desc, disable=not verbose, unit_scale=True,
                mininterval=0.1 if interactive else 30.0, file=sys.stderr)


class CSVStream:
    """A CSV written chunk by chunk into a hidden temporary file, renamed into place at the end.

    The temporary file (``.<stem>.XXXXXXXX.csv``, beside ``path``) becomes
    ``path`` when the ``with`` block ends without an error; on an error (or
    an interrupt) it is removed and ``path`` is left as it was. The header
    is written first, so an input with no rows gives a header-only file.
    Rows are formatted by pandas exactly as ``DataFrame.to_csv(index=False)``
    formats the whole table at once, after text cells that a spreadsheet
    would run as formulas are neutralised (`deepbio.core.io.neutralise_formulas`).

    Args:
        path: str or path-like, the output CSV.
        columns: sequence of str, the header; every chunk must have these
            columns in this order.

    Attributes:
        rows: int, rows written so far.

    Example:
        >>> with CSVStream("out.csv", ["id", "p"]) as out:
        ...     for frame in frames:
        ...         out.write(frame)
    """

    def __init__(self, path, columns):
        self.path = path
        self.columns = list(columns)
        self.rows = 0
        self._atomic = None
        self._handle = None

    def __enter__(self):
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        try:
            self._handle = open(tmp, "w", newline="", encoding="utf-8")
            neutralise_formulas(pd.DataFrame(columns=self.columns)).to_csv(self._handle,
                                                                            index=False)
        except BaseException:
            self._atomic.__exit__(*sys.exc_info())
            raise
        return self

    def write(self, frame):
        """Appends the rows of ``frame`` (a DataFrame with `columns`).

        Raises:
            ValueError: ``frame``'s columns differ from the header's.
        """
        if list(frame.columns) != self.columns:
            raise ValueError(f"chunk columns {list(frame.columns)} differ from the header "
                             f"{self.columns}")
        neutralise_formulas(frame).to_csv(self._handle, index=False, header=False)
        self.rows += len(frame)

    def __exit__(self, exc_type, exc, tb):
        self._handle.close()
        return self._atomic.__exit__(exc_type, exc, tb)
