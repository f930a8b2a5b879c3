"""Portfolio metrics: every figure checked on a hand-computed book of 8 accounts, then against a plain re-count."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from core.frames import Portfolio
from core.portfolio import METRIC_COLUMNS, OWNER_COLUMNS, attach_heatmap, owner_book, portfolio_metrics
from core.settings import resolve

AS_OF = pd.Timestamp("2025-06-30")  # 12 months back: 2024-06-30
NaN = float("nan")


def subs_frame(rows: list[tuple]) -> pd.DataFrame:
    columns = [
        "account_id",
        "product_id",
        "start_date",
        "end_date",
        "quantity",
        "mrr",
        "status",
        "churned_at",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("start_date", "end_date", "churned_at"):
        frame[column] = pd.to_datetime(frame[column])
    return frame.astype({"quantity": "int64", "mrr": "float64", "account_id": "str", "product_id": "str"})


@pytest.fixture
def book() -> Portfolio:
    """Eight accounts with a churn history (P1 anchor, P2 attach, P3 strategic, P4 sunset).

    On 2024-06-30 (12 months back)       On 2025-06-30 (as_of)
    A1 ent  P1 100, P2 200 (multi, 300)  + P3 100 since 2024-09-01      -> 3 products, 400
    A2 ent  P1 50, P4 50   (multi, 100)  P4 churned 2024-12-01          -> 1 product, 50
    A3 mid  P2 400         (single, 400) P2 churned 2025-01-15          -> none
    A4 mid  P1 100, P3 100 (multi, 200)  P2 trial since 2025-05-01      -> 2 products, 200
    A5 smb  P3 100         (single, 100)                                -> 1 product, 100
    A6 smb  P1 30          (single, 30)  + P2 60 since 2024-08-01       -> 2 products, 90
    A7 smb  none (P4 churned 2024-03-01) P4 bought again 2025-02-01     -> 1 product, 50
    A8 ent  never bought (a trial only)                                 -> none
    """
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(1, 9)],
            "name": [f"Account {i}" for i in range(1, 9)],
            "segment": [
                "enterprise",
                "enterprise",
                "mid-market",
                "mid-market",
                "smb",
                "smb",
                "smb",
                "enterprise",
            ],
            "owner": ["ann", "ann", "bob", "bob", "cat", "cat", None, "ann"],
        }
    )
    products = pd.DataFrame(
        {
            "product_id": ["P1", "P2", "P3", "P4"],
            "name": ["One", "Two", "Three", "Four"],
            "list_price": [10.0, 20.0, 100.0, 50.0],
            "unit": ["seat", "seat", "flat", "flat"],
        }
    )
    subs = subs_frame(
        [
            ("A1", "P1", "2023-01-10", "2025-07-10", 10, 100.0, "active", None),
            ("A1", "P2", "2023-03-11", "2025-09-01", 10, 200.0, "active", None),
            ("A1", "P3", "2024-09-01", None, 1, 100.0, "active", None),
            ("A2", "P1", "2022-05-01", "2025-08-15", 5, 50.0, "active", None),
            ("A2", "P4", "2022-05-01", None, 1, 50.0, "churned", "2024-12-01"),
            ("A3", "P2", "2023-06-01", "2025-07-01", 20, 400.0, "churned", "2025-01-15"),
            ("A4", "P1", "2024-01-01", "2025-07-20", 10, 100.0, "active", None),
            ("A4", "P3", "2024-04-10", None, 1, 100.0, "active", None),
            ("A4", "P2", "2025-05-01", None, 5, 0.0, "trial", None),
            ("A5", "P3", "2024-03-01", "2025-07-05", 1, 100.0, "active", None),
            ("A6", "P1", "2023-02-01", None, 3, 30.0, "active", None),
            ("A6", "P2", "2024-08-01", "2025-12-31", 3, 60.0, "active", None),
            ("A7", "P4", "2023-01-01", None, 1, 50.0, "churned", "2024-03-01"),
            ("A7", "P4", "2025-02-01", "2025-09-20", 1, 50.0, "active", None),
            ("A8", "P2", "2025-06-01", None, 2, 0.0, "trial", None),
        ]
    )
    return Portfolio(accounts, products, subs)


@pytest.fixture
def scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4", "A5", "A6", "A7"],
            "risk": [20.0, 80.0, 90.0, 60.0, 10.0, 30.0, 55.0],
            "expansion": [70.0, 20.0, 10.0, 60.0, 10.0, 80.0, 30.0],
            "quadrant": ["expand", "rescue", "rescue", "fix-and-expand", "nurture", "expand", "rescue"],
            "arr": [4800.0, 600.0, 0.0, 2400.0, 1200.0, 1080.0, 600.0],
        }
    )


@pytest.fixture
def todos() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "todo_id": ["t1", "t2", "t3", "t4", "t5", "t6", "t7"],
            "account_id": ["A1", "A1", "A2", "A4", "A6", "A7", "A5"],
            "status": ["open", "open", "done", "open", "snoozed", "open", "open"],
            "due": [
                "2025-06-01",
                "2025-07-15",
                "2025-05-01",
                "2025-06-29",
                "2025-06-01",
                "2025-06-30",
                "2025-01-01",
            ],
            "active": [1, 1, 1, 1, 1, 1, 0],  # t7 was retired by a recompute: not open any more
        }
    )


@pytest.fixture
def roles() -> pd.DataFrame:
    return pd.DataFrame(
        {"product_id": ["P1", "P2", "P3", "P4"], "role": ["anchor", "attach", "strategic", "sunset"]}
    )


@pytest.fixture
def attach() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_a": ["P1", "P1", "P2", "P2", "P3"],
            "product_b": ["P2", "P3", "P1", "P3", "P1"],
            "accounts_a": [4, 4, 2, 2, 3],
            "accounts_both": [2, 1, 2, 1, 2],
            "attach_rate": [0.5, 0.25, 1.0, 0.5, 2 / 3],
        }
    )


@pytest.fixture
def metrics(book, scores, todos, roles, attach) -> pd.DataFrame:
    return portfolio_metrics(book, scores, todos, roles, attach, AS_OF, resolve())


def values(metrics: pd.DataFrame, metric: str) -> list[float]:
    """[all, enterprise, mid-market, smb] of one metric."""
    rows = metrics[metrics["metric"] == metric].set_index("segment")["value"]
    return [rows.get(s, NaN) for s in ("all", "enterprise", "mid-market", "smb")]


def check(metrics: pd.DataFrame, metric: str, expected: list[float]) -> None:
    assert values(metrics, metric) == pytest.approx(expected, nan_ok=True), metric


def test_the_frame_has_the_contract_columns_and_every_segment(metrics: pd.DataFrame) -> None:
    assert list(metrics.columns) == METRIC_COLUMNS
    assert metrics["value"].dtype == "float64"
    per_metric = metrics.groupby("metric", sort=False)["segment"].apply(list)
    assert per_metric["accounts"] == ["all", "enterprise", "mid-market", "smb"]
    assert not metrics.duplicated(["metric", "segment"]).any()


def test_size_breadth_and_revenue_mix(metrics: pd.DataFrame) -> None:
    # customers now: A1 (3 products), A2 (1), A4 (2), A5 (1), A6 (2), A7 (1); A3 churned, A8 trial only
    check(metrics, "accounts", [6, 2, 1, 3])
    # monthly 400 + 50 + 200 + 100 + 90 + 50 = 890 -> ARR 10,680; ent 450, mid 200, smb 240
    check(metrics, "arr", [10680, 5400, 2400, 2880])
    check(metrics, "products_per_customer_mean", [10 / 6, 2, 2, 4 / 3])
    check(metrics, "products_per_customer_median", [1.5, 2, 2, 1])
    check(metrics, "products_per_customer_1", [3, 1, 0, 2])
    check(metrics, "products_per_customer_2", [2, 0, 1, 1])
    check(metrics, "products_per_customer_3", [1, 1, 0, 0])
    assert "products_per_customer_4" not in set(metrics["metric"])
    # 2+ products: A1 400, A4 200, A6 90 of 890; ent 400/450, mid 200/200, smb 90/240
    check(metrics, "multi_product_revenue_share", [690 / 890, 400 / 450, 1.0, 90 / 240])


def test_breadth_trend_by_quarter(metrics: pd.DataFrame) -> None:
    # 2023-09-30 and 2023-12-31: A1 2, A2 2, A3 1, A6 1, A7 1
    check(metrics, "products_per_customer_mean_2023Q3", [7 / 5, 2, 1, 1])
    check(metrics, "products_per_customer_mean_2023Q4", [7 / 5, 2, 1, 1])
    # 2024-03-31: A4 has P1 only, A5 arrives, A7 churned on 2024-03-01
    check(metrics, "products_per_customer_mean_2024Q1", [8 / 6, 2, 1, 1])
    check(metrics, "products_per_customer_mean_2024Q2", [9 / 6, 2, 1.5, 1])  # A4 adds P3
    check(metrics, "products_per_customer_mean_2024Q3", [11 / 6, 2.5, 1.5, 1.5])  # A1 adds P3, A6 adds P2
    check(metrics, "products_per_customer_mean_2024Q4", [10 / 6, 2, 1.5, 1.5])  # A2 loses P4
    check(metrics, "products_per_customer_mean_2025Q1", [10 / 6, 2, 2, 4 / 3])  # A3 gone, A7 back
    check(metrics, "products_per_customer_mean_2025Q2", [10 / 6, 2, 2, 4 / 3])
    trend = [m for m in metrics["metric"].unique() if m.startswith("products_per_customer_mean_")]
    assert len(trend) == 8


def test_churn_and_nrr_of_single_against_multi_product_customers(metrics: pd.DataFrame) -> None:
    # single then: A3 400 (lost 400), A5 100, A6 30 (+60): start 530, lost 400, expansion 60
    check(metrics, "gross_churn_rate_single", [400 / 530, NaN, 1.0, 0.0])
    check(metrics, "nrr_single", [190 / 530, NaN, 0.0, 190 / 130])
    # multi then: A1 300 (+100), A2 100 (lost 50), A4 200 (its trial is no expansion): start 600
    check(metrics, "gross_churn_rate_multi", [50 / 600, 50 / 400, 0.0, NaN])
    check(metrics, "nrr_multi", [650 / 600, 450 / 400, 1.0, NaN])
    # everyone then (A7 held nothing on 2024-06-30, so its comeback is not expansion): start 1130
    check(metrics, "gross_churn_rate", [450 / 1130, 50 / 400, 400 / 600, 0.0])
    check(metrics, "nrr", [840 / 1130, 450 / 400, 200 / 600, 190 / 130])
    check(metrics, "logo_churn_rate_single", [1 / 3, NaN, 1.0, 0.0])
    check(metrics, "logo_churn_rate_multi", [0.0, 0.0, 0.0, NaN])
    check(metrics, "retention_accounts_single", [3, 0, 1, 2])
    check(metrics, "retention_accounts_multi", [3, 2, 1, 0])


def test_time_to_second_product_overall_and_by_cohort(metrics: pd.DataFrame) -> None:
    # A1 60 days (2023-01-10 -> 03-11), A2 0 (two products the same day), A4 100 (2024-01-01 -> 04-10),
    # A6 547 (2023-02-01 -> 2024-08-01); A3, A5, A7 (one product, bought twice) never added one
    check(metrics, "time_to_second_product_days_median", [80, 30, 100, 547])
    check(metrics, "second_product_share", [4 / 7, 1.0, 0.5, 1 / 3])
    check(metrics, "time_to_second_product_days_median_2022", [0, 0, NaN, NaN])
    check(metrics, "time_to_second_product_days_median_2023", [303.5, 60, NaN, 547])
    check(metrics, "time_to_second_product_days_median_2024", [100, NaN, 100, NaN])
    assert "time_to_second_product_days_median_2025" not in set(
        metrics["metric"]
    )  # A8's trial is no purchase


def test_quadrants_renewals_and_todos(metrics: pd.DataFrame) -> None:
    check(metrics, "quadrant_accounts_expand", [2, 1, 0, 1])
    check(metrics, "quadrant_arr_expand", [5880, 4800, 0, 1080])
    check(metrics, "quadrant_accounts_rescue", [2, 1, 0, 1])  # A3 is scored rescue but churned out
    check(metrics, "quadrant_arr_rescue", [1200, 600, 0, 600])
    check(metrics, "quadrant_accounts_fix-and-expand", [1, 0, 1, 0])
    check(metrics, "quadrant_arr_fix-and-expand", [2400, 0, 2400, 0])
    check(metrics, "quadrant_accounts_nurture", [1, 0, 0, 1])
    # ending by 2025-07-30: A1 P1 100, A4 P1 100, A5 P3 100 (A3's churned term does not count)
    check(metrics, "renewal_arr_30d", [3600, 1200, 1200, 1200])
    # ...and by 2025-09-28: A1 P2 200, A2 P1 50, A7 P4 50 (A6's P2 ends 2025-12-31: later)
    check(metrics, "renewal_arr_90d", [7200, 4200, 1200, 1800])
    # at risk (risk >= 50): A2 50, A4 100, A7 50
    check(metrics, "renewal_arr_at_risk_90d", [2400, 600, 1200, 600])
    # open: t1, t2, t4, t6 (t7 retired); overdue: t1, t4 (t6 is due today, not before)
    check(metrics, "todos_open", [4, 2, 1, 1])
    check(metrics, "todos_overdue", [2, 1, 1, 0])


def test_product_roles_with_their_figures(metrics: pd.DataFrame) -> None:
    check(metrics, "role_products_anchor", [1, NaN, NaN, NaN])  # a catalogue count: 'all' only
    # P1 held by A1 100, A2 50, A4 100, A6 30
    check(metrics, "role_arr_anchor", [3360, 1800, 1200, 360])
    check(metrics, "role_accounts_anchor", [4, 2, 1, 1])
    check(metrics, "role_arr_attach", [3120, 2400, 0, 720])  # P2: A1 200, A6 60 (A4's and A8's trials not)
    check(metrics, "role_accounts_attach", [2, 1, 0, 1])
    check(metrics, "role_arr_strategic", [3600, 1200, 1200, 1200])
    check(metrics, "role_arr_sunset", [600, 0, 0, 600])
    check(metrics, "role_accounts_sunset", [1, 0, 0, 1])
    rows = metrics[metrics["metric"].str.startswith("role_products_")]
    assert set(rows["segment"]) == {"all"} and rows["value"].tolist() == [1, 1, 1, 1]
    check(metrics, "attach_pairs_strong", [4, NaN, NaN, NaN])  # 0.5, 1.0, 0.5, 0.67 reach 0.40; 0.25 not
    check(metrics, "attach_rate_median", [0.5, NaN, NaN, NaN])


def test_owner_book(book: Portfolio, scores: pd.DataFrame, todos: pd.DataFrame) -> None:
    table = owner_book(book, scores, todos, AS_OF)
    assert list(table.columns) == OWNER_COLUMNS
    expected = pd.DataFrame(
        [
            # A7 has no owner: ARR 600, rescue, t6 open
            ("(unassigned)", 1, 600.0, 0, 1, 0, 0, 1, 0),
            # A1 + A2 (A8 never bought): 12 x 450; t1 (overdue), t2
            ("ann", 2, 5400.0, 0, 1, 1, 0, 2, 1),
            # A4 only is a customer; A3 is scored rescue but churned out, so not in the mix; t4 overdue
            ("bob", 1, 2400.0, 1, 0, 0, 0, 1, 1),
            # A5 + A6: 12 x 190; t5 snoozed, t7 retired
            ("cat", 2, 2280.0, 0, 0, 1, 1, 0, 0),
        ],
        columns=OWNER_COLUMNS,
    )
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


def test_attach_heatmap(attach: pd.DataFrame) -> None:
    heat = attach_heatmap(attach)
    assert list(heat.index) == ["P1", "P2", "P3"] and list(heat.columns) == ["P1", "P2", "P3"]
    assert (
        heat.loc["P2", "P1"] == 1.0
        and heat.loc["P1", "P3"] == 0.25
        and heat.loc["P3", "P1"] == pytest.approx(2 / 3)
    )
    assert np.isnan(heat.loc["P1", "P1"]) and np.isnan(heat.loc["P3", "P2"])  # diagonal; pair absent
    with pytest.raises(ValueError, match="attach lacks"):
        attach_heatmap(attach.drop(columns="attach_rate"))


def test_bad_input_is_refused(book, scores, todos, roles, attach) -> None:
    with pytest.raises(ValueError, match="as_of"):
        portfolio_metrics(book, scores, todos, roles, attach, None, resolve())
    with pytest.raises(ValueError, match="scores lacks column"):
        portfolio_metrics(book, scores.drop(columns="quadrant"), todos, roles, attach, AS_OF, resolve())
    with pytest.raises(ValueError, match="portfolio.subscriptions lacks"):
        broken = Portfolio(book.accounts, book.products, book.subscriptions.drop(columns="churned_at"))
        portfolio_metrics(broken, scores, todos, roles, attach, AS_OF, resolve())
    with pytest.raises(ValueError, match="risk_threshold"):
        portfolio_metrics(book, scores, todos, roles, attach, AS_OF, {})


def test_empty_side_tables_still_give_the_book_figures(book: Portfolio) -> None:
    empty = pd.DataFrame()
    metrics = portfolio_metrics(book, empty, empty, empty, empty, AS_OF, resolve())
    check(metrics, "accounts", [6, 2, 1, 3])
    check(metrics, "quadrant_accounts_rescue", [0, 0, 0, 0])
    check(metrics, "renewal_arr_at_risk_90d", [0, 0, 0, 0])
    assert owner_book(book, empty, empty, AS_OF)["accounts"].sum() == 6


# -- an independent second method on a larger random book: plain per-account loops ------------------------


def random_book(n: int, seed: int) -> Portfolio:
    rng = np.random.default_rng(seed)
    pids = [f"P{j}" for j in range(8)]
    ids = [f"R{i:05d}" for i in range(n)]
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "name": ids,
            "segment": rng.choice(["enterprise", "mid-market", "smb"], n),
            "owner": rng.choice(["x", "y", "z"], n),
        }
    )
    products = pd.DataFrame({"product_id": pids, "name": pids, "list_price": 10.0, "unit": "seat"})
    count = rng.integers(0, 6, n)
    who = np.repeat(np.arange(n), count)
    start = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 1600, len(who)), "D")
    status = rng.choice(["active", "churned", "trial"], len(who), p=[0.65, 0.3, 0.05])
    churned_at = start + pd.to_timedelta(rng.integers(1, 900, len(who)), "D")
    churned_at = pd.Series(churned_at).where((status == "churned") & (churned_at <= AS_OF))
    status = np.where((status == "churned") & churned_at.isna().to_numpy(), "active", status)
    end = AS_OF + pd.to_timedelta(rng.integers(-10, 200, len(who)), "D")
    subs = subs_frame(
        [
            (ids[a], pids[p], s, e, 1, float(round(r, 2)), st, c)
            for a, p, s, e, r, st, c in zip(
                who,
                rng.integers(0, 8, len(who)),
                start,
                end,
                rng.uniform(10, 900, len(who)),
                status,
                churned_at,
                strict=True,
            )
        ]
    )
    subs = subs[subs["start_date"] <= AS_OF].drop_duplicates(["account_id", "product_id", "start_date"])
    return Portfolio(accounts, products, subs.reset_index(drop=True))


def plain_figures(book: Portfolio) -> dict[str, float]:
    """The headline figures for the whole book, account by account, with no vectorisation."""
    start = AS_OF - pd.DateOffset(months=12)

    def held(s, day) -> bool:
        return s.start_date <= day and (
            s.status == "active" or (s.status == "churned" and s.churned_at > day)
        )

    breadth, arr, churn, nrr, days = [], [], {1: [0, 0], 2: [0, 0]}, {1: [0, 0, 0], 2: [0, 0, 0]}, []
    renew_90 = 0.0
    for account in book.accounts["account_id"]:
        subs = list(book.subscriptions[book.subscriptions["account_id"] == account].itertuples())
        now = [s for s in subs if held(s, AS_OF)]
        if now:
            breadth.append(len({s.product_id for s in now}))
            arr.append(12 * sum(s.mrr for s in now))
        renew_90 += sum(12 * s.mrr for s in now if AS_OF <= s.end_date <= AS_OF + pd.Timedelta(days=90))
        then = [s for s in subs if held(s, start)]
        if then:
            group = 1 if len({s.product_id for s in then}) == 1 else 2
            lost = sum(s.mrr for s in then if s.status == "churned" and s.churned_at <= AS_OF)
            gained = sum(s.mrr for s in now if s.start_date > start)
            total = sum(s.mrr for s in then)
            churn[group][0] += lost
            churn[group][1] += total
            nrr[group][0] += total - lost + gained
            nrr[group][1] += total
        bought = sorted(
            {
                (
                    min(x.start_date for x in subs if x.product_id == s.product_id and x.status != "trial"),
                    s.product_id,
                )
                for s in subs
                if s.status != "trial"
            }
        )
        if len(bought) >= 2:
            days.append((bought[1][0] - bought[0][0]).days)
    share = sum(a for a, b in zip(arr, breadth, strict=True) if b >= 2) / sum(arr)
    return {
        "accounts": len(breadth),
        "arr": sum(arr),
        "products_per_customer_mean": float(np.mean(breadth)),
        "products_per_customer_median": float(np.median(breadth)),
        "multi_product_revenue_share": share,
        "gross_churn_rate_single": churn[1][0] / churn[1][1],
        "gross_churn_rate_multi": churn[2][0] / churn[2][1],
        "nrr_single": nrr[1][0] / nrr[1][1],
        "nrr_multi": nrr[2][0] / nrr[2][1],
        "time_to_second_product_days_median": float(np.median(days)),
        "renewal_arr_90d": renew_90,
    }


def test_headline_figures_match_a_plain_recount_on_a_random_book() -> None:
    book = random_book(300, seed=11)
    empty = pd.DataFrame()
    metrics = portfolio_metrics(book, empty, empty, empty, empty, AS_OF, resolve())
    overall = metrics[metrics["segment"] == "all"].set_index("metric")["value"]
    for name, value in plain_figures(book).items():
        assert overall[name] == pytest.approx(value, rel=1e-12), name
    for segment in ("enterprise", "mid-market", "smb"):
        part = Portfolio(
            book.accounts[book.accounts["segment"] == segment], book.products, book.subscriptions
        )
        mine = metrics[metrics["segment"] == segment].set_index("metric")["value"]
        for name, value in plain_figures(part).items():
            assert mine[name] == pytest.approx(value, rel=1e-12), (segment, name)


def test_a_large_book_is_measured_in_seconds() -> None:
    book = random_book(20_000, seed=5)
    empty = pd.DataFrame()
    started = time.perf_counter()
    metrics = portfolio_metrics(book, empty, empty, empty, empty, AS_OF, resolve())
    owner_book(book, empty, empty, AS_OF)
    took = time.perf_counter() - started
    assert metrics.loc[metrics["metric"] == "accounts", "value"].iloc[0] > 15_000
    assert took < 8.0, f"20,000 accounts took {took:.2f} s"
