"""Expansion components and the expansion ARR estimate, hand-counted."""

from __future__ import annotations

import pandas as pd
import pytest
from test_scoring_book import AS_OF, SETTINGS, account, book, sub, usage, usage_rows

from core.scoring.expansion import expansion_scores, suggestion_values
from core.scoring.features import account_features, usage_features

DAY = pd.Timedelta(days=1)
SUGGESTIONS = pd.DataFrame(
    {
        "account_id": ["G", "G", "D"],
        "product_id": ["P3", "P2", "P4"],
        "rank": [1, 2, 1],
        "score": [0.5, 0.2, 0.1],
        "confidence": [0.3, 0.2, 0.5],
        "lift": [2.0, 1.2, 1.1],
        "reason": ["30% of accounts with Core CRM own Journeys.", "x", "y"],
    }
)
READY = pd.DataFrame(
    {
        "account_id": ["G", "G"],
        "product_id": ["P2", "P3"],
        "ready": [True, True],
        "readiness_reason": [
            "P2 signal",
            "Key events passed 1,000 a month, the point after which 3x more buy",
        ],
    }
)


def growth_book():
    portfolio = book(
        [account("G", employees=900, employees_prev=600), account("D")],
        [sub("G", "P1", 100, 50.0), sub("D", "P1", 10, 50.0)],
        activities=[{"account_id": "G", "date": AS_OF - 3 * DAY, "kind": "meeting", "sentiment": "positive"}],
        nps=[{"account_id": "G", "date": AS_OF - 20 * DAY, "score": 10}],
    )
    rows = usage_rows("G", "P1", [80, 80, 80, 95, 95, 95], seats=100)
    rows += usage_rows("D", "P1", [5, 5, 5, 5, 5, 5, 5], seats=10, logins=[5, 0, 0, 0, 20, 20, 20])
    feats = account_features(usage_features(usage(rows), AS_OF), portfolio, AS_OF)
    return portfolio, feats


def test_every_expansion_component_hand_counted() -> None:
    portfolio, feats = growth_book()
    scores, components = expansion_scores(portfolio, feats, SUGGESTIONS, READY, AS_OF, SETTINGS)
    g = components[components["account_id"] == "G"].set_index("component")
    expected = {
        "suggestions": (
            35 * (0.5 * 0.6 + 0.5),
            "Best next product Journeys: 30% of similar accounts own it "
            "(lift 2.0), expected $14,400 a year (30% × 40 × 100 seats × 12), top 3 together "
            "$21,600 a year, 36% of ARR",
        ),
        "seat_saturation": (
            20.0,
            "Core CRM: 95 of 100 licensed seats active (95%), about 19 more seats would bring it back to 80%",
        ),
        "headcount_growth": (
            15.0,
            "Headcount up 50% (600 → 900) in a year, at the same ratio about 50 more seats (100 → 150)",
        ),
        "usage_growth": (
            10 * 0.1875 / 0.5,
            "Active users up 19% (80 → 95), key events up 19% (1,200 → 1,425) "
            "(last 3 months vs the 3 before)",
        ),
        "readiness": (10.0, "Key events passed 1,000 a month, the point after which 3x more buy"),
        "sentiment": (5 * 0.8, "Latest NPS 10 (promoter), 1 positive activity in the last 90 days"),
        "reactivation": (0.0, "No comeback after a dormant spell"),
    }
    for name, (points, reason) in expected.items():
        assert g.loc[name, "points"] == pytest.approx(points), name
        assert g.loc[name, "reason"] == reason
    assert g.loc["suggestions", "product_id"] == "P3" and g.loc["readiness", "product_id"] == "P3"
    assert g.loc["seat_saturation", "product_id"] == "P1"
    row = scores.set_index("account_id").loc["G"]
    assert row["expansion"] == pytest.approx(round(sum(p for p, _ in expected.values()), 1))
    assert row["suggestion_arr"] == 14400 + 7200 and row["extra_seats"] == 50
    assert row["expansion_arr"] == 21600 + 50 * 600  # 50 seats at the account's 600 a seat a year
    assert row["expansion_reasons"].startswith("Best next product Journeys")


def test_reactivation_and_flat_products() -> None:
    portfolio, feats = growth_book()
    scores, components = expansion_scores(portfolio, feats, SUGGESTIONS, None, AS_OF, SETTINGS)
    d = components[components["account_id"] == "D"].set_index("component")
    assert d.loc["reactivation", "points"] == 5.0
    assert (
        d.loc["reactivation", "reason"]
        == "Back after 3 months without logins: 60 logins in the last 3 months"
    )
    assert d.loc["readiness", "reason"] == "No readiness signals computed"
    valued = suggestion_values(SUGGESTIONS, portfolio, feats).set_index(["account_id", "product_id"])
    assert valued.loc[("D", "P4"), "seats"] == 1 and valued.loc[("D", "P4"), "expected_arr"] == 0.5 * 100 * 12
    assert valued.loc[("G", "P3"), "expected_arr"] == 0.3 * 40 * 100 * 12


def test_no_suggestions_earn_nothing_and_say_so() -> None:
    portfolio, feats = growth_book()
    empty = SUGGESTIONS.iloc[0:0]
    scores, components = expansion_scores(portfolio, feats, empty, None, AS_OF, SETTINGS)
    part = components[components["component"] == "suggestions"]
    assert (part["points"] == 0).all()
    assert set(part["reason"]) == {"No product suggestion for this account"}
    with pytest.raises(ValueError, match="confidence"):
        expansion_scores(portfolio, feats, SUGGESTIONS.drop(columns="confidence"), None, AS_OF, SETTINGS)
