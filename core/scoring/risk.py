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
from core.scoring.features import as_text, choose, fmt_date, fmt_num, fmt_pct, lookup

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
        products = (
            np.full(n, "", dtype=object) if product_id is None else np.asarray(product_id, dtype=object)
        )
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
        reasons = np.column_stack(self.columns["reason"])
        rows, cols = np.nonzero(points > 0)
        earned = points[rows, cols]
        order = np.lexsort((cols, -earned, rows))
        rows, cols = rows[order], cols[order]
        joined = np.full(len(points), "", dtype=object)
        if len(rows):
            pieces = reasons[rows, cols] + "; "
            starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            text = np.add.reduceat(pieces, starts)
            joined[rows[starts]] = [t[:-2] for t in text]
        return pd.DataFrame(
            {
                "account_id": self.ids,
                score_name: np.round(np.clip(points.sum(axis=1), 0, 100), 1),
                reasons_name: pd.Series(joined, dtype="object"),
            }
        )


def change(recent: pd.Series, prev: pd.Series) -> pd.Series:
    """Relative change recent / prev - 1, NaN where there is nothing before to compare with."""
    return (recent / prev - 1).where(prev > 0)


def trend_phrase(
    label: str | pd.Series, ratio: pd.Series, recent: pd.Series, prev: pd.Series, decimals: int = 0
) -> pd.Series:
    """'Active users down 42% (61 → 35)' for each account; empty where there is no comparison."""
    direction = choose(ratio < -0.005, " down ", np.where(ratio > 0.005, " up ", " flat"), ratio.index)
    size = fmt_pct(ratio.abs()).where(ratio.abs() >= 0.005, "")
    text = label + direction + size
    text = text + " (" + fmt_num(prev, decimals) + " → " + fmt_num(recent, decimals) + ")"
    return text.where(ratio.notna(), "")


def usage_phrase(f: pd.DataFrame, users: pd.Series, events: pd.Series) -> pd.Series:
    """'Active users down 42% (61 → 35), key events up 5% (…) (last 3 months vs the 3 before)'."""
    users_text = trend_phrase("Active users", users, f["users_recent"], f["users_prev"])
    events_label = choose(users.isna(), "Key events", ", key events", f.index)
    events_text = trend_phrase(events_label, events, f["events_recent"], f["events_prev"])
    return users_text + events_text + " (last 3 months vs the 3 before)"


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


def _usage_trend(f: pd.DataFrame, names: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    users, events = change(f["users_recent"], f["users_prev"]), change(f["events_recent"], f["events_prev"])
    worst = np.fmin(users, events)
    severity = (-worst / DECLINE_FULL).clip(0, 1).fillna(0)
    reason = usage_phrase(f, users, events)
    product = as_text(f["decline_product_id"]).where(severity > 0)
    steepest = (
        ", steepest drop in "
        + lookup(product, names).fillna(product).fillna("")
        + " ("
        + fmt_num(f["decline_users_prev"])
        + " → "
        + fmt_num(f["decline_users_recent"])
        + " users)"
    )
    reason = reason + steepest.where(product.notna(), "")
    reason = reason.where(worst.notna(), "No usage to compare (needs 6 months of history)")
    return severity, worst, reason, product.fillna("")


def _seat_utilisation(f: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    used = f["utilisation"]
    severity = ((UTILISATION_OK - used) / (UTILISATION_OK - UTILISATION_FLOOR)).clip(0, 1).fillna(0)
    lead = choose(severity > 0, "Only ", "", f.index)
    reason = (
        lead
        + fmt_pct(used)
        + " of licensed seats active ("
        + fmt_num(f["seated_users_latest"])
        + " of "
        + fmt_num(f["seats_latest"])
        + ")"
    )
    return severity, reason.where(used.notna(), "No seat data")


def _renewal(f: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    days = f["days_to_renewal"]
    severity = ((RENEWAL_HORIZON_DAYS - days) / RENEWAL_HORIZON_DAYS).clip(0, 1).fillna(0)
    reason = "Renewal in " + fmt_num(days) + " days (" + fmt_date(f["renewal_date"]) + ")"
    reason = reason.where(days.ne(1), "Renewal tomorrow (" + fmt_date(f["renewal_date"]) + ")")
    return severity, reason.where(days.notna(), "No renewal date ahead (evergreen or not set)")


def _engagement(f: pd.DataFrame, has_data: bool) -> tuple[pd.Series, pd.Series]:
    days = f["days_since_touch"]
    severity = ((days - CONTACT_GRACE_DAYS) / (CONTACT_FULL_DAYS - CONTACT_GRACE_DAYS)).clip(0, 1)
    severity = severity.fillna(1.0 if has_data else 0.0)
    quiet = "No contact for " + fmt_num(days) + " days (last " + fmt_date(f["last_touch_at"]) + ")"
    fresh = "Last contact " + fmt_num(days) + " days ago (" + fmt_date(f["last_touch_at"]) + ")"
    reason = quiet.where(severity > 0, fresh)
    missing = "No recorded contact or meeting" if has_data else "No contact or activity data imported"
    return severity, reason.where(days.notna(), missing)


def _sentiment(f: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    tickets = f["neg_tickets_90d"]
    nps = f["nps_latest"]
    severity = ((tickets / NEGATIVE_TICKETS_FULL).clip(0, 1) + ((7 - nps) / 4).clip(0, 1).fillna(0)).clip(
        0, 1
    )
    plural = choose(tickets.eq(1), " negative ticket", " negative tickets", f.index)
    ticket_text = fmt_num(tickets) + plural + " in the last 90 days"
    ticket_text = ticket_text.where(tickets > 0, "No negative tickets in the last 90 days")
    label = choose(nps <= 6, "detractor", np.where(nps >= 9, "promoter", "passive"), f.index)
    nps_text = ", latest NPS " + fmt_num(nps) + " (" + label + ", " + fmt_date(f["nps_latest_at"]) + ")"
    evidence = f[["last_negative_at", "nps_latest_at"]].max(axis=1)
    return severity, ticket_text + nps_text.where(nps.notna(), ""), evidence


def _breadth(f: pd.DataFrame, history: dict[str, float]) -> tuple[pd.Series, pd.Series]:
    n = f["n_products"]
    severity = pd.Series(np.select([n.eq(1), n.eq(2)], [1.0, 0.5], 0.0), index=f.index)
    owns = "Owns " + fmt_num(n) + choose(n.eq(1), " product", " products", f.index)
    if np.isfinite(history["ratio"]):
        fact = (
            f", single-product customers here churned {history['ratio']:.1f}x as often as multi-product ones "
            f"({history['single']:.0%} vs {history['multi']:.0%} in the last 12 months)"
        )
    else:
        fact = ", single-product customers churn more often than multi-product ones"
    reason = (owns + fact).where(n.eq(1), owns + ", a narrow footprint").where(severity > 0, owns)
    return severity, reason.where(n > 0, "Owns no product today")


def _buying_centre(f: pd.DataFrame, has_contacts: bool) -> tuple[pd.Series, pd.Series]:
    no_dm = ~f["has_decision_maker"]
    quiet_days = f["champion_quiet_days"]
    champion_gap = ~f["has_champion"] | quiet_days.isna() | (quiet_days > CHAMPION_QUIET_DAYS)
    severity = 0.5 * no_dm.astype(float) + 0.5 * champion_gap.astype(float)
    dm_text = choose(no_dm, "No decision-maker contact", "Decision maker on record", f.index)
    champ = choose(
        ~f["has_champion"],
        "no champion named",
        np.where(quiet_days.isna(), "champion never contacted", "champion last contacted "),
        f.index,
    )
    champ = champ + (fmt_num(quiet_days) + " days ago").where(f["has_champion"] & quiet_days.notna(), "")
    reason = dm_text + ", " + champ
    if not has_contacts:
        return pd.Series(0.0, index=f.index), pd.Series(
            "No contact data imported", index=f.index, dtype="object"
        )
    return severity, reason


def _headcount(f: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    growth = f["headcount_growth"]
    severity = (-growth / SHRINK_FULL).clip(0, 1).fillna(0)
    reason = trend_phrase("Headcount", growth, f["employees"], f["employees_prev"]) + " in a year"
    return severity, reason.where(growth.notna(), "No headcount history")


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
