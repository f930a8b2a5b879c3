"""The two axes become four quadrants, and each score move is explained component by component.

High means at or above the threshold (``quadrant.risk_threshold``,
``quadrant.expansion_threshold``; 50 by default), as spec/cli.md defines.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.frames import QUADRANTS, Portfolio
from core.scoring.features import arr_and_renewal, positions

SCORE_COLUMNS = (
    "account_id",
    "risk",
    "expansion",
    "quadrant",
    "arr",
    "renewal_date",
    "risk_reasons",
    "expansion_reasons",
    "expansion_arr",
)


def _threshold(settings: Mapping, key: str) -> float:
    if key not in settings:
        raise ValueError(f"settings lack {key!r} (pass core.settings.resolve())")
    value = float(settings[key])
    if not 0 <= value <= 100:
        raise ValueError(f"{key} must be between 0 and 100, got {value}")
    return value


def assign_quadrants(scores: pd.DataFrame, settings: Mapping) -> pd.DataFrame:
    """Place each account: fix-and-expand, rescue, expand or nurture.

    Returns:
        ``scores`` with a ``quadrant`` column added (or replaced).
    """
    for column in ("risk", "expansion"):
        if column not in scores.columns:
            raise ValueError(f"scores lack column {column!r}")
    risky = scores["risk"].to_numpy(dtype=float) >= _threshold(settings, "quadrant.risk_threshold")
    growing = scores["expansion"].to_numpy(dtype=float) >= _threshold(
        settings, "quadrant.expansion_threshold"
    )
    fix_expand, rescue, expand, nurture = QUADRANTS
    quadrant = np.select([risky & growing, risky, growing], [fix_expand, rescue, expand], nurture)
    return scores.assign(quadrant=pd.Series(quadrant, index=scores.index, dtype="str"))


def combine_scores(
    portfolio: Portfolio,
    risk: pd.DataFrame,
    expansion: pd.DataFrame,
    as_of: pd.Timestamp,
    settings: Mapping,
) -> pd.DataFrame:
    """One row per account with both scores, the quadrant, ARR and the renewal date: the `scores` table.

    Returns:
        account_id, risk, expansion, quadrant, arr, renewal_date, risk_reasons,
        expansion_reasons, expansion_arr, then expansion's extra columns.
    """
    accounts = portfolio.accounts["account_id"]
    both = pd.DataFrame({"account_id": accounts.to_numpy()})
    for frame, name in ((risk, "risk"), (expansion, "expansion")):
        if "account_id" not in frame.columns or name not in frame.columns:
            raise ValueError(f"{name} scores lack account_id or {name}")
        at = positions(accounts, frame["account_id"])
        for column in frame.columns.drop("account_id"):
            values = frame[column].to_numpy()
            text = values.dtype == object or not np.issubdtype(values.dtype, np.number)
            fill = "" if text else 0.0
            both[column] = np.append(values.astype(object if text else "float64"), fill)[at]
    facts = arr_and_renewal(portfolio, pd.Index(accounts), pd.Timestamp(as_of))
    both["arr"] = facts["arr"].round(2).to_numpy()
    both["renewal_date"] = facts["renewal_date"].to_numpy()
    both = assign_quadrants(both, settings)
    extras = [c for c in both.columns if c not in SCORE_COLUMNS]
    return both[[*SCORE_COLUMNS, *extras]]


def score_moves(components_now: pd.DataFrame, components_prev: pd.DataFrame) -> pd.DataFrame:
    """Why a score moved since the last recompute: the components whose points changed.

    Returns:
        account_id, axis, component, points_now, points_prev, delta, reason
        (the component's current sentence, or the previous one for a component
        that disappeared), biggest move first within each account.
    """
    keys = ["account_id", "axis", "component"]
    for name, frame in (("components_now", components_now), ("components_prev", components_prev)):
        missing = [c for c in (*keys, "points", "reason") if c not in frame.columns]
        if missing and not frame.empty:
            raise ValueError(f"{name} lacks column(s) {', '.join(missing)}")
    now = components_now.reindex(columns=[*keys, "points", "reason"])
    prev = components_prev.reindex(columns=[*keys, "points", "reason"])
    merged = now.merge(prev, on=keys, how="outer", suffixes=("_now", "_prev"))
    merged["points_now"] = merged["points_now"].astype("float64").fillna(0.0)
    merged["points_prev"] = merged["points_prev"].astype("float64").fillna(0.0)
    merged["delta"] = (merged["points_now"] - merged["points_prev"]).round(6)
    merged["reason"] = merged["reason_now"].fillna(merged["reason_prev"]).astype("str")
    moved = merged[merged["delta"] != 0].assign(size=lambda m: m["delta"].abs())
    moved = moved.sort_values(
        ["account_id", "axis", "size", "component"], ascending=[True, True, False, True]
    )
    return moved[[*keys, "points_now", "points_prev", "delta", "reason"]].reset_index(drop=True)
