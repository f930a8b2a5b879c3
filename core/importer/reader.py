"""Reading a portfolio folder table by table, checking everything, holding nothing large.

:func:`open_portfolio` checks what can be checked before any row is read (the
files present, their encoding, delimiter and header); :meth:`PortfolioReader.batches`
then reads each file in dependency order, yields its valid rows in the store's
shape and records every problem. usage.csv, the one file that reaches millions
of rows, is streamed in chunks.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from core.importer.columns import FILE_ORDER, REQUIRED_FILES, SPECS, column_names, file_name
from core.importer.errors import ImportFailed, ImportIssue, IssueLog
from core.importer.reading import CsvSource, FileProblem, check_encoding_name, open_source, read_chunks
from core.importer.tables import Known, SeenKeys, check_rows
from core.importer.validate import RowChecks

STREAMED = frozenset({"usage"})


class PortfolioReader:
    """One import of one folder: ``batches()`` yields checked rows; problems collect in ``errors``.

    Attributes:
        warnings: things the user should know that do not stop the import (ignored columns,
            a detected encoding or delimiter, files that are not part of the format).
    """

    def __init__(self, folder: Path, encoding: str | None = None, chunk_rows: int = 200_000) -> None:
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        self.folder = Path(folder)
        self.encoding = encoding
        self.chunk_rows = chunk_rows
        self.warnings: list[str] = []
        self._log = IssueLog()
        self._sources: dict[str, CsvSource] = {}
        self._used: dict[str, dict[str, int]] = {}
        self._metrics: tuple[str, ...] = ()
        self._started = False
        self._inspect_folder()

    @property
    def errors(self) -> list[ImportIssue]:
        """Every problem found so far (at most 50 per file, earliest lines first)."""
        return self._log.issues

    @property
    def error_counts(self) -> dict[str, int]:
        """How many problems each file has, counting those past the 50 listed."""
        return self._log.totals

    def raise_if_failed(self) -> None:
        """Raise :class:`ImportFailed` when any problem was found."""
        if self._log.count():
            raise self._log.failure()

    def progress(self) -> tuple[int, int]:
        """(bytes read so far, bytes in all the folder's portfolio files), for a progress bar."""
        total = sum(source.size for source in self._sources.values())
        done = sum(min(source.bytes_read, source.size) for source in self._sources.values())
        return done, total

    def batches(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """Yield (table, valid rows in the store's columns), in dependency order.

        Invalid rows are reported and left out; reading goes on to the end of every file so that
        all problems are found. usage.csv comes in chunks of ``chunk_rows`` rows, each followed
        by its ``usage_extra`` rows when the file has extra metric columns.
        """
        if self._started:
            raise RuntimeError("batches() reads the folder once; open the folder again to reread it")
        self._started = True
        known = Known()
        for table in FILE_ORDER:
            source = self._sources.get(table)
            if source is None:
                continue
            metrics = self._metrics if table == "usage" else ()
            seen = SeenKeys()
            rows = self.chunk_rows if table in STREAMED else None
            numeric = {c.name for c in SPECS[table] if c.numeric} | set(metrics)
            try:
                for chunk in read_chunks(source, self._used[table], numeric, rows):
                    for line, _ in chunk.long_rows:
                        self._log.add(ImportIssue(source.name, line, None, None, _too_many(source)))
                    checks = RowChecks(source.name, chunk.frame, chunk.lines, self._log)
                    checks.flag(chunk.too_many, None, _too_many(source))
                    checks.muted = chunk.too_many
                    frames = check_rows(table, checks, known, seen, metrics)
                    yield from frames.items()
            except FileProblem as problem:
                self._log.add(ImportIssue(source.name, problem.line, None, None, problem.message))
                source.bytes_read = source.size
            except OSError as error:
                self._log.add(ImportIssue(source.name, None, None, None, _unreadable(error)))
                source.bytes_read = source.size

    def _inspect_folder(self) -> None:
        if not self.folder.is_dir():
            raise ImportFailed(
                [ImportIssue(str(self.folder), None, None, None, "is not a folder of CSV files")],
                {str(self.folder): 1},
            )
        if self.encoding is not None:
            try:
                check_encoding_name(self.encoding)
            except ValueError as error:
                issue = ImportIssue("--encoding", None, None, None, str(error))
                raise ImportFailed([issue], {"--encoding": 1}) from None
        try:
            paths = [p for p in sorted(self.folder.iterdir()) if p.is_file()]
        except OSError as error:
            folder = str(self.folder)
            raise ImportFailed(
                [ImportIssue(folder, None, None, None, _unreadable(error))], {folder: 1}
            ) from None
        files = {p.name.lower(): p for p in reversed(paths)}
        exact = {p.name: p for p in paths}
        expected = {file_name(t) for t in FILE_ORDER}
        for name in sorted(files):
            if name.endswith(".csv") and name not in expected:
                self.warnings.append(
                    f"{files[name].name} is not part of the portfolio format and was ignored"
                )
        for table in FILE_ORDER:
            name = file_name(table)
            path = exact.get(name) or files.get(name)
            if path is None:
                if table in REQUIRED_FILES:
                    self._log.add(ImportIssue(name, None, None, None, _MISSING_FILE))
                continue
            self._open(table, path)

    def _open(self, table: str, path: Path) -> None:
        try:
            source = open_source(path, self.encoding, column_names(table))
        except FileProblem as problem:
            self._log.add(ImportIssue(path.name, problem.line, None, None, problem.message))
            return
        except OSError as error:
            self._log.add(ImportIssue(path.name, None, None, None, _unreadable(error)))
            return
        self.warnings.extend(source.notes)
        used = self._check_header(table, source)
        if used is not None:
            self._sources[table] = source
            self._used[table] = used

    def _check_header(self, table: str, source: CsvSource) -> dict[str, int] | None:
        """Map each usable column to its position; report a header the rows cannot be read with."""
        known = column_names(table)
        line = source.header_lines
        positions: dict[str, list[int]] = {}
        for position, name in enumerate(source.columns):
            positions.setdefault(name, []).append(position)
        fine = True
        for name, where in positions.items():
            if len(where) > 1 and name and (name in known or table == "usage"):
                columns = " and ".join(str(p + 1) for p in where)
                problem = f"appears more than once in the header (columns {columns})"
                self._log.add(ImportIssue(source.name, line, name, None, problem))
                fine = False
        for column in SPECS[table]:
            if column.required and column.name not in positions:
                problem = f"the header lacks this required column{_near(column.name, source.columns)}"
                self._log.add(ImportIssue(source.name, line, column.name, None, problem))
                fine = False
        if not fine:
            return None
        used = {name: where[0] for name, where in positions.items() if name in known}
        for name, where in positions.items():
            if name in known:
                continue
            if not name:
                columns = ", ".join(str(p + 1) for p in where)
                self.warnings.append(
                    f"{source.name}: column {columns} has no name in the header and was ignored"
                )
            elif table == "usage":
                used[name] = where[0]
            else:
                self.warnings.append(
                    f"{source.name}: column {name!r} is not part of {table} and was ignored"
                    f"{_near(name, known)}"
                )
        if table == "usage":
            self._metrics = tuple(name for name in used if name not in known)
        return used


def _too_many(source: CsvSource) -> str:
    return (
        f"has more fields than the header's {len(source.columns)} columns "
        f"(is a {source.delimiter_name} inside a value missing its quotes?)"
    )


def _unreadable(error: OSError) -> str:
    return f"cannot be read: {error.strerror or error}"


def _near(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    spaced = {c.replace(" ", "_").replace("-", "_"): c for c in candidates}
    close = difflib.get_close_matches(
        name.replace(" ", "_").replace("-", "_"), list(spaced), n=1, cutoff=0.75
    )
    return f" (did you mean {spaced[close[0]]!r}?)" if close else ""


_MISSING_FILE = "is missing: every portfolio folder needs accounts.csv, products.csv and subscriptions.csv"


def open_portfolio(folder: Path, encoding: str | None = None, chunk_rows: int = 200_000) -> PortfolioReader:
    """Open a portfolio folder for import: files found, encodings and headers checked.

    Raises :class:`ImportFailed` only when ``folder`` is not a readable folder or ``encoding`` is
    unknown; every other problem is collected in ``errors`` (those found on opening: missing files,
    unreadable files, bad headers) or while ``batches()`` runs, so one pass finds them all.
    """
    return PortfolioReader(Path(folder), encoding=encoding, chunk_rows=chunk_rows)


def read_portfolio(
    folder: Path, encoding: str | None = None, chunk_rows: int = 200_000
) -> dict[str, pd.DataFrame]:
    """Every table of a folder as one frame each (small folders: tests, demos); ``ImportFailed`` on any problem.

    Returns ``{table: frame}`` for the tables present, with the store's columns.
    """
    reader = open_portfolio(folder, encoding=encoding, chunk_rows=chunk_rows)
    parts: dict[str, list[pd.DataFrame]] = {}
    for table, frame in reader.batches():
        parts.setdefault(table, []).append(frame)
    reader.raise_if_failed()
    return {table: pd.concat(frames, ignore_index=True) for table, frames in parts.items()}
