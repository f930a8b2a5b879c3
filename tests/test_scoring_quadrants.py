"""Quadrant boundaries, the scores table, planted accounts, and why a score moved."""

from __future__ import annotations

import pandas as pd
import pytest
from test_scoring_book import AS_OF, SETTINGS, account, book, sub, usage, usage_rows

from core.scoring import account_features, combine_scores, expansion_scores, risk_scores, usage_features
from core.scoring.quadrants import SCORE_COLUMNS, assign_quadrants, score_moves
from core.settings import resolve

DAY = pd.Timedelta(days=1)


@pytest.mark.parametrize(
    ("risk", "expansion", "quadrant"),
    [
        (50.0, 50.0, "fix-and-expand"),
        (49.99, 50.0, "expand"),
        (50.0, 49.99, "rescue"),
        (49.99, 49.99, "nurture"),
        (100.0, 0.0, "rescue"),
        (0.0, 100.0, "expand"),
    ],
)
def test_exactly_the_threshold_is_high(risk: float, expansion: float, quadrant: str) -> None:
    scores = pd.DataFrame({"account_id": ["A"], "risk": [risk], "expansion": [expansion]})
    assert assign_quadrants(scores, SETTINGS)["quadrant"].iloc[0] == quadrant


def test_thresholds_come_from_settings() -> None:
    scores = pd.DataFrame({"account_id": ["A"], "risk": [30.0], "expansion": [30.0]})
    settings = resolve({"quadrant.risk_threshold": 30.0, "quadrant.expansion_threshold": 31.0})
    assert assign_quadrants(scores, settings)["quadrant"].iloc[0] == "rescue"
    with pytest.raises(ValueError, match="between 0 and 100"):
        assign_quadrants(scores, resolve({"quadrant.risk_threshold": 150.0}))


def planted_book():
    """An account in trouble, one growing fast and a quiet healthy one, as the demo plants them."""
    portfolio = book(
        [
            account("TROUBLE", employees=800, employees_prev=1000),
            account("GROWTH", employees=900, employees_prev=600),
            account("HEALTHY"),
        ],
        [
            sub("TROUBLE", "P1", 100, 50.0, end_date=AS_OF + 40 * DAY),
            sub("GROWTH", "P1", 50, 50.0),
            sub("GROWTH", "P2", 50, 30.0),
            sub("HEALTHY", "P1", 40, 50.0),
            sub("HEALTHY", "P2", 40, 30.0),
            sub("HEALTHY", "P4", 1, 100.0),
        ],
        contacts=[
            {
                "account_id": "TROUBLE",
                "name": "T",
                "email": "t@t",
                "role": "user",
                "last_contacted_at": AS_OF - 200 * DAY,
            },
            {
                "account_id": "GROWTH",
                "name": "G",
                "email": "g@g",
                "role": "decision_maker",
                "last_contacted_at": AS_OF - 14 * DAY,
            },
            {
                "account_id": "HEALTHY",
                "name": "H",
                "email": "h@h",
                "role": "decision_maker",
                "last_contacted_at": AS_OF - 20 * DAY,
            },
            {
                "account_id": "HEALTHY",
                "name": "I",
                "email": "i@h",
                "role": "champion",
                "last_contacted_at": AS_OF - 20 * DAY,
            },
        ],
        activities=[
            {"account_id": "TROUBLE", "date": AS_OF - d * DAY, "kind": "ticket", "sentiment": "negative"}
            for d in (3, 20, 45)
        ],
        nps=[{"account_id": "TROUBLE", "date": AS_OF - 30 * DAY, "score": 2}],
    )
    rows = usage_rows("TROUBLE", "P1", [70, 70, 70, 30, 25, 20], seats=100)
    rows += usage_rows("GROWTH", "P1", [40, 42, 44, 47, 49, 50], seats=50)
    rows += usage_rows("GROWTH", "P2", [35, 38, 40, 45, 48, 49], seats=50)
    rows += usage_rows("HEALTHY", "P1", [30] * 6, seats=40)
    suggestions = pd.DataFrame(
        {
            "account_id": ["GROWTH", "HEALTHY"],
            "product_id": ["P3", "P3"],
            "rank": [1, 1],
            "score": [0.6, 0.2],
            "confidence": [0.45, 0.1],
            "lift": [2.2, 1.0],
            "reason": ["r1", "r2"],
        }
    )
    return portfolio, usage(rows), suggestions


def scored():
    portfolio, monthly, suggestions = planted_book()
    feats = account_features(usage_features(monthly, AS_OF), portfolio, AS_OF)
    risk, risk_parts = risk_scores(portfolio, feats, AS_OF, SETTINGS)
    expansion, expansion_parts = expansion_scores(portfolio, feats, suggestions, None, AS_OF, SETTINGS)
    scores = combine_scores(portfolio, risk, expansion, AS_OF, SETTINGS)
    return scores, pd.concat([risk_parts, expansion_parts], ignore_index=True)


def test_planted_accounts_land_where_the_issue_says() -> None:
    scores, _ = scored()
    quadrant = scores.set_index("account_id")["quadrant"]
    assert quadrant["TROUBLE"] in ("rescue", "fix-and-expand")
    assert quadrant["GROWTH"] in ("expand", "fix-and-expand")
    assert quadrant["HEALTHY"] in ("nurture", "expand")
    assert list(scores.columns[: len(SCORE_COLUMNS)]) == list(SCORE_COLUMNS)
    row = scores.set_index("account_id").loc["TROUBLE"]
    assert row["arr"] == 12 * 5000 and row["renewal_date"] == AS_OF + 40 * DAY
    assert row["risk_reasons"].count("; ") == 7  # all eight components earned points
    assert row["risk_reasons"].startswith("Active users down 64%") and row["expansion_reasons"] == ""


def test_score_moves_name_the_components_that_moved() -> None:
    _, now = scored()
    prev = now.copy()
    trouble_usage = (prev["account_id"] == "TROUBLE") & (prev["component"] == "usage_trend")
    prev.loc[trouble_usage, "points"] = 5.0
    prev.loc[trouble_usage, "reason"] = "Active users down 10%"
    gone = (prev["account_id"] == "HEALTHY") & (prev["component"] == "breadth")
    prev = prev[~gone]
    moves = score_moves(now, prev)
    assert len(moves) == 2 - int(
        now.loc[(now["account_id"] == "HEALTHY") & (now["component"] == "breadth"), "points"].iloc[0] == 0
    )
    first = moves.iloc[0]
    assert (first["account_id"], first["component"], first["points_prev"]) == ("TROUBLE", "usage_trend", 5.0)
    assert first["delta"] == pytest.approx(first["points_now"] - 5.0)
    assert first["reason"].startswith("Active users down")
    assert score_moves(now, now).empty
    assert len(score_moves(now, now.iloc[0:0])) == int((now["points"] != 0).sum())
