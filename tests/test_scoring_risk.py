"""Risk components: hand-counted points and sentences for an at-risk and a healthy account."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_scoring_book import AS_OF, SETTINGS, account, book, sub, usage, usage_rows

from core.scoring.features import account_features, usage_features
from core.scoring.risk import breadth_churn_history, earned_reasons, risk_scores
from core.settings import resolve

DAY = pd.Timedelta(days=1)


def at_risk_and_healthy():
    portfolio = book(
        [account("R", employees=900, employees_prev=1000), account("H", employees=500, employees_prev=500)],
        [
            sub("R", "P1", 100, 50.0, end_date=AS_OF + 45 * DAY),
            sub("H", "P1", 60, 50.0),
            sub("H", "P2", 10, 30.0),
            sub("H", "P3", 10, 40.0),
        ],
        contacts=[
            {
                "account_id": "R",
                "name": "Cy",
                "email": "c@r",
                "role": "champion",
                "last_contacted_at": AS_OF - 120 * DAY,
            },
            {
                "account_id": "H",
                "name": "Di",
                "email": "d@h",
                "role": "decision_maker",
                "last_contacted_at": AS_OF - 10 * DAY,
            },
            {
                "account_id": "H",
                "name": "Ed",
                "email": "e@h",
                "role": "champion",
                "last_contacted_at": AS_OF - 10 * DAY,
            },
        ],
        activities=[{"account_id": "R", "date": AS_OF - 5 * DAY, "kind": "ticket", "sentiment": "negative"}],
        nps=[
            {"account_id": "R", "date": "2026-08-01", "score": 5},
            {"account_id": "H", "date": "2026-08-01", "score": 9},
        ],
    )
    rows = usage_rows("R", "P1", [60, 60, 60, 30, 30, 30], seats=100)
    rows += usage_rows("H", "P1", [50] * 6, seats=60)
    feats = account_features(usage_features(usage(rows), AS_OF), portfolio, AS_OF)
    return portfolio, feats


def parts(components: pd.DataFrame, account_id: str) -> pd.DataFrame:
    return components[components["account_id"] == account_id].set_index("component")


def test_every_risk_component_hand_counted() -> None:
    portfolio, feats = at_risk_and_healthy()
    scores, components = risk_scores(portfolio, feats, AS_OF, SETTINGS)
    r = parts(components, "R")
    expected = {
        "usage_trend": (
            25.0,
            "Active users down 50% (60 → 30), key events down 50% (900 → 450) (last 3 months "
            "vs the 3 before), steepest drop in Core CRM (60 → 30 users)",
        ),
        "seat_utilisation": (15 * 0.5 / 0.6, "Only 30% of licensed seats active (30 of 100)"),
        "renewal_proximity": (15 * 135 / 180, "Renewal in 45 days (2026-10-30)"),
        "engagement_recency": (10 * 90 / 150, "No contact for 120 days (last 2026-05-18)"),
        "sentiment": (
            15 * 0.75,
            "1 negative ticket in the last 90 days, latest NPS 5 (detractor, 2026-08-01)",
        ),
        "breadth": (
            10.0,
            "Owns 1 product, single-product customers churn more often than multi-product ones",
        ),
        "buying_centre": (5.0, "No decision-maker contact, champion last contacted 120 days ago"),
        "headcount": (2.5, "Headcount down 10% (1,000 → 900) in a year"),
    }
    for name, (points, reason) in expected.items():
        assert r.loc[name, "points"] == pytest.approx(points), name
        assert r.loc[name, "reason"] == reason
    assert r.loc["usage_trend", "product_id"] == "P1" and r.loc["usage_trend", "value"] == pytest.approx(-0.5)
    assert r.loc["sentiment", "evidence_at"] == AS_OF - 5 * DAY
    assert set(r["weight"]) == {25, 15, 10, 5} and set(r["axis"]) == {"risk"}
    row = scores.set_index("account_id").loc["R"]
    assert row["risk"] == pytest.approx(round(sum(p for p, _ in expected.values()), 1))
    reasons = row["risk_reasons"].split("; ")
    assert reasons[0].startswith("Active users down 50%") and reasons[1].startswith("Only 30%")
    assert reasons[2].startswith("Renewal in 45 days") and len(reasons) == 8


def test_healthy_account_scores_zero_with_reasons_still_stated() -> None:
    portfolio, feats = at_risk_and_healthy()
    scores, components = risk_scores(portfolio, feats, AS_OF, SETTINGS)
    h = parts(components, "H")
    assert h["points"].sum() == 0
    assert h.loc["seat_utilisation", "reason"] == "83% of licensed seats active (50 of 60)"
    assert h.loc["usage_trend", "reason"].startswith("Active users flat (50 → 50)")
    assert h.loc["sentiment", "reason"].endswith("latest NPS 9 (promoter, 2026-08-01)")
    assert h.loc["renewal_proximity", "reason"] == "Renewal in 259 days (2027-06-01)"
    assert scores.set_index("account_id").loc["H", "risk_reasons"] == ""


def test_breadth_states_the_books_own_churn_ratio() -> None:
    accounts = [account("X")]
    subs = [sub("X", "P1", start_date="2026-01-01")]  # a customer for less than a year: not in the history
    for i in range(20):
        lost = {"status": "churned", "churned_at": "2026-03-01"}
        accounts += [account(f"S{i}"), account(f"M{i}")]
        subs += [sub(f"S{i}", "P1", **(lost if i < 6 else {}))]
        subs += [sub(f"M{i}", "P1"), sub(f"M{i}", "P2", **(lost if i < 2 else {}))]
    portfolio = book(accounts, subs)
    history = breadth_churn_history(portfolio, AS_OF)
    assert history == {
        "single": 0.3,
        "multi": 0.1,
        "ratio": pytest.approx(3.0),
        "n_single": 20,
        "n_multi": 20,
    }
    feats = account_features(usage_features(usage([]), AS_OF), portfolio, AS_OF)
    _, components = risk_scores(portfolio, feats, AS_OF, SETTINGS)
    x = parts(components, "X").loc["breadth"]
    assert x["reason"] == (
        "Owns 1 product, single-product customers here churned 3.0x as often as multi-product ones "
        "(30% vs 10% in the last 12 months)"
    )


def test_weights_are_scaled_to_one_hundred_and_checked() -> None:
    portfolio, feats = at_risk_and_healthy()
    _, base = risk_scores(portfolio, feats, AS_OF, SETTINGS)
    doubled = resolve({"risk.weights": {k: 2 * v for k, v in SETTINGS["risk.weights"].items()}})
    _, same = risk_scores(portfolio, feats, AS_OF, doubled)
    pd.testing.assert_series_equal(base["points"], same["points"])
    no_headcount = resolve({"risk.weights": {"headcount": 0}})
    _, scaled = risk_scores(portfolio, feats, AS_OF, no_headcount)
    usage_points = scaled[(scaled["account_id"] == "R") & (scaled["component"] == "usage_trend")]["points"]
    assert usage_points.iloc[0] == pytest.approx(25 * 100 / 95)
    with pytest.raises(ValueError, match="unknown component"):
        risk_scores(portfolio, feats, AS_OF, resolve({"risk.weights": {"vibes": 3}}))
    with pytest.raises(ValueError, match="account_features"):
        risk_scores(portfolio, feats[["account_id"]], AS_OF, SETTINGS)


def test_without_contact_data_engagement_and_buying_centre_do_not_punish() -> None:
    portfolio, feats = at_risk_and_healthy()
    portfolio.contacts = portfolio.contacts.iloc[0:0]
    portfolio.activities = portfolio.activities.iloc[0:0]
    feats = account_features(usage_features(usage([]), AS_OF), portfolio, AS_OF)
    _, components = risk_scores(portfolio, feats, AS_OF, SETTINGS)
    r = parts(components, "R")
    assert r.loc["engagement_recency", "points"] == 0
    assert r.loc["engagement_recency", "reason"] == "No contact or activity data imported"
    assert r.loc["buying_centre", "points"] == 0


def test_seat_utilisation_counts_only_users_of_seat_licensed_products() -> None:
    """A flat-fee product's users have no seats to fill: 3 of 4 seats, not (3 + 2) of 4."""
    portfolio = book([account("S")], [sub("S", "P1", 4, 50.0), sub("S", "P4", 1, 100.0)])
    rows = usage_rows("S", "P1", [3] * 6, seats=4) + usage_rows("S", "P4", [2] * 6, seats=float("nan"))
    feats = account_features(usage_features(usage(rows), AS_OF), portfolio, AS_OF)
    _, components = risk_scores(portfolio, feats, AS_OF, SETTINGS)
    assert (
        parts(components, "S").loc["seat_utilisation", "reason"]
        == "Only 75% of licensed seats active (3 of 4)"
    )


def test_earned_reasons_biggest_first_ties_in_component_order() -> None:
    points = np.array([[0.0, 5.0, 2.0, 5.0], [0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 3.0, 0.0]])
    reasons = np.array([list("abcd"), list("efgh"), list("ijkl")], dtype=object)
    joined = earned_reasons(points, reasons)
    assert joined.dtype == object and joined.tolist() == ["b; d; c", "", "k; i"]
