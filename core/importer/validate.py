"""Vectorised cell checks: a whole column is read, normalised and checked at once.

Text-like columns (names, enums, dates, months) are factorised first, so each
distinct value is trimmed and checked once and the verdict is spread back to the
rows through the codes. Ids that must exist in another file are looked up row by
row in an Arrow hash set, and only the rows not found take the slow path (trim,
then look again). Numbers come in already parsed by the C parser when the whole
column is numeric; only columns holding text fall back to the slower path that
handles quoted thousands and names the offending cell. At two million usage rows
that is what keeps validation fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.importer.columns import Column, Kind
from core.importer.errors import IssueLog

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")
_THOUSANDS = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?"
_CURRENCY = re.compile(r"[$€£¥₹₩¢]|\b(?:usd|eur|gbp|cny|rmb|jpy|chf)\b", re.IGNORECASE)
_BIGGEST_INT = 2.0**63
REQUIRED = "a value is required (the cell is empty)"


@dataclass
class Distinct:
    """A text column as codes into its distinct trimmed values (code -1 = empty cell)."""

    codes: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, raw: pd.Series) -> Distinct:
        codes, uniques = pd.factorize(raw.to_numpy(dtype=object), use_na_sentinel=True)
        values = np.array(
            [v.strip() if isinstance(v, str) else _number_text(v) for v in uniques], dtype=object
        )
        blank = values == ""
        if blank.any():
            codes = np.where(blank[np.maximum(codes, 0)] & (codes >= 0), -1, codes)
        return cls(codes.astype(np.int64, copy=False), values)

    @property
    def missing(self) -> np.ndarray:
        return self.codes < 0

    def rows(self, per_value: np.ndarray, fill: object = False) -> np.ndarray:
        """Spread a verdict (or value) per distinct value back to every row."""
        per_value = np.asarray(per_value)
        return np.append(per_value, np.array([fill], dtype=per_value.dtype))[self.codes]

    def text(self, per_value: np.ndarray | None = None) -> pd.Series:
        """The rows as a ``str`` Series, from the distinct values (or replacements for them)."""
        values = self.values if per_value is None else per_value
        table = pd.array(np.append(values, None).astype(object), dtype="str")
        return pd.Series(table.take(self.codes))


@dataclass(frozen=True)
class IdLookup:
    """Ids another file may point at: a hash index, their text (plus a trailing NA) and the complaint.

    Looking each row's id up directly is the fast path for references: a clean usage chunk
    needs one hash probe per row and nothing else.
    """

    ids: pa.Array
    text: pd.api.extensions.ExtensionArray
    problem: str

    @classmethod
    def of(cls, ids: pd.Series, problem: str, earlier: IdLookup | None = None) -> IdLookup:
        """The distinct ids in ``ids``, after those of ``earlier`` when given."""
        values = ids.dropna().unique().astype(object)
        if earlier is not None:
            values = pd.unique(np.concatenate([np.asarray(earlier.text[:-1], dtype=object), values]))
        return cls(
            pa.array(values, type=pa.string()), pd.array(np.append(values, None), dtype="str"), problem
        )

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, values: np.ndarray) -> np.ndarray:
        """Each value's position among the ids, -1 when absent or empty."""
        found = pc.index_in(pa.array(values, type=pa.string(), from_pandas=True), value_set=self.ids)
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)

    def hint(self, value: str) -> str:
        """A near miss that differs only in letter case, as a suggestion."""
        near = self._folded.get(value.casefold())
        return f" (did you mean {near!r}?)" if near else ""

    @cached_property
    def _folded(self) -> dict[str, str]:
        return {known.casefold(): known for known in reversed(self.ids.to_pylist())}


class RowChecks:
    """Checks one chunk of one file, records every issue and remembers which rows are bad."""

    def __init__(self, file: str, frame: pd.DataFrame, lines: np.ndarray, log: IssueLog) -> None:
        self.file = file
        self.frame = frame
        self.lines = lines
        self.log = log
        self.bad = np.zeros(len(frame), dtype=bool)
        self.distinct: dict[str, Distinct] = {}
        self.month_index: dict[str, np.ndarray] = {}
        self.positions: dict[str, np.ndarray] = {}
        self.muted = np.zeros(len(frame), dtype=bool)

    def __len__(self) -> int:
        return len(self.frame)

    def raw(self, name: str) -> pd.Series:
        if name in self.frame:
            return self.frame[name]
        return pd.Series(np.full(len(self.frame), np.nan, dtype=object))

    def empty(self, name: str) -> np.ndarray:
        """Rows whose cell in ``name`` is empty (or blank), whatever the column's type."""
        raw = self.raw(name)
        empty = raw.isna().to_numpy().copy()
        if raw.dtype == object and not empty.all():
            empty |= (raw.astype(str).str.strip() == "").to_numpy()
        return empty

    def flag(
        self,
        mask: np.ndarray,
        column: str | None,
        problem: str | np.ndarray,
        values: pd.Series | np.ndarray | Distinct | None = None,
        *,
        show_value: bool = True,
    ) -> None:
        """Record ``problem`` for every row in ``mask`` (a message per row when it is an array).

        The value shown is the row's cell in ``values``, by default the raw cell of ``column``.
        Rows in ``muted`` (already reported as a whole) are marked bad without a new message.
        """
        mask = np.asarray(mask, dtype=bool)
        self.bad |= mask
        rows = np.flatnonzero(mask & ~self.muted)
        if not len(rows):
            return
        head = rows[: self.log.cap]
        if values is None and column is not None:
            values = self.raw(column)
        shown = None
        if show_value and values is not None:
            if isinstance(values, Distinct):
                picked = list(np.append(values.values, None)[values.codes[head]])
            elif isinstance(values, pd.Series):
                picked = values.iloc[head].tolist()
            else:
                picked = list(values[head])
            shown = [_cell_text(v) for v in picked]
        texts = problem if isinstance(problem, str) else list(np.asarray(problem, dtype=object)[head])
        self.log.add_rows(self.file, self.lines[rows], column, shown, texts)

    def read(self, column: Column, lookup: IdLookup | None = None) -> pd.Series:
        """The column's cells normalised to their stored form; bad cells flagged and left NA.

        With ``lookup``, each id must be one of its ids; ``positions[column]`` then holds each
        row's position in it (-1 for none).
        """
        if lookup is not None:
            return self._ids(column, lookup)
        if column.kind is Kind.INTEGER:
            return self._integers(column)
        if column.kind is Kind.NUMBER:
            return self._numbers(column)
        cells = self.distinct[column.name] = Distinct.of(self.raw(column.name))
        if column.required:
            self.flag(cells.missing, column.name, REQUIRED, show_value=False)
        if column.kind is Kind.TEXT:
            return cells.text()
        if column.kind is Kind.ENUM:
            return self._enum(column, cells)
        if column.kind is Kind.DATE:
            return self._dates(column, cells)
        return self._months(column, cells)

    def _ids(self, column: Column, lookup: IdLookup) -> pd.Series:
        raw = self.raw(column.name).to_numpy(dtype=object)
        positions = lookup.positions(raw)
        lost = np.flatnonzero(positions < 0)
        if len(lost):
            cells = Distinct.of(pd.Series(raw[lost], dtype=object))
            found = lookup.positions(cells.values)
            positions[lost] = cells.rows(found, fill=-1)
            if column.required:
                missing = np.zeros(len(raw), dtype=bool)
                missing[lost[cells.missing]] = True
                self.flag(missing, column.name, REQUIRED, show_value=False)
            unknown_values = found < 0
            if unknown_values.any():
                texts = np.array(
                    [
                        lookup.problem + lookup.hint(v) if u else ""
                        for v, u in zip(cells.values, unknown_values)
                    ],
                    dtype=object,
                )
                unknown = np.zeros(len(raw), dtype=bool)
                unknown[lost] = cells.rows(unknown_values)
                problems = np.full(len(raw), "", dtype=object)
                problems[lost] = cells.rows(texts, fill="")
                shown = np.full(len(raw), None, dtype=object)
                shown[lost] = np.append(cells.values, None)[cells.codes]
                self.flag(unknown, column.name, problems, shown)
        self.positions[column.name] = positions
        return pd.Series(lookup.text.take(positions))

    def _enum(self, column: Column, cells: Distinct) -> pd.Series:
        choices = column.choices or {}
        mapped = np.array([choices.get(v.lower()) for v in cells.values], dtype=object)
        unknown = np.array([m is None for m in mapped], dtype=bool)
        self.flag(cells.rows(unknown), column.name, _enum_expectation(column), cells)
        result = cells.text(mapped)
        if column.default is not None:
            result = result.where(~cells.missing, column.default)
        return result

    def _dates(self, column: Column, cells: Distinct) -> pd.Series:
        parsed = np.array([_iso_date(v) for v in cells.values], dtype=object)
        wrong = np.array([p is None for p in parsed], dtype=bool)
        self.flag(cells.rows(wrong), column.name, "is not a date (expected YYYY-MM-DD)", cells)
        return cells.text(parsed)

    def _months(self, column: Column, cells: Distinct) -> pd.Series:
        parsed = [_month(v) for v in cells.values]
        texts = np.array([text or None for text, _, _ in parsed], dtype=object)
        problems = np.array([problem for _, _, problem in parsed], dtype=object)
        self.flag(cells.rows(problems != ""), column.name, cells.rows(problems, fill=""), cells)
        months = np.array([index for _, index, _ in parsed], dtype=np.int64)
        self.month_index[column.name] = cells.rows(months, fill=-1)
        return cells.text(texts)

    def _numbers(self, column: Column) -> pd.Series:
        raw = self.raw(column.name)
        values, missing, problems = parse_numbers(raw)
        ok = self._flag_numbers(column, raw, values, missing, problems, "a number")
        return pd.Series(np.where(ok, values, np.nan))

    def _integers(self, column: Column) -> pd.Series:
        raw = self.raw(column.name)
        if raw.dtype.kind == "i":
            ints = raw.to_numpy()
            below = ints < column.low if column.low is not None else np.zeros(len(ints), dtype=bool)
            above = ints > column.high if column.high is not None else np.zeros(len(ints), dtype=bool)
            out = below | above
            self.flag(out, column.name, _range_expectation(column, "a whole number"))
            result = pd.Series(pd.array(ints, dtype="Int64"))
            return result.mask(out) if out.any() else result
        values, missing, problems = parse_numbers(raw)
        fraction = ~missing & (problems == "") & (np.floor(np.nan_to_num(values)) != np.nan_to_num(values))
        problems = np.where(fraction, "is not a whole number", problems)
        huge = ~missing & (problems == "") & (np.abs(np.nan_to_num(values)) >= _BIGGEST_INT)
        problems = np.where(huge, "is too large", problems)
        ok = self._flag_numbers(column, raw, values, missing, problems, "a whole number")
        result = pd.Series(pd.array(np.where(ok, values, 0).astype(np.int64), dtype="Int64")).mask(~ok)
        return result if column.default is None else result.fillna(column.default)

    def _flag_numbers(
        self,
        column: Column,
        raw: pd.Series,
        values: np.ndarray,
        missing: np.ndarray,
        problems: np.ndarray,
        noun: str,
    ) -> np.ndarray:
        """Flag empty required cells, unreadable numbers and numbers out of range; the mask of good ones."""
        if column.required:
            self.flag(missing, column.name, REQUIRED, show_value=False)
        wrong = problems != ""
        self.flag(wrong, column.name, problems, raw)
        finite = ~missing & ~wrong
        out = np.zeros(len(values), dtype=bool)
        if column.low is not None:
            out |= finite & (values < column.low)
        if column.high is not None:
            out |= finite & (values > column.high)
        self.flag(out, column.name, _range_expectation(column, noun), raw)
        return finite & ~out


def parse_numbers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(float values, empty-cell mask, problem text per row or '') for one column.

    Plain decimals and quoted thousands (``1,234.50``) are numbers; currency symbols,
    decimal commas, words and infinities are problems.
    """
    count = len(raw)
    kind = raw.dtype.kind
    if kind in "iuf":
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
        problems = np.where(np.isinf(values), "is not a finite number", "").astype(object)
        return values, missing, problems
    if kind == "b":
        missing = raw.isna().to_numpy()
        problems = np.where(missing, "", _not_a_number("")).astype(object)
        return np.full(count, np.nan), missing, problems
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    problems = np.full(count, "", dtype=object)
    missing = raw.isna().to_numpy().copy()
    unparsed = np.isnan(values) & ~missing
    if unparsed.any():
        text = raw[unparsed].astype(str).str.strip()
        blank = (text == "").to_numpy()
        missing[np.flatnonzero(unparsed)[blank]] = True
        grouped = text[~blank]
        thousands = grouped.str.fullmatch(_THOUSANDS).to_numpy(dtype=bool)
        rows = np.flatnonzero(unparsed)[~blank]
        if thousands.any():
            plain = grouped[thousands].str.replace(",", "", regex=False)
            values[rows[thousands]] = pd.to_numeric(plain).to_numpy(dtype=np.float64)
        problems[rows[~thousands]] = [_not_a_number(t) for t in grouped[~thousands]]
    problems[np.isinf(values)] = "is not a finite number"
    return values, missing, problems


def _not_a_number(text: str) -> str:
    if _CURRENCY.search(text):
        return "has a currency symbol; expected a plain number such as 1234.50"
    return "is not a number (expected a plain decimal such as 1234.50)"


def _range_expectation(column: Column, noun: str) -> str:
    def fmt(bound: float) -> str:
        return f"{bound:g}"

    if column.low is not None and column.high is not None:
        return f"is out of range (expected {noun} from {fmt(column.low)} to {fmt(column.high)})"
    return f"is out of range (expected {noun} >= {fmt(column.low or 0)})"


def _enum_expectation(column: Column) -> str:
    choices = column.choices or {}
    canonical = list(dict.fromkeys(choices.values()))
    aliases = [k.upper() for k, v in choices.items() if k != v]
    text = ", ".join(canonical)
    if aliases:
        text += "; or " + ", ".join(aliases)
    return f"is not a valid {column.name} (expected one of: {text})"


def _iso_date(text: str) -> str | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return None


def _month(text: str) -> tuple[str, int, str]:
    """('YYYY-MM-01', months since year 0, '') for a period cell, or ('', -1, problem)."""
    found = _MONTH.fullmatch(text)
    expected = "(expected YYYY-MM or the first day of a month, YYYY-MM-01)"
    if not found:
        return "", -1, f"is not a month {expected}"
    year, month, day = int(found.group(1)), int(found.group(2)), found.group(3)
    if not 1 <= month <= 12 or (day is not None and _iso_date(text) is None):
        return "", -1, f"is not a month {expected}"
    if day is not None and day != "01":
        return "", -1, f"is not the first day of a month {expected}"
    return f"{year:04d}-{month:02d}-01", year * 12 + month - 1, ""


def _number_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _cell_text(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (float, np.floating)):
        return _number_text(float(value))
    return str(value)
