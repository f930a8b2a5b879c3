"""Backtest: a hand-built book where the rule and the popularity baseline make different, countable calls."""

from __future__ import annotations

import pandas as pd
import pytest

from core.affinity.backtest import PER_ACCOUNT_COLUMNS, backtest, portfolio_as_of
from core.frames import Portfolio
from core.settings import resolve

AS_OF = pd.Timestamp("2024-12-31")  # 6 months back: cutoff 2024-06-30


def ids(first: int, last: int) -> list[str]:
    return [f"a{i:02d}" for i in range(first, last + 1)]


def rows(
    accounts: list[str], product: str, start: str, status: str = "active", churned_at: str | None = None
) -> list:
    return [(a, product, start, status, churned_at) for a in accounts]


def hand_book() -> Portfolio:
    """At the cutoff: A&B a00-a29, A only a30-a39 and a95 (churns A later), C a40-a89, D a90-a94.

    Then: a30-a35 buy B (the rule's call), a40-a41 buy A and a90 buys C (the baseline's top calls);
    a36's B is a trial, a42 renews C it owns, n1 joined after the cutoff.
    """
    data = (
        rows(ids(0, 29), "A", "2023-02-01")
        + rows(ids(0, 29), "B", "2023-03-01")
        + rows(ids(30, 39), "A", "2023-02-01")
        + rows(["a95"], "A", "2023-02-01", "churned", "2024-10-01")
        + rows(ids(40, 89), "C", "2023-02-01")
        + rows(ids(90, 94), "D", "2023-02-01")
        + rows(ids(30, 35), "B", "2024-09-01")
        + rows(ids(40, 41), "A", "2024-09-01")
        + rows(["a90"], "C", "2024-09-01")
        + rows(["a36"], "B", "2024-09-01", "trial")
        + rows(["a42"], "C", "2024-08-01")
        + rows(["n1"], "A", "2024-08-01")
    )
    subs = pd.DataFrame(data, columns=["account_id", "product_id", "start_date", "status", "churned_at"])
    subs = subs.assign(
        start_date=pd.to_datetime(subs["start_date"]),
        churned_at=pd.to_datetime(subs["churned_at"]),
        end_date=pd.NaT,
        quantity=1,
        mrr=10.0,
    )
    accounts = ids(0, 95) + ["n1"]
    created = [pd.Timestamp("2023-01-01")] * 96 + [pd.Timestamp("2024-08-01")]
    return Portfolio(
        accounts=pd.DataFrame(
            {"account_id": accounts, "name": accounts, "segment": "smb", "created_at": created}
        ),
        products=pd.DataFrame(
            {"product_id": list("ABCD"), "name": ["Alpha", "Beta", "Gamma", "Delta"], "list_price": 1.0}
        ),
        subscriptions=subs,
    )


def test_the_book_as_it_stood_at_the_cutoff() -> None:
    past = portfolio_as_of(hand_book(), "2024-06-30")
    assert "n1" not in set(past.accounts["account_id"])
    assert (past.subscriptions["start_date"] <= "2024-06-30").all()
    a95 = past.subscriptions[past.subscriptions["account_id"] == "a95"].iloc[0]
    assert a95["status"] == "active" and pd.isna(a95["churned_at"])


def test_hit_rates_against_hand_counts() -> None:
    result = backtest(hand_book(), AS_OF, 6, resolve())
    assert result["cutoff"] == pd.Timestamp("2024-06-30")
    assert (result["accounts_evaluated"], result["buyers"]) == (96, 9)
    # The rule A -> B (30 of 41) calls a30-a35; nothing points C or D owners anywhere.
    assert result["hit_rate_at_1"] == pytest.approx(6 / 9)
    assert result["hit_rate_at_3"] == pytest.approx(6 / 9)
    assert result["precision_at_3"] == pytest.approx(6 / 27)
    # Popularity (C 50, A 41, B 30, D 5) offers C first to A owners, A to C owners, C to D owners.
    assert result["baseline_hit_rate_at_1"] == pytest.approx(3 / 9)
    assert result["baseline_hit_rate_at_3"] == pytest.approx(1.0)
    assert result["baseline_precision_at_3"] == pytest.approx(9 / 27)
    table = result["per_account"].set_index("account_id")
    assert list(result["per_account"].columns) == PER_ACCOUNT_COLUMNS
    assert sorted(table.index) == ids(30, 35) + ["a40", "a41", "a90"]
    assert table.loc["a30", ["bought", "suggested", "baseline"]].tolist() == ["B", "B", "C;B;D"]
    assert table.loc["a40", ["suggested", "baseline", "baseline_hit_at_1"]].tolist() == ["", "A;B;D", True]


def test_months_must_be_positive() -> None:
    with pytest.raises(ValueError, match="months"):
        backtest(hand_book(), AS_OF, 0, resolve())
