"""Readiness: magic numbers against hand counts, signals against hand sums, flags against the threshold.

The larger random case checks every reported count again by a second, plain pandas method
(``signal_snapshot`` at the reference month plus ``core.frames.owned_as_of``).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

from core.affinity import readiness
from core.affinity.readiness import (
    MAGIC_COLUMNS,
    PROOF_NOTE,
    granger_precedence,
    magic_numbers,
    readiness_flags,
    signal_snapshot,
)
from core.frames import Portfolio, owned_as_of
from core.settings import resolve

AS_OF = pd.Timestamp("2024-06-30")
MONTHS = pd.date_range("2023-01-01", "2024-06-01", freq="MS")  # ref month 2023-12 for a 6-month horizon


def subscription(account: str, product: str, start: str, status: str = "active") -> dict:
    return {
        "account_id": account,
        "product_id": product,
        "start_date": pd.Timestamp(start),
        "end_date": pd.NaT,
        "quantity": 1,
        "mrr": 10.0,
        "status": status,
        "churned_at": pd.NaT,
    }


def products_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_id": ["CORE", "JRN", "ANL"],
            "name": ["Core", "Journeys", "Analytics"],
            "family": ["Platform", "Engagement", "Insights"],
            "list_price": [10.0, 10.0, 10.0],
        }
    )


# -- the hand-counted book ----------------------------------------------------------------------------------
# 40 accounts with usage, 18 active users each every month, so only the seats move saturation:
#   A00-A03 seats 20 (90%)  A04-A07 seats 19 (94.7%)  A08-A11 seats 18 (100%)   -> the 12 at >= 90%
#   A12-A13 seats 36 (50%)  A14-A25 seats 30 (60%)    A26-A39 seats 24 (75%)
# Journeys bought in (2023-12-31, 2024-06-30] by A00-A07 (8 of the 12 above) and A12, A13 (2 below).
# Not counted: A14's trial; A15 buys after the window; A16 and A17 owned Journeys at the reference
# month, so they leave the population: below = 28 - 2 = 26 accounts.
# A20 reaches 18 of 19 seats in 2024-06 only: ready today, but that cannot change the past counts.
# A40 has no usage at all: never judged.

SEATS = {**{f"A{i:02d}": 20 for i in range(0, 4)}, **{f"A{i:02d}": 19 for i in range(4, 8)}}
SEATS |= {f"A{i:02d}": 18 for i in range(8, 12)} | {f"A{i:02d}": 36 for i in range(12, 14)}
SEATS |= {f"A{i:02d}": 30 for i in range(14, 26)} | {f"A{i:02d}": 24 for i in range(26, 40)}


@pytest.fixture(scope="module")
def book() -> tuple[Portfolio, pd.DataFrame]:
    ids = [f"A{i:02d}" for i in range(41)]
    accounts = pd.DataFrame(
        {"account_id": ids, "name": ids, "segment": "smb", "employees": np.nan, "employees_prev": np.nan}
    )
    subs = [subscription(a, "CORE", "2022-06-01") for a in ids]
    subs += [subscription(f"A{i:02d}", "JRN", f"2024-0{1 + i % 5}-10") for i in range(8)]
    subs += [subscription("A12", "JRN", "2024-03-01"), subscription("A13", "JRN", "2024-06-30")]
    subs += [
        subscription("A14", "JRN", "2024-02-01", status="trial"),
        subscription("A15", "JRN", "2024-07-15"),
    ]
    subs += [subscription("A16", "JRN", "2023-06-01"), subscription("A17", "JRN", "2023-12-31")]
    portfolio = Portfolio(accounts=accounts, products=products_frame(), subscriptions=pd.DataFrame(subs))
    rows = []
    for account, seats in SEATS.items():
        for month in MONTHS:
            now_seats = 19 if (account == "A20" and month == MONTHS[-1]) else seats
            rows.append((account, month, 18.0, float(now_seats), 50.0, 90.0))
    usage = pd.DataFrame(
        rows, columns=["account_id", "period", "active_users", "licensed_seats", "logins", "key_events"]
    )
    return portfolio, usage


def one_reference(**extra) -> dict:
    return resolve({"readiness.reference_months": 1, **extra})


def test_magic_number_recovers_the_threshold_and_the_hand_counts(book) -> None:
    portfolio, usage = book
    magic = magic_numbers(portfolio, usage, AS_OF, one_reference())
    assert list(magic.columns) == MAGIC_COLUMNS
    assert magic[["product_id", "signal", "direction", "rank"]].values.tolist() == [
        ["JRN", "seat_saturation", ">=", 1]
    ]
    row = magic.iloc[0]
    assert row["threshold"] == pytest.approx(0.9)
    counts = row[["buyers_above", "accounts_above", "buyers_below", "accounts_below"]].tolist()
    assert counts == [8, 12, 2, 26]
    assert row["rate_above"] == pytest.approx(8 / 12)
    assert row["rate_below"] == pytest.approx(2 / 26)
    assert row["lift"] == pytest.approx((8 / 12) / (2 / 26))
    assert row["horizon_months"] == 6


def test_the_outcome_window_follows_the_horizon(book) -> None:
    portfolio, usage = book
    # Horizon 3: the reference month is 2024-03. Journeys starts (the 10th): A00 Jan, A01 Feb, A02 Mar,
    # A03 Apr, A04 May, A05 Jan, A06 Feb, A07 Mar; A12 on 2024-03-01. Owners then: A00-A02, A05-A07,
    # A12, A16, A17. Above 90%: A03, A04, A08-A11 (6), buyers A03, A04. Below: 25, buyer A13 (June 30th).
    settings = one_reference(
        **{"readiness.horizon_months": 3, "readiness.min_accounts": 5, "readiness.min_buyers": 2}
    )
    magic = magic_numbers(portfolio, usage, AS_OF, settings)
    assert magic[["signal", "direction"]].values.tolist() == [["seat_saturation", ">="]]
    assert magic["threshold"].iloc[0] == pytest.approx(0.9)
    assert magic[["buyers_above", "accounts_above", "buyers_below", "accounts_below"]].values.tolist() == [
        [2, 6, 1, 25]
    ]
    assert magic["lift"].iloc[0] == pytest.approx((2 / 6) / (1 / 25))
    assert magic["horizon_months"].iloc[0] == 3


def test_minimum_counts_suppress_a_split(book) -> None:
    portfolio, usage = book
    assert magic_numbers(portfolio, usage, AS_OF, one_reference(**{"readiness.min_buyers": 9})).empty
    assert magic_numbers(portfolio, usage, AS_OF, one_reference(**{"readiness.min_accounts": 13})).empty


def test_no_reference_month_old_enough_gives_an_empty_frame(book) -> None:
    portfolio, usage = book
    magic = magic_numbers(portfolio, usage, pd.Timestamp("2023-05-31"), one_reference())
    assert magic.empty and list(magic.columns) == MAGIC_COLUMNS


def test_granger_note_is_plain_about_proof(book) -> None:
    portfolio, usage = book
    row = magic_numbers(portfolio, usage, AS_OF, one_reference()).iloc[0]
    if np.isnan(row["granger_p"]):
        assert row["note"].startswith("Granger test skipped")
    else:
        assert 0 <= row["granger_p"] <= 1 and row["granger_lag"] in (1, 2, 3)
        assert row["note"].startswith(PROOF_NOTE)


def test_flags_follow_the_threshold(book) -> None:
    portfolio, usage = book
    magic = magic_numbers(portfolio, usage, AS_OF, one_reference())
    flags = readiness_flags(portfolio, usage, magic, AS_OF)
    assert flags[["account_id", "product_id"]].values.tolist() == [
        ["A08", "JRN"],
        ["A09", "JRN"],
        ["A10", "JRN"],
        ["A11", "JRN"],
        ["A20", "JRN"],
    ]
    assert flags["ready"].tolist() == [True] * 5
    lift = (8 / 12) / (2 / 26)
    assert flags["readiness_reason"].iloc[0] == (
        f"seat saturation 100% (≥ 90%: accounts above bought Journeys {lift:.1f}x as often within 6 months, "
        "8 of 12 accounts)"
    )
    assert flags["readiness_reason"].iloc[4].startswith("seat saturation 95% (≥ 90%")


def test_flags_can_list_the_not_ready_pairs_too(book) -> None:
    portfolio, usage = book
    magic = magic_numbers(portfolio, usage, AS_OF, one_reference())
    flags = readiness_flags(portfolio, usage, magic, AS_OF, include_not_ready=True)
    # 40 accounts with usage; Journeys owned today by A00-A07, A12, A13, A16, A17 (A15 starts later).
    assert len(flags) == 40 - 12
    assert flags["ready"].sum() == 5
    assert "A40" not in set(flags["account_id"])


def test_flags_with_an_empty_magic_frame_are_empty(book) -> None:
    portfolio, usage = book
    magic = magic_numbers(portfolio, usage, AS_OF, one_reference(**{"readiness.min_buyers": 9}))
    flags = readiness_flags(portfolio, usage, magic, AS_OF)
    assert flags.empty and list(flags.columns) == [
        "account_id",
        "product_id",
        "ready",
        "readiness_reason",
        "signal",
    ]


def test_tickets_naming_a_product_can_be_its_magic_number() -> None:
    # Same usage everywhere; "Journeys" tickets in Nov 2023 for A00-A11, of whom A00-A05 buy in the
    # window; A20 and A21 buy without asking. Tickets in May 2024 make A30 and A31 ready today.
    ids = [f"A{i:02d}" for i in range(40)]
    accounts = pd.DataFrame({"account_id": ids, "name": ids, "segment": "smb"})
    subs = [subscription(a, "CORE", "2022-06-01") for a in ids]
    subs += [
        subscription(a, "JRN", "2024-02-01") for a in ["A00", "A01", "A02", "A03", "A04", "A05", "A20", "A21"]
    ]
    asked = [f"A{i:02d}" for i in range(12)]
    activities = pd.DataFrame(
        {
            "account_id": asked + ["A30", "A31"],
            "date": [pd.Timestamp("2023-11-15")] * 12 + [pd.Timestamp("2024-05-20")] * 2,
            "kind": "ticket",
            "subject": "Can Journeys send reminders?",
            "product_id": pd.NA,
        }
    )
    portfolio = Portfolio(
        accounts=accounts, products=products_frame(), subscriptions=pd.DataFrame(subs), activities=activities
    )
    usage = pd.DataFrame(
        [(a, m, 18.0, 20.0, 50.0, 90.0) for a in ids for m in MONTHS],
        columns=["account_id", "period", "active_users", "licensed_seats", "logins", "key_events"],
    )
    magic = magic_numbers(portfolio, usage, AS_OF, one_reference())
    assert magic[["product_id", "signal", "threshold", "direction"]].values.tolist() == [
        ["JRN", "capability_mentions", 1.0, ">="]
    ]
    assert magic[["buyers_above", "accounts_above", "buyers_below", "accounts_below"]].values.tolist() == [
        [6, 12, 2, 28]
    ]
    assert magic["lift"].iloc[0] == pytest.approx((6 / 12) / (2 / 28))
    note, p = magic["note"].iloc[0], magic["granger_p"].iloc[0]
    assert (np.isnan(p) and note.startswith("Granger test skipped")) or (0 <= p <= 1 and PROOF_NOTE in note)
    flags = readiness_flags(portfolio, usage, magic, AS_OF)
    assert flags["account_id"].tolist() == ["A30", "A31"]
    assert (
        flags["readiness_reason"]
        .iloc[0]
        .startswith(
            "1 activity mentioning Journeys in the last 3 months (≥ 1: accounts above bought Journeys 7.0x as often"
        )
    )


def test_bad_inputs_are_refused(book) -> None:
    portfolio, usage = book
    with pytest.raises(ValueError, match="lacks column"):
        magic_numbers(portfolio, usage.drop(columns="logins"), AS_OF, resolve())
    with pytest.raises(ValueError, match="as_of"):
        magic_numbers(portfolio, usage, None, resolve())
    with pytest.raises(ValueError, match="readiness.horizon_months"):
        magic_numbers(portfolio, usage, AS_OF, resolve({"readiness.horizon_months": 0}))
    with pytest.raises(ValueError, match="datetime64"):
        signal_snapshot(portfolio, usage.assign(period=usage["period"].astype(str)), AS_OF)
    with pytest.raises(ValueError, match="magic lacks"):
        readiness_flags(portfolio, usage, pd.DataFrame({"product_id": []}), AS_OF)


# -- signals by hand ---------------------------------------------------------------------------------------


def test_signal_snapshot_values_by_hand() -> None:
    months = pd.date_range("2024-01-01", periods=6, freq="MS")
    ids = ["X1", "X2", "X3", "X4", "X5", "X6"]
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "name": ids,
            "segment": "smb",
            "employees": [120, np.nan, 50, 0, 10, 10],
            "employees_prev": [100, 10, 0, 10, np.nan, 20],
        }
    )
    rows = []

    def add(account: str, logins: list, key_events: list | None = None, users=5.0, seats=10.0) -> None:
        for month, count, events in zip(months, logins, key_events or [1] * 6, strict=True):
            if count is not None:
                rows.append((account, month, users, seats, count, events))

    add("X1", [9] * 6, [10, 10, 10, 20, 20, 20])  # growth 60 / 30 - 1 = 100%
    add("X2", [5, 0, 0, 0, 7, 3])  # logins back in May after Feb-Apr at zero
    add("X3", [5, None, None, 4, 4, 4])  # missing months count as quiet: back in April
    add("X4", [None, None, None, 4, 4, 4])  # new in April: nothing to return from; growth unknown
    add("X5", [0, 0, 4, 4, 4, 4])  # back in March: too long ago for June
    add("X6", [3] * 6, users=0.0, seats=0.0)  # no users, no seats: ratios unknown
    usage = pd.DataFrame(
        rows, columns=["account_id", "period", "active_users", "licensed_seats", "logins", "key_events"]
    )
    usage = pd.concat([usage, usage.assign(period=usage["period"] + pd.DateOffset(years=1))])  # future rows
    activities = pd.DataFrame(
        {
            "account_id": ["X1", "X1", "X1", "X1", "X1", "X2"],
            "date": pd.to_datetime(
                ["2024-05-02", "2024-06-20", "2024-04-30", "2024-01-15", "2024-07-01", "2024-06-01"]
            ),
            "kind": "ticket",
            "subject": [
                "Question about journeys setup",
                "Engagement report broken",
                "help",
                "journeys",
                "journeys",
                "Journeysmith login",
            ],
            "product_id": [pd.NA, pd.NA, "ANL", pd.NA, pd.NA, pd.NA],
        }
    )
    portfolio = Portfolio(
        accounts=accounts,
        products=products_frame(),
        subscriptions=pd.DataFrame([subscription("X1", "CORE", "2023-01-01")]),
        activities=activities,
    )
    snap = signal_snapshot(portfolio, usage, pd.Timestamp("2024-06-15")).set_index("account_id")
    assert snap.loc["X1", "usage_growth"] == pytest.approx(1.0)
    assert snap.loc["X2", "usage_growth"] == pytest.approx(0.0)
    assert np.isnan(snap.loc["X4", "usage_growth"])
    assert snap.loc["X1", "seat_saturation"] == pytest.approx(0.5)
    assert snap.loc["X1", "key_events_per_user"] == pytest.approx(20 / 5)
    assert snap.loc["X1", "active_users"] == 5
    assert np.isnan(snap.loc["X6", "seat_saturation"]) and np.isnan(snap.loc["X6", "key_events_per_user"])
    assert snap["dormancy_return"].to_dict() == {
        "X1": 0.0,
        "X2": 1.0,
        "X3": 1.0,
        "X4": 0.0,
        "X5": 0.0,
        "X6": 0.0,
    }
    assert snap.loc["X1", "team_growth"] == pytest.approx(0.2)
    assert snap.loc["X2", "team_growth"] == pytest.approx(np.nan, nan_ok=True)
    assert snap.loc["X3", "team_growth"] == pytest.approx(np.nan, nan_ok=True)
    assert snap.loc["X4", "team_growth"] == pytest.approx(-1.0)
    # Last 3 months (Apr-Jun): "journeys" by name and "Engagement" by family; ANL by product_id.
    assert snap.loc["X1", "capability_mentions:JRN"] == 2
    assert snap.loc["X1", "capability_mentions:ANL"] == 1
    assert snap.loc["X2", "capability_mentions:JRN"] == 0  # "Journeysmith" is another word
    assert snap.loc["X1", "capability_mentions:CORE"] == 0
    # Only data up to the month: in March, X1 has no growth window and X2 has not come back yet.
    march = signal_snapshot(portfolio, usage, "2024-03-31").set_index("account_id")
    assert np.isnan(march.loc["X1", "usage_growth"]) and march.loc["X2", "dormancy_return"] == 0.0
    assert march.loc["X1", "capability_mentions:JRN"] == 1  # only the January "journeys" ticket


def test_mentions_by_name_words_and_by_family_inside_a_name() -> None:
    catalogue = pd.DataFrame(
        {
            "product_id": ["MA", "JO", "CRM"],
            "name": ["Marketing Automation", "Journey Orchestration", "Core CRM"],
            "family": ["marketing", "marketing", "sales"],
            "list_price": 1.0,
        }
    )
    accounts = pd.DataFrame({"account_id": ["Y1", "Y2", "Y3"], "name": "y", "segment": "smb"})
    activities = pd.DataFrame(
        {
            "account_id": ["Y1", "Y2", "Y3"],
            "date": pd.Timestamp("2024-06-03"),
            "kind": "ticket",
            "subject": ["Marketing Automation: login issue", "Asked about journey setup", "Core CRM export"],
            "product_id": pd.NA,
        }
    )
    usage = pd.DataFrame(
        {
            "account_id": ["Y1"],
            "period": pd.Timestamp("2024-06-01"),
            "active_users": 1.0,
            "licensed_seats": 1.0,
            "logins": 1.0,
            "key_events": 1.0,
        }
    )
    portfolio = Portfolio(
        accounts=accounts,
        products=catalogue,
        subscriptions=pd.DataFrame([subscription("Y1", "CRM", "2023-01-01")]),
        activities=activities,
    )
    snap = signal_snapshot(portfolio, usage, "2024-06-30").set_index("account_id")
    mentioned = snap.filter(like="capability_mentions:").gt(0)
    assert mentioned.loc["Y1"].tolist() == [False, True, True]  # CRM, JO (same family), MA
    assert mentioned.loc["Y2"].tolist() == [False, True, False]  # "journey" belongs to one name only
    assert mentioned.loc["Y3"].tolist() == [True, False, False]


# -- Granger -----------------------------------------------------------------------------------------------


def test_granger_finds_a_leading_series() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=60).cumsum() * 0.2 + rng.normal(size=60)
    y = np.r_[0.0, 2 * x[:-1]] + rng.normal(scale=0.3, size=60)
    p, lag, note = granger_precedence(x, y)
    assert 0 <= p <= 1 and p < 0.01 and lag == 1
    assert note.startswith(PROOF_NOTE)
    p_back, _, _ = granger_precedence(rng.normal(size=60), y)
    assert 0 <= p_back <= 1 and p_back > p


def test_granger_skips_short_and_constant_series() -> None:
    p, lag, note = granger_precedence(np.arange(8.0), np.arange(8.0) % 3)
    assert np.isnan(p) and np.isnan(lag) and "needs 12" in note
    p, lag, note = granger_precedence(np.ones(24), np.arange(24.0) % 5)
    assert np.isnan(p) and "constant" in note
    x = np.random.default_rng(1).normal(size=30)
    p, lag, note = granger_precedence(x, np.r_[0.0, x[:-1]])  # a perfect fit has no test statistic
    assert np.isnan(p) and note.startswith("Granger test skipped")


def test_empty_usage_and_subscriptions_give_empty_frames(book) -> None:
    portfolio, usage = book
    magic = magic_numbers(portfolio, usage.iloc[:0], AS_OF, resolve())
    assert magic.empty and list(magic.columns) == MAGIC_COLUMNS
    assert readiness_flags(portfolio, usage.iloc[:0], magic, AS_OF).empty
    bare = Portfolio(
        accounts=portfolio.accounts,
        products=portfolio.products,
        subscriptions=portfolio.subscriptions.iloc[:0],
    )
    assert magic_numbers(bare, usage, AS_OF, resolve()).empty


# -- a larger random case against a second method ----------------------------------------------------------


def synthetic_book(n_accounts: int, n_months: int, n_products: int, seed: int, n_activities: int = 0):
    """A random book where saturation above ~90% makes a purchase in the next months more likely."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"S{i:06d}" for i in range(n_accounts)], dtype=object)
    months = pd.date_range("2022-07-01", periods=n_months, freq="MS")
    employees = rng.integers(10, 1000, n_accounts).astype(float)
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "name": ids,
            "segment": "smb",
            "employees": employees,
            "employees_prev": np.round(employees * rng.uniform(0.7, 1.3, n_accounts)),
        }
    )
    pids = [f"P{k:02d}" for k in range(n_products)]
    products = pd.DataFrame(
        {
            "product_id": pids,
            "name": [f"Prod{k}" for k in range(n_products)],
            "family": [f"Fam{k % 4}" for k in range(n_products)],
            "list_price": 10.0,
        }
    )
    seats = rng.integers(5, 200, n_accounts).astype(float)
    drift = rng.normal(0, 0.03, n_accounts)[:, None] * np.arange(n_months)[None, :]
    noise = rng.normal(0, 0.05, (n_accounts, n_months))
    saturation = np.clip(rng.uniform(0.3, 1.0, n_accounts)[:, None] + drift + noise, 0, 1.2)
    users = np.round(saturation * seats[:, None])
    logins = np.where(rng.random((n_accounts, n_months)) < 0.05, 0, users * 4)
    usage = pd.DataFrame(
        {
            "account_id": np.repeat(ids, n_months),
            "period": np.tile(months.values, n_accounts),
            "active_users": users.ravel(),
            "licensed_seats": np.repeat(seats, n_months),
            "logins": logins.ravel(),
            "key_events": (users * rng.uniform(5, 30, (n_accounts, n_months))).round().ravel(),
        }
    )
    frames = [
        pd.DataFrame(
            {
                "account_id": ids,
                "product_id": pids[0],
                "start_date": months[0] - pd.Timedelta(days=30),
                "status": "active",
            }
        )
    ]
    for k in range(1, n_products):
        month = rng.integers(0, n_months, n_accounts)
        hot = saturation[np.arange(n_accounts), np.maximum(month - 1, 0)] > 0.9
        buy = rng.random(n_accounts) < 0.024 * (1 + 6 * hot)
        status = np.where(
            rng.random(buy.sum()) < 0.1, "trial", np.where(rng.random(buy.sum()) < 0.2, "churned", "active")
        )
        start = months[month[buy]] + pd.to_timedelta(rng.integers(0, 27, buy.sum()), unit="D")
        frames.append(
            pd.DataFrame(
                {"account_id": ids[buy], "product_id": pids[k], "start_date": start, "status": status}
            )
        )
    subs = pd.concat(frames, ignore_index=True)
    subs["churned_at"] = (subs["start_date"] + pd.Timedelta(days=120)).where(subs["status"] == "churned")
    subs = subs.assign(end_date=pd.NaT, quantity=1, mrr=10.0)
    activities = pd.DataFrame(
        {
            "account_id": rng.choice(ids, n_activities),
            "date": months[0] + pd.to_timedelta(rng.integers(0, n_months * 30, n_activities), unit="D"),
            "kind": "ticket",
            "subject": rng.choice(
                [f"question about Prod{k}" for k in range(n_products)] + ["billing", "Fam1 down"],
                n_activities,
            ),
            "product_id": pd.NA,
            "sentiment": pd.NA,
        }
    )
    portfolio = Portfolio(accounts=accounts, products=products, subscriptions=subs, activities=activities)
    return portfolio, usage


def test_magic_counts_and_flags_agree_with_a_second_method() -> None:
    portfolio, usage = synthetic_book(3000, 24, 6, seed=11, n_activities=5000)
    as_of = pd.Timestamp("2024-06-30")
    settings = resolve({"readiness.reference_months": 1, "readiness.top_signals": 7})
    magic = magic_numbers(portfolio, usage, as_of, settings)
    assert len(magic) >= 5 and set(magic["signal"]) >= {"seat_saturation"}
    assert (magic.groupby("product_id")["signal"].first() == "seat_saturation").mean() >= 0.6

    ref = pd.Timestamp("2023-12-31")
    snap = signal_snapshot(portfolio, usage, ref).set_index("account_id")
    with_usage = set(usage.loc[usage["period"] <= ref, "account_id"])
    subs = portfolio.subscriptions
    for row in magic.itertuples(index=False):
        owners = set(owned_as_of(subs[subs["product_id"] == row.product_id], ref)["account_id"])
        bought = subs[
            (subs["product_id"] == row.product_id)
            & (subs["status"] != "trial")
            & (subs["start_date"] > ref)
            & (subs["start_date"] <= as_of)
        ]
        column = (
            f"capability_mentions:{row.product_id}" if row.signal == "capability_mentions" else row.signal
        )
        values = snap.loc[sorted(with_usage - owners), column].dropna()
        passing = values >= row.threshold if row.direction == ">=" else values <= row.threshold
        is_buyer = values.index.isin(bought["account_id"])
        got = [row.buyers_above, row.accounts_above, row.buyers_below, row.accounts_below]
        assert got == [
            int((passing & is_buyer).sum()),
            int(passing.sum()),
            int((~passing & is_buyer).sum()),
            int((~passing).sum()),
        ]
        assert row.lift == pytest.approx(row.rate_above / row.rate_below)

    flags = readiness_flags(portfolio, usage, magic, as_of)
    now = signal_snapshot(portfolio, usage, as_of).set_index("account_id")
    owned_now = owned_as_of(subs, as_of)
    expected = set()
    for row in magic[magic["rank"] == 1].itertuples(index=False):
        column = (
            f"capability_mentions:{row.product_id}" if row.signal == "capability_mentions" else row.signal
        )
        values = now[column].dropna()
        passing = (
            values[values >= row.threshold] if row.direction == ">=" else values[values <= row.threshold]
        )
        owners = set(owned_now.loc[owned_now["product_id"] == row.product_id, "account_id"])
        expected |= {(a, row.product_id) for a in passing.index if a not in owners}
    assert set(zip(flags["account_id"], flags["product_id"], strict=True)) == expected
    assert flags["readiness_reason"].str.contains(r"\d+ of \d+ accounts\)$").all()


def test_several_reference_months_count_each_account_once_per_month() -> None:
    portfolio, usage = synthetic_book(1500, 24, 4, seed=5)
    as_of = pd.Timestamp("2024-06-30")
    one = magic_numbers(
        portfolio, usage, as_of, resolve({"readiness.reference_months": 1, "readiness.top_signals": 7})
    )
    two = magic_numbers(
        portfolio, usage, as_of, resolve({"readiness.reference_months": 2, "readiness.top_signals": 7})
    )
    both = one.merge(two, on=["product_id", "signal", "threshold", "direction"], suffixes=("_1", "_2"))
    population_one = both["accounts_above_1"] + both["accounts_below_1"]
    population_two = both["accounts_above_2"] + both["accounts_below_2"]
    assert (population_two > population_one).all()
    assert (population_two <= 2 * 1500).all()


@pytest.mark.skipif(not os.environ.get("QUADRANT_BENCH"), reason="set QUADRANT_BENCH=1 to time 100k accounts")
def test_speed_at_100k_accounts() -> None:
    portfolio, usage = synthetic_book(100_000, 24, 16, seed=1, n_activities=200_000)
    as_of = pd.Timestamp("2024-06-30")
    import statsmodels.tsa.stattools  # noqa: F401  (its one-off import is not the analysis)

    started = time.perf_counter()
    magic = magic_numbers(portfolio, usage, as_of, resolve())
    middle = time.perf_counter()
    flags = readiness_flags(portfolio, usage, magic, as_of)
    ended = time.perf_counter()
    print(
        f"magic_numbers {middle - started:.2f} s, readiness_flags {ended - middle:.2f} s, "
        f"{len(magic)} magic rows, {len(flags)} ready pairs"
    )
    assert ended - started < 10


def test_seat_saturation_counts_only_users_of_seat_licensed_products() -> None:
    """Per product rows: 8 of 10 seats used, plus 6 users of a flat product that has no seats."""
    months = pd.date_range("2024-01-01", periods=6, freq="MS")
    rows = [("S1", m, 8.0, 10.0, 5, 1) for m in months] + [("S1", m, 6.0, np.nan, 5, 1) for m in months]
    usage = pd.DataFrame(
        rows, columns=["account_id", "period", "active_users", "licensed_seats", "logins", "key_events"]
    )
    accounts = pd.DataFrame(
        {
            "account_id": ["S1"],
            "name": ["S1"],
            "segment": "smb",
            "employees": np.nan,
            "employees_prev": np.nan,
        }
    )
    portfolio = Portfolio(
        accounts=accounts,
        products=products_frame(),
        subscriptions=pd.DataFrame([subscription("S1", "CORE", "2023-01-01")]),
    )
    snap = signal_snapshot(portfolio, usage, pd.Timestamp("2024-06-15")).set_index("account_id")
    assert snap.loc["S1", "seat_saturation"] == pytest.approx(0.8)
    assert snap.loc["S1", "active_users"] == 14
    summed = usage.groupby(["account_id", "period"], as_index=False).sum(min_count=1)  # as the store sums
    summed["seated_users"] = 8.0
    snap = signal_snapshot(portfolio, summed, pd.Timestamp("2024-06-15")).set_index("account_id")
    assert snap.loc["S1", "seat_saturation"] == pytest.approx(0.8)


# -- the vectorised internals, against hand counts ----------------------------------------------------------


def test_an_activity_naming_its_own_product_is_one_mention() -> None:
    """Product_id and subject naming the same product count once; naming another product adds that one."""
    accounts = pd.DataFrame({"account_id": ["M1"], "name": ["M1"], "segment": "smb"})
    activities = pd.DataFrame(
        {
            "account_id": ["M1", "M1", "M1"],
            "date": pd.to_datetime(["2024-05-02", "2024-05-03", "2024-06-01"]),
            "kind": "ticket",
            "subject": ["Journeys question", "journeys and analytics", "help"],
            "product_id": ["JRN", "ANL", "JRN"],
        }
    )
    portfolio = Portfolio(
        accounts=accounts,
        products=products_frame(),
        subscriptions=pd.DataFrame([subscription("M1", "CORE", "2023-01-01")]),
        activities=activities,
    )
    usage = pd.DataFrame(
        [("M1", m, 5.0, 10.0, 5.0, 5.0) for m in pd.date_range("2024-01-01", periods=6, freq="MS")],
        columns=["account_id", "period", "active_users", "licensed_seats", "logins", "key_events"],
    )
    snap = signal_snapshot(portfolio, usage, pd.Timestamp("2024-06-15")).set_index("account_id")
    assert snap.loc["M1", "capability_mentions:JRN"] == 3  # once per activity: both ways, subject, id
    assert snap.loc["M1", "capability_mentions:ANL"] == 1  # by product_id and by subject: once


def test_cell_sums_place_or_add_alike() -> None:
    """One row per cell is placed, several are added: both give 0.0 for -0.0 and NaN for no number."""
    placed = readiness._cell_sums(np.array([0, 2, 3]), np.array([-0.0, 1.5, np.nan]), 5, single=True)
    added = readiness._cell_sums(np.array([0, 2, 3]), np.array([-0.0, 1.5, np.nan]), 5, single=False)
    for sums in (placed, added):
        assert sums[0] == 0.0 and not np.signbit(sums[0])
        assert sums[2] == 1.5
        assert np.isnan(sums[[1, 3, 4]]).all()
    summed = readiness._cell_sums(np.array([2, 2, 2]), np.array([1.5, 2.5, np.nan]), 5, single=False)
    assert summed[2] == 4.0 and np.isnan(summed[[0, 1, 3, 4]]).all()


def test_best_splits_count_both_directions_from_one_pass() -> None:
    """40 non-owners at values 1-4 (10 each), buyers 6, 1, 1, 0; two owners at 1 and three NaNs left out.

    "<= 1": 10 accounts and 6 buyers pass, 30 and 2 do not. ">= 2" passes 30 (over half the 40), the
    higher thresholds have fewer buyers per account above. The negated signal finds the same split as ">= -1".
    """
    values = np.repeat([1.0, 2.0, 3.0, 4.0], 10)
    bought = np.zeros(40, dtype=bool)
    bought[[0, 1, 2, 3, 4, 5, 10, 20]] = True
    population = np.ones(40, dtype=bool)
    values = np.concatenate([values, [1.0, 1.0, np.nan, np.nan, np.nan]])
    bought = np.concatenate([bought, [True, False, True, False, False]])
    population = np.concatenate([population, [False, False, True, True, True]])
    cells = readiness._Cells.of(population[:, None], (bought & population)[:, None])
    for signal, direction, threshold in (("active_users", "<=", 1.0), ("usage_growth", ">=", -1.0)):
        sign = 1.0 if direction == "<=" else -1.0
        found = readiness._best_splits(sign * values, cells, signal, pd.Index(["P"]), 5, 3)
        assert list(found["direction"]) == [direction] and list(found["threshold"]) == [threshold]
        assert [
            found[c][0] for c in ("buyers_above", "accounts_above", "buyers_below", "accounts_below")
        ] == [
            6,
            10,
            2,
            30,
        ]
        assert found["lift"][0] == pytest.approx((6 / 10) / (2 / 30))


def test_non_owner_means_count_an_overlapping_owner_once() -> None:
    """The monthly series Granger tests, by hand, Jan-Jun 2024 month-ends.

    A owns P and Q through two subscriptions overlapping in February (owner at Jan-Mar ends), B from
    May; D's usage starts in March. Non-owning customers' active users (A 10, B 20, C 30, D 40):
    Jan, Feb (20 + 30) / 2; Mar (20 + 30 + 40) / 3; Apr all four, 100 / 4; May, Jun (10 + 30 + 40) / 3.
    Mentions of Q count for three months: C's three in January (Jan-Mar), A's in February (while an
    owner) and April, D's in February (a customer from March): Jan, Feb 3 / 2; Mar (3 + 1) / 3;
    Apr (A 2 + D 1) / 4; May, Jun A's 1 / 3.
    """
    months = pd.date_range("2024-01-01", periods=6, freq="MS")
    ids = ["A", "B", "C", "D"]
    accounts = pd.DataFrame({"account_id": ids, "name": ids, "segment": "smb"})
    products = pd.DataFrame({"product_id": ["P", "Q"], "name": ["Pe", "Qu"], "family": ["F1", "F2"]})
    subs = []
    for product in ("P", "Q"):
        first = subscription("A", product, "2023-12-01", status="churned")
        second = subscription("A", product, "2024-02-10", status="churned")
        first["churned_at"], second["churned_at"] = pd.Timestamp("2024-03-15"), pd.Timestamp("2024-04-20")
        subs += [first, second, subscription("B", product, "2024-05-05")]
    portfolio = Portfolio(accounts=accounts, products=products, subscriptions=pd.DataFrame(subs))
    users = {"A": 10.0, "B": 20.0, "C": 30.0, "D": 40.0}
    usage = pd.DataFrame(
        [(a, m, users[a], 50.0, 5.0, 5.0) for a in ids for m in months if a != "D" or m.month >= 3],
        columns=["account_id", "period", "active_users", "licensed_seats", "logins", "key_events"],
    )
    events = pd.DataFrame(
        {
            "account": [2, 2, 2, 0, 0, 3],
            "product": 1,
            "date": pd.to_datetime(
                ["2024-01-05", "2024-01-15", "2024-01-25", "2024-02-10", "2024-04-05", "2024-02-01"]
            ),
        }
    )
    index, codes = readiness._account_index(portfolio), readiness._product_index(portfolio)
    panel = readiness._build_panel(usage, index, months[0], months[-1])
    subscriptions = readiness._subscription_arrays(portfolio, index, codes)
    ownership = readiness._ownership_by_month(subscriptions, readiness._month_ends(months), len(index))
    tested = pd.DataFrame({"product_id": ["P", "Q"], "signal": ["active_users", "capability_mentions"]})
    signals = {"active_users": panel.active_users}
    means = readiness._non_owner_means(tested, panel, signals, ownership, events, codes)
    assert means["P"] == pytest.approx([25, 25, 30, 25, 80 / 3, 80 / 3])
    assert means["Q"] == pytest.approx([1.5, 1.5, 4 / 3, 0.75, 1 / 3, 1 / 3])
