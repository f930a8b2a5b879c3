"""Hand-sized portfolios for the scoring tests, built row by row so every number can be counted."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.frames import COLUMNS, DATE_COLUMNS, Portfolio
from core.settings import resolve

AS_OF = pd.Timestamp("2026-09-15")
SETTINGS = resolve()


def frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """Rows for one table with every contract column, typed as core/frames.py says."""
    out = (
        pd.DataFrame(rows, columns=list(COLUMNS[table]))
        if rows
        else pd.DataFrame(columns=list(COLUMNS[table]))
    )
    for column in DATE_COLUMNS.get(table, ()):
        out[column] = pd.to_datetime(out[column]).astype("datetime64[ns]")
    numeric = {
        "accounts": ("employees", "employees_prev", "annual_revenue"),
        "products": ("list_price",),
        "subscriptions": ("mrr",),
        "usage_monthly": ("active_users", "licensed_seats", "logins", "key_events"),
        "nps": ("score",),
    }
    for column in numeric.get(table, ()):
        out[column] = pd.to_numeric(out[column]).astype("float64")
    if table == "subscriptions":
        out["quantity"] = pd.to_numeric(out["quantity"]).fillna(1).astype("int64")
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].astype("str")
    return out


PRODUCTS = [
    {"product_id": "P1", "name": "Core CRM", "list_price": 50.0, "unit": "seat"},
    {"product_id": "P2", "name": "Mail Studio", "list_price": 30.0, "unit": "seat"},
    {"product_id": "P3", "name": "Journeys", "list_price": 40.0, "unit": "seat"},
    {"product_id": "P4", "name": "Help Desk", "list_price": 100.0, "unit": "flat"},
]


def account(account_id: str, **extra) -> dict:
    row = {
        "account_id": account_id,
        "name": f"Account {account_id}",
        "segment": "mid-market",
        "owner": "Lin",
        "employees": 500,
        "employees_prev": 500,
        "created_at": "2022-01-01",
    }
    row.update(extra)
    return row


def sub(account_id: str, product_id: str, quantity: int = 10, price: float = 50.0, **extra) -> dict:
    row = {
        "account_id": account_id,
        "product_id": product_id,
        "start_date": "2023-01-01",
        "end_date": "2027-06-01",
        "quantity": quantity,
        "mrr": quantity * price,
        "status": "active",
        "churned_at": None,
    }
    row.update(extra)
    return row


def book(
    accounts: list[dict],
    subscriptions: list[dict],
    contacts: list[dict] | None = None,
    activities: list[dict] | None = None,
    nps: list[dict] | None = None,
    bundles: list[dict] | None = None,
) -> Portfolio:
    return Portfolio(
        accounts=frame("accounts", accounts),
        products=frame("products", PRODUCTS),
        subscriptions=frame("subscriptions", subscriptions),
        contacts=frame("contacts", contacts or []),
        activities=frame("activities", activities or []),
        nps=frame("nps", nps or []),
        bundles=frame("bundles", bundles or []),
    )


def usage_rows(
    account_id: str,
    product_id: str,
    users: list[float],
    seats: float,
    as_of: pd.Timestamp = AS_OF,
    logins: list[float] | None = None,
    events: list[float] | None = None,
) -> list[dict]:
    """Monthly rows ending the month before ``as_of``'s month, oldest first."""
    last = as_of.to_period("M") - 1
    periods = [(last - (len(users) - 1 - i)).to_timestamp() for i in range(len(users))]
    logins = logins or [u * 10 for u in users]
    events = events or [u * 5 for u in users]
    return [
        {
            "account_id": account_id,
            "product_id": product_id,
            "period": p,
            "active_users": u,
            "licensed_seats": seats,
            "logins": lg,
            "key_events": ev,
        }
        for p, u, lg, ev in zip(periods, users, logins, events, strict=True)
    ]


def usage(rows: list[dict]) -> pd.DataFrame:
    return frame("usage_monthly", rows)


def random_usage(n_accounts: int, seed: int, as_of: pd.Timestamp = AS_OF) -> pd.DataFrame:
    """Two years of noisy monthly usage with gaps, missing values and zero-login months."""
    rng = np.random.default_rng(seed)
    periods = pd.date_range(
        as_of.to_period("M").to_timestamp() - pd.DateOffset(months=24), periods=26, freq="MS"
    )
    grid = pd.MultiIndex.from_product(
        [[f"A{i:04d}" for i in range(n_accounts)], ["P1", "P2", "P3"], periods],
        names=["account_id", "product_id", "period"],
    ).to_frame(index=False)
    grid = grid[rng.random(len(grid)) < 0.75].reset_index(drop=True)
    for column, high in (("active_users", 60), ("licensed_seats", 70), ("logins", 400), ("key_events", 900)):
        values = rng.integers(0, high, len(grid)).astype("float64")
        values[rng.random(len(grid)) < 0.08] = np.nan
        grid[column] = values
    grid.loc[rng.random(len(grid)) < 0.25, "logins"] = 0.0
    grid["account_id"] = grid["account_id"].astype("str")
    grid["product_id"] = grid["product_id"].astype("str")
    return grid


def test_book_builder_types_follow_the_frame_contract() -> None:
    b = book([account("A1")], [sub("A1", "P1")])
    assert b.subscriptions["start_date"].dtype == "datetime64[ns]"
    assert b.subscriptions["quantity"].dtype == "int64"
    assert b.accounts["employees"].dtype == "float64"
    rows = usage_rows("A1", "P1", [1, 2, 3], seats=5)
    assert [r["period"] for r in rows] == [pd.Timestamp(f"2026-{m:02d}-01") for m in (6, 7, 8)]
