"""Bundle pricing comparisons: hand-computed quotes, an independent Decimal re-computation, exactness and speed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

from core.frames import Portfolio, unique_rows
from core.pricing import EXTRA_COLUMNS, PRICING_COLUMNS, break_even, price_options
from core.pricing.basket import Basket
from core.settings import resolve

AS_OF = pd.Timestamp("2025-01-01")
T = pd.Timestamp


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
    """Five accounts; catalogue order F1, S1, S2, S3, U1.

    a1 owns S1 x5 (mrr 45.00, negotiated) and U1 x1000 (0.005 each, mrr 5.00); suggested S2.
    a2 owns F1 (mrr 99.99), has no seat product and no headcount; suggested S2 -> 1 seat.
    a3 churned S1; suggested S1 -> 50 employees x 0.1 = 5 seats.
    a4 owns nothing and has no suggestion: no rows.
    a5 owns S3 x3 with no recorded mrr (3 x 0.10 = 0.30); nothing suggested.
    """
    accounts = pd.DataFrame(
        {
            "account_id": ["a1", "a2", "a3", "a4", "a5"],
            "name": ["One", "Two", "Three", "Four", "Five"],
            "segment": ["smb"] * 5,
            "employees": [100.0, np.nan, 50.0, 10.0, 10.0],
        }
    )
    products = pd.DataFrame(
        {
            "product_id": ["S1", "S2", "F1", "U1", "S3"],
            "name": ["Seat one", "Seat two", "Flat", "Usage", "Cheap seat"],
            "list_price": [10.0, 20.0, 99.99, 0.005, 0.1],
            "unit": ["seat", "seat", "flat", "usage", "seat"],
        }
    )
    subs = subs_frame(
        [
            ("a1", "S1", "2024-01-01", None, 5, 45.0, "active", None),
            ("a1", "U1", "2024-01-01", None, 1000, 5.0, "active", None),
            ("a2", "F1", "2024-01-01", None, 1, 99.99, "active", None),
            ("a3", "S1", "2023-01-01", None, 3, 30.0, "churned", "2024-06-01"),
            ("a5", "S3", "2024-01-01", None, 3, np.nan, "active", None),
        ]
    )
    bundles = pd.DataFrame(
        {
            "bundle_id": ["B1", "B2"],
            "name": ["Seats", "Flat and seats"],
            "product_ids": ["S1;S2", "S2;F1"],
            "price": [25.0, np.nan],
            "discount_pct": [np.nan, 25.0],
        }
    )
    return Portfolio(accounts, products, subs, bundles=bundles)


@pytest.fixture
def suggestions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["a1", "a1", "a1", "a2", "a3"],
            "product_id": ["S2", "S1", "F1", "S2", "S1"],  # S1 is owned by a1, F1 ranks 4th: both ignored
            "rank": [1, 2, 4, 1, 1],
            "score": [0.9, 0.8, 0.7, 0.9, 0.9],
        }
    )


def test_quotes_match_the_hand_computed_table(book: Portfolio, suggestions: pd.DataFrame) -> None:
    table = price_options(book, suggestions, AS_OF, resolve())
    assert list(table.columns) == PRICING_COLUMNS + EXTRA_COLUMNS
    got = table[
        ["account_id", "option", "products", "monthly_price", "list_total", "discount_pct", "arr_delta"]
    ]
    expected = pd.DataFrame(
        [
            # a1: S1 5 x 10 = 50.00, S2 5 seats x 20 = 100.00, U1 1000 x 0.005 = 5.00; MRR 50.00
            ("a1", "a-la-carte", "S1;S2;U1", 155.00, 155.00, 0.00, 1260.00),
            # B1 = 25.00 x 5 seats = 125.00, U1 a-la-carte 5.00; 1 - 130/155 = 16.129%
            ("a1", "bundle:B1", "S1;S2;U1", 130.00, 155.00, 16.13, 960.00),
            ("a1", "policy-bundle", "S1;S2;U1", 124.00, 155.00, 20.00, 888.00),
            # whole catalogue: F1 99.99 + S1 50 + S2 100 + S3 5 x 0.10 + U1 5.00 = 255.49; x 0.7 = 178.843
            ("a1", "platform", "F1;S1;S2;S3;U1", 178.84, 255.49, 30.00, 1546.08),
            # a2: F1 99.99 + S2 1 seat 20.00; MRR 99.99
            ("a2", "a-la-carte", "F1;S2", 119.99, 119.99, 0.00, 240.00),
            # 119.99 x 0.75 = 89.9925; 1 - 89.99/119.99 = 25.002%
            ("a2", "bundle:B2", "F1;S2", 89.99, 119.99, 25.00, -120.00),
            ("a2", "policy-bundle", "F1;S2", 95.99, 119.99, 20.00, -48.00),
            # F1 99.99 + S1 10 + S2 20 + S3 0.10 + U1 0.005 -> 0.01 = 130.10; x 0.7 = 91.07
            ("a2", "platform", "F1;S1;S2;S3;U1", 91.07, 130.10, 30.00, -107.04),
            # a3: S1 5 seats = 50.00, nothing owned; a single product gets no policy bundle
            ("a3", "a-la-carte", "S1", 50.00, 50.00, 0.00, 600.00),
            ("a3", "platform", "F1;S1;S2;S3;U1", 175.35, 250.50, 30.00, 2104.20),
            # a5: S3 3 x 0.10 = 0.30 exactly (the float product is 0.30000000000000004)
            ("a5", "a-la-carte", "S3", 0.30, 0.30, 0.00, 0.00),
            ("a5", "platform", "F1;S1;S2;S3;U1", 133.21, 190.30, 30.00, 1594.92),
        ],
        columns=got.columns,
    )
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)
    assert [repr(v) for v in table["monthly_price"]][-2:] == ["0.3", "133.21"]


def test_annual_first_year_saving_and_break_even(book: Portfolio, suggestions: pd.DataFrame) -> None:
    table = price_options(book, suggestions, AS_OF, resolve()).set_index(["account_id", "option"])
    row = table.loc[("a1", "a-la-carte")]
    # added S2 100.00: 50% off for 3 months = 150.00 off 12 x 155.00
    assert (row["annual_price"], row["first_year_price"], row["saving_monthly"]) == (1860.00, 1710.00, 0.00)
    assert (row["arr_now"], row["flag"]) == (600.00, "")
    assert pd.isna(row["break_even_products"])
    row = table.loc[("a1", "bundle:B1")]
    # added share 130 x 100/155 = 83.87; intro 83.87 x 3 x 50% = 125.81; annual 83.87 x 9 x 20% = 150.97
    assert (row["annual_price"], row["first_year_price"], row["saving_monthly"]) == (1560.00, 1283.22, 25.00)
    # B1 lines S2 100 then S1 50: 100 <= 125 < 150, so the bundle pays from 2 products
    assert row["break_even_products"] == 2
    row = table.loc[("a1", "platform")]
    # added F1+S2+S3 = 200.49 of 255.49: 178.84 x 200.49/255.49 = 140.34; intro 210.51, annual 252.61
    assert (row["first_year_price"], row["saving_monthly"]) == (1682.96, -23.84)
    # unused F1+S3 = 100.49 of 255.49 list: 178.84 x 100.49/255.49 = 70.34, 39% of 178.84
    assert row["note"] == "$70.34 a month (39%) pays for 2 product(s) the account will not use"
    assert row["break_even_products"] == 2  # S2 100.00 <= 178.84 < S2 + F1 199.99
    row = table.loc[("a2", "bundle:B2")]
    # added 89.99 x 20/119.99 = 15.00; intro 22.50, annual 27.00
    assert (row["first_year_price"], row["break_even_products"]) == (1030.38, 1)
    assert table.loc[("a2", "policy-bundle"), "first_year_price"] == 1099.08
    assert table.loc[("a3", "platform"), "break_even_products"] == 2
    assert table.loc[("a5", "a-la-carte"), "arr_now"] == 3.60


def test_credit_pool_rounds_up_to_whole_credits(book: Portfolio, suggestions: pd.DataFrame) -> None:
    settings = resolve({"pricing.credit_rates": {"S1": 2, "S2": 3.5}, "pricing.credit_price": 0.5})
    table = price_options(book, suggestions, AS_OF, settings)
    credits = table[table["option"] == "credits"].set_index("account_id")
    # a1: S1 5 x 2 + S2 5 x 3.5 = 27.5 -> 28 credits x 0.50 = 14.00, plus U1 5.00
    # a2: S2 1 x 3.5 -> 4 credits = 2.00, plus F1 99.99; a3: S1 5 x 2 = 10 credits = 5.00; a5: no rated product
    assert credits["monthly_price"].to_dict() == {"a1": 19.00, "a2": 101.99, "a3": 5.00}
    assert credits.loc["a1", "note"] == "28 credits a month at $0.50 each"
    assert credits.loc["a1", "break_even_products"] == 1
    assert table.groupby("account_id")["option"].last().to_dict()["a1"] == "credits"


@pytest.mark.parametrize(
    ("policy", "flag"),
    [
        (5.0, "below-10%: rarely overcomes buying inertia"),
        (12.0, "below-15%: under the usual 15-30% band"),
        (20.0, ""),
        (30.0, ""),
        (40.0, "above-30%: erodes pricing power"),
    ],
)
def test_discounts_outside_the_usual_band_are_flagged(book: Portfolio, suggestions, policy, flag) -> None:
    table = price_options(book, suggestions, AS_OF, resolve({"pricing.policy_discount_pct": policy}), ["a1"])
    flags = table.set_index("option")["flag"]
    assert flags["policy-bundle"] == flag
    assert flags["a-la-carte"] == ""


def test_a_bundle_dearer_than_its_products_is_flagged(book: Portfolio, suggestions: pd.DataFrame) -> None:
    dear = book.bundles.assign(price=[40.0, np.nan])  # 40.00 x 5 seats = 200.00 for 150.00 of S1 + S2
    table = price_options(
        Portfolio(book.accounts, book.products, book.subscriptions, bundles=dear),
        suggestions,
        AS_OF,
        resolve(),
        ["a1"],
    )
    row = table.set_index("option").loc["bundle:B1"]
    # 200.00 + U1 5.00 = 205.00 against 155.00: 1 - 205/155 = -32.26%
    assert (row["monthly_price"], row["discount_pct"], row["saving_monthly"]) == (205.00, -32.26, -50.00)
    assert row["flag"] == "above-list: costs more than a-la-carte"
    assert pd.isna(row["break_even_products"])  # even both products (150.00) cost less than the bundle


def test_a_bundle_that_only_matches_a_product_does_not_beat_it(book: Portfolio, suggestions) -> None:
    tie = book.bundles.assign(price=[20.0, np.nan])  # 20.00 x 5 seats = 100.00, exactly S2's line
    table = price_options(
        Portfolio(book.accounts, book.products, book.subscriptions, bundles=tie),
        suggestions,
        AS_OF,
        resolve(),
        ["a1"],
    )
    assert table.set_index("option").loc["bundle:B1", "break_even_products"] == 2


def test_notes_name_the_counts_and_a_bundle_reaching_outside_the_plan(book: Portfolio, suggestions) -> None:
    wider = pd.concat(
        [book.bundles, pd.DataFrame([{"bundle_id": "B3", "product_ids": "S1;S2;S3", "discount_pct": 10.0}])],
        ignore_index=True,
    )
    table = price_options(
        Portfolio(book.accounts, book.products, book.subscriptions, bundles=wider),
        suggestions,
        AS_OF,
        resolve(),
    ).set_index(["account_id", "option"])
    notes = table.xs("a-la-carte", level="option")["note"].to_dict()
    assert notes == {
        "a1": "2 current + 1 suggested at list price",
        "a2": "1 current + 1 suggested at list price",
        "a3": "0 current + 1 suggested at list price",
        "a5": "1 current + 0 suggested at list price",
    }
    assert table.loc[("a1", "bundle:B1"), "note"] == ""
    assert table.loc[("a2", "policy-bundle"), "note"] == "20% off the plan's a-la-carte sum"
    # only a1's plan (S1, S2, U1) shares two products with B3; S3 at a1's 5 seats is 0.50 outside it
    assert table.xs("bundle:B3", level="option").index.tolist() == ["a1"]
    row = table.loc[("a1", "bundle:B3")]
    # (50.00 + 100.00 + 0.50) x 0.9 = 135.45, plus U1 5.00; list 155.00 + 0.50
    assert (row["products"], row["monthly_price"], row["list_total"]) == ("S1;S2;S3;U1", 140.45, 155.50)
    assert row["note"] == "includes 1 product(s) outside the plan"
    assert row["break_even_products"] == 2  # S2 100.00 <= 135.45 < S2 + S1 150.00


def test_break_even_counts_only_the_bundled_lines_most_expensive_first() -> None:
    lines = np.array([[300, 100, 50, 5], [10, 10, 10, 0], [1, 2, 3, 4], [7, 8, 9, 10]])
    basket = Basket(
        accounts=np.array(["a", "b", "c", "d"], dtype=object),
        products=np.array(["P", "Q", "R", "S"], dtype=object),
        seat_unit=np.zeros(4, dtype=bool),
        price_ticks=np.ones(4, dtype="int64"),
        quantity=np.ones((4, 4), dtype="int64"),
        lines=lines,
        owned=np.zeros((4, 4), dtype=bool),
        added=np.zeros((4, 4), dtype=bool),
        mrr=np.zeros(4, dtype="int64"),
    )
    bundled = np.array([[0, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]], dtype=bool)
    # a: 100 <= 120 < 150 (the 300 outside the bundle does not count); b: 20 <= 25 < 30;
    # c: all of it (10) stays under 1000; d: nothing bundled
    got = break_even(basket, np.arange(4), bundled, np.array([120, 25, 1000, 0]))
    assert got.tolist() == [2, 3, 0, 0]
    assert break_even(basket, np.array([1]), bundled[1:2], np.array([25])).tolist() == [3]


def test_unique_rows_give_every_row_the_code_of_its_twins() -> None:
    masks = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 1], [0, 1, 0]], dtype=bool)
    codes, distinct = unique_rows(masks)
    assert len(distinct) == 3 and codes[0] == codes[2]
    assert (distinct[codes] == masks).all()
    wide = np.zeros((3, 70), dtype=bool)
    wide[1, 69] = wide[2, 69] = True  # they differ from row 0 past the first 64 columns only
    codes, distinct = unique_rows(wide)
    assert len(distinct) == 2 and codes[1] == codes[2] != codes[0]


def test_one_account_is_the_same_as_its_rows_of_the_whole_book(book: Portfolio, suggestions) -> None:
    whole = price_options(book, suggestions, AS_OF, resolve())
    for account in ("a1", "a2", "a5"):
        one = price_options(book, suggestions, AS_OF, resolve(), [account])
        pd.testing.assert_frame_equal(one, whole[whole["account_id"] == account].reset_index(drop=True))
    assert price_options(book, suggestions, AS_OF, resolve(), ["a4"]).empty
    assert (
        list(price_options(book, suggestions, AS_OF, resolve(), ["a4"]).columns)
        == PRICING_COLUMNS + EXTRA_COLUMNS
    )


def test_without_suggestions_only_current_products_are_priced(book: Portfolio) -> None:
    table = price_options(book, None, AS_OF, resolve())
    assert set(table["account_id"]) == {"a1", "a2", "a5"}
    assert table.loc[table["option"] == "a-la-carte", "monthly_price"].tolist() == [55.00, 99.99, 0.30]


def test_bad_input_is_refused_with_a_clear_message(book: Portfolio, suggestions: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="settings lack"):
        price_options(book, suggestions, AS_OF, {})
    with pytest.raises(ValueError, match="unknown account"):
        price_options(book, suggestions, AS_OF, resolve(), ["nope"])
    with pytest.raises(ValueError, match="suggestions lack"):
        price_options(book, suggestions.drop(columns="rank"), AS_OF, resolve())
    with pytest.raises(ValueError, match="as_of"):
        price_options(book, suggestions, None, resolve())
    broken = Portfolio(book.accounts, book.products.drop(columns="unit"), book.subscriptions)
    with pytest.raises(ValueError, match="portfolio.products lacks"):
        price_options(broken, suggestions, AS_OF, resolve())
    odd = book.bundles.assign(product_ids=["S1;ZZ", "S2;F1"])
    with pytest.raises(ValueError, match="not in the catalogue: ZZ"):
        price_options(
            Portfolio(book.accounts, book.products, book.subscriptions, bundles=odd),
            suggestions,
            AS_OF,
            resolve(),
        )
    empty_deal = book.bundles.assign(discount_pct=np.nan)
    with pytest.raises(ValueError, match="neither a price nor a discount_pct"):
        price_options(
            Portfolio(book.accounts, book.products, book.subscriptions, bundles=empty_deal),
            suggestions,
            AS_OF,
            resolve(),
        )


# -- an independent second method: every quote re-computed account by account in Decimal ----------------


def random_book(n: int, seed: int) -> tuple[Portfolio, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    m = 12
    pids = [f"P{j:02d}" for j in range(m)]
    units = rng.choice(["seat", "flat", "usage"], m, p=[0.6, 0.3, 0.1])
    prices = np.round(rng.uniform(0.001, 300, m), 3)
    ids = [f"A{i:05d}" for i in range(n)]
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "name": ids,
            "segment": rng.choice(["enterprise", "mid-market", "smb"], n),
            "employees": np.where(rng.random(n) < 0.1, np.nan, rng.integers(1, 3000, n)).astype(float),
        }
    )
    products = pd.DataFrame({"product_id": pids, "name": pids, "list_price": prices, "unit": units})
    count = rng.integers(0, 5, n)
    owner = np.repeat(np.arange(n), count)
    product = rng.integers(0, m, len(owner))
    status = rng.choice(["active", "churned", "trial"], len(owner), p=[0.75, 0.15, 0.1])
    quantity = rng.integers(1, 400, len(owner))
    mrr = np.round(prices[product] * quantity * rng.uniform(0.6, 1.0, len(owner)), 2)
    subs = subs_frame(
        [
            (
                ids[a],
                pids[p],
                "2023-01-01",
                None,
                int(q),
                float(r) if k % 7 else np.nan,
                s,
                "2024-06-01" if s == "churned" else None,
            )
            for k, (a, p, q, r, s) in enumerate(zip(owner, product, quantity, mrr, status, strict=True))
        ]
    )
    bundles = pd.DataFrame(
        {
            "bundle_id": ["K1", "K2", "K3"],
            "name": ["k1", "k2", "k3"],
            "product_ids": [";".join(rng.choice(pids, 3, replace=False)) for _ in range(3)],
            "price": [float(round(rng.uniform(10, 200), 2)), np.nan, float(round(rng.uniform(50, 400), 2))],
            "discount_pct": [np.nan, 22.5, np.nan],
        }
    )
    picks = np.repeat(np.arange(n), 4)
    suggestions = pd.DataFrame(
        {
            "account_id": [ids[a] for a in picks],
            "product_id": [pids[p] for p in rng.integers(0, m, len(picks))],
            "rank": np.tile([1, 2, 3, 4], n),
            "score": rng.random(len(picks)),
        }
    )
    return Portfolio(accounts, products, subs, bundles=bundles), suggestions


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


@dataclass
class Quoting:
    """One account's lines (product -> cents at list), owned products and current MRR, for plain quotes."""

    account_id: str
    line: dict[str, Decimal]
    owned: set[str]
    current: Decimal
    settings: dict

    def quote(self, option, products, monthly, bundled, bundled_price, annual) -> dict:
        list_total = sum((self.line[p] for p in products), Decimal(0))
        added_list = sum((self.line[p] for p in products if p not in self.owned), Decimal(0))
        added_monthly = cents(monthly * added_list / list_total) if list_total else Decimal(0)
        intro = cents(added_monthly * 3 * dec(self.settings["pricing.intro_discount_pct"]) / 100)
        annual_pct = dec(self.settings["pricing.annual_bundle_discount_pct"])
        commit = cents(added_monthly * 9 * annual_pct / 100) if annual else 0
        spent, k, even = Decimal(0), 0, None
        for value in sorted((self.line[p] for p in bundled), reverse=True):
            spent, k = spent + value, k + 1
            if spent > bundled_price:
                even = k
                break
        return {
            "account_id": self.account_id,
            "option": option,
            "products": ";".join(products),
            "monthly_price": monthly,
            "list_total": list_total,
            "discount_pct": cents((1 - monthly / list_total) * 100) if list_total else Decimal(0),
            "arr_delta": 12 * (monthly - self.current),
            "first_year_price": 12 * monthly - intro - commit,
            "break_even_products": even,
        }


def naive_quotes(book: Portfolio, suggestions: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """The same rules, written plainly: one account at a time, in Decimal."""
    catalogue = book.products.sort_values("product_id")
    price = {p: dec(v) for p, v in zip(catalogue["product_id"], catalogue["list_price"], strict=True)}
    unit = dict(zip(catalogue["product_id"], catalogue["unit"], strict=True))
    pids = list(catalogue["product_id"])
    rates = {p: dec(v) for p, v in settings["pricing.credit_rates"].items()}
    rows = []
    for account in book.accounts.itertuples():
        subs = book.subscriptions[
            (book.subscriptions["account_id"] == account.account_id)
            & (book.subscriptions["status"] == "active")
        ]
        qty: dict[str, int] = {}
        paid: dict[str, Decimal] = {}
        for s in subs.itertuples():
            qty[s.product_id] = qty.get(s.product_id, 0) + int(s.quantity)
            mrr = cents(price[s.product_id] * s.quantity) if pd.isna(s.mrr) else cents(dec(s.mrr))
            paid[s.product_id] = paid.get(s.product_id, Decimal(0)) + mrr
        mine = suggestions[(suggestions["account_id"] == account.account_id) & (suggestions["rank"] <= 3)]
        added = sorted(set(mine["product_id"]) - set(qty))
        if not qty and not added:
            continue
        seat_owned = [p for p in pids if p in qty and unit[p] == "seat"]
        if seat_owned:
            main = max(seat_owned, key=lambda p: (paid[p], -pids.index(p)))
            seats = qty[main]
        elif pd.isna(account.employees):
            seats = 1
        else:
            seats = max(1, int((dec(account.employees) * Decimal("0.1")).quantize(Decimal(1), ROUND_HALF_UP)))
        quantity = {p: qty.get(p, seats if unit[p] == "seat" else 1) for p in pids}
        line = {p: cents(price[p] * quantity[p]) for p in pids}
        plan = [p for p in pids if p in qty or p in added]
        current = sum(paid.values(), Decimal(0))

        account_of = Quoting(account.account_id, line, set(qty), current, settings)
        alc = sum((line[p] for p in plan), Decimal(0))
        rows.append(account_of.quote("a-la-carte", plan, alc, [], Decimal(0), False))
        for b in book.bundles.sort_values("bundle_id").itertuples():
            members = b.product_ids.split(";")
            if len(set(members) & set(plan)) < 2:
                continue
            if pd.notna(b.price):
                seat_members = [quantity[p] for p in members if unit[p] == "seat"]
                cost = cents(dec(b.price) * (max(seat_members) if seat_members else 1))
            else:
                cost = cents(sum(line[p] for p in members) * (1 - dec(b.discount_pct) / 100))
            rest = sum((line[p] for p in plan if p not in members), Decimal(0))
            priced = [p for p in pids if p in plan or p in members]
            rows.append(account_of.quote(f"bundle:{b.bundle_id}", priced, cost + rest, members, cost, True))
        if len(plan) >= 2:
            policy = cents(alc * (1 - dec(settings["pricing.policy_discount_pct"]) / 100))
            rows.append(account_of.quote("policy-bundle", plan, policy, plan, policy, True))
        everything = cents(
            sum(line.values(), Decimal(0)) * (1 - dec(settings["pricing.platform_discount_pct"]) / 100)
        )
        rows.append(account_of.quote("platform", pids, everything, pids, everything, True))
        covered = [p for p in plan if p in rates]
        if covered:
            pool = sum((rates[p] * quantity[p] for p in covered), Decimal(0))
            pool_cost = cents(
                pool.to_integral_value(rounding="ROUND_CEILING") * dec(settings["pricing.credit_price"])
            )
            rest = sum((line[p] for p in plan if p not in covered), Decimal(0))
            rows.append(account_of.quote("credits", plan, pool_cost + rest, covered, pool_cost, True))
    return pd.DataFrame(rows)


def test_every_quote_matches_an_account_by_account_decimal_recomputation() -> None:
    book, suggestions = random_book(150, seed=7)
    settings = resolve(
        {"pricing.credit_rates": {"P01": 2.5, "P03": 4, "P07": 0.75}, "pricing.credit_price": 1.25}
    )
    fast = price_options(book, suggestions, AS_OF, settings)
    slow = naive_quotes(book, suggestions, settings)
    assert len(fast) == len(slow) > 300
    assert fast["option"].str.startswith("bundle:").any() and (fast["option"] == "credits").any()
    assert (
        fast[["account_id", "option", "products"]].values.tolist()
        == slow[["account_id", "option", "products"]].values.tolist()
    )
    for column in ("monthly_price", "list_total", "discount_pct", "arr_delta", "first_year_price"):
        assert [Decimal(repr(float(v))) for v in fast[column]] == list(slow[column]), column
    naive_even = slow["break_even_products"].astype("Int64")
    assert fast["break_even_products"].tolist() == naive_even.tolist()


def test_a_large_book_is_priced_in_seconds_and_one_account_at_once() -> None:
    book, suggestions = random_book(20_000, seed=3)
    started = time.perf_counter()
    table = price_options(book, suggestions, AS_OF, resolve())
    whole = time.perf_counter() - started
    started = time.perf_counter()
    price_options(book, suggestions, AS_OF, resolve(), ["A00042"])
    one = time.perf_counter() - started
    assert table["account_id"].nunique() > 15_000
    assert whole < 8.0, f"20,000 accounts took {whole:.2f} s"
    assert one < 0.5, f"one account took {one:.2f} s"
