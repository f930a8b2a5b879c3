"""Usage features (pandas and SQL, which must agree exactly) and the account-level facts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_scoring_book import AS_OF, account, book, random_usage, sub, usage

from core.scoring.features import (
    FEATURE_COLUMNS,
    account_features,
    concat,
    fmt_num,
    fmt_price,
    join_text,
    per_distinct,
    pick,
    usage_features,
)
from core.store.features_sql import usage_features_sql

SCHEMA = (
    "CREATE TABLE usage (account_id TEXT NOT NULL, product_id TEXT NOT NULL, period TEXT NOT NULL, "
    "active_users INTEGER, licensed_seats INTEGER, logins INTEGER, key_events INTEGER, "
    "PRIMARY KEY (account_id, product_id, period)) WITHOUT ROWID"
)


def month_rows(account_id, product_id, start, users, logins, seats=100.0, events=None):
    periods = pd.date_range(start, periods=len(users), freq="MS")
    events = events if events is not None else [None if u is None else u * 5 for u in users]
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


def hand_usage() -> pd.DataFrame:
    rows = month_rows(
        "A1", "P1", "2026-01-01", [10, 20, 30, 40, 50, 60, 70, 80, 999], [5, 0, 0, 0, 0, 3, 4, 5, 9]
    )
    rows += month_rows("A1", "P2", "2026-07-01", [4, 6], [1, 1], seats=5)
    rows += month_rows("A2", "P3", "2026-01-01", [7, 8, 9, 10], [2, 2, 2, 2], seats=0)
    rows += month_rows("A3", "P1", "2025-10-01", [3] * 11, [None] * 11, seats=None)
    rows += month_rows("A4", "P1", "2025-01-01", [3] * 3, [1] * 3)  # nothing in the last nine months
    return usage(rows)


def to_sqlite(path: Path, frame: pd.DataFrame) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.execute(SCHEMA)
    rows = frame.assign(period=frame["period"].dt.strftime("%Y-%m-%d"))
    values = [
        tuple(None if pd.isna(v) else (int(v) if isinstance(v, float) else v) for v in row)
        for row in rows[
            ["account_id", "product_id", "period", "active_users", "licensed_seats", "logins", "key_events"]
        ].itertuples(index=False)
    ]
    conn.executemany("INSERT INTO usage VALUES (?,?,?,?,?,?,?)", values)
    conn.commit()
    return conn


def test_hand_counted_windows_latest_month_and_dormancy() -> None:
    got = usage_features(hand_usage(), AS_OF).set_index(["account_id", "product_id"])
    assert "A4" not in got.index.get_level_values("account_id")
    p1 = got.loc[("A1", "P1")]
    assert p1["users_recent"] == 70 and p1["users_prev"] == 40  # Jun-Aug vs Mar-May; September excluded
    assert p1["events_recent"] == 1050 and p1["events_prev"] == 600
    assert p1["logins_recent"] == 12 and p1["logins_prev"] == 0
    assert p1["seats_latest"] == 100 and p1["users_latest"] == 80 and p1["utilisation"] == 0.8
    assert p1["dormant_months_before_recent"] == 4  # Feb-May without logins after January
    assert p1["months_observed"] == 8 and p1["latest_period"] == pd.Timestamp("2026-08-01")
    p2 = got.loc[("A1", "P2")]
    assert np.isnan(p2["users_prev"]) and np.isnan(p2["events_prev"]) and p2["users_recent"] == 5
    assert p2["dormant_months_before_recent"] == 0  # first seen in July: never dormant
    p3 = got.loc[("A2", "P3")]
    assert np.isnan(p3["users_recent"]) and p3["users_prev"] == 9.5  # only Mar, Apr in the previous window
    assert np.isnan(p3["utilisation"]) and p3["latest_period"] == pd.Timestamp("2026-04-01")
    assert p3["dormant_months_before_recent"] == 1  # May has no row: counts as no logins
    a3 = got.loc[("A3", "P1")]
    assert a3["dormant_months_before_recent"] == 6 and np.isnan(a3["seats_latest"])
    assert a3["months_observed"] == 9  # October and November 2025 are older than the nine months read


def test_sql_equals_pandas_on_the_hand_case(tmp_path: Path) -> None:
    frame = hand_usage()
    conn = to_sqlite(tmp_path / "u.db", frame)
    pd.testing.assert_frame_equal(
        usage_features_sql(conn, AS_OF), usage_features(frame, AS_OF), check_exact=True
    )


@pytest.mark.parametrize("as_of", [AS_OF, pd.Timestamp("2026-01-01"), pd.Timestamp("2025-12-31")])
def test_sql_equals_pandas_on_a_random_book(tmp_path: Path, as_of: pd.Timestamp) -> None:
    frame = random_usage(150, seed=3)
    conn = to_sqlite(tmp_path / "u.db", frame)
    sql, mem = usage_features_sql(conn, as_of.date()), usage_features(frame, as_of)
    assert list(sql.columns) == list(FEATURE_COLUMNS) and len(sql) > 300
    assert sql["dormant_months_before_recent"].nunique() > 3
    pd.testing.assert_frame_equal(sql, mem, check_exact=True)


def test_sql_accepts_year_month_periods(tmp_path: Path) -> None:
    frame = hand_usage()
    conn = to_sqlite(tmp_path / "u.db", frame)
    conn.execute("UPDATE usage SET period = substr(period, 1, 7)")
    pd.testing.assert_frame_equal(
        usage_features_sql(conn, AS_OF), usage_features(frame, AS_OF), check_exact=True
    )


def test_usage_features_refuses_missing_columns() -> None:
    with pytest.raises(ValueError, match="key_events"):
        usage_features(hand_usage().drop(columns="key_events"), AS_OF)


def test_account_features_hand_counted() -> None:
    portfolio = book(
        [account("A1", employees=1200, employees_prev=1000), account("A2"), account("A3")],
        [
            sub("A1", "P1", 100, 50.0, end_date="2026-12-01"),
            sub("A1", "P2", 5, 30.0, end_date="2026-10-30"),
            sub("A1", "P3", 5, 40.0, status="churned", churned_at="2026-05-01"),
            sub("A1", "P4", 1, 100.0, end_date="2026-08-01"),  # end date passed: not the next renewal
            sub("A2", "P3", 20, 40.0, end_date=None),
        ],
        contacts=[
            {
                "account_id": "A1",
                "name": "Ann",
                "email": "a@x",
                "role": "decision_maker",
                "last_contacted_at": "2026-07-01",
            },
            {
                "account_id": "A1",
                "name": "Bo",
                "email": "b@x",
                "role": "champion",
                "last_contacted_at": "2026-10-01",
            },
        ],
        activities=[
            {"account_id": "A1", "date": "2026-09-01", "kind": "ticket", "sentiment": "negative"},
            {"account_id": "A1", "date": "2026-06-18", "kind": "ticket", "sentiment": "negative"},  # 89 days
            {"account_id": "A1", "date": "2026-06-17", "kind": "ticket", "sentiment": "negative"},  # 90: out
            {"account_id": "A1", "date": "2026-08-20", "kind": "meeting", "sentiment": "positive"},
            {"account_id": "A1", "date": "2026-09-20", "kind": "meeting"},  # after as_of
        ],
        nps=[
            {"account_id": "A1", "date": "2026-03-01", "score": 9},
            {"account_id": "A1", "date": "2026-08-01", "score": 4},
            {"account_id": "A1", "date": "2026-08-01", "score": 8},
            {"account_id": "A2", "date": "2025-01-01", "score": 2},  # older than a year
        ],
    )
    feats = account_features(usage_features(hand_usage(), AS_OF), portfolio, AS_OF).set_index("account_id")
    a1 = feats.loc["A1"]
    assert a1["users_recent"] == 75 and a1["users_prev"] == 40
    assert a1["seats_latest"] == 105 and a1["users_latest"] == 86
    assert a1["utilisation"] == pytest.approx(86 / 105)
    assert a1["sat_product_id"] == "P2" and a1["sat_utilisation"] == pytest.approx(6 / 5)
    assert a1["dormant_months_before_recent"] == 0
    assert a1["arr"] == 12 * (5000 + 150 + 100) and a1["n_products"] == 3
    assert a1["seat_count"] == 105 and a1["seat_arr"] == 12 * 5150 and a1["seat_quantity_median"] == 52.5
    assert a1["renewal_date"] == pd.Timestamp("2026-10-30") and a1["days_to_renewal"] == 45
    assert a1["headcount_growth"] == pytest.approx(0.2)
    assert bool(a1["has_decision_maker"]) and bool(a1["has_champion"])
    assert pd.isna(a1["champion_last_at"])  # touched after as_of: unknown then
    assert a1["last_contact_at"] == pd.Timestamp("2026-07-01")
    assert a1["last_meeting_at"] == pd.Timestamp("2026-08-20") and a1["days_since_touch"] == 26
    assert a1["neg_tickets_90d"] == 2 and a1["last_negative_at"] == pd.Timestamp("2026-09-01")
    assert a1["positive_90d"] == 1
    assert a1["nps_latest"] == 4 and a1["nps_latest_at"] == pd.Timestamp("2026-08-01")
    a2 = feats.loc["A2"]
    assert pd.isna(a2["renewal_date"]) and a2["arr"] == 12 * 800 and np.isnan(a2["nps_latest"])
    assert not a2["has_decision_maker"] and a2["neg_tickets_90d"] == 0
    a3 = feats.loc["A3"]
    assert a3["arr"] == 0 and a3["n_products"] == 0 and np.isnan(a3["utilisation"])


def test_join_text_matches_pandas_join_per_group() -> None:
    keys = pd.Series(["b", "a", "b", "c", "a", "b"])
    kinds = pd.Series([1, 2, 1, 1, 2, 2])
    values = pd.Series(["x", "y", "z", "w", "v", "u"])
    joined = join_text(values, [keys, kinds], ";")
    assert joined.to_dict() == {("a", 2): "y;v", ("b", 1): "x;z", ("b", 2): "u", ("c", 1): "w"}
    rng = np.random.default_rng(3)
    many = pd.Series(rng.integers(0, 50, 2_000).astype(str))
    groups = pd.Series(rng.integers(0, 300, 2_000))
    pd.testing.assert_series_equal(join_text(many, groups, ", "), many.groupby(groups).agg(", ".join))
    assert join_text(values.iloc[:0], keys.iloc[:0], ";").empty


def test_concat_joins_each_rows_parts_and_repeats_plain_strings() -> None:
    words = np.array([" product", " products"], dtype=object)
    joined = concat("Owns ", pd.Series(["1", "12"]), words)
    assert joined.dtype == object and joined.tolist() == ["Owns 1 product", "Owns 12 products"]
    only = concat("x", pd.Series(["a", "b", "c"]), rows=np.array([True, False, True]))
    assert only.tolist() == ["xa", "xc"]
    assert concat("x", pd.Series([], dtype=object)).tolist() == []


def test_pick_keeps_text_as_python_strings() -> None:
    picked = pick(np.array([True, False]), "a long sentence", pd.Series(["", "b"]).to_numpy())
    assert picked.dtype == object and picked.tolist() == ["a long sentence", "b"]


def test_per_distinct_builds_each_distinct_row_once_and_spreads_it_back() -> None:
    keys = pd.DataFrame(
        {
            "n": [1.0, 2.0, 1.0, np.nan, 0.0, -0.0, 2.0, np.nan],
            "unit": ["a", "b", "a", "a", "a", "a", "c", "a"],
        }
    )
    built: list[int] = []

    def build(k: pd.DataFrame) -> np.ndarray:
        built.append(len(k))
        return concat(fmt_num(k["n"]), " ", k["unit"])

    # (1,a) (2,b) (nan,a) (0,a) (-0,a) (2,c): six distinct rows, -0.0 kept apart from 0.0
    assert per_distinct(build, keys).tolist() == ["1 a", "2 b", "1 a", " a", "0 a", "0 a", "2 c", " a"]
    assert built == [6]
    assert per_distinct(build, keys).tolist() == build(keys).tolist()


def test_fmt_price_drops_only_a_trailing_double_zero() -> None:
    prices = pd.Series([40.0, 1234.5, np.nan, 0.004, 12.05])
    assert fmt_price(prices).tolist() == ["40", "1,234.50", "", "0", "12.05"]


def test_day_counts_read_as_english() -> None:
    from core.scoring.features import fmt_ago, fmt_days
    from core.scoring.todos import _in_days

    days = pd.Series([0, 1, 2, 1234, np.nan])
    assert list(fmt_days(days)) == ["0 days", "1 day", "2 days", "1,234 days", ""]
    assert list(fmt_ago(days)) == ["today", "1 day ago", "2 days ago", "1,234 days ago", ""]
    assert list(_in_days(days[:4])) == ["today", "in 1 day", "in 2 days", "in 1,234 days"]
