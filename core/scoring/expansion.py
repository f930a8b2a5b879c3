"""Expansion 0-100: how much an account is likely to buy next, and roughly how much that is worth.

Same shape as the risk score: each component earns a share of its weight
(``expansion.weights``, scaled to 100) with a sentence holding its numbers.
The currency estimate ``expansion_arr`` adds the expected value of the top
suggestions to the seats the account looks short of.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.frames import Portfolio
from core.scoring.features import (
    as_text,
    concat,
    first_per_account,
    fmt_money,
    fmt_num,
    fmt_pct,
    fmt_price,
    per_distinct,
    pick,
    positions,
    product_label,
)
from core.scoring.risk import (
    EXPANSION_COMPONENTS,
    USAGE_KEYS,
    Components,
    change,
    month_end,
    normalised_weights,
    product_names,
    trend_phrase,
    usage_phrase,
)

AXIS = "expansion"
COMPONENTS = EXPANSION_COMPONENTS
SUGGESTION_COLUMNS = ("account_id", "product_id", "score", "confidence", "lift", "reason")
PRICED_COLUMNS = ("account_id", "product_id", "rank", "score", "confidence", "lift")
READINESS_COLUMNS = ("account_id", "product_id", "ready", "readiness_reason")
TOP_SUGGESTIONS = 3
CONFIDENCE_FULL = 0.5  # a 50% attach probability earns the full likelihood half of the suggestions weight
VALUE_FULL_SHARE = 0.2  # expected value worth 20% of current ARR earns the full size half
SATURATION_START, SATURATION_FULL = 0.75, 0.9
TARGET_UTILISATION = 0.8
GROWTH_FULL = 0.4
USAGE_GROWTH_FULL = 0.5
PROMOTER_SHARE, POSITIVE_SHARE = 0.6, 0.2
DORMANT_MIN = 2


def top_suggestions(suggestions: pd.DataFrame, top: int = TOP_SUGGESTIONS) -> pd.DataFrame:
    """The account's best ``top`` suggestions, best first (by rank when given, else by score)."""
    _check_suggestions(suggestions)
    return _best_ranked(suggestions, top)


def _check_suggestions(suggestions: pd.DataFrame) -> None:
    missing = [c for c in SUGGESTION_COLUMNS if c not in suggestions.columns]
    if missing:
        raise ValueError(f"suggestions lack column(s) {', '.join(missing)}")


def _best_ranked(suggestions: pd.DataFrame, top: int) -> pd.DataFrame:
    """``top_suggestions`` without the column check, so a caller can pass only the columns it reads."""
    if "rank" in suggestions.columns:
        return suggestions[suggestions["rank"] <= top].reset_index(drop=True)
    frame = suggestions.sort_values(["account_id", "score", "product_id"], ascending=[True, False, True])
    frame = frame.assign(rank=frame.groupby("account_id").cumcount() + 1)
    return frame[frame["rank"] <= top].reset_index(drop=True)


def suggestion_values(
    suggestions: pd.DataFrame, portfolio: Portfolio, account_feats: pd.DataFrame
) -> pd.DataFrame:
    """Expected annual value of each suggestion = confidence x list price x likely seats x 12.

    Likely seats for a per-seat product is the median quantity of the account's
    seat subscriptions (1 when it has none); flat and usage products count 1.

    Returns:
        The suggestion rows with list_price, seats, expected_arr added.
    """
    products = portfolio.products
    product_at = positions(suggestions["product_id"], products["product_id"])
    found = product_at >= 0
    price = np.where(found, products["list_price"].to_numpy(dtype="float64")[product_at], 0.0)
    units = np.append(products["unit"].fillna("seat").to_numpy(dtype=object), "seat")
    per_seat = units[product_at] == "seat"
    account_at = positions(suggestions["account_id"], account_feats["account_id"])
    medians = np.append(account_feats["seat_quantity_median"].to_numpy(dtype="float64"), np.nan)[account_at]
    seats = np.round(np.where(per_seat & (medians > 0), medians, 1.0))
    confidence = suggestions["confidence"].astype("float64").clip(0, 1).fillna(0.0).to_numpy()
    return suggestions.assign(
        list_price=np.nan_to_num(price), seats=seats, expected_arr=confidence * price * seats * 12
    )


def _suggestions(f: pd.DataFrame, valued: pd.DataFrame, names: pd.Series, currency: str):
    at = positions(valued["account_id"], f["account_id"])
    known = at >= 0
    total = pd.Series(
        np.bincount(at[known], valued["expected_arr"].to_numpy()[known], minlength=len(f)), index=f.index
    )
    count = np.bincount(at[known], minlength=len(f))
    first = valued[known & (valued["rank"] == 1).to_numpy()]
    best_at = positions(f["account_id"], first["account_id"])
    best = pd.DataFrame(
        {
            "product_id": np.append(as_text(first["product_id"]).to_numpy(), np.nan)[best_at],
            **{
                c: np.append(first[c].to_numpy(dtype="float64"), np.nan)[best_at]
                for c in ("confidence", "lift", "expected_arr", "list_price", "seats")
            },
        },
        index=f.index,
    )
    arr = f["arr"]
    confidence = best["confidence"].astype("float64").fillna(0.0)
    size = (total / (VALUE_FULL_SHARE * arr)).where(arr > 0, np.where(total > 0, 1.0, 0.0)).clip(0, 1)
    severity = 0.5 * (confidence / CONFIDENCE_FULL).clip(0, 1) + 0.5 * size.fillna(0)
    product = as_text(best["product_id"])
    named = product_label(product, names)
    together = concat(", top ", str(TOP_SUGGESTIONS), " together ", fmt_money(total, currency, 3), " a year")
    share = pick(arr > 0, concat(", ", fmt_pct(total / arr), " of ARR"), "")
    suggested = product.notna().to_numpy()
    reason = np.full(len(f), "No product suggestion for this account", dtype=object)
    reason[suggested] = concat(
        "Best next product ",
        named,
        ": ",
        fmt_pct(confidence),
        " of similar accounts own it (lift ",
        fmt_num(best["lift"], 1),
        "), expected ",
        fmt_money(best["expected_arr"], currency, 3),
        " a year (",
        fmt_pct(confidence),
        " × ",
        fmt_price(best["list_price"]),
        " × ",
        fmt_num(best["seats"]),
        pick(best["seats"].eq(1), " seat", " seats"),
        " × 12)",
        pick(count > 1, together, ""),
        share,
        rows=suggested,
    )
    return severity, total, reason, product.fillna("")


def _seats(f: pd.DataFrame, names: pd.Series, portfolio: Portfolio):
    used = f["sat_utilisation"]
    severity = ((used - SATURATION_START) / (SATURATION_FULL - SATURATION_START)).clip(0, 1).fillna(0)
    saturated = used >= SATURATION_FULL
    sat_extra = (
        (np.ceil(f["sat_users"] / TARGET_UTILISATION) - f["sat_seats"]).clip(lower=1).where(saturated, 0)
    )
    growth = f["headcount_growth"]
    hc_extra = (f["seat_count"] * growth).round().clip(lower=0).where(growth > 0, 0).fillna(0)
    extra = np.fmax(sat_extra.fillna(0), hc_extra)
    list_price = (
        f["sat_product_id"].map(portfolio.products.set_index("product_id")["list_price"]).astype(float)
    )
    price_year = (f["seat_arr"] / f["seat_count"]).where(f["seat_count"] > 0, list_price * 12).fillna(0.0)
    product = as_text(f["sat_product_id"])
    keys = f[["sat_product_id", "sat_users", "sat_seats", "sat_utilisation"]].assign(sat_extra=sat_extra)
    reason = per_distinct(lambda k: _seats_reason(k, names), keys)
    return severity, reason, product.where(severity > 0).fillna(""), extra, extra * price_year, hc_extra


def _seats_reason(k: pd.DataFrame, names: pd.Series) -> np.ndarray:
    used = k["sat_utilisation"]
    product = as_text(k["sat_product_id"])
    reason = concat(
        product_label(product, names),
        ": ",
        fmt_num(k["sat_users"]),
        " of ",
        fmt_num(k["sat_seats"]),
        " licensed seats active (",
        fmt_pct(used),
        ")",
    )
    short = concat(", about ", fmt_num(k["sat_extra"]), " more seats would bring it back to 80%")
    reason = concat(reason, pick(used >= SATURATION_FULL, short, ""))
    return pick(used.notna(), reason, "No seat data")


def _headcount(f: pd.DataFrame, hc_extra: pd.Series):
    growth = f["headcount_growth"]
    severity = (growth / GROWTH_FULL).clip(0, 1).fillna(0)
    keys = f[["headcount_growth", "employees", "employees_prev", "seat_count"]].assign(hc_extra=hc_extra)
    return severity, per_distinct(_headcount_reason, keys)


def _headcount_reason(k: pd.DataFrame) -> np.ndarray:
    growth, seat_count, hc_extra = k["headcount_growth"], k["seat_count"], k["hc_extra"]
    seats = concat(
        ", at the same ratio about ",
        fmt_num(hc_extra),
        " more seats (",
        fmt_num(seat_count),
        " → ",
        fmt_num(seat_count + hc_extra),
        ")",
    )
    reason = concat(
        trend_phrase("Headcount", growth, k["employees"], k["employees_prev"]),
        " in a year",
        pick((hc_extra > 0) & (seat_count > 0), seats, ""),
    )
    return pick(growth.notna(), reason, "No headcount history")


def _best_usage_change(k: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Users' and key events' change and the better of the two, for both the points and the sentence."""
    users, events = change(k["users_recent"], k["users_prev"]), change(k["events_recent"], k["events_prev"])
    return users, events, np.fmax(users, events)


def _usage_growth(f: pd.DataFrame):
    best = _best_usage_change(f)[2]
    severity = (best / USAGE_GROWTH_FULL).clip(0, 1).fillna(0)
    return severity, best, per_distinct(_usage_growth_reason, f[USAGE_KEYS])


def _usage_growth_reason(k: pd.DataFrame) -> np.ndarray:
    users, events, best = _best_usage_change(k)
    reason = usage_phrase(k, users, events)
    return pick(best.notna(), reason, "No usage to compare (needs 6 months of history)")


def _readiness(f: pd.DataFrame, readiness: pd.DataFrame | None, best_product: pd.Series):
    none = pd.Series(0.0, index=f.index), pd.Series(0.0, index=f.index)
    if readiness is None or readiness.empty:
        text = pd.Series("No readiness signals computed", index=f.index, dtype="object")
        return *none, text, pd.Series("", index=f.index, dtype="object")
    missing = [c for c in READINESS_COLUMNS if c not in readiness.columns]
    if missing:
        raise ValueError(f"readiness lacks column(s) {', '.join(missing)}")
    # Long sentences are taken only for the rows that state them, not for every flagged row.
    flagged = np.flatnonzero(readiness["ready"].fillna(False).astype(bool).to_numpy())
    ready = readiness[["account_id", "product_id"]].take(flagged)
    at = positions(ready["account_id"], f["account_id"])
    product = as_text(ready["product_id"]).to_numpy()
    is_best = product == np.append(best_product.to_numpy(dtype=object), "")[at]
    product_order = pd.factorize(ready["product_id"], sort=True)[0]
    accounts, rows = first_per_account(at, ~is_best, product_order)
    count = np.bincount(at[at >= 0], minlength=len(f))
    reason = np.full(len(f), "No readiness signal for any product", dtype=object)
    reason[accounts] = as_text(readiness["readiness_reason"].take(flagged[rows])).to_numpy()
    chosen = np.full(len(f), "", dtype=object)
    chosen[accounts] = product[rows]
    severity = pd.Series((count > 0).astype(float), index=f.index)
    return (
        severity,
        pd.Series(count, index=f.index),
        pd.Series(reason, index=f.index),
        pd.Series(chosen, index=f.index),
    )


def _sentiment(f: pd.DataFrame):
    nps, positive = f["nps_latest"], f["positive_90d"]
    severity = (PROMOTER_SHARE * nps.ge(9).astype(float) + POSITIVE_SHARE * positive).clip(0, 1)
    reason = per_distinct(_sentiment_reason, f[["nps_latest", "positive_90d"]])
    evidence = f[["nps_latest_at", "last_positive_at"]].max(axis=1)
    return severity, reason, evidence


def _sentiment_reason(k: pd.DataFrame) -> np.ndarray:
    nps, positive = k["nps_latest"], k["positive_90d"]
    nps_text = concat("Latest NPS ", fmt_num(nps), pick(nps >= 9, " (promoter)", ""))
    nps_text = pick(nps.notna(), nps_text, "No NPS in the last year")
    plural = pick(positive.eq(1), " positive activity", " positive activities")
    return concat(nps_text, ", ", fmt_num(positive), plural, " in the last 90 days")


def _reactivation(f: pd.DataFrame):
    dormant = f["dormant_months_before_recent"]
    back = _came_back(f)
    severity = (dormant / 3).clip(0, 1).where(back, 0.0).fillna(0)
    return severity, per_distinct(_reactivation_reason, f[["dormant_months_before_recent", "logins_recent"]])


def _came_back(k: pd.DataFrame) -> pd.Series:
    """Shared by the points and the sentence: logins again after two or more dormant months."""
    return (k["dormant_months_before_recent"] >= DORMANT_MIN) & (k["logins_recent"] > 0)


def _reactivation_reason(k: pd.DataFrame) -> np.ndarray:
    reason = concat(
        "Back after ",
        fmt_num(k["dormant_months_before_recent"]),
        " months without logins: ",
        fmt_num(k["logins_recent"]),
        " logins in the last 3 months",
    )
    return pick(_came_back(k), reason, "No comeback after a dormant spell")


def expansion_scores(
    portfolio: Portfolio,
    account_feats: pd.DataFrame,
    suggestions: pd.DataFrame,
    readiness: pd.DataFrame | None,
    as_of: pd.Timestamp,
    settings: Mapping,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Expansion 0-100 per account with its components, and an expansion ARR estimate.

    Severities: suggestions = half likelihood (best confidence / 50%) and half
    size (expected value of the top three / 20% of ARR); seat saturation from
    75% of licensed seats active (none) to 90% (full) on the fullest product;
    headcount growth / 40%; usage growth (the better of users and key events)
    / 50%; readiness full when any product is flagged ready; sentiment 0.6 for
    a promoter plus 0.2 per positive activity in 90 days; reactivation =
    dormant months / 3 when logins came back after two or more dormant months.

    Returns:
        (scores, components). scores: account_id, expansion, expansion_arr,
        expansion_reasons, suggestion_arr, extra_seats, seat_expansion_arr.
        components: as risk_scores, with axis 'expansion'.
    """
    if "expansion.weights" not in settings:
        raise ValueError("settings lack 'expansion.weights' (pass core.settings.resolve())")
    weights = normalised_weights(settings["expansion.weights"], COMPONENTS, "expansion.weights")
    if "account_id" not in account_feats.columns or "sat_utilisation" not in account_feats.columns:
        raise ValueError("account_feats must come from core.scoring.account_features")
    currency = str(settings.get("pricing.currency", "USD"))
    f = account_feats.reset_index(drop=True)
    ids = f["account_id"]
    names = product_names(portfolio)
    usage_seen = month_end(f["latest_period"])
    _check_suggestions(suggestions)
    priced = suggestions[[c for c in PRICED_COLUMNS if c in suggestions.columns]]
    valued = suggestion_values(_best_ranked(priced, TOP_SUGGESTIONS), portfolio, f)

    axis = Components(ids, AXIS)
    severity, suggestion_arr, reason, best = _suggestions(f, valued, names, currency)
    axis.add(
        "suggestions", severity, weights["suggestions"], suggestion_arr, reason, best, f["last_purchase_at"]
    )
    severity, reason, product, extra, seat_arr, hc_extra = _seats(f, names, portfolio)
    axis.add(
        "seat_saturation",
        severity,
        weights["seat_saturation"],
        f["sat_utilisation"],
        reason,
        product,
        usage_seen,
    )
    severity, reason = _headcount(f, hc_extra)
    axis.add("headcount_growth", severity, weights["headcount_growth"], f["headcount_growth"], reason)
    severity, value, reason = _usage_growth(f)
    axis.add("usage_growth", severity, weights["usage_growth"], value, reason, evidence_at=usage_seen)
    severity, value, reason, product = _readiness(f, readiness, best)
    axis.add("readiness", severity, weights["readiness"], value, reason, product, usage_seen)
    severity, reason, evidence = _sentiment(f)
    axis.add("sentiment", severity, weights["sentiment"], f["nps_latest"], reason, evidence_at=evidence)
    severity, reason = _reactivation(f)
    axis.add(
        "reactivation",
        severity,
        weights["reactivation"],
        f["dormant_months_before_recent"],
        reason,
        evidence_at=usage_seen,
    )
    components = axis.frame()

    scores = axis.summary("expansion", "expansion_reasons")
    scores["suggestion_arr"] = suggestion_arr.round(2).to_numpy()
    scores["extra_seats"] = extra.to_numpy()
    scores["seat_expansion_arr"] = seat_arr.round(2).to_numpy()
    scores["expansion_arr"] = (suggestion_arr + seat_arr).round(2).to_numpy()
    order = [
        "account_id",
        "expansion",
        "expansion_arr",
        "expansion_reasons",
        "suggestion_arr",
        "extra_seats",
        "seat_expansion_arr",
    ]
    return scores[order], components
