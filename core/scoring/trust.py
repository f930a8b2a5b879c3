"""How far to trust the risk score: how well it ranked the accounts that later churned.

The score is rebuilt from what was known at a past cutoff and compared with
what happened after it. Beside it, a logistic regression fitted on the same
components shows, by cross-validation, how much better weights learnt from
this book would rank. Figures are only reported when measured; with too
little churn history the result says so instead.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.frames import Portfolio, is_in, owned_as_of
from core.scoring.risk import risk_scores

DEFAULT_MIN_POSITIVES = 10
DEFAULT_FOLDS = 5


def churn_labels(portfolio: Portfolio, cutoff: pd.Timestamp, as_of: pd.Timestamp) -> pd.Series:
    """For each account owning a product on ``cutoff``: did one of those subscriptions churn by ``as_of``?

    Returns:
        Boolean series indexed by account_id (True = lost some or all ARR to churn).
    """
    held = owned_as_of(portfolio.subscriptions, cutoff)
    lost = held["status"].eq("churned") & (held["churned_at"] > cutoff) & (held["churned_at"] <= as_of)
    return lost.groupby(held["account_id"].astype("str")).any().rename("churned")


def _cross_validated_auc(x: np.ndarray, y: np.ndarray, folds: int) -> list[float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    aucs = []
    for train, test in splitter.split(x, y):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        model.fit(x[train], y[train])
        aucs.append(float(roc_auc_score(y[test], model.predict_proba(x[test])[:, 1])))
    return aucs


def risk_auc(
    portfolio: Portfolio,
    account_feats: pd.DataFrame,
    cutoff: pd.Timestamp,
    as_of: pd.Timestamp,
    settings: Mapping,
    folds: int = DEFAULT_FOLDS,
) -> dict:
    """ROC AUC of the hand-weighted risk score on past churn, and of a fitted logistic regression.

    ``account_feats`` must be ``account_features`` computed as of ``cutoff``
    (usage up to then); the score is rebuilt as of ``cutoff`` and labelled by
    churn in (cutoff, as_of]. The regression uses the same components' points
    (standardised) and is scored by stratified k-fold cross-validation.

    Returns:
        dict with cutoff, as_of, n, positives, auc_hand, auc_logit_cv,
        auc_logit_folds, folds, coefficients (component -> standardised
        coefficient), note. AUC values are None when there are fewer than
        ``trust.min_positives`` churned (or kept) accounts to learn from.
    """
    cutoff, as_of = pd.Timestamp(cutoff), pd.Timestamp(as_of)
    if cutoff >= as_of:
        raise ValueError(f"cutoff {cutoff.date()} must be before as_of {as_of.date()}")
    labels = churn_labels(portfolio, cutoff, as_of)
    minimum = int(settings.get("trust.min_positives", DEFAULT_MIN_POSITIVES))
    positives, n = int(labels.sum()), len(labels)
    result: dict = {
        "cutoff": str(cutoff.date()),
        "as_of": str(as_of.date()),
        "n": n,
        "positives": positives,
        "auc_hand": None,
        "auc_logit_cv": None,
        "auc_logit_folds": [],
        "folds": 0,
        "coefficients": {},
    }
    if min(positives, n - positives) < max(minimum, 2):
        result["note"] = (
            f"not enough churn history to measure: {positives} of {n} accounts owning products on "
            f"{cutoff.date()} churned by {as_of.date()} (need at least {max(minimum, 2)} churned and kept)"
        )
        return result

    from sklearn.metrics import roc_auc_score

    feats = account_feats[is_in(account_feats["account_id"], labels.index)]
    scores, components = risk_scores(portfolio, feats, cutoff, settings)
    y = labels.reindex(scores["account_id"]).fillna(False).to_numpy(dtype=int)
    matrix = components.pivot_table(index="account_id", columns="component", values="points", aggfunc="sum")
    matrix = matrix.reindex(scores["account_id"]).fillna(0.0)
    k = min(folds, int(y.sum()), int(len(y) - y.sum()))
    fold_aucs = _cross_validated_auc(matrix.to_numpy(), y, k)

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(matrix.to_numpy(), y)
    coefficients = dict(zip(matrix.columns, np.round(model[-1].coef_[0], 4).tolist(), strict=True))
    auc_hand = float(roc_auc_score(y, scores["risk"].to_numpy()))
    auc_cv = float(np.mean(fold_aucs))
    result.update(
        auc_hand=auc_hand,
        auc_logit_cv=auc_cv,
        auc_logit_folds=fold_aucs,
        folds=k,
        coefficients=coefficients,
        note=(
            f"On {n} accounts owning products on {cutoff.date()}, {positives} lost ARR to churn by {as_of.date()}. "
            f"The risk score ranked a churned account above a kept one {auc_hand:.0%} of the time "
            f"(AUC {auc_hand:.2f}); a logistic regression on the same components scored AUC {auc_cv:.2f} "
            f"in {k}-fold cross-validation."
        ),
    )
    return result
