"""Everything an account brief shows, read from the store in one go (no UI here).

Both the brief screen and ``quadrant brief`` render an :class:`AccountBrief`, so
the screen and the printed call-prep page can never disagree. Every query is
keyed by the account id (indexed), so a brief loads in milliseconds at 100,000
accounts. Result tables may be missing (never recomputed) or lack optional
columns; the brief then says so instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from core.store import Store, StoreError

ROLE_ORDER = ["decision_maker", "champion", "evaluator", "user", "billing"]
ROLE_LABELS = {
    "decision_maker": "Decision maker",
    "champion": "Champion",
    "evaluator": "Evaluator",
    "user": "User",
    "billing": "Billing",
}
TIMELINE_ROWS = 15
MOVE_MIN_POINTS = 1.0
USAGE_MONTHS = 12


@dataclass
class AccountBrief:
    """One account's brief: plain values and small frames, ready to render."""

    account: dict[str, Any]
    as_of: date
    currency: str
    kpis: dict[str, Any]
    products: pd.DataFrame
    """product_id, name, status, seats, mrr, active_users, licensed_seats, utilisation, usage (list of 12), end_date"""
    risk: pd.DataFrame
    """component, points, weight, value, reason, change (points since the previous recompute, NaN if new)"""
    expansion: pd.DataFrame
    moved: list[str]
    """Sentences about the components that moved most since the previous recompute."""
    suggestions: pd.DataFrame
    pricing: pd.DataFrame
    contacts: pd.DataFrame
    timeline: pd.DataFrame
    """date, kind, text, sentiment: activities, tickets and NPS answers, newest first."""
    todos: pd.DataFrame
    notes: pd.DataFrame
    scores_computed: bool
    has_previous: bool = False
    missing_decision_maker: bool = field(default=False)
    usage_months: list[str] = field(default_factory=list)


def load_brief(store: Store, account_id: str, as_of: date) -> AccountBrief:
    """Read the brief of ``account_id``; raises StoreError when the store has no such account."""
    account = store.query("SELECT * FROM accounts WHERE account_id = ?", [account_id])
    if account.empty:
        raise StoreError(
            f"There is no account {account_id!r} in {store.path}. Check the id (ids are text: 007)."
        )
    settings = store.settings()
    currency = str(settings.get("pricing.currency") or "USD")
    subs = store.query(
        "SELECT s.product_id, coalesce(p.name, s.product_id) AS name, p.department, s.status, s.quantity, s.mrr, "
        "s.start_date, s.end_date FROM subscriptions s LEFT JOIN products p ON p.product_id = s.product_id "
        "WHERE s.account_id = ? AND s.status IN ('active', 'trial') ORDER BY s.mrr DESC",
        [account_id],
    )
    scores = _result(store, "scores", account_id)
    products, months = _products(store, account_id, subs, as_of)
    risk, expansion, moved, has_previous = _breakdowns(store, account_id)
    contacts = _contacts(store, account_id)
    roles = set(contacts["role"].dropna()) if not contacts.empty else set()
    return AccountBrief(
        account=_record(account),
        as_of=as_of,
        currency=currency,
        kpis=_kpis(subs, scores, as_of),
        products=products,
        risk=risk,
        expansion=expansion,
        moved=moved,
        suggestions=_suggestions(store, account_id),
        pricing=_sorted(_result(store, "pricing", account_id), None),
        contacts=contacts,
        timeline=_timeline(store, account_id),
        todos=store.query(
            "SELECT todo_id, kind, title, reason, quadrant, priority, due, status, snoozed_until, below_line "
            "FROM todos WHERE account_id = ? AND active = 1 AND status IN ('open', 'snoozed') "
            "ORDER BY status, priority, todo_id",
            [account_id],
        ),
        notes=store.query(
            "SELECT todo_id, title, note, outcome, status, updated_at FROM todos "
            "WHERE account_id = ? AND ((note IS NOT NULL AND note != '') OR outcome IS NOT NULL) "
            "ORDER BY updated_at DESC",
            [account_id],
        ),
        scores_computed=not scores.empty,
        has_previous=has_previous,
        missing_decision_maker="decision_maker" not in roles,
        usage_months=months,
    )


def _record(frame: pd.DataFrame) -> dict[str, Any]:
    row = frame.iloc[0].to_dict()
    return {k: (None if _missing(v) else v) for k, v in row.items()}


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _result(store: Store, table: str, account_id: str) -> pd.DataFrame:
    return store.result(table, "WHERE account_id = ?", [account_id])


def _sorted(frame: pd.DataFrame, by: str | None) -> pd.DataFrame:
    if frame.empty or by is None or by not in frame:
        return frame.reset_index(drop=True)
    return frame.sort_values(by).reset_index(drop=True)


def _kpis(subs: pd.DataFrame, scores: pd.DataFrame, as_of: date) -> dict[str, Any]:
    active = subs[subs["status"] == "active"]
    arr = 12.0 * float(pd.to_numeric(active["mrr"], errors="coerce").fillna(0).sum())
    ends = pd.to_datetime(active["end_date"], errors="coerce", format="ISO8601")
    upcoming = ends[ends >= pd.Timestamp(as_of)]
    renewal = upcoming.min() if len(upcoming) else None
    score = scores.iloc[0].to_dict() if not scores.empty else {}
    return {
        "arr": arr,
        "products": int(active["product_id"].nunique()),
        "renewal_date": renewal.date() if renewal is not None else None,
        "renewal_days": (renewal.date() - as_of).days if renewal is not None else None,
        "risk": score.get("risk"),
        "expansion": score.get("expansion"),
        "quadrant": score.get("quadrant"),
        "expansion_arr": score.get("expansion_arr"),
        "risk_reasons": score.get("risk_reasons"),
        "expansion_reasons": score.get("expansion_reasons"),
    }


def _products(
    store: Store, account_id: str, subs: pd.DataFrame, as_of: date
) -> tuple[pd.DataFrame, list[str]]:
    """Products held with seats, last month's utilisation and 12 months of active users."""
    # End at the newest month reported (a feed may stop at the last complete month), never after as_of.
    newest = store.scalar(
        "SELECT max(period) FROM usage WHERE account_id = ? AND period <= ?", [account_id, str(as_of)]
    )
    end = pd.Period(newest, "M") if newest else pd.Period(as_of, "M")
    months = pd.period_range(end=end, periods=USAGE_MONTHS, freq="M")
    labels = [m.strftime("%Y-%m") for m in months]
    columns = [
        "product_id",
        "name",
        "department",
        "status",
        "seats",
        "unit",
        "mrr",
        "active_users",
        "licensed_seats",
        "utilisation",
        "usage",
        "end_date",
    ]
    if subs.empty:
        return pd.DataFrame(columns=columns), labels
    held = store.query(
        "SELECT s.product_id, coalesce(p.name, s.product_id) AS name, s.status, max(p.department) AS department, "
        "coalesce(max(p.unit), 'seat') AS unit, "
        "sum(s.quantity) AS seats, sum(s.mrr) AS mrr, min(s.end_date) AS end_date FROM subscriptions s "
        "LEFT JOIN products p ON p.product_id = s.product_id "
        "WHERE s.account_id = ? AND s.status IN ('active', 'trial') GROUP BY s.product_id, s.status",
        [account_id],
    )
    usage = store.query(
        "SELECT product_id, substr(period, 1, 7) AS month, active_users, licensed_seats FROM usage "
        "WHERE account_id = ? AND period >= ? ORDER BY product_id, period",
        [account_id, months[0].start_time.date().isoformat()],
    )
    series: dict[str, list[float]] = {}
    latest: dict[str, tuple[float | None, float | None]] = {}
    for product_id, rows in usage.groupby("product_id"):
        by_month = dict(zip(rows["month"], pd.to_numeric(rows["active_users"], errors="coerce"), strict=True))
        series[product_id] = [float(by_month.get(m, 0.0) or 0.0) for m in labels]
        last = rows.iloc[-1]
        latest[product_id] = (_num(last["active_users"]), _num(last["licensed_seats"]))
    held["usage"] = [series.get(p, [0.0] * len(labels)) for p in held["product_id"]]
    held["active_users"] = [latest.get(p, (None, None))[0] for p in held["product_id"]]
    held["licensed_seats"] = [latest.get(p, (None, None))[1] for p in held["product_id"]]
    # Utilisation only where usage reports licensed seats: a flat or usage-priced product has none.
    seats = pd.to_numeric(held["licensed_seats"], errors="coerce").astype("float64")
    held["utilisation"] = pd.to_numeric(held["active_users"], errors="coerce") / seats.where(seats > 0)
    held = held.sort_values(["status", "mrr"], ascending=[True, False])
    return held[columns].reset_index(drop=True), labels


def _num(value: Any) -> float | None:
    return None if _missing(value) else float(value)


def _breakdowns(store: Store, account_id: str) -> tuple[pd.DataFrame, pd.DataFrame, list[str], bool]:
    now = _result(store, "score_components", account_id)
    prev = _result(store, "score_components_prev", account_id)
    columns = ["component", "points", "weight", "value", "reason", "change"]
    if now.empty:
        empty = pd.DataFrame(columns=columns)
        return empty, empty.copy(), [], not prev.empty
    for column in ("weight", "value", "reason"):
        if column not in now:
            now[column] = None
    if not prev.empty:
        before = prev[["axis", "component", "points"]].rename(columns={"points": "points_prev"})
        now = now.merge(before, on=["axis", "component"], how="left")
        now["change"] = now["points"] - now["points_prev"]
    else:
        now["change"] = float("nan")
    frames = {}
    for axis in ("risk", "expansion"):
        part = now[now["axis"] == axis].sort_values("points", ascending=False)
        frames[axis] = part[columns].reset_index(drop=True)
    moved = []
    if not prev.empty:
        movers = now[now["change"].abs() >= MOVE_MIN_POINTS].copy()
        movers["size"] = movers["change"].abs()
        for row in movers.sort_values("size", ascending=False).head(5).itertuples():
            direction = "up" if row.change > 0 else "down"
            moved.append(
                f"{row.axis.capitalize()} · {_component_label(row.component)} {direction} "
                f"{_points(row.change)} (now {row.points:.0f})"
            )
        totals = now.groupby("axis")[["points", "points_prev"]].sum(min_count=1)
        for axis, row in totals.iterrows():
            delta = row["points"] - row["points_prev"] if not _missing(row["points_prev"]) else None
            if delta is not None and abs(delta) >= MOVE_MIN_POINTS:
                moved.insert(
                    0, f"{axis.capitalize()} score {'up' if delta > 0 else 'down'} {_points(delta)} overall"
                )
    return frames["risk"], frames["expansion"], moved, not prev.empty


def _component_label(name: str) -> str:
    return str(name).replace("_", " ")


def _suggestions(store: Store, account_id: str) -> pd.DataFrame:
    frame = _result(store, "suggestions", account_id)
    if frame.empty:
        return frame
    names = store.query(
        "SELECT product_id, name AS product_name, department AS product_department FROM products"
    )
    frame = frame.merge(names, on="product_id", how="left")
    if "department" not in frame:
        frame["department"] = frame["product_department"]
    frame["department"] = frame["department"].fillna(frame["product_department"])
    for column in ("ready", "has_department_contact", "confidence", "lift", "score", "reason"):
        if column not in frame:
            frame[column] = None
    return _sorted(frame, "rank")


def _contacts(store: Store, account_id: str) -> pd.DataFrame:
    frame = store.query(
        "SELECT name, title, department, role, email, last_contacted_at FROM contacts WHERE account_id = ?",
        [account_id],
    )
    if frame.empty:
        return frame
    order = {role: i for i, role in enumerate(ROLE_ORDER)}
    frame["_order"] = frame["role"].map(order).fillna(len(ROLE_ORDER))
    return frame.sort_values(["_order", "department", "name"]).drop(columns="_order").reset_index(drop=True)


def _timeline(store: Store, account_id: str) -> pd.DataFrame:
    activities = store.query(
        "SELECT date, kind, coalesce(subject, '') AS text, sentiment, product_id FROM activities "
        "WHERE account_id = ? ORDER BY date DESC LIMIT ?",
        [account_id, TIMELINE_ROWS],
    )
    nps = store.query(
        "SELECT date, 'nps' AS kind, 'NPS ' || score || CASE WHEN email != '' THEN ' from ' || email ELSE '' END "
        "AS text, CASE WHEN score >= 9 THEN 'positive' WHEN score <= 6 THEN 'negative' ELSE 'neutral' END "
        "AS sentiment, NULL AS product_id FROM nps WHERE account_id = ? ORDER BY date DESC LIMIT ?",
        [account_id, TIMELINE_ROWS],
    )
    frames = [f for f in (activities, nps) if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["date", "kind", "text", "sentiment", "product_id"])
    both = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return both.sort_values("date", ascending=False).head(TIMELINE_ROWS).reset_index(drop=True)


def _points(change: float) -> str:
    size = round(abs(change))
    return f"{size} pt" if size == 1 else f"{size} pts"
