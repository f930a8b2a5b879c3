"""Attach rates: hand-counted pairs, every ordered pair listed, labels at the thresholds, a groupby second method."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.affinity.attach import ATTACH_COLUMNS, attach_matrix
from core.frames import Portfolio
from core.settings import resolve

AS_OF = pd.Timestamp("2024-06-30")


def make_book(owned: dict[str, list[str]], catalogue: list[str], extra: list[dict] = ()) -> Portfolio:
    rows = [
        {"account_id": a, "product_id": p, "start_date": pd.Timestamp("2023-01-01"), "status": "active"}
        for a, items in owned.items()
        for p in items
    ] + list(extra)
    subs = pd.DataFrame(rows, columns=["account_id", "product_id", "start_date", "status", "churned_at"])
    subs = subs.assign(
        end_date=pd.NaT,
        quantity=1,
        mrr=10.0,
        start_date=pd.to_datetime(subs["start_date"]),
        churned_at=pd.to_datetime(subs["churned_at"]),
    )
    accounts = pd.DataFrame({"account_id": list(owned), "name": list(owned), "segment": "smb"})
    products = pd.DataFrame({"product_id": catalogue, "name": catalogue, "list_price": 1.0})
    return Portfolio(accounts=accounts, products=products, subscriptions=subs)


# A: 5 owners; of them 2 own B (40%) and 0 own C. B: 3 owners, 1 owns C. D is in the catalogue, owned by nobody.
HAND = {
    "x1": ["A", "B"],
    "x2": ["A", "B"],
    "x3": ["A"],
    "x4": ["A"],
    "x5": ["A"],
    "x6": ["B", "C"],
    "x7": [],
}


def pair(frame: pd.DataFrame, a: str, b: str) -> pd.Series:
    return frame[(frame["product_a"] == a) & (frame["product_b"] == b)].iloc[0]


def test_hand_counted_pairs_and_labels() -> None:
    table = attach_matrix(make_book(HAND, ["A", "B", "C", "D"]), AS_OF, resolve())
    assert list(table.columns) == ATTACH_COLUMNS
    assert len(table) == 4 * 3  # every ordered pair of distinct catalogue products
    a_b = pair(table, "A", "B")
    assert (a_b["accounts_a"], a_b["accounts_both"], a_b["attach_rate"], a_b["label"]) == (
        5,
        2,
        0.4,
        "strong",
    )
    b_a = pair(table, "B", "A")
    assert (b_a["accounts_a"], b_a["accounts_both"], b_a["attach_rate"]) == (3, 2, 2 / 3)
    a_c = pair(table, "A", "C")
    assert (a_c["attach_rate"], a_c["label"]) == (0.0, "weak")
    b_c = pair(table, "B", "C")
    assert (b_c["attach_rate"], b_c["label"]) == (pytest.approx(1 / 3), "")
    d_a = pair(table, "D", "A")
    assert (d_a["accounts_a"], d_a["attach_rate"], d_a["label"]) == (0, 0.0, "weak")
    assert table["accounts_both"].dtype == np.int64


def test_thresholds_come_from_settings() -> None:
    table = attach_matrix(
        make_book(HAND, ["A", "B", "C"]), AS_OF, resolve({"attach.strong": 0.5, "attach.weak": 0.34})
    )
    assert pair(table, "A", "B")["label"] == ""
    assert pair(table, "B", "A")["label"] == "strong"
    assert pair(table, "B", "C")["label"] == "weak"


def test_only_owned_on_the_date_counts() -> None:
    extra = [
        {"account_id": "x3", "product_id": "B", "start_date": "2024-07-01", "status": "active"},
        {"account_id": "x4", "product_id": "B", "start_date": "2023-01-01", "status": "trial"},
        {
            "account_id": "x5",
            "product_id": "B",
            "start_date": "2023-01-01",
            "status": "churned",
            "churned_at": "2024-12-01",
        },
    ]
    table = attach_matrix(make_book(HAND, ["A", "B", "C"], extra), AS_OF, resolve())
    assert pair(table, "A", "B")["accounts_both"] == 3  # x1, x2 and x5 (churns after as_of)


def test_settings_are_required() -> None:
    with pytest.raises(ValueError, match="attach.strong"):
        attach_matrix(make_book(HAND, ["A", "B"]), AS_OF, {})


def test_random_book_matches_a_groupby_count() -> None:
    rng = np.random.default_rng(11)
    catalogue = [f"P{j}" for j in range(9)]
    owned = {
        f"acc{i}": [
            p for p, take in zip(catalogue, rng.random(9) < rng.uniform(0.05, 0.5), strict=True) if take
        ]
        for i in range(1500)
    }
    table = attach_matrix(make_book(owned, catalogue), AS_OF, resolve())
    pairs = pd.DataFrame(
        [(a, p) for a, items in owned.items() for p in items], columns=["account_id", "product"]
    )
    both = pairs.merge(pairs, on="account_id")
    both = both[both["product_x"] != both["product_y"]].groupby(["product_x", "product_y"]).size()
    owners = pairs.groupby("product").size()
    for row in table.itertuples():
        assert row.accounts_a == owners.get(row.product_a, 0)
        assert row.accounts_both == both.get((row.product_a, row.product_b), 0)
        assert row.attach_rate == (row.accounts_both / row.accounts_a if row.accounts_a else 0.0)
