"""Purchase order: hand-dated books for time-to-attach, next product and time to second product; loops as a second method."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.affinity.sequencing import (
    ATTACH_TIME_COLUMNS,
    NEXT_COLUMNS,
    SECOND_COLUMNS,
    first_purchases,
    next_product,
    time_to_attach,
    time_to_second_product,
)
from core.frames import Portfolio


def make_book(rows: list[tuple], accounts: list[str]) -> Portfolio:
    """rows: (account, product, start, status='active', churned_at=None)."""
    frame = pd.DataFrame(
        [(r + ("active", None))[:5] if len(r) == 3 else (r + (None,))[:5] for r in rows],
        columns=["account_id", "product_id", "start_date", "status", "churned_at"],
    )
    frame = frame.assign(
        start_date=pd.to_datetime(frame["start_date"]),
        churned_at=pd.to_datetime(frame["churned_at"]),
        end_date=pd.NaT,
        quantity=1,
        mrr=10.0,
    )
    products = sorted(set(frame["product_id"]))
    return Portfolio(
        accounts=pd.DataFrame({"account_id": accounts, "name": accounts, "segment": "smb"}),
        products=pd.DataFrame({"product_id": products, "name": products, "list_price": 1.0}),
        subscriptions=frame,
    )


HAND = make_book(
    [
        ("s1", "A", "2023-01-01"),
        ("s1", "B", "2023-03-02"),
        ("s1", "C", "2023-03-02"),
        ("s2", "A", "2023-01-01"),
        ("s2", "B", "2023-01-31"),
        ("s2", "C", "2022-12-01", "trial"),
        ("s3", "A", "2023-02-01", "churned", "2023-06-01"),
        ("s3", "B", "2023-05-02"),
        ("s4", "B", "2023-01-01"),
        ("s4", "A", "2023-01-01"),
        ("s6", "C", "2023-01-01"),
        ("s6", "A", "2023-04-01"),
        ("s6", "A", "2023-02-01", "churned", "2023-03-01"),
        ("s7", "A", "2023-01-01"),
        ("s7", "B", "2023-02-01"),
        ("s7", "C", "2023-03-01"),
        ("ghost", "A", "2023-01-01"),  # not in accounts: ignored
    ],
    accounts=["s1", "s2", "s3", "s4", "s5", "s6", "s7"],
)


def row(frame: pd.DataFrame, **match: object) -> pd.Series:
    mask = np.logical_and.reduce([frame[k] == v for k, v in match.items()])
    assert mask.sum() == 1, match
    return frame[mask].iloc[0]


def test_time_to_attach_hand_counted() -> None:
    table = time_to_attach(HAND)
    assert list(table.columns) == ATTACH_TIME_COLUMNS
    a_b = row(table, product_a="A", product_b="B")  # 60, 30, 90 (churned A still a purchase), 31 days
    assert (a_b["accounts"], a_b["median_days"], a_b["p25_days"], a_b["p75_days"]) == (4, 45.5, 30.75, 67.5)
    a_c = row(table, product_a="A", product_b="C")
    assert (a_c["accounts"], a_c["median_days"]) == (2, 59.5)
    assert row(table, product_a="B", product_b="C")["accounts"] == 1  # s1 bought B and C the same day
    assert row(table, product_a="C", product_b="A")["median_days"] == 31.0  # first A purchase counts
    assert table[(table["product_a"] == "B") & (table["product_b"] == "A")].empty  # s4 same day


def test_time_to_attach_can_stop_at_a_date() -> None:
    table = time_to_attach(HAND, as_of="2023-02-15")
    assert row(table, product_a="A", product_b="B")["accounts"] == 2  # s2 and s7 only
    assert table[table["product_b"] == "C"].empty


def test_next_product_hand_counted() -> None:
    table = next_product(HAND)
    assert list(table.columns) == NEXT_COLUMNS
    after_a = table[table["after"] == "A"]
    assert after_a["next_product"].tolist() == ["B", "C"]
    assert after_a["count"].tolist() == [4, 1] and after_a["accounts_after"].tolist() == [4, 4]
    assert after_a["share"].tolist() == [1.0, 0.25] and after_a["rank"].tolist() == [1, 2]
    assert row(table, after="C", next_product="A")["share"] == 1.0
    a_b = row(table, after="A;B", next_product="C")
    assert (a_b["after_size"], a_b["count"], a_b["accounts_after"]) == (2, 1, 1)
    assert len(table) == 4


def test_time_to_second_product_hand_counted() -> None:
    table = time_to_second_product(HAND).set_index("account_id")
    assert list(time_to_second_product(HAND).columns) == SECOND_COLUMNS
    assert table.loc["s1", ["first_product", "second_product", "days"]].tolist() == ["A", "B", 60.0]
    assert table.loc["s4", ["first_product", "second_product", "days"]].tolist() == ["A", "B", 0.0]
    assert table.loc["s6", ["first_product", "second_product", "days"]].tolist() == ["C", "A", 31.0]
    assert table.loc["s6", "first_date"] == pd.Timestamp("2023-01-01")
    assert pd.isna(table.loc["s5", "first_product"]) and np.isnan(table.loc["s5", "days"])
    assert list(table.index) == ["s1", "s2", "s3", "s4", "s5", "s6", "s7"]


def test_single_purchase_books_give_empty_frames_with_columns() -> None:
    lonely = make_book([("s1", "A", "2023-01-01")], ["s1"])
    assert time_to_attach(lonely).empty and list(time_to_attach(lonely).columns) == ATTACH_TIME_COLUMNS
    assert next_product(lonely).empty and list(next_product(lonely).columns) == NEXT_COLUMNS
    assert np.isnan(time_to_second_product(lonely)["days"].iloc[0])


def test_bad_as_of_is_refused() -> None:
    with pytest.raises(ValueError, match="as_of"):
        first_purchases(HAND, as_of="not a date")


# -- second method -------------------------------------------------------------------------------------------


def random_book(seed: int = 3, n: int = 250) -> Portfolio:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        for product in "PQRSTU":
            for _ in range(int(rng.integers(0, 3)) if rng.random() < 0.5 else 0):
                day = pd.Timestamp("2022-01-01") + pd.Timedelta(days=int(rng.integers(0, 60)) * 7)
                rows.append(
                    (f"r{i:03d}", product, day, str(rng.choice(["active", "churned", "trial"])), "2025-01-01")
                )
    return make_book(rows, [f"r{i:03d}" for i in range(n)])


def test_random_book_matches_plain_loops() -> None:
    book = random_book()
    firsts: dict[str, dict[str, pd.Timestamp]] = {}
    for r in book.subscriptions.itertuples():
        if r.status != "trial":
            bought = firsts.setdefault(r.account_id, {})
            bought[r.product_id] = min(bought.get(r.product_id, r.start_date), r.start_date)
    gaps: dict[tuple[str, str], list[int]] = {}
    moves: dict[tuple[str, str], int] = {}
    reached: dict[str, int] = {}
    for bought in firsts.values():
        for a, day_a in bought.items():
            for b, day_b in bought.items():
                if day_b > day_a:
                    gaps.setdefault((a, b), []).append((day_b - day_a).days)
        for day in sorted(set(bought.values()))[1:]:
            before = ";".join(sorted(p for p, d in bought.items() if d < day))
            reached[before] = reached.get(before, 0) + 1
            for p in (p for p, d in bought.items() if d == day):
                moves[(before, p)] = moves.get((before, p), 0) + 1

    table = time_to_attach(book)
    assert len(table) == len(gaps) > 20
    for r in table.itertuples():
        days = np.array(gaps[(r.product_a, r.product_b)], dtype=float)
        assert r.accounts == len(days)
        assert (r.median_days, r.p25_days, r.p75_days) == pytest.approx(
            tuple(np.percentile(days, [50, 25, 75]))
        )

    following = next_product(book)
    assert len(following) == len(moves) > 20
    for r in following.itertuples():
        assert r.count == moves[(r.after, r.next_product)]
        assert r.accounts_after == reached[r.after]


def test_remembered_purchases_follow_the_accounts_and_the_date_asked_for() -> None:
    """The first purchases are remembered per book; another accounts frame or date is another answer."""
    whole = first_purchases(HAND)
    assert first_purchases(HAND).equals(whole)  # the remembered answer is the computed one
    fewer = Portfolio(
        accounts=HAND.accounts[HAND.accounts["account_id"] != "s7"],
        products=HAND.products,
        subscriptions=HAND.subscriptions,  # the same frame object: only the accounts differ
    )
    assert "s7" not in set(first_purchases(fewer)["account_id"])
    early = first_purchases(HAND, "2023-01-31")
    assert set(early["first_date"]) <= set(pd.to_datetime(["2023-01-01", "2023-01-31"]))
    assert len(early) == 7  # s1 A; s2 A, B; s4 A, B; s6 C; s7 A (s3 starts in February)
    assert first_purchases(HAND, "2023-01-31").equals(early)
    assert first_purchases(HAND).equals(whole)
