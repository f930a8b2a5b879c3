"""The in-memory shape of a portfolio: the frames every analysis takes.

The store reads these from SQLite; tests build them by hand. Keeping one
definition here means an analysis never needs to know where its data came from.

Column contract (pandas 3: text columns are ``str`` dtype, missing = NA/NaN/NaT):

accounts       account_id, name, segment ('enterprise' | 'mid-market' | 'smb'),
               industry, region, employees (float, NaN = unknown),
               employees_prev (float), annual_revenue (float), owner, sales_rep,
               created_at (datetime64)
products       product_id, name, family, list_price (float, monthly per unit),
               unit ('seat' | 'flat' | 'usage'), department
subscriptions  account_id, product_id, start_date (datetime64),
               end_date (datetime64, NaT = evergreen), quantity (int),
               mrr (float), status ('active' | 'churned' | 'trial'),
               churned_at (datetime64)
contacts       account_id, name, email, title, department,
               role ('decision_maker' | 'champion' | 'evaluator' | 'user' |
               'billing' | NA), last_contacted_at (datetime64)
activities     account_id, date (datetime64), kind ('call' | 'meeting' |
               'email' | 'qbr' | 'ticket' | 'note'), subject, product_id,
               sentiment ('positive' | 'neutral' | 'negative' | NA)
nps            account_id, date (datetime64), score (int 0-10), email
bundles        bundle_id, name, product_ids (';'-joined), price (float, NaN),
               discount_pct (float, NaN)
usage_monthly  account_id, product_id, period (datetime64, first of month),
               active_users, licensed_seats, logins, key_events (float, NaN)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

SEGMENTS = ("enterprise", "mid-market", "smb")
QUADRANTS = ("fix-and-expand", "rescue", "expand", "nurture")

COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": (
        "account_id",
        "name",
        "segment",
        "industry",
        "region",
        "employees",
        "employees_prev",
        "annual_revenue",
        "owner",
        "sales_rep",
        "created_at",
    ),
    "products": ("product_id", "name", "family", "list_price", "unit", "department"),
    "subscriptions": (
        "account_id",
        "product_id",
        "start_date",
        "end_date",
        "quantity",
        "mrr",
        "status",
        "churned_at",
    ),
    "contacts": (
        "account_id",
        "name",
        "email",
        "title",
        "department",
        "role",
        "last_contacted_at",
    ),
    "activities": ("account_id", "date", "kind", "subject", "product_id", "sentiment"),
    "nps": ("account_id", "date", "score", "email"),
    "bundles": ("bundle_id", "name", "product_ids", "price", "discount_pct"),
    "usage_monthly": (
        "account_id",
        "product_id",
        "period",
        "active_users",
        "licensed_seats",
        "logins",
        "key_events",
    ),
}

DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": ("created_at",),
    "subscriptions": ("start_date", "end_date", "churned_at"),
    "contacts": ("last_contacted_at",),
    "activities": ("date",),
    "nps": ("date",),
    "usage_monthly": ("period",),
}


def empty(table: str) -> pd.DataFrame:
    """An empty frame with the table's columns, for optional files never imported."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS[table]})


@dataclass
class Portfolio:
    """Every table of a book of accounts except raw usage, which stays in SQL at scale."""

    accounts: pd.DataFrame
    products: pd.DataFrame
    subscriptions: pd.DataFrame
    contacts: pd.DataFrame = field(default_factory=lambda: empty("contacts"))
    activities: pd.DataFrame = field(default_factory=lambda: empty("activities"))
    nps: pd.DataFrame = field(default_factory=lambda: empty("nps"))
    bundles: pd.DataFrame = field(default_factory=lambda: empty("bundles"))


def owned_as_of(subscriptions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Subscriptions that made an account own a product on ``as_of``.

    Today that is exactly the ``active`` ones (the contract's definition of
    owning); for a past date a churned subscription still counted until it
    churned. Trials never count. Returns the matching subscription rows.
    """
    as_of = pd.Timestamp(as_of)
    started = subscriptions["start_date"] <= as_of
    active = subscriptions["status"] == "active"
    churned_later = (subscriptions["status"] == "churned") & (subscriptions["churned_at"] > as_of)
    return subscriptions[started & (active | churned_later)]


def as_timestamp(as_of: Any) -> pd.Timestamp:
    """The as-of date as a normalised Timestamp, refusing a missing one (there is no hidden clock)."""
    if as_of is None:
        raise ValueError("as_of is required: pass the date the analysis is as of.")
    try:
        stamp = pd.Timestamp(as_of)
    except (TypeError, ValueError):
        raise ValueError(f"as_of must be a date, got {as_of!r}") from None
    if pd.isna(stamp):
        raise ValueError("as_of must be a date, got a missing value.")
    return stamp.normalize()


def require_portfolio_columns(portfolio: Portfolio, needed: dict[str, tuple[str, ...]]) -> None:
    """Refuse a portfolio whose tables lack the columns an analysis reads, naming them."""
    for table, columns in needed.items():
        frame = getattr(portfolio, table, None)
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"portfolio.{table} must be a DataFrame.")
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"portfolio.{table} lacks column(s): {', '.join(missing)}.")


def unique_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a boolean matrix: (index of each row's distinct row, the distinct rows, in no set order).

    Rows are packed into 64-bit words and sorted with ``lexsort``: twice as fast as ``np.unique``
    over packed bytes, and an order of magnitude faster than ``np.unique(axis=0)``.
    """
    packed = np.packbits(matrix, axis=1)
    words = np.zeros((len(matrix), max(1, -(-packed.shape[1] // 8)) * 8), dtype=np.uint8)
    words[:, : packed.shape[1]] = packed
    words = words.view(np.uint64)
    order = np.lexsort(words.T)
    ranked = words[order]
    first = np.ones(len(ranked), dtype=bool)
    first[1:] = (ranked[1:] != ranked[:-1]).any(axis=1)
    codes = np.empty(len(matrix), dtype="int64")
    codes[order] = np.cumsum(first) - 1
    return codes, matrix[order[first]]


def positions_in(values: pd.Series | pd.Index, index: pd.Index) -> np.ndarray:
    """Position of each value in ``index`` (-1 when absent or missing), hashed by Arrow: ids are strings."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    found = pc.index_in(arrow_text(values), value_set=arrow_text(index), skip_nulls=True)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def is_in(values: pd.Series, members: pd.Series | pd.Index) -> np.ndarray:
    """Boolean mask of ``values`` found in ``members``: Series.isin on str columns is 7x slower (0.85 s
    against 0.11 s for 172,000 to-do ids)."""
    return positions_in(values, pd.Index(pd.unique(pd.Series(members, copy=False).astype(str)))) >= 0


def arrow_text(values: pd.Series | pd.Index) -> pa.Array:
    """Ids as one Arrow large_string array, the form every Arrow lookup here hashes."""
    array = pa.array(pd.Series(values, copy=False).astype(str))
    return array.cast(pa.large_string()) if array.type != pa.large_string() else array
