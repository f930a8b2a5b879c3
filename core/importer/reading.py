"""Turning one CSV file into raw text chunks, each row tagged with its physical line.

Encoding (UTF-8 with or without BOM, GB18030/GBK detected, or given) and the
delimiter (comma, or ``;``/tab when only that splits the header) are settled
before pandas' C parser reads the rows. Cells arrive as text (or as numbers for
columns that are numeric by contract, which the C parser converts far faster),
empty cells as NaN. Line numbers are computed for every row so that a message
can point at the line a spreadsheet user sees, quoted line breaks included.
"""

from __future__ import annotations

import codecs
import csv
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

_SCAN_BLOCK = 8 << 20
_HEADER_BYTES = 1 << 20
_UTF8_BOM = codecs.BOM_UTF8
_DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_SKIPPED = re.compile(r"Skipping line (\d+): expected \d+ fields, saw (\d+)")
_EXTRA = "__more_fields__"
T = TypeVar("T")


class FileProblem(Exception):
    """The file as a whole cannot be read; ``line`` says where, when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class CsvSource:
    """A CSV file whose encoding, delimiter and header are known and checked.

    ``columns`` are the header's names trimmed and lower-cased, in file order;
    ``header_lines`` counts the physical lines up to and including the header.
    """

    path: Path
    name: str
    size: int
    encoding: str
    delimiter: str
    columns: list[str]
    header_lines: int
    has_quotes: bool
    bytes_read: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def delimiter_name(self) -> str:
        return _DELIMITER_NAMES[self.delimiter]


@dataclass
class Chunk:
    """Rows of one file: ``frame`` keyed by header name, ``lines`` the physical line of each row.

    Rows with one field more than the header are in ``frame`` but marked in ``too_many`` (their
    cells may sit in the wrong columns); rows with even more fields are only listed in
    ``long_rows`` as (line, fields).
    """

    frame: pd.DataFrame
    lines: np.ndarray
    too_many: np.ndarray
    long_rows: list[tuple[int, int]]


def check_encoding_name(encoding: str) -> str:
    """The codec's canonical name, or ``ValueError`` when Python does not know it."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(f"{encoding!r} is not an encoding Python knows; try utf-8 or gb18030") from None


def open_source(path: Path, encoding: str | None, known_columns: tuple[str, ...]) -> CsvSource:
    """Detect the encoding, pick the delimiter and read the header; ``FileProblem`` when impossible."""
    size = path.stat().st_size
    chosen, has_quotes, notes = _settle_encoding(path, encoding)
    header, header_lines = _header_line(path, chosen)
    delimiter, fields = _pick_delimiter(header, known_columns)
    source = CsvSource(
        path=path,
        name=path.name,
        size=size,
        encoding=chosen,
        delimiter=delimiter,
        columns=[normalised_name(f) for f in fields],
        header_lines=header_lines,
        has_quotes=has_quotes,
        notes=notes,
    )
    if delimiter != ",":
        source.notes.append(
            f"{path.name}: the header splits on {source.delimiter_name}s; read with that delimiter"
        )
    return source


def normalised_name(raw: str) -> str:
    """Header names match case-insensitively with surrounding spaces (and a stray BOM) ignored."""
    return raw.replace("\ufeff", "").strip().lower()


def _settle_encoding(path: Path, given: str | None) -> tuple[str, bool, list[str]]:
    with path.open("rb") as handle:
        head = handle.read(_SCAN_BLOCK)
    if not head.lstrip(_UTF8_BOM).strip():
        raise FileProblem("is empty: a CSV file with a header row was expected")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem("is an Excel workbook, not a CSV file: save it as CSV (UTF-8) and import again")
    if given is None and (head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE)):
        raise FileProblem("is UTF-16 text: save it as CSV UTF-8 (or pass the encoding explicitly)")
    if given is None and b"\x00" in head:
        raise FileProblem("is not a text CSV file (it contains binary data)")
    if given is not None:
        candidates = [check_encoding_name(given)]
    elif head.startswith(_UTF8_BOM):
        candidates = ["utf-8-sig"]
    else:
        candidates = ["utf-8", "gb18030"]
    first_failure: int | None = None
    for candidate in candidates:
        failed_line, has_quotes = _decodes(path, candidate)
        if failed_line is None:
            notes = []
            if candidate == "gb18030":
                notes.append(f"{path.name} is not UTF-8; read it as GB18030 (Chinese Windows encoding)")
            return candidate, has_quotes, notes
        first_failure = failed_line if first_failure is None else first_failure
    if given is not None:
        raise FileProblem(
            f"cannot be decoded as {given} (first bad byte on line {first_failure})", first_failure
        )
    raise FileProblem(
        f"is neither UTF-8 nor GB18030 text (first bad byte on line {first_failure}): "
        "save it as CSV UTF-8 or give its encoding",
        first_failure,
    )


def _decodes(path: Path, encoding: str) -> tuple[int | None, bool]:
    """(line of the first undecodable byte or None, whether the file contains a double quote)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    newlines = 0
    has_quotes = False
    with path.open("rb") as handle:
        while block := handle.read(_SCAN_BLOCK):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                return newlines + block.count(b"\n", 0, max(error.start, 0)) + 1, has_quotes
            newlines += block.count(b"\n")
            has_quotes = has_quotes or b'"' in block
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return newlines + 1, has_quotes
    return None, has_quotes


def _header_line(path: Path, encoding: str) -> tuple[str, int]:
    """The header's text and how many physical lines it ends on (blank lines before it count)."""
    with path.open("rb") as handle:
        raw = handle.read(_HEADER_BYTES)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(raw)
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r").lstrip("\ufeff")
        if not line.strip():
            continue
        if line.count('"') % 2:
            raise FileProblem(
                "the header row has a line break inside quotes: column names must be on one line", 1
            )
        return line, number
    raise FileProblem("is empty: a CSV file with a header row was expected")


def _pick_delimiter(header: str, known_columns: tuple[str, ...]) -> tuple[str, list[str]]:
    split = {d: next(csv.reader([header], delimiter=d)) for d in _DELIMITERS}
    if len(split[","]) > 1:
        return ",", split[","]
    others = [d for d in _DELIMITERS[1:] if len(split[d]) > 1]
    if not others:
        return ",", split[","]
    best = max(others, key=lambda d: sum(normalised_name(f) in known_columns for f in split[d]))
    return best, split[best]


def read_chunks(
    source: CsvSource, used: dict[str, int], numeric: set[str], rows: int | None = None
) -> Iterator[Chunk]:
    """Yield the file's rows in chunks of ``rows`` (all at once when ``None``), blank rows dropped.

    ``used`` maps each wanted column name to its position in the file; other columns are dropped.
    Columns named in ``numeric`` are left to the C parser's number inference (a non-number
    makes the column text again); all other cells stay text exactly as written, so "007" stays
    "007". ``source.bytes_read`` advances as the file is consumed, for progress bars.
    """
    width = len(source.columns)
    names = [f"c{i}" for i in range(width)] + [_EXTRA]
    dtype = {f"c{i}": object for i, name in enumerate(source.columns) if name not in numeric}
    dtype[_EXTRA] = object
    tracker = _LineTracker(source.header_lines + 1, used)
    with source.path.open("rb") as handle:
        options = dict(
            sep=source.delimiter,
            header=None,
            names=names,
            skiprows=source.header_lines,
            dtype=dtype,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            index_col=False,
            on_bad_lines="warn",
            encoding=source.encoding,
            quotechar='"',
            low_memory=False,
            iterator=True,
        )
        reader, skipped = _parse(lambda: pd.read_csv(handle, **options), source, tracker)
        with reader:
            while True:
                frame, more = _parse(lambda: _next_chunk(reader, rows), source, tracker)
                skipped += more
                source.bytes_read = handle.tell() if frame is not None else source.size
                if frame is None:
                    if skipped or tracker.pending:
                        empty = pd.DataFrame({name: [] for name in used}, dtype=object)
                        yield tracker.trailing(skipped, empty)
                    return
                yield tracker.place(frame, skipped, source)
                skipped = []


def _next_chunk(reader: object, rows: int | None) -> pd.DataFrame | None:
    try:
        return reader.get_chunk(rows)  # type: ignore[attr-defined]
    except StopIteration:
        return None


def _parse(
    step: Callable[[], T], source: CsvSource, tracker: _LineTracker
) -> tuple[T, list[tuple[int, int]]]:
    """Run one parser step; (its result, rows it skipped for too many fields), or ``FileProblem``.

    The C parser reports skipped rows only as warnings, so they are caught here (note that
    ``warnings.catch_warnings`` is process-wide: run one import at a time).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = step()
        except pd.errors.ParserError as error:
            raise FileProblem(_parser_message(error), _parser_line(error, tracker)) from None
        except (UnicodeDecodeError, ValueError) as error:
            raise FileProblem(f"cannot be read as CSV: {error}") from None
    return result, _skipped_records(caught, source.header_lines)


class _LineTracker:
    """Maps rows the C parser returned back to physical lines, across chunks.

    pandas numbers records, not lines: a quoted line break makes a record span two lines and a
    row with too many fields is skipped. The tracker adds both back; line breaks are counted in
    text cells only, and only in files that contain a quote at all (a line break inside a quoted
    cell the parser read as a number, or inside a skipped row, is not seen).
    """

    def __init__(self, first_data_line: int, used: dict[str, int]) -> None:
        self.first_data_line = first_data_line
        self.used = used
        self.next_record = 0
        self.newlines = 0
        self.pending: list[tuple[int, int]] = []

    def place(self, frame: pd.DataFrame, skipped: list[tuple[int, int]], source: CsvSource) -> Chunk:
        count = len(frame)
        self.pending = sorted(self.pending + skipped)
        skip_records = np.array([r for r, _ in self.pending], dtype=np.int64)
        candidates = np.arange(self.next_record, self.next_record + count + len(skip_records), dtype=np.int64)
        records = candidates[~np.isin(candidates, skip_records)][:count] if len(skip_records) else candidates
        inner = _inner_newlines(frame) if source.has_quotes else None
        before = np.zeros(count + 1, dtype=np.int64)
        if inner is not None:
            before[1:] = np.cumsum(inner)
        lines = self.first_data_line + records + self.newlines + before[:-1]
        last = records[-1] if count else self.next_record - 1
        long_rows = []
        keep = []
        for record, fields in self.pending:
            if record <= last:
                extra = int(before[np.searchsorted(records, record)])
                long_rows.append((self.first_data_line + record + self.newlines + extra, fields))
            else:
                keep.append((record, fields))
        self.pending = keep
        self.newlines += int(before[-1])
        self.next_record = int(last) + 1
        return _finish(frame, lines, long_rows, self.used)

    def trailing(self, skipped: list[tuple[int, int]], empty: pd.DataFrame) -> Chunk:
        rest = sorted(self.pending + skipped)
        self.pending = []
        long_rows = [(self.first_data_line + record + self.newlines, fields) for record, fields in rest]
        return Chunk(empty, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool), long_rows)


def _finish(frame: pd.DataFrame, lines: np.ndarray, long_rows: list, used: dict[str, int]) -> Chunk:
    """Drop blank rows (every cell empty) and keep the used columns under their header names."""
    blank = _maybe_blank(frame)
    if blank.any():
        blank[blank] = frame.loc[blank].isna().to_numpy().all(axis=1)
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
        lines = lines[~blank]
    too_many = frame[_EXTRA].notna().to_numpy()
    kept = pd.DataFrame({name: frame[f"c{position}"] for name, position in used.items()}, index=frame.index)
    return Chunk(kept, lines, too_many, long_rows)


def _maybe_blank(frame: pd.DataFrame) -> np.ndarray:
    """Rows that could be blank, judged from the cheapest column: a whole-number column has none."""
    kinds = [frame[name].dtype.kind for name in frame.columns]
    if any(kind in "iub" for kind in kinds):
        return np.zeros(len(frame), dtype=bool)
    if "f" in kinds:
        return np.isnan(frame.iloc[:, kinds.index("f")].to_numpy())
    return frame.iloc[:, 0].isna().to_numpy(copy=True)


def _inner_newlines(frame: pd.DataFrame) -> np.ndarray | None:
    """Line breaks inside each row's quoted cells, or None when the chunk has none."""
    total = None
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        counts = column.str.count("\n")
        if counts.isna().all() or not counts.fillna(0).any():
            continue
        values = counts.fillna(0).to_numpy(dtype=np.int64)
        total = values if total is None else total + values
    return total


def _skipped_records(caught: list, skiprows: int) -> list[tuple[int, int]]:
    """(data record index, fields seen) for each row the parser skipped for having too many fields."""
    found = []
    for warning in caught:
        for match in _SKIPPED.finditer(str(warning.message)):
            found.append((int(match.group(1)) - skiprows - 1, int(match.group(2))))
    return found


def _parser_message(error: Exception) -> str:
    text = str(error).strip()
    if "EOF inside string" in text:
        return "has a quote that is never closed: check for a stray double quote"
    return f"cannot be read as CSV: {text}"


def _parser_line(error: Exception, tracker: _LineTracker) -> int | None:
    match = re.search(r"(?:row|line) (\d+)", str(error))
    if not match:
        return None
    return int(match.group(1)) + 1 + tracker.newlines
