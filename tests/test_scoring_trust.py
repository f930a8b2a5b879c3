"""Trust: the risk score's AUC on past churn, hand-counted and against a second method."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_scoring_book import AS_OF, SETTINGS, account, book, sub, usage, usage_rows

from core.scoring import account_features, churn_labels, risk_auc, risk_scores, usage_features

CUTOFF = AS_OF - pd.DateOffset(months=6)
CHURNED = {"status": "churned", "churned_at": "2026-06-01"}


def features_at_cutoff(portfolio, monthly=None):
    monthly = usage([]) if monthly is None else monthly
    return account_features(usage_features(monthly, CUTOFF), portfolio, CUTOFF)


def test_auc_equals_a_hand_count() -> None:
    """10 churned single-product accounts (risk 10), 5 kept single-product (10), 10 kept with three (0).

    Pairs (churned, kept): 10 x 10 ranked right, 10 x 5 tied at a half each: AUC = 125 / 150.
    """
    accounts, subs = [], []
    for i in range(10):
        accounts += [account(f"C{i}"), account(f"W{i}")]
        subs += [sub(f"C{i}", "P1", **CHURNED)]
        subs += [sub(f"W{i}", p) for p in ("P1", "P2", "P3")]
    for i in range(5):
        accounts.append(account(f"K{i}"))
        subs.append(sub(f"K{i}", "P1"))
    portfolio = book(accounts, subs)
    result = risk_auc(portfolio, features_at_cutoff(portfolio), CUTOFF, AS_OF, SETTINGS)
    assert (result["n"], result["positives"]) == (25, 10)
    assert result["auc_hand"] == pytest.approx(125 / 150)
    assert result["folds"] == 5 and len(result["auc_logit_folds"]) == 5
    assert 0 <= result["auc_logit_cv"] <= 1
    assert set(result["coefficients"]) >= {"breadth", "usage_trend"}
    assert "AUC 0.83" in result["note"] and "10 lost ARR to churn" in result["note"]


def random_history(n: int, seed: int):
    """Accounts whose usage fell before the cutoff churn more often afterwards."""
    rng = np.random.default_rng(seed)
    accounts, subs, rows = [], [], []
    for i in range(n):
        aid = f"A{i:03d}"
        falling = rng.random() < 0.4
        churns = rng.random() < (0.6 if falling else 0.15)
        accounts.append(
            account(aid, employees=int(rng.integers(50, 500)), employees_prev=int(rng.integers(50, 500)))
        )
        for p in rng.choice(["P1", "P2", "P3"], size=int(rng.integers(1, 4)), replace=False):
            subs.append(
                sub(
                    aid,
                    p,
                    int(rng.integers(5, 50)),
                    end_date=CUTOFF + pd.Timedelta(days=int(rng.integers(10, 400))),
                    **(CHURNED if churns and p == "P1" else {}),
                )
            )
        start = float(rng.integers(20, 80))
        drop = rng.uniform(0.3, 0.9) if falling else rng.uniform(0.9, 1.2)
        rows += usage_rows(aid, "P1", [start] * 3 + [round(start * drop)] * 3, seats=100, as_of=CUTOFF)
        rows += usage_rows(aid, "P1", [5.0] * 3, seats=100, as_of=AS_OF)  # after the cutoff: must be ignored
    return book(accounts, subs), usage(rows)


def pair_count_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    pos, neg = scores[labels], scores[~labels]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def test_auc_equals_pair_counting_on_a_random_book() -> None:
    portfolio, monthly = random_history(160, seed=5)
    feats = features_at_cutoff(portfolio, monthly)
    result = risk_auc(portfolio, feats, CUTOFF, AS_OF, SETTINGS)
    labels = churn_labels(portfolio, CUTOFF, AS_OF)
    scores, _ = risk_scores(portfolio, feats[feats["account_id"].isin(labels.index)], CUTOFF, SETTINGS)
    y = labels.reindex(scores["account_id"]).to_numpy(dtype=bool)
    assert result["positives"] == int(y.sum()) > 20
    assert result["auc_hand"] == pytest.approx(pair_count_auc(y, scores["risk"].to_numpy()), abs=1e-12)
    assert result["auc_hand"] > 0.6 and result["auc_logit_cv"] > 0.6  # the planted signal is found


def test_too_little_history_says_so_and_claims_nothing() -> None:
    portfolio = book([account("A"), account("B")], [sub("A", "P1", **CHURNED), sub("B", "P1")])
    result = risk_auc(portfolio, features_at_cutoff(portfolio), CUTOFF, AS_OF, SETTINGS)
    assert result["auc_hand"] is None and result["auc_logit_cv"] is None
    assert result["note"].startswith("not enough churn history to measure: 1 of 2 accounts")
    with pytest.raises(ValueError, match="before"):
        risk_auc(portfolio, features_at_cutoff(portfolio), AS_OF, CUTOFF, SETTINGS)
