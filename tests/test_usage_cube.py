"""Usage as coded columns: the aggregates against hand counts and against SQLite's GROUP BY."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import usage
from core.scoring.features import typed_features
from core.store import Store

AS_OF = pd.Timestamp("2026-11-01")


def rows(records: list[tuple]) -> pd.DataFrame:
    columns = ["account_id", "product_id", "period", "active_users", "licensed_seats", "logins", "key_events"]
    return pd.DataFrame(records, columns=columns)


SMALL = rows(
    [
        ("B", "p2", "2026-10-01", 4, None, 10, 7),
        ("A", "p1", "2026-09-01", 5, 10, 0, None),
        ("A", "p1", "2026-10-01", 6, 10, 3, 2),
        ("A", "p2", "2026-10-01", 2, None, 1, 1),
        ("A", "p2", "2026-03-01", None, None, 0, None),
        ("A", "p2", "2026-01-01", None, None, None, None),
    ]
)


def test_account_monthly_sums_by_hand() -> None:
    out = usage.account_monthly(usage.UsageCube.from_frame(SMALL))
    assert out["account_id"].tolist() == ["A", "A", "A", "A", "B"]
    assert out["period"].dt.strftime("%Y-%m").tolist() == [
        "2026-01",
        "2026-03",
        "2026-09",
        "2026-10",
        "2026-10",
    ]
    october_a = out.iloc[3]
    assert (october_a.active_users, october_a.licensed_seats, october_a.logins) == (8.0, 10.0, 4.0)
    assert october_a.seated_users == 6.0  # p2 has no seats, so its 2 users are not seated
    assert np.isnan(out.iloc[0].active_users)  # a month of NULLs sums to NULL, as in SQL
    assert out.iloc[1].logins == 0.0
    assert np.isnan(out.iloc[2].key_events)
    assert np.isnan(out.iloc[4].seated_users)


def test_product_monthly_counts_rows_and_sums_by_hand() -> None:
    out = usage.product_monthly(usage.UsageCube.from_frame(SMALL)).set_index(["product_id", "period"])
    october = pd.Timestamp("2026-10-01")
    assert out.loc[("p2", october), "accounts"] == 2
    assert out.loc[("p2", october), "active_users"] == 6.0
    assert out.loc[("p1", october), "key_events"] == 2.0


def test_features_by_hand() -> None:
    feats = typed_features(usage.usage_features(usage.UsageCube.from_frame(SMALL), AS_OF))
    a1 = feats.set_index(["account_id", "product_id"]).loc[("A", "p1")]
    assert a1.users_recent == 5.5 and a1.events_recent == 2.0 and a1.logins_recent == 3.0
    assert (a1.users_latest, a1.seats_latest, a1.utilisation) == (6.0, 10.0, 0.6)
    assert a1.months_observed == 2
    a2 = feats.set_index(["account_id", "product_id"]).loc[("A", "p2")]
    assert a2.months_observed == 2  # March and October; January is outside the nine months read
    assert a2.dormant_months_before_recent == 5  # March to July: no logins since its first row


def random_usage(seed: int, accounts: int = 60, products: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    months = pd.date_range("2025-01-01", "2026-10-01", freq="MS")
    grid = pd.MultiIndex.from_product(
        [[f"A{i:03d}" for i in range(accounts)], [f"P{j}" for j in range(products)], months]
    ).to_frame(index=False, name=["account_id", "product_id", "period"])
    grid = grid[rng.random(len(grid)) < 0.6].reset_index(drop=True)
    n = len(grid)
    for name, top in (("active_users", 50), ("licensed_seats", 60), ("logins", 400), ("key_events", 900)):
        values = rng.integers(0, top, n).astype("float64")
        values[rng.random(n) < 0.1] = np.nan  # NULLs, and for seats also flat-fee products
        grid[name] = values
    grid["period"] = grid["period"].dt.strftime("%Y-%m-%d")
    return grid


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cube_equals_sql_group_by(tmp_path, seed: int) -> None:
    """The store's own SQL aggregates are the second method; the cube is read through ADBC."""
    frame = random_usage(seed)
    store = Store(tmp_path / "q.db")
    with store.writing() as conn:
        for account in frame["account_id"].unique():
            conn.execute(
                "INSERT INTO accounts (account_id, name, segment) VALUES (?, ?, 'smb')", [account, account]
            )
        for product in frame["product_id"].unique():
            conn.execute(
                "INSERT INTO products (product_id, name, list_price) VALUES (?, ?, 1)", [product, product]
            )
        conn.executemany(
            "INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?, ?)",
            [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False)],
        )
    cube = store.usage_cube(helpers=seed == 1)  # once through the helper process and ADBC
    assert len(cube) == len(frame)
    pd.testing.assert_frame_equal(
        usage.account_monthly(cube), store.usage_account_monthly(), check_exact=True
    )
    sql = store.usage_product_monthly()
    pd.testing.assert_frame_equal(usage.product_monthly(cube)[sql.columns], sql, check_exact=True)
    for as_of in (AS_OF, AS_OF - pd.DateOffset(months=6)):
        mine = typed_features(usage.usage_features(cube, as_of))
        pd.testing.assert_frame_equal(mine, store.usage_features(as_of), check_exact=False, rtol=1e-12)


def test_empty_usage_gives_empty_aggregates(tmp_path) -> None:
    cube = Store(tmp_path / "q.db").usage_cube()
    assert len(cube) == 0
    assert usage.account_monthly(cube).empty and usage.product_monthly(cube).empty
    assert typed_features(usage.usage_features(cube, AS_OF)).empty
