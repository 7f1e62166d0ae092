"""FASTA reading through Biopython, streamed, with validation that names the file and the record.

Conventions shared by every task's input:

* plain text (UTF-8) or gzip-compressed text, recognised by its magic bytes
  (``1f 8b``) whatever the file's name; both are read as a stream, so a file
  of any size is read in bounded memory (`iter_fasta`, `TextStream`);
* lower-case letters are accepted and upper-cased (soft-masked sequences are
  common and the case carries no meaning for the models);
* ``-`` is kept as read: the PTM windows use it as padding beyond a protein's
  ends; every other input rejects it (naming the record and the position);
* a header without a sequence, a file that is not text or not FASTA, a
  folder, a zip archive, corrupt gzip data, and (where records are reported
  by id: ``unique_ids=True``) two records with one id are errors that name
  the file and the record.
"""

import codecs
import gzip
import io
import zlib
from pathlib import Path

from Bio import SeqIO

PROTEIN_RESIDUES = "ACDEFGHIKLMNPQRSTVWY"
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
_PIECE = 1 << 20  # bytes read at a time: a binary file without newlines is caught early

MAX_RECORD_BYTES = 10_000_000
"""The most (decompressed) bytes of one FASTA record, header included, or of one CSV line:
a streamed file holds one record or line in memory, so this bounds its memory (10 MB)."""
MAX_WHOLE_FILE_BYTES = 256 * 1024 * 1024
"""The most (decompressed) bytes of a file read whole (`read_text`, `read_fasta`): 256 MiB."""


class InputError(ValueError):
    """Bad input already described for the user (naming the file and the record).

    Raised from inside parsers (Biopython, pandas): a binary file, a zip
    archive, corrupt gzip data, an empty or repeated FASTA record. Callers
    that re-word the parsers' own ValueErrors pass it through unchanged.
    """


def check_input_file(path, what="input file"):
    """Checks that ``path`` is an existing, readable regular file.

    Args:
        path: str or path-like.
        what: str, what the file is, for messages (``"FASTA file"``).

    Returns:
        `pathlib.Path`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: ``path`` is a folder, or not a regular file (a pipe, a
            device).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder; give the path of the file itself")
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} not found")
    if not path.is_file():  # a pipe or a device: read once, so the readers take a copy
        raise ValueError(f"{what} {path} is not a regular file (a pipe or a device); give a file, "
                         f"or '-' / the pipe to the command line, which copies it first")
    return path


def _not_text(data, offset, what, path, error_start=None):
    """`InputError` for the first NUL byte or undecodable byte of ``data`` (at file ``offset``)."""
    nul = data.find(b"\x00")
    bad = [i for i in (nul, error_start) if i is not None and i >= 0]
    if not bad:
        return None
    first = min(bad)
    return InputError(f"{what} {path} is not a text file (binary byte 0x{data[first]:02x} at "
                          f"offset {offset + first}); give a plain-text (UTF-8) file")


def _gzip_error(error, what, path):
    return InputError(f"{what} {path}: gzip data is corrupt or truncated "
                          f"({' '.join(str(error).split())[:120] or type(error).__name__})")


def _open_binary(path, what):
    """The bytes of ``path`` as a stream, decompressed when it starts with gzip's magic bytes."""
    path = check_input_file(path, what)
    handle = open(path, "rb")
    head = handle.read(4)
    handle.seek(0)
    if head[:4] == ZIP_MAGIC:
        handle.close()
        raise InputError(f"{what} {path} is a zip archive, not a text file")
    if head[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=handle, mode="rb"), handle
    return handle, handle


class _Lines:
    """Iterates over ``self.readline()`` until it returns an empty string."""

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class TextStream(_Lines):
    """A text file (plain or gzip) read line by line, checked as it goes.

    A read-only text handle (``readline``, ``read``, iteration; what
    Biopython's parsers and `pandas.read_csv` ask of one). Every line is
    checked before it is returned: a NUL byte, bytes that are not UTF-8, a
    zip archive or corrupt gzip data raise `InputError` naming the file
    and the (decompressed) byte offset. A UTF-8 byte-order mark is dropped.
    Memory is one line (plus ``read``'s buffer), whatever the file's size.

    Limits stop the reading as soon as they are passed (a decompression
    bomb never reaches memory): ``max_bytes`` bounds the whole
    (decompressed) file, ``max_line`` one line, ``max_record`` one FASTA
    record (the bytes from one ``>`` header line to the next).

    Args:
        path: str or path-like.
        what: str, what the file is, for messages (``"FASTA file"``).
        max_bytes: optional int, the most decompressed bytes read.
        max_line: optional int, the most bytes of one line.
        max_record: optional int, the most bytes of one FASTA record.
        max_csv_row: optional int, the most bytes of one CSV row (a quoted
            field that spans several lines belongs to one row).

    Raises:
        FileNotFoundError / ValueError: see `check_input_file`;
            `InputError` (a ValueError) for a zip archive (at once) and
            for binary bytes, corrupt gzip data or a passed limit (when
            reached, naming the limit and, for a record, its header).

    Example:
        >>> with TextStream("proteins.fasta.gz", "FASTA file") as lines:
        ...     headers = sum(line.startswith(">") for line in lines)
    """

    def __init__(self, path, what="input file", max_bytes=None, max_line=None, max_record=None,
                 max_csv_row=None):
        self.path = Path(path)
        self.what = what
        self.limits = (max_bytes, max_line, max_record)
        self.max_csv_row = max_csv_row
        self._row = (0, 0, False)  # CSV rows started, bytes of the current one, inside quotes
        self._stream, self._file = _open_binary(path, what)
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
        self._offset = 0
        self._record = (0, 0, b"")  # records seen, bytes of the current one, its header's start
        self._buffer = ""
        self._done = False

    def _check_csv_row(self, data, line_bytes):
        """Raises `InputError` once a CSV row (quotes followed across lines) passes its limit."""
        number, size, inside = self._row
        if line_bytes == len(data) and not inside:  # a line that starts a new row
            number, size = number + 1, 0
        size += len(data)
        inside = inside != (data.count(b'"') % 2 == 1)
        self._row = (number, size, inside)
        if size > self.max_csv_row:
            raise InputError(f"{self.what} {self.path}: row {number} is longer than {self.max_csv_row:,} bytes, the limit of one row"
                             + (" (an unclosed '\"' quote?)" if inside else ""))

    def _check_limits(self, data, line_bytes):
        """Raises `InputError` once a limit is passed (``data``: the piece just read)."""
        if self.max_csv_row is not None:
            self._check_csv_row(data, line_bytes)
        max_bytes, max_line, max_record = self.limits
        if max_bytes is not None and self._offset > max_bytes:
            raise InputError(f"{self.what} {self.path} holds more than {max_bytes:,} bytes "
                             f"(decompressed); the limit is {max_bytes:,}")
        if max_line is not None and line_bytes > max_line:
            raise InputError(f"{self.what} {self.path}: line at byte {self._offset - line_bytes:,}"
                             f" is longer than {max_line:,} bytes, the limit of one line")
        if max_record is not None:
            number, size, header = self._record
            if line_bytes == len(data) and data.startswith(b">"):
                number, size, header = number + 1, 0, data[1:41].split(b"\n")[0]
            self._record = (number, size + len(data), header)
            if size + len(data) > max_record:
                name = header.decode("utf-8", "replace").split()[0] if header.strip() else ""
                raise InputError(f"{self.what} {self.path}: record {max(number, 1)}"
                                 f"{f' ({name!r})' if name else ''} is longer than "
                                 f"{max_record:,} bytes, the limit of one record")

    def _next_line(self):
        """The next line of the file (str, with its newline), or "" at the end."""
        if self._done:
            return ""
        text, line_bytes = "", 0
        while not text.endswith("\n"):
            try:
                data = self._stream.readline(_PIECE)
            except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
                raise _gzip_error(error, self.what, self.path) from None
            line_bytes += len(data)
            if not data:
                pending = self._decoder.getstate()[0]
                if pending:  # the file ends inside a multi-byte character
                    raise _not_text(pending, self._offset - len(pending), self.what, self.path, 0)
                self._done = True
                break
            try:
                piece, problem = self._decoder.decode(data), _not_text(data, self._offset,
                                                                       self.what, self.path)
            except UnicodeDecodeError as error:
                piece, problem = "", _not_text(data, self._offset, self.what, self.path,
                                               error.start)
            if problem is not None:
                raise problem
            self._offset += len(data)
            self._check_limits(data, line_bytes)
            text += piece
        return text

    def readline(self, size=-1):
        """The next line (with its newline), "" at the end; ``size`` is ignored."""
        while "\n" not in self._buffer:
            line = self._next_line()
            if not line:
                break
            self._buffer += line
        line, newline, self._buffer = self._buffer.partition("\n")
        return line + newline

    def read(self, size=-1):
        """Up to ``size`` characters (all that is left when ``size`` < 0)."""
        parts, length = [self._buffer], len(self._buffer)
        while size < 0 or length < size:
            line = self._next_line()
            if not line:
                break
            parts.append(line)
            length += len(line)
        text = "".join(parts)
        cut = len(text) if size < 0 else size
        text, self._buffer = text[:cut], text[cut:]
        return text

    def close(self):
        self._stream.close()
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_text(path, what="input file", max_bytes=MAX_WHOLE_FILE_BYTES):
    """The whole text of ``path`` (plain or gzip), refusing binary files with a message naming it.

    Read as a stream (`TextStream`) that stops as soon as ``max_bytes``
    decompressed bytes are passed, so a small gzip file that inflates to
    gigabytes (a decompression bomb) is refused after at most ``max_bytes``
    plus one piece (1 MiB) were read.

    Args:
        path: str or path-like.
        what: str, what the file is, for messages.
        max_bytes: optional int, the most decompressed bytes accepted
            (default `MAX_WHOLE_FILE_BYTES`, 256 MiB; None: no limit).

    Returns:
        str.

    Raises:
        FileNotFoundError / ValueError: see `check_input_file`; a zip
            archive, corrupt gzip data, NUL bytes, bytes that are not
            UTF-8 text, or more than ``max_bytes`` bytes (`InputError`).
    """
    with TextStream(path, what, max_bytes=max_bytes) as stream:
        return stream.read()


def iter_fasta(path, unique_ids=False, max_record=MAX_RECORD_BYTES, max_bytes=None):
    """Streams the records of a FASTA file (plain or gzip) as ``(id, sequence)``.

    The file is read lazily (`TextStream` → ``Bio.SeqIO.parse``): memory holds
    one record (and, with ``unique_ids``, the ids seen so far), whatever the
    file's size. Each record is checked as it is reached, so an error in
    record 1,000,000 is raised after 999,999 records were yielded; read the
    stream once to check a file before acting on it.

    Args:
        path: str or path-like. A FASTA file (Biopython's ``"fasta"`` format),
            plain or gzip-compressed.
        unique_ids: bool. Refuse records without a name or with the same name
            as an earlier one (inputs whose outputs are reported by id).
        max_record: optional int, the most bytes of one record, header
            included (default `MAX_RECORD_BYTES`, 10 MB): reading stops as
            soon as a record passes it, so memory stays bounded.
        max_bytes: optional int, the most decompressed bytes of the whole
            file (default None: any size, streamed).

    Yields:
        ``(id, sequence)``: str, str; the sequence upper-cased with
        whitespace removed (``-`` and other letters are checked by each
        task, see the module docstring).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: naming the file (and the record): a folder, a binary file,
            a zip archive or corrupt gzip data, text that is not FASTA, no
            record, a record with an empty sequence, (``unique_ids``) a
            missing or repeated id, or a record or file over its limit.
    """
    path = Path(path)
    with TextStream(path, "FASTA file", max_bytes=max_bytes, max_record=max_record) as lines:
        yield from _fasta_records(lines, path, unique_ids)


def _fasta_records(lines, path, unique_ids=False):
    """The checked ``(id, sequence)`` records of a text handle ``lines`` read from ``path``."""
    first = ""
    for first in lines:
        if first.strip():
            break
    if not first.strip():
        raise ValueError(f"{path}: no FASTA record found (the file is empty)")
    if not first.lstrip().startswith(">"):
        raise ValueError(f"{path}: not FASTA: the first line must be a '>' header, found "
                         f"{first.strip()[:40]!r}")
    handle = _Prepended(first.lstrip(), lines)
    seen, number = {}, 0
    try:
        records = SeqIO.parse(handle, "fasta")
        for number, record in enumerate(records, start=1):
            sequence = str(record.seq).strip().upper()
            if not sequence:
                raise InputError(f"{path}: record {number} ({record.id!r}) has an empty "
                                     f"sequence; remove its header or add its sequence")
            if unique_ids:
                if not record.id:
                    raise InputError(f"{path}: record {number} has no name after '>'; give "
                                         f"every record a unique name")
                if record.id in seen:
                    raise InputError(f"{path}: record {number} repeats the name {record.id!r} "
                                         f"of record {seen[record.id]}; give every record a "
                                         f"unique name")
                seen[record.id] = number
            yield record.id, sequence
    except InputError:
        raise
    except ValueError as error:  # Biopython's own format errors
        raise ValueError(f"{path}: not a valid FASTA file ({' '.join(str(error).split())[:120]})") \
            from None
    if not number:
        raise ValueError(f"{path}: no FASTA record found (empty file or not FASTA)")


class _Prepended(_Lines):
    """A text handle: ``first`` (one line), then the lines of ``rest``."""

    def __init__(self, first, rest):
        self._first, self._rest = first, rest

    def read(self, size=-1):
        if size == 0:
            return ""
        first, self._first = self._first or "", None
        return first + self._rest.read(size)

    def readline(self):
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return self._rest.readline()


def read_fasta(path, unique_ids=False, max_bytes=MAX_WHOLE_FILE_BYTES):
    """Reads a whole FASTA file (plain or gzip) into ``(ids, sequences)``.

    `iter_fasta` collected into two lists, refused past ``max_bytes``
    decompressed bytes (default `MAX_WHOLE_FILE_BYTES`, 256 MiB; None: no
    limit); for files of any size, stream with `iter_fasta` instead.

    Args:
        path: str or path-like. A FASTA file (Biopython's ``"fasta"`` format).
        unique_ids: bool. Refuse records without a name or with the same name
            as an earlier one (inputs whose outputs are reported by id).

    Returns:
        Tuple ``(ids, sequences)`` of two lists of str; sequences upper-cased
        with surrounding whitespace removed.

    Raises:
        FileNotFoundError / ValueError: see `iter_fasta`.
    """
    ids, sequences = [], []
    for name, sequence in iter_fasta(path, unique_ids, max_bytes=max_bytes):
        ids.append(name)
        sequences.append(sequence)
    return ids, sequences


def parse_fasta_text(text, path, unique_ids=False):
    """`read_fasta` of text already read from ``path`` (used in messages); same checks."""
    ids, sequences = [], []
    for name, sequence in _fasta_records(io.StringIO(text), path, unique_ids):
        ids.append(name)
        sequences.append(sequence)
    return ids, sequences


def check_ptm_windows(windows, ids=None, source="input", length=49, center=24, padding=False):
    """Checks lysine-centred protein windows.

    Args:
        windows: sequence of str, each ``length`` residues.
        ids: optional sequence of str, record names used in messages.
        source: str. Where the windows come from (a file name), for messages.
        length: int. Required window length (OmniK-PTM: 49).
        center: int. 0-based index of the residue that must be K (24).
        padding: bool. Allow ``-`` at the window's ends (beyond a protein's
            first or last residue), never between residues.

    Raises:
        ValueError: naming the source, the record and the problem, for a
            window of the wrong length, a centre residue other than K, a
            residue outside the 20 standard ones, or a misplaced ``-``.
    """
    allowed = set(PROTEIN_RESIDUES)
    for number, window in enumerate(windows):
        name = f"record {number + 1}" + (f" ({ids[number]!r})" if ids is not None else "")
        if len(window) != length:
            raise ValueError(f"{source}: {name} has length {len(window)}, expected {length} "
                             f"(the K at position {center + 1}, {center} residues on each side)")
        if window[center] != "K":
            raise ValueError(f"{source}: {name} has {window[center]!r} at its centre "
                             f"(position {center + 1}), expected K")
        core = window
        if padding:
            left, right = window[:center], window[center + 1:]
            core = left.lstrip("-") + "K" + right.rstrip("-")
            offset = len(left) - len(left.lstrip("-"))
        else:
            offset = 0
        bad = set(core) - allowed
        if bad:
            position = min(core.index(c) for c in bad) + offset
            if window[position] == "-":
                hint = ("'-' may only pad the window's ends" if padding else
                        "gaps are not allowed")
                raise ValueError(f"{source}: {name} has a gap '-' at position {position + 1}; "
                                 f"{hint}")
            raise ValueError(f"{source}: {name} has non-standard residue {window[position]!r} "
                             f"at position {position + 1}; only {PROTEIN_RESIDUES} are allowed")
