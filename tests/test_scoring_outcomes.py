"""Closing the loop: conversion by kind and rule, and the control-group z-test against a hand computation."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_scoring_book import AS_OF, account, book, sub

from core.scoring import control_uplift, conversion_rates

SINCE = pd.Timestamp("2026-03-15")


def test_conversion_by_kind_and_rule_hand_counted() -> None:
    todos = pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4", "A5", "A6", "A7"],
            "kind": [
                "cross-sell",
                "cross-sell",
                "cross-sell",
                "seat-upsell",
                "renewal-call",
                "cross-sell",
                "cross-sell",
            ],
            "product_id": ["P3", "P3", "P3", "P1", "", "P3", "P2"],
            "status": ["done", "done", "done", "done", "done", "open", "done"],
            "outcome": ["won", "won", "lost", "no-decision", None, "won", "won"],
        }
    )
    suggestions = pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3"],
            "product_id": ["P3"] * 3,
            "rule_antecedents": ["P1", "P1", "P1;P2"],
        }
    )
    table = conversion_rates(todos, suggestions)
    kinds = table[table["dimension"] == "kind"].set_index("group")
    assert kinds.loc["cross-sell", ["decided", "won", "lost", "no_decision"]].tolist() == [4, 3, 1, 0]
    assert kinds.loc["cross-sell", "conversion"] == 0.75
    assert kinds.loc["seat-upsell", "conversion"] == 0 and "renewal-call" not in kinds.index
    rules = table[table["dimension"] == "rule"].set_index("group")
    assert rules.loc["P1 → P3", "decided"] == 2 and rules.loc["P1 → P3", "conversion"] == 1.0
    assert rules.loc["P1;P2 → P3", "conversion"] == 0.0
    assert rules.loc["→ P2", "won"] == 1 and rules.loc["→ P1", "no_decision"] == 1
    assert conversion_rates(todos.assign(status="open")).empty


def uplift_book(treated: int, treated_attached: int, control: int, control_attached: int):
    accounts, subs, held_out = [], [], {}
    for group, n, attached in (("T", treated, treated_attached), ("C", control, control_attached)):
        for i in range(n):
            aid = f"{group}{i:04d}"
            accounts.append(account(aid))
            subs.append(sub(aid, "P1", start_date="2024-01-01"))
            if i < attached:
                subs.append(sub(aid, "P2", start_date="2026-07-01"))
            held_out[aid] = group == "C"
    # a renewal of a product already owned and a trial are not attaches
    subs.append(sub("T0999", "P1", start_date="2026-06-01"))
    subs.append(sub("T0998", "P3", start_date="2026-06-01", status="trial"))
    return book(accounts, subs), pd.Series(held_out)


def test_uplift_z_test_equals_the_hand_formula() -> None:
    portfolio, control = uplift_book(1000, 120, 250, 20)
    result = control_uplift(portfolio, control, SINCE, AS_OF)
    pooled = 140 / 1250
    z = (0.12 - 0.08) / math.sqrt(pooled * (1 - pooled) * (1 / 1000 + 1 / 250))
    p = 2 * (1 - 0.5 * (1 + math.erf(z / math.sqrt(2))))
    assert (result["treated_attached"], result["control_attached"]) == (120, 20)
    assert result["treated_rate"] == 0.12 and result["control_rate"] == 0.08
    assert result["uplift"] == pytest.approx(0.04)
    assert result["z"] == pytest.approx(z, rel=1e-9) and result["p_value"] == pytest.approx(p, rel=1e-9)
    assert "uplift +4.0 points" in result["note"]
    one_sided = control_uplift(portfolio, control, SINCE, AS_OF, alternative="larger")
    assert one_sided["p_value"] == pytest.approx(p / 2, rel=1e-9)


def test_uplift_too_small_to_test() -> None:
    portfolio, control = uplift_book(30, 3, 5, 1)
    result = control_uplift(portfolio, control, SINCE, AS_OF)
    assert result["p_value"] is None and result["note"].startswith("not enough to test")
    with pytest.raises(ValueError, match="alternative"):
        control_uplift(portfolio, control, SINCE, AS_OF, alternative="bigger")


def test_attach_needs_a_product_not_owned_before() -> None:
    portfolio = book(
        [account("A")], [sub("A", "P1", start_date="2024-01-01"), sub("A", "P1", start_date="2026-05-01")]
    )
    result = control_uplift(portfolio, pd.Series({"A": False}), SINCE, AS_OF)
    assert result["treated_attached"] == 0
