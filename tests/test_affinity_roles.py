"""Product roles on a hand-built book with one product of each role, their figures, reasons and overrides."""

from __future__ import annotations

import pandas as pd
import pytest

from core.affinity.attach import attach_matrix
from core.affinity.roles import ROLE_COLUMNS, product_roles
from core.frames import Portfolio
from core.settings import resolve

AS_OF = pd.Timestamp("2024-06-30")


def accounts(first: int, last: int) -> list[str]:
    return [f"c{i:02d}" for i in range(first, last + 1)]


def subs(ids: list[str], product: str, start: str, mrr: float, churned_at: str | None = None) -> list[dict]:
    return [
        {
            "account_id": a,
            "product_id": product,
            "start_date": pd.Timestamp(start),
            "status": "churned" if churned_at else "active",
            "churned_at": pd.Timestamp(churned_at) if churned_at else pd.NaT,
            "mrr": mrr,
        }
        for a in ids
    ]


def hand_book() -> Portfolio:
    """100 accounts all start with CORE; c80-c99 leave on 2024-01-01.

    ADD: c00-c49 (50 of the 80 CORE owners left = 62.5%). KEEP: c00-c19 (CORE, ADD, KEEP: three
    products), tiny ARR, nobody shrinks. Their like-for-like comparison, c20-c39 (CORE, ADD, MISC),
    loses MISC for c20-c29. OLD: c50-c57 new in the prior half-year, c58-c59 in the last one, c60-c69
    held a year ago of whom c60-c64 dropped it. MISC: large ARR, also c70-c79.
    """
    rows = (
        subs(accounts(0, 79), "CORE", "2022-01-01", 100.0)
        + subs(accounts(80, 99), "CORE", "2022-01-01", 100.0, "2024-01-01")
        + subs(accounts(0, 49), "ADD", "2022-06-01", 50.0)
        + subs(accounts(0, 19), "KEEP", "2022-03-01", 5.0)
        + subs(accounts(50, 57), "OLD", "2023-08-01", 20.0)
        + subs(accounts(58, 59), "OLD", "2024-02-01", 20.0)
        + subs(accounts(60, 64), "OLD", "2022-06-01", 20.0, "2024-03-01")
        + subs(accounts(65, 69), "OLD", "2022-06-01", 20.0)
        + subs(accounts(70, 79), "MISC", "2022-05-01", 300.0)
        + subs(accounts(20, 29), "MISC", "2022-05-01", 300.0, "2024-01-01")
        + subs(accounts(30, 39), "MISC", "2022-05-01", 300.0)
    )
    frame = pd.DataFrame(rows).assign(end_date=pd.NaT, quantity=1)
    ids = accounts(0, 99)
    names = {"CORE": "Core Suite", "ADD": "Add-on", "KEEP": "Keeper", "OLD": "Legacy", "MISC": "Misc"}
    return Portfolio(
        accounts=pd.DataFrame({"account_id": ids, "name": ids, "segment": "smb"}),
        products=pd.DataFrame({"product_id": list(names), "name": list(names.values()), "list_price": 1.0}),
        subscriptions=frame,
    )


def roles_of(book: Portfolio, **kwargs: object) -> pd.DataFrame:
    settings = resolve()
    return product_roles(book, attach_matrix(book, AS_OF, settings), AS_OF, settings, **kwargs).set_index(
        "product_id"
    )


def test_each_product_gets_its_role_with_figures() -> None:
    book = hand_book()
    table = product_roles(book, attach_matrix(book, AS_OF, resolve()), AS_OF, resolve())
    assert list(table.columns[:5]) == ROLE_COLUMNS
    roles = table.set_index("product_id")
    assert roles["role"].to_dict() == {
        "ADD": "attach",
        "CORE": "anchor",
        "KEEP": "strategic",
        "MISC": "core",
        "OLD": "sunset",
    }
    assert (roles["role"] == roles["computed_role"]).all() and not roles["overridden"].any()
    core = roles.loc["CORE"]
    assert (core["entry_share"], core["reach"], core["holders"]) == (1.0, 1.0, 80)
    old = roles.loc["OLD"]
    assert (old["new_recent"], old["new_prior"], old["adoption_trend"]) == (2, 8, -0.75)
    assert old["churn_rate_12m"] == 0.5  # c60-c64 of the 10 holders a year ago
    assert old["attach_in_max"] == pytest.approx(15 / 80)
    keep = roles.loc["KEEP"]
    # Compared with the 20 other three-product accounts only: none left, but c20-c29 shrank 450 -> 150.
    assert keep["holder_churn_12m"] == 0.0 and keep["nonholder_churn_12m"] == 0.0
    assert keep["holder_nrr_12m"] == 1.0 and keep["nonholder_nrr_12m"] == pytest.approx(6000 / 9000)
    assert roles.loc["ADD", "attach_from_anchor"] == 50 / 80 and roles.loc["ADD", "anchor_source"] == "CORE"
    assert roles.loc["MISC", "arr"] == 20 * 300.0 * 12


def test_reasons_are_sentences_with_numbers_and_names() -> None:
    roles = roles_of(hand_book())
    assert roles.loc["CORE", "reason"] == (
        "Core Suite is where accounts start: 100% of customers bought it first and 100% own it."
    )
    assert roles.loc["ADD", "reason"] == "Add-on rides on Core Suite: 62% of its owners also own Add-on."
    assert "new purchases fell 75% (2 vs 8 before)" in roles.loc["OLD", "reason"]
    assert "churned 0% vs 0% for accounts with as many products but not it" in roles.loc["KEEP", "reason"]
    assert "kept 100% vs 67% of their revenue" in roles.loc["KEEP", "reason"]
    assert all(reason.endswith(".") for reason in roles["reason"])


def test_overrides_win_and_keep_the_computed_role() -> None:
    overrides = pd.DataFrame({"product_id": ["MISC", "CORE", "GONE"], "role": ["sunset", "anchor", "core"]})
    roles = roles_of(hand_book(), overrides=overrides)
    assert (
        roles.loc["MISC", "role"],
        roles.loc["MISC", "computed_role"],
        roles.loc["MISC", "overridden"],
    ) == (
        "sunset",
        "core",
        True,
    )
    assert roles.loc["MISC", "reason"].startswith("Set to sunset by the team (computed: core). Misc:")
    assert not roles.loc["CORE", "overridden"]  # same as computed
    with pytest.raises(ValueError, match="override roles"):
        roles_of(hand_book(), overrides=pd.DataFrame({"product_id": ["MISC"], "role": ["hero"]}))


def test_usage_trend_can_mark_a_product_sunset() -> None:
    book = hand_book()
    # OLD without the purchase decline: the prior half-year's buyers moved to the last one.
    moved = book.subscriptions["account_id"].isin(accounts(50, 53)) & (
        book.subscriptions["product_id"] == "OLD"
    )
    book.subscriptions.loc[moved, "start_date"] = pd.Timestamp("2024-03-01")
    assert roles_of(book).loc["OLD", "role"] != "sunset"
    periods = pd.date_range("2023-07-01", "2024-06-01", freq="MS")
    usage = pd.DataFrame(
        {
            "product_id": "OLD",
            "period": periods,
            "active_users": [100.0] * 6 + [60.0] * 6,
            "key_events": 1.0,
        }
    )
    roles = roles_of(book, usage_product_monthly=usage)
    assert roles.loc["OLD", "usage_trend"] == pytest.approx(-0.4)
    assert roles.loc["OLD", "role"] == "sunset" and "usage fell 40%" in roles.loc["OLD", "reason"]


def test_inputs_are_checked() -> None:
    book = hand_book()
    with pytest.raises(ValueError, match="attach"):
        product_roles(book, pd.DataFrame({"x": [1]}), AS_OF, resolve())
    with pytest.raises(ValueError, match="settings lack"):
        product_roles(book, attach_matrix(book, AS_OF, resolve()), AS_OF, {"attach.strong": 0.4})
