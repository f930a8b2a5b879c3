"""What an import found wrong, in a form a person can act on without a traceback.

Every problem is an :class:`ImportIssue` naming the file, the physical line,
the column and the value. :class:`IssueLog` counts every issue but keeps only
the first few per file, so a file with two million bad rows costs no memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

MAX_PER_FILE = 50
_SHOWN_CHARS = 60


@dataclass(frozen=True)
class ImportIssue:
    """One problem: where it is (file, line, column), the offending value and what was expected.

    ``line`` is the physical line in the file (the header is line 1); ``None`` for a problem with
    the whole file. ``value`` is ``None`` when the cell is empty or the problem has no single value.
    """

    file: str
    line: int | None
    column: str | None
    value: str | None
    problem: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f" line {self.line}"
        if self.column:
            where += f", column {self.column}"
        if self.value is None:
            return f"{where}: {self.problem}"
        return f"{where}: {shown(self.value)} {self.problem}"


def shown(value: object) -> str:
    """A cell value quoted for a message, cut short when it is long."""
    text = str(value)
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 1] + "…"
    return repr(text)


class ImportFailed(Exception):
    """The folder cannot be imported; ``str()`` is the report to show, ``issues`` the structured list.

    ``totals`` maps each file to how many problems it has; ``issues`` holds at most
    ``MAX_PER_FILE`` of them per file, the earliest lines first.
    """

    def __init__(self, issues: Sequence[ImportIssue], totals: dict[str, int]) -> None:
        self.issues = list(issues)
        self.totals = dict(totals)
        super().__init__(self.report())

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    def report(self) -> str:
        files = len(self.totals)
        noun = "problem" if self.total == 1 else "problems"
        lines = [f"The import failed: {self.total} {noun} in {files} file{'s' if files != 1 else ''}."]
        for file, count in self.totals.items():
            listed = [issue for issue in self.issues if issue.file == file]
            lines.extend(f"  {issue}" for issue in listed)
            if count > len(listed):
                lines.append(f"  … and {count - len(listed)} more in {file} ({count} in all).")
        return "\n".join(lines)


class IssueLog:
    """Counts every issue per file and keeps the earliest ``cap`` of them by line."""

    def __init__(self, cap: int = MAX_PER_FILE) -> None:
        self.cap = cap
        self._kept: dict[str, list[ImportIssue]] = {}
        self._counts: dict[str, int] = {}

    def add(self, issue: ImportIssue) -> None:
        self._counts[issue.file] = self._counts.get(issue.file, 0) + 1
        self._keep(issue.file, [issue])

    def add_rows(
        self,
        file: str,
        lines: np.ndarray,
        column: str | None,
        values: Iterable[object] | None,
        problem: str | Sequence[str],
    ) -> None:
        """Record one issue per flagged row; ``lines`` ascend, so only the first ``cap`` are built."""
        count = len(lines)
        if count == 0:
            return
        self._counts[file] = self._counts.get(file, 0) + count
        take = min(count, self.cap)
        cells = list(values)[:take] if values is not None else [None] * take
        problems = [problem] * take if isinstance(problem, str) else list(problem)[:take]
        built = [
            ImportIssue(file, int(line), column, None if _is_missing(value) else str(value), text)
            for line, value, text in zip(lines[:take].tolist(), cells, problems, strict=True)
        ]
        self._keep(file, built)

    def _keep(self, file: str, new: list[ImportIssue]) -> None:
        kept = self._kept.setdefault(file, [])
        kept.extend(new)
        kept.sort(key=lambda issue: issue.line or 0)
        del kept[self.cap :]

    @property
    def issues(self) -> list[ImportIssue]:
        return [issue for kept in self._kept.values() for issue in kept]

    @property
    def totals(self) -> dict[str, int]:
        return dict(self._counts)

    def count(self, file: str | None = None) -> int:
        return sum(self._counts.values()) if file is None else self._counts.get(file, 0)

    def failure(self) -> ImportFailed:
        return ImportFailed(self.issues, self.totals)


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)
