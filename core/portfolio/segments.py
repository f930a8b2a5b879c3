"""Accounts as integer positions with a segment code, so every metric is a bincount, not a loop.

A manager reads each figure in total and per segment; holding accounts as positions
0..n-1 with a segment code lets every metric be computed once per account and then
summed under four masks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.frames import SEGMENTS
from core.money import to_minor

SEGMENT_ROWS = ("all", *SEGMENTS)
METRIC_COLUMNS = ["metric", "segment", "value"]


def positions(values: pd.Series, universe: pd.Index) -> np.ndarray:
    """Where each value sits in ``universe`` (-1 when absent); ids are compared as text."""
    found = pc.index_in(pa.array(values.astype(str)), value_set=pa.array(universe.astype(str)))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype("int64")


@dataclass(frozen=True)
class AccountIndex:
    """The book's accounts as positions, each with its segment code (-1 when not a known segment)."""

    ids: pd.Index
    segment: np.ndarray

    @classmethod
    def of(cls, accounts: pd.DataFrame) -> AccountIndex:
        table = accounts.assign(account_id=accounts["account_id"].astype(str)).drop_duplicates("account_id")
        ids = pd.Index(table["account_id"], name="account_id")
        return cls(ids, positions(table["segment"].astype(str).str.lower(), pd.Index(list(SEGMENTS))))

    def __len__(self) -> int:
        return len(self.ids)

    def locate(self, account_ids: pd.Series) -> np.ndarray:
        """Positions of ``account_ids`` (-1 for accounts not in the book)."""
        return positions(account_ids, self.ids)

    def masks(self) -> dict[str, np.ndarray]:
        """One boolean mask over accounts per segment row: 'all' and each segment."""
        every = {"all": np.ones(len(self), dtype=bool)}
        return every | {name: self.segment == code for code, name in enumerate(SEGMENTS)}

    def total(self, rows: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Per-account sum of ``weights`` (or count) over the rows at positions ``rows``."""
        return np.bincount(rows, weights=weights, minlength=len(self))


def cents(amounts: pd.Series) -> np.ndarray:
    """Money column to exact int64 cents (missing = 0)."""
    return to_minor(pd.to_numeric(amounts, errors="coerce").fillna(0.0).to_numpy(dtype="float64"), 2)


def ratio(numerator: float, denominator: float) -> float:
    """A share that is NaN, not an error, when there is nothing to divide by."""
    return float(numerator) / float(denominator) if denominator else float("nan")


def median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def per_segment(index: AccountIndex, fn: Callable[[np.ndarray], Any]) -> dict[str, float]:
    """``fn(mask)`` for every segment row: the figure in total and per segment."""
    return {name: float(fn(mask)) for name, mask in index.masks().items()}


def metric_rows(metric: str, values: Mapping[str, float]) -> list[tuple[str, str, float]]:
    """``(metric, segment, value)`` rows in the fixed segment order."""
    return [(metric, segment, float(values[segment])) for segment in SEGMENT_ROWS if segment in values]


def as_frame(rows: Iterable[tuple[str, str, float]]) -> pd.DataFrame:
    table = pd.DataFrame(list(rows), columns=METRIC_COLUMNS)
    return table.astype({"metric": "str", "segment": "str", "value": "float64"})
