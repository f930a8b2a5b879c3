"""Renewal risk 0-100: eight components, each worth up to its weight, each with its sentence.

Each component measures a severity between 0 and 1 and earns that share of
its weight, so a manager can read exactly why a score is what it is: the
points and sentence of every component sum to the score. Weights come from
``risk.weights`` and are scaled to add up to 100.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.frames import Portfolio, owned_as_of
from core.scoring.features import (
    as_text,
    concat,
    fmt_ago,
    fmt_date,
    fmt_days,
    fmt_num,
    fmt_pct,
    per_distinct,
    pick,
    product_label,
)

AXIS = "risk"
COMPONENTS = (
    "usage_trend",
    "seat_utilisation",
    "renewal_proximity",
    "engagement_recency",
    "sentiment",
    "breadth",
    "buying_centre",
    "headcount",
)
EXPANSION_COMPONENTS = (
    "suggestions",
    "seat_saturation",
    "headcount_growth",
    "usage_growth",
    "readiness",
    "sentiment",
    "reactivation",
)
# Both axes' frames share these categories, so stacking them keeps cheap categorical columns.
AXIS_CATEGORIES = pd.CategoricalDtype(["risk", "expansion"])
COMPONENT_CATEGORIES = pd.CategoricalDtype(list(dict.fromkeys(COMPONENTS + EXPANSION_COMPONENTS)))
COMPONENT_COLUMNS = (
    "account_id",
    "axis",
    "component",
    "points",
    "weight",
    "value",
    "reason",
    "product_id",
    "evidence_at",
)
DECLINE_FULL = 0.5  # a 50% drop in users or key events earns the full usage-trend weight
UTILISATION_OK, UTILISATION_FLOOR = 0.8, 0.2
RENEWAL_HORIZON_DAYS = 180
CONTACT_GRACE_DAYS, CONTACT_FULL_DAYS = 30, 180
NEGATIVE_TICKETS_FULL = 4
CHAMPION_QUIET_DAYS = 90
SHRINK_FULL = 0.2
HISTORY_MIN_ACCOUNTS = 20
# The columns a usage sentence reads: sentences are built once per distinct combination of them.
USAGE_KEYS = ["users_recent", "users_prev", "events_recent", "events_prev"]


def normalised_weights(
    weights: Mapping[str, float], known: tuple[str, ...], setting: str
) -> dict[str, float]:
    """Weights scaled to sum to 100, so the components' points always add up to the 0-100 score."""
    unknown = sorted(set(weights) - set(known))
    if unknown:
        raise ValueError(
            f"{setting} has unknown component(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    values = {k: float(weights.get(k, 0.0)) for k in known}
    if any(v < 0 or np.isnan(v) for v in values.values()):
        raise ValueError(f"{setting} must be non-negative numbers, got {dict(weights)}")
    total = sum(values.values())
    if total <= 0:
        raise ValueError(f"{setting} must have at least one positive weight")
    return {k: 100.0 * v / total for k, v in values.items()}


class Components:
    """One axis's components for every account: points and sentences, summed and stacked once.

    Each ``add`` takes arrays aligned with ``account_ids``, so the whole axis is
    a handful of (accounts x components) matrices rather than per-account work.
    """

    def __init__(self, account_ids: pd.Series, axis: str) -> None:
        self.ids = account_ids.reset_index(drop=True)
        self.axis = axis
        self.names: list[str] = []
        self.columns: dict[str, list[np.ndarray]] = {
            "points": [],
            "weight": [],
            "value": [],
            "reason": [],
            "product_id": [],
            "evidence_at": [],
        }

    def add(
        self, name: str, severity, weight: float, value, reason, product_id=None, evidence_at=None
    ) -> None:
        """A component: severity 0..1 earns that share of ``weight``; ``reason`` states the measured numbers."""
        n = len(self.ids)
        severity = (
            np.clip(np.nan_to_num(np.asarray(severity, dtype=float), nan=0.0), 0.0, 1.0) + 0.0
        )  # no -0.0
        if product_id is None:
            products = np.full(n, "", dtype=object)
        else:
            products = np.asarray(product_id, dtype=object)
            products = np.where(pd.isna(products), "", products)
        evidence = (
            np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
            if evidence_at is None
            else np.asarray(pd.to_datetime(pd.Series(evidence_at)), dtype="datetime64[ns]")
        )
        self.names.append(name)
        for key, column in (
            ("points", severity * weight),
            ("weight", np.full(n, float(weight))),
            ("value", np.asarray(value, dtype=float)),
            ("reason", np.asarray(reason, dtype=object)),
            ("product_id", products),
            ("evidence_at", evidence),
        ):
            if len(column) != n:
                raise ValueError(f"component {name}: {key} has {len(column)} rows for {n} accounts")
            self.columns[key].append(column)

    def frame(self) -> pd.DataFrame:
        """The long shape the store and the to-dos read: one row per account and component."""
        n, k = len(self.ids), len(self.names)
        columns = {key: np.concatenate(parts) for key, parts in self.columns.items()}
        return pd.DataFrame(
            {
                "account_id": self.ids.take(np.tile(np.arange(n), k)).reset_index(drop=True),
                "axis": pd.Categorical.from_codes(
                    np.full(n * k, AXIS_CATEGORIES.categories.get_loc(self.axis)), dtype=AXIS_CATEGORIES
                ),
                "component": pd.Categorical.from_codes(
                    np.repeat(COMPONENT_CATEGORIES.categories.get_indexer(self.names), n),
                    dtype=COMPONENT_CATEGORIES,
                ),
                "points": columns["points"],
                "weight": columns["weight"],
                "value": columns["value"],
                "reason": pd.Series(columns["reason"], dtype="object"),
                "product_id": pd.Series(columns["product_id"], dtype="object"),
                "evidence_at": columns["evidence_at"],
            },
            columns=list(COMPONENT_COLUMNS),
        )

    def summary(self, score_name: str, reasons_name: str) -> pd.DataFrame:
        """Score = sum of points; reasons = sentences of the components that earned points, biggest first."""
        points = np.column_stack(self.columns["points"])
        reasons = earned_reasons(points, np.column_stack(self.columns["reason"]))
        return pd.DataFrame(
            {
                "account_id": self.ids,
                score_name: np.round(np.clip(points.sum(axis=1), 0, 100), 1),
                reasons_name: pd.Series(reasons, dtype="object"),
            }
        )


def earned_reasons(points: np.ndarray, reasons: np.ndarray) -> np.ndarray:
    """Per row, the sentences of components with points, biggest first (ties in component order), '; '-joined.

    Points are never negative, so a stable descending sort of each row puts the
    earning components first and one ``str.join`` per row does the rest.
    """
    order = np.argsort(-points, axis=1, kind="stable")
    earned = np.take_along_axis(points, order, axis=1) > 0
    ranked = np.take_along_axis(reasons, order, axis=1)[earned].tolist()
    ends = np.cumsum(earned.sum(axis=1)).tolist()
    return np.array(["; ".join(ranked[start:end]) for start, end in zip([0, *ends[:-1]], ends)], dtype=object)


def change(recent: pd.Series, prev: pd.Series) -> pd.Series:
    """Relative change recent / prev - 1, NaN where there is nothing before to compare with."""
    return (recent / prev - 1).where(prev > 0)


def trend_phrase(
    label: str | pd.Series, ratio: pd.Series, recent: pd.Series, prev: pd.Series, decimals: int = 0
) -> pd.Series:
    """'Active users down 42% (61 → 35)' for each account; empty where there is no comparison."""
    direction = pick(ratio < -0.005, " down ", pick(ratio > 0.005, " up ", " flat"))
    size = pick(ratio.abs() >= 0.005, fmt_pct(ratio.abs()), "")
    text = concat(
        label, direction, size, " (", fmt_num(prev, decimals), " → ", fmt_num(recent, decimals), ")"
    )
    return pd.Series(pick(ratio.notna(), text, ""), index=ratio.index, dtype="object")


def usage_phrase(f: pd.DataFrame, users: pd.Series, events: pd.Series) -> pd.Series:
    """'Active users down 42% (61 → 35), key events up 5% (…) (last 3 months vs the 3 before)'."""
    users_text = trend_phrase("Active users", users, f["users_recent"], f["users_prev"])
    events_label = pick(users.isna(), "Key events", ", key events")
    events_text = trend_phrase(events_label, events, f["events_recent"], f["events_prev"])
    text = concat(users_text, events_text, " (last 3 months vs the 3 before)")
    return pd.Series(text, index=f.index, dtype="object")


def month_end(period: pd.Series) -> pd.Series:
    """The day a month of usage is complete: the evidence date of a monthly figure."""
    return pd.to_datetime(period) + pd.offsets.MonthEnd(0)


def product_names(portfolio: Portfolio) -> pd.Series:
    """product_id -> display name (the id where the name is missing)."""
    products = portfolio.products
    names = as_text(products["name"]).fillna(as_text(products["product_id"]))
    return pd.Series(names.to_numpy(), index=as_text(products["product_id"]).to_numpy(), dtype="object")


def breadth_churn_history(portfolio: Portfolio, as_of: pd.Timestamp) -> dict[str, float]:
    """How much more often single-product customers churned than multi-product ones in the last year.

    Counts accounts owning a product a year before ``as_of``; an account churned
    when one of those subscriptions churned within the year. Returns
    ``{"single": rate, "multi": rate, "ratio": single / multi, "n_single": ..,
    "n_multi": ..}``, with NaN rates where a group has fewer than 20 accounts.
    """
    start = as_of - pd.DateOffset(years=1)
    held = owned_as_of(portfolio.subscriptions, start)
    churned = held["status"].eq("churned") & (held["churned_at"] > start) & (held["churned_at"] <= as_of)
    per_account = pd.DataFrame(
        {"account_id": held["account_id"], "product_id": held["product_id"], "churned": churned}
    ).groupby("account_id")
    products = per_account["product_id"].nunique()
    lost = per_account["churned"].any()
    single, multi = products.eq(1), products.ge(2)
    n_single, n_multi = int(single.sum()), int(multi.sum())
    rate_single = float(lost[single].mean()) if n_single >= HISTORY_MIN_ACCOUNTS else float("nan")
    rate_multi = float(lost[multi].mean()) if n_multi >= HISTORY_MIN_ACCOUNTS else float("nan")
    ratio = rate_single / rate_multi if rate_multi > 0 else float("nan")
    return {
        "single": rate_single,
        "multi": rate_multi,
        "ratio": ratio,
        "n_single": n_single,
        "n_multi": n_multi,
    }


def _decline_severity(worst: pd.Series) -> pd.Series:
    """Shared by the points and the sentence, which names the product only when points were earned."""
    return (-worst / DECLINE_FULL).clip(0, 1).fillna(0)


def _usage_trend(f: pd.DataFrame, names: pd.Series) -> tuple[pd.Series, pd.Series, np.ndarray, pd.Series]:
    users, events = change(f["users_recent"], f["users_prev"]), change(f["events_recent"], f["events_prev"])
    worst = np.fmin(users, events)
    severity = _decline_severity(worst)
    product = as_text(f["decline_product_id"]).where(severity > 0)
    keys = f[[*USAGE_KEYS, "decline_product_id", "decline_users_prev", "decline_users_recent"]]
    reason = per_distinct(lambda k: _usage_trend_reason(k, names), keys)
    return severity, worst, reason, product.fillna("")


def _usage_trend_reason(k: pd.DataFrame, names: pd.Series) -> np.ndarray:
    users, events = change(k["users_recent"], k["users_prev"]), change(k["events_recent"], k["events_prev"])
    worst = np.fmin(users, events)
    product = as_text(k["decline_product_id"]).where(_decline_severity(worst) > 0)
    steepest = concat(
        ", steepest drop in ",
        product_label(product, names),
        " (",
        fmt_num(k["decline_users_prev"]),
        " → ",
        fmt_num(k["decline_users_recent"]),
        " users)",
    )
    reason = concat(usage_phrase(k, users, events), pick(product.notna(), steepest, ""))
    return pick(worst.notna(), reason, "No usage to compare (needs 6 months of history)")


def _utilisation_severity(used: pd.Series) -> pd.Series:
    """Shared by the points and the sentence, which says 'Only' when points were earned."""
    return ((UTILISATION_OK - used) / (UTILISATION_OK - UTILISATION_FLOOR)).clip(0, 1).fillna(0)


def _seat_utilisation(f: pd.DataFrame) -> tuple[pd.Series, np.ndarray]:
    keys = f[["utilisation", "seated_users_latest", "seats_latest"]]
    return _utilisation_severity(f["utilisation"]), per_distinct(_seat_utilisation_reason, keys)


def _seat_utilisation_reason(k: pd.DataFrame) -> np.ndarray:
    used = k["utilisation"]
    reason = concat(
        pick(_utilisation_severity(used) > 0, "Only ", ""),
        fmt_pct(used),
        " of licensed seats active (",
        fmt_num(k["seated_users_latest"]),
        " of ",
        fmt_num(k["seats_latest"]),
        ")",
    )
    return pick(used.notna(), reason, "No seat data")


def _renewal(f: pd.DataFrame) -> tuple[pd.Series, np.ndarray]:
    days = f["days_to_renewal"]
    severity = ((RENEWAL_HORIZON_DAYS - days) / RENEWAL_HORIZON_DAYS).clip(0, 1).fillna(0)
    return severity, per_distinct(_renewal_reason, f[["days_to_renewal", "renewal_date"]])


def _renewal_reason(k: pd.DataFrame) -> np.ndarray:
    days = k["days_to_renewal"]
    lead = pick(days.eq(1), "Renewal tomorrow (", concat("Renewal in ", fmt_num(days), " days ("))
    reason = concat(lead, fmt_date(k["renewal_date"]), ")")
    return pick(days.notna(), reason, "No renewal date ahead (evergreen or not set)")


def _engagement_severity(days: pd.Series, has_data: bool) -> pd.Series:
    """Shared by the points and the sentence, which words a quiet spell differently from a recent contact."""
    severity = ((days - CONTACT_GRACE_DAYS) / (CONTACT_FULL_DAYS - CONTACT_GRACE_DAYS)).clip(0, 1)
    return severity.fillna(1.0 if has_data else 0.0)


def _engagement(f: pd.DataFrame, has_data: bool) -> tuple[pd.Series, np.ndarray]:
    keys = f[["days_since_touch", "last_touch_at"]]
    reason = per_distinct(lambda k: _engagement_reason(k, has_data), keys)
    return _engagement_severity(f["days_since_touch"], has_data), reason


def _engagement_reason(k: pd.DataFrame, has_data: bool) -> np.ndarray:
    days = k["days_since_touch"]
    quiet = _engagement_severity(days, has_data) > 0
    reason = concat(
        pick(
            quiet,
            concat("No contact for ", fmt_days(days), " (last "),
            concat("Last contact ", fmt_ago(days), " ("),
        ),
        fmt_date(k["last_touch_at"]),
        ")",
    )
    missing = "No recorded contact or meeting" if has_data else "No contact or activity data imported"
    return pick(days.notna(), reason, missing)


def _sentiment(f: pd.DataFrame) -> tuple[pd.Series, np.ndarray, pd.Series]:
    tickets = f["neg_tickets_90d"]
    nps = f["nps_latest"]
    severity = ((tickets / NEGATIVE_TICKETS_FULL).clip(0, 1) + ((7 - nps) / 4).clip(0, 1).fillna(0)).clip(
        0, 1
    )
    reason = per_distinct(_sentiment_reason, f[["neg_tickets_90d", "nps_latest", "nps_latest_at"]])
    evidence = f[["last_negative_at", "nps_latest_at"]].max(axis=1)
    return severity, reason, evidence


def _sentiment_reason(k: pd.DataFrame) -> np.ndarray:
    tickets, nps = k["neg_tickets_90d"], k["nps_latest"]
    plural = pick(tickets.eq(1), " negative ticket", " negative tickets")
    ticket_text = concat(fmt_num(tickets), plural, " in the last 90 days")
    ticket_text = pick(tickets > 0, ticket_text, "No negative tickets in the last 90 days")
    label = pick(nps <= 6, "detractor", pick(nps >= 9, "promoter", "passive"))
    nps_text = concat(", latest NPS ", fmt_num(nps), " (", label, ", ", fmt_date(k["nps_latest_at"]), ")")
    return concat(ticket_text, pick(nps.notna(), nps_text, ""))


def _breadth_severity(n: pd.Series) -> np.ndarray:
    """Shared by the points and the sentence, which explains the risk only when points were earned."""
    return np.select([n.eq(1), n.eq(2)], [1.0, 0.5], 0.0)


def _breadth(f: pd.DataFrame, history: dict[str, float]) -> tuple[pd.Series, np.ndarray]:
    severity = pd.Series(_breadth_severity(f["n_products"]), index=f.index)
    return severity, per_distinct(lambda k: _breadth_reason(k, history), f[["n_products"]])


def _breadth_reason(k: pd.DataFrame, history: dict[str, float]) -> np.ndarray:
    n = k["n_products"]
    owns = concat("Owns ", fmt_num(n), pick(n.eq(1), " product", " products"))
    if np.isfinite(history["ratio"]):
        fact = (
            f", single-product customers here churned {history['ratio']:.1f}x as often as multi-product ones "
            f"({history['single']:.0%} vs {history['multi']:.0%} in the last 12 months)"
        )
    else:
        fact = ", single-product customers churn more often than multi-product ones"
    detail = pick(_breadth_severity(n) > 0, pick(n.eq(1), fact, ", a narrow footprint"), "")
    return pick(n > 0, concat(owns, detail), "Owns no product today")


def _buying_centre(f: pd.DataFrame, has_contacts: bool) -> tuple[pd.Series, pd.Series | np.ndarray]:
    if not has_contacts:
        return pd.Series(0.0, index=f.index), pd.Series(
            "No contact data imported", index=f.index, dtype="object"
        )
    no_dm = ~f["has_decision_maker"]
    quiet_days = f["champion_quiet_days"]
    champion_gap = ~f["has_champion"] | quiet_days.isna() | (quiet_days > CHAMPION_QUIET_DAYS)
    severity = 0.5 * no_dm.astype(float) + 0.5 * champion_gap.astype(float)
    keys = f[["has_decision_maker", "has_champion", "champion_quiet_days"]]
    return severity, per_distinct(_buying_centre_reason, keys)


def _buying_centre_reason(k: pd.DataFrame) -> np.ndarray:
    has_champion, quiet_days = k["has_champion"], k["champion_quiet_days"]
    dm_text = pick(k["has_decision_maker"], "Decision maker on record", "No decision-maker contact")
    champ = pick(
        has_champion,
        pick(quiet_days.isna(), "champion never contacted", "champion last contacted "),
        "no champion named",
    )
    quiet_for = pick(has_champion & quiet_days.notna(), fmt_ago(quiet_days), "")
    return concat(dm_text, ", ", champ, quiet_for)


def _headcount(f: pd.DataFrame) -> tuple[pd.Series, np.ndarray]:
    growth = f["headcount_growth"]
    severity = (-growth / SHRINK_FULL).clip(0, 1).fillna(0)
    return severity, per_distinct(_headcount_reason, f[["headcount_growth", "employees", "employees_prev"]])


def _headcount_reason(k: pd.DataFrame) -> np.ndarray:
    growth = k["headcount_growth"]
    reason = concat(trend_phrase("Headcount", growth, k["employees"], k["employees_prev"]), " in a year")
    return pick(growth.notna(), reason, "No headcount history")


def risk_scores(
    portfolio: Portfolio, account_feats: pd.DataFrame, as_of: pd.Timestamp, settings: Mapping
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Renewal risk 0-100 per account, with every component's points and sentence.

    ``account_feats`` is ``account_features`` for the same ``as_of``. Severities:
    usage trend = the worse drop of active users and key events / 50%; seat
    utilisation from 80% (none) down to 20% (full); renewal from 180 days
    (none) to today (full); engagement from 30 days without contact (none) to
    180 (full), full when there is none on record; sentiment = negative
    tickets in 90 days / 4 plus (7 - latest NPS) / 4; breadth full for one
    product, half for two; buying centre half for no decision maker, half
    for a champion missing or quiet over 90 days; headcount shrink / 20%.

    Returns:
        (scores, components). scores: account_id, risk, risk_reasons.
        components: account_id, axis ('risk'), component, points, weight, value,
        reason, product_id (the product the component is about, or ''),
        evidence_at (date of the newest data behind it).
    """
    if "risk.weights" not in settings:
        raise ValueError("settings lack 'risk.weights' (pass core.settings.resolve())")
    weights = normalised_weights(settings["risk.weights"], COMPONENTS, "risk.weights")
    if "account_id" not in account_feats.columns or "days_to_renewal" not in account_feats.columns:
        raise ValueError("account_feats must come from core.scoring.account_features")
    as_of = pd.Timestamp(as_of)
    f = account_feats.reset_index(drop=True)
    ids = f["account_id"]
    names = product_names(portfolio)
    has_contacts = len(portfolio.contacts) > 0
    has_engagement = has_contacts or len(portfolio.activities) > 0
    usage_seen = month_end(f["latest_period"])

    axis = Components(ids, AXIS)
    severity, worst, reason, product = _usage_trend(f, names)
    axis.add("usage_trend", severity, weights["usage_trend"], worst, reason, product, usage_seen)
    severity, reason = _seat_utilisation(f)
    axis.add(
        "seat_utilisation",
        severity,
        weights["seat_utilisation"],
        f["utilisation"],
        reason,
        evidence_at=usage_seen,
    )
    severity, reason = _renewal(f)
    came_into_view = f["renewal_date"] - pd.Timedelta(days=RENEWAL_HORIZON_DAYS)
    axis.add(
        "renewal_proximity",
        severity,
        weights["renewal_proximity"],
        f["days_to_renewal"],
        reason,
        evidence_at=came_into_view,
    )
    severity, reason = _engagement(f, has_engagement)
    axis.add(
        "engagement_recency",
        severity,
        weights["engagement_recency"],
        f["days_since_touch"],
        reason,
        evidence_at=f["last_touch_at"],
    )
    severity, reason, evidence = _sentiment(f)
    axis.add("sentiment", severity, weights["sentiment"], f["neg_tickets_90d"], reason, evidence_at=evidence)
    severity, reason = _breadth(f, breadth_churn_history(portfolio, as_of))
    axis.add(
        "breadth", severity, weights["breadth"], f["n_products"], reason, evidence_at=f["last_purchase_at"]
    )
    severity, reason = _buying_centre(f, has_contacts)
    axis.add(
        "buying_centre",
        severity,
        weights["buying_centre"],
        f["champion_quiet_days"],
        reason,
        evidence_at=f["last_contact_at"],
    )
    severity, reason = _headcount(f)
    axis.add("headcount", severity, weights["headcount"], f["headcount_growth"], reason)
    return axis.summary("risk", "risk_reasons"), axis.frame()
