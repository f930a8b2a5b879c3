"""Scores become concrete actions: what to do, for whom, by when, and why, in a list a person can finish.

A to-do's identity is (account, kind, product), hashed into a stable id, so a
recompute updates it instead of duplicating it, and the user's marks on it
(done, snoozed, dismissed, notes, outcomes) survive every recompute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.frames import Portfolio, owned_as_of
from core.scoring.expansion import suggestion_values, top_suggestions
from core.scoring.features import (
    as_text,
    choose,
    fmt_date,
    fmt_money,
    fmt_num,
    join_text,
    lookup,
    positions,
)
from core.scoring.risk import product_names

TODO_COLUMNS = (
    "todo_id",
    "account_id",
    "kind",
    "product_id",
    "quadrant",
    "title",
    "reason",
    "priority_score",
    "due",
    "evidence_at",
    "playbook",
)
USER_FIELDS = ("status", "snoozed_until", "note", "outcome", "status_changed_at")
LEAD_DAYS = {
    "usage-recovery": 14,
    "executive-sponsor": 7,
    "add-decision-maker": 30,
    "qbr": 21,
    "seat-upsell": 14,
    "cross-sell": 30,
    "bundle-offer": 30,
}
RENEWAL_NOTICE_DAYS = 30  # a renewal call appears this long before it is due
URGENCY_DAYS = 30  # urgency halves when the due date is this far away
MIN_SCORE_FACTOR = 0.1
TRIGGER = {  # minimum severity (points / weight) that makes a component call for action
    "usage_trend": 0.4,
    "seat_utilisation": 0.5,
    "sentiment": 0.5,
    "engagement_recency": 0.5,
    "seat_saturation": 0.5,
    "headcount_growth": 0.5,
    "suggestions": 0.75,  # a strong suggestion on an account not (yet) in a high-expansion quadrant
}


def todo_ids(account_id: pd.Series, kind: pd.Series, product_id: pd.Series) -> pd.Series:
    """'t' + 12 hex characters of sha1('account|kind|product'): the same action always gets the same id."""
    keys = as_text(account_id) + "|" + as_text(kind) + "|" + as_text(product_id).fillna("")
    return pd.Series(
        ["t" + hashlib.sha1(k.encode()).hexdigest()[:12] for k in keys.to_numpy()],
        index=keys.index,
        dtype="object",
    )


def control_group(account_ids: pd.Series | pd.Index, pct: float, seed: int) -> pd.Series:
    """A deterministic random hold-out: True for the ``pct`` percent of accounts withheld from cross-sell.

    Hashing (seed, account_id) keeps an account in the same group across
    recomputes and imports, which a fair comparison of outcomes needs.

    Returns:
        Boolean series indexed by account_id (True = control, gets no cross-sell to-dos).
    """
    pct = float(pct)
    if not 0 <= pct <= 100:
        raise ValueError(f"todos.control_group_pct is a percent between 0 and 100, got {pct}")
    ids = pd.Index(account_ids).astype("str")
    draws = (
        np.array(
            [
                int.from_bytes(hashlib.sha256(f"{int(seed)}:{a}".encode()).digest()[:8], "big")
                for a in as_text(ids).to_numpy()
            ],
            dtype=np.float64,
        )
        / 2.0**64
    )
    return pd.Series(draws < pct / 100.0, index=ids, name="control")


def _codes(values: pd.Series) -> tuple[np.ndarray, list]:
    """Integer codes and their labels, free for a categorical column."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), list(values.cat.categories)
    codes, labels = pd.factorize(values)
    return codes, list(labels)


def _components_by_name(components: pd.DataFrame, wanted, account_ids: pd.Series) -> dict[str, pd.DataFrame]:
    """Each wanted component as a frame aligned row by row with ``account_ids``.

    Components are factorized once; a block already in the accounts' order (as
    the scorers write it) is used as is, any other order is realigned by id.
    """
    axis_codes, axes = _codes(components["axis"])
    name_codes, names = _codes(components["component"])
    key = axis_codes * (len(names) + 1) + name_codes
    out = {}
    for axis, name in wanted:
        code = (
            axes.index(axis) * (len(names) + 1) + names.index(name) if axis in axes and name in names else -1
        )
        part = components.iloc[np.flatnonzero(key == code)]
        aligned = len(part) == len(account_ids) and bool(
            np.asarray(part["account_id"].array == account_ids.array, dtype=bool).all()
        )
        columns = {
            "points": part["points"].to_numpy(dtype=float),
            "weight": part["weight"].to_numpy(dtype=float),
            "reason": as_text(part["reason"]).fillna("").to_numpy(dtype=object),
            "product_id": as_text(part["product_id"]).fillna("").to_numpy(dtype=object),
            "evidence_at": pd.to_datetime(part["evidence_at"]).to_numpy(dtype="datetime64[ns]"),
        }
        if not aligned:
            at = positions(account_ids, part["account_id"])
            fills = {
                "points": 0.0,
                "weight": 0.0,
                "reason": "",
                "product_id": "",
                "evidence_at": np.datetime64("NaT"),
            }
            columns = {k: np.append(v, np.array([fills[k]], dtype=v.dtype))[at] for k, v in columns.items()}
        weight = columns.pop("weight")
        points = columns.pop("points")
        severity = np.where(weight > 0, points / np.where(weight > 0, weight, 1), 0.0)
        out[name] = pd.DataFrame({"severity": np.nan_to_num(severity), **columns})
    return out


def _rows(rows_at, kind: str, reason, evidence, arr_at_stake, score, product=None) -> pd.DataFrame:
    """Generated to-dos of one kind: ``rows_at`` are the accounts' rows in the scores, the rest per to-do."""
    n = len(rows_at)
    product = np.full(n, "", dtype=object) if product is None else np.asarray(product, dtype=object)
    return pd.DataFrame(
        {
            "position": np.asarray(rows_at, dtype=np.int64),
            "kind": pd.Series(np.full(n, kind, dtype=object), dtype="object"),
            "product_id": pd.Series(product, dtype="object"),
            "reason": pd.Series(np.asarray(reason, dtype=object), dtype="object"),
            "evidence_at": np.asarray(pd.to_datetime(pd.Series(evidence)), dtype="datetime64[ns]"),
            "arr_at_stake": np.asarray(arr_at_stake, dtype=float),
            "score": np.asarray(score, dtype=float),
        }
    )


def _join(*texts: pd.Series) -> pd.Series:
    """Non-empty sentences joined with '. '."""
    out = texts[0].fillna("")
    for text in texts[1:]:
        text = text.fillna("")
        glue = choose(out.ne("") & text.ne(""), ". ", "", out.index)
        out = out + glue + text
    return out


def _bundle_candidates(portfolio: Portfolio, valued: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Accounts that own part of a defined bundle and have every missing product among their suggestions."""
    bundles = portfolio.bundles
    if bundles.empty or valued.empty:
        return pd.DataFrame(columns=["account_id", "bundle_id", "missing", "expected_arr"])
    members = (
        bundles[["bundle_id", "product_ids"]]
        .assign(product_id=bundles["product_ids"].astype("str").str.split(";"))
        .explode("product_id")
    )
    members["product_id"] = members["product_id"].str.strip()
    size = members.groupby("bundle_id").size().rename("size")
    held = owned_as_of(portfolio.subscriptions, as_of)[["account_id", "product_id"]].drop_duplicates()
    owned = held.merge(members[["bundle_id", "product_id"]], on="product_id")
    owned_n = owned.groupby(["account_id", "bundle_id"]).size().rename("owned")
    offered = valued[["account_id", "product_id", "expected_arr"]].merge(
        members[["bundle_id", "product_id"]], on="product_id"
    )
    offered = offered.merge(held.assign(_held=True), on=["account_id", "product_id"], how="left")
    offered = offered[offered["_held"].isna()].sort_values("product_id")
    offered_g = offered.groupby(["account_id", "bundle_id"])
    table = pd.DataFrame(
        {
            "suggested": offered_g.size(),
            "expected_arr": offered_g["expected_arr"].sum(),
            "missing": join_text(offered["product_id"], [offered["account_id"], offered["bundle_id"]], ";"),
        }
    ).join(owned_n, how="inner")
    table = table.join(size, on="bundle_id")
    table = table[(table["owned"] >= 1) & (table["owned"] + table["suggested"] == table["size"])]
    return table.reset_index()[["account_id", "bundle_id", "missing", "expected_arr"]]


WANTED = (
    ("risk", "usage_trend"),
    ("risk", "seat_utilisation"),
    ("risk", "sentiment"),
    ("risk", "buying_centre"),
    ("risk", "engagement_recency"),
    ("expansion", "seat_saturation"),
    ("expansion", "headcount_growth"),
    ("expansion", "suggestions"),
    ("expansion", "readiness"),
)


def generate_todos(
    scores: pd.DataFrame,
    components: pd.DataFrame,
    suggestions: pd.DataFrame,
    portfolio: Portfolio,
    as_of: pd.Timestamp,
    settings: Mapping,
    pricing_hint: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Concrete actions from the scores: at most one of each kind and product per account.

    Kinds: renewal-call (renewal within ``todos.renewal_call_days`` + 30 days,
    due ``renewal_call_days`` before it), usage-recovery, executive-sponsor
    (negative sentiment on a high-risk account), add-decision-maker, qbr (no
    contact), seat-upsell, cross-sell (the best suggestion), bundle-offer (a
    defined bundle the account can complete from its suggestions). Cross-sell
    and bundle offers are withheld from the control group when
    ``todos.control_group_pct`` > 0. ``priority_score`` = ARR at stake (the
    account's ARR for risk kinds, the expected gain for expansion kinds) x
    urgency (30 / (30 + days until due)) x score / 100 (at least 0.1).
    ``pricing_hint`` (the pricing table) adds a bundle's price to its reason.

    Returns:
        todo_id, account_id, kind, product_id, quadrant, title, reason,
        priority_score, due, evidence_at, playbook.
    """
    for name, frame, needed in (
        ("scores", scores, ("account_id", "risk", "expansion", "quadrant", "arr", "renewal_date")),
        ("components", components, ("account_id", "axis", "component", "points", "weight", "reason")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lack column(s) {', '.join(missing)}")
    if scores["account_id"].duplicated().any():
        raise ValueError("scores repeat an account_id")
    as_of = pd.Timestamp(as_of).normalize()
    call_days = int(settings["todos.renewal_call_days"])
    risk_thr = float(settings["quadrant.risk_threshold"])
    exp_thr = float(settings["quadrant.expansion_threshold"])
    currency = str(settings.get("pricing.currency", "USD"))
    s = scores.reset_index(drop=True)
    ids = s["account_id"]
    arr = s["arr"].astype(float).fillna(0.0)
    risk, expansion = s["risk"].astype(float), s["expansion"].astype(float)
    renewal = pd.to_datetime(s["renewal_date"])
    c = _components_by_name(components, WANTED, ids)
    customer = arr.to_numpy() > 0
    parts = []

    days = (renewal - as_of).dt.days
    pos = np.flatnonzero(renewal.notna() & days.between(0, call_days + RENEWAL_NOTICE_DAYS) & customer)
    reason = (
        "Renews on "
        + fmt_date(renewal.iloc[pos])
        + " (in "
        + fmt_num(days.iloc[pos])
        + " days), "
        + fmt_money(arr.iloc[pos], currency)
        + " ARR"
    )
    top_reason = pd.Series(
        [str(r).partition("; ")[0] for r in as_text(s["risk_reasons"].iloc[pos]).fillna("").to_numpy()],
        index=reason.index,
        dtype="object",
    )
    reason = reason + (", risk " + fmt_num(risk.iloc[pos]) + ": " + top_reason).where(
        risk.iloc[pos] >= risk_thr, ""
    )
    evidence = renewal.iloc[pos] - pd.Timedelta(days=call_days + RENEWAL_NOTICE_DAYS)
    parts.append(_rows(pos, "renewal-call", reason, evidence, arr.iloc[pos], risk.iloc[pos]))

    trend, seats_used = c["usage_trend"], c["seat_utilisation"]
    falling = trend["severity"] >= TRIGGER["usage_trend"]
    idle = seats_used["severity"] >= TRIGGER["seat_utilisation"]
    pos = np.flatnonzero((falling | idle) & customer)
    reason = _join(
        trend["reason"].where(falling, "").iloc[pos], seats_used["reason"].where(idle, "").iloc[pos]
    )
    evidence = trend["evidence_at"].fillna(seats_used["evidence_at"]).iloc[pos]
    parts.append(_rows(pos, "usage-recovery", reason, evidence, arr.iloc[pos], risk.iloc[pos]))

    mood = c["sentiment"]
    pos = np.flatnonzero((mood["severity"] >= TRIGGER["sentiment"]) & (risk >= risk_thr) & customer)
    parts.append(
        _rows(
            pos,
            "executive-sponsor",
            mood["reason"].iloc[pos],
            mood["evidence_at"].iloc[pos],
            arr.iloc[pos],
            risk.iloc[pos],
        )
    )

    if len(portfolio.contacts):
        contacts = portfolio.contacts
        deciders = contacts.loc[contacts["role"].eq("decision_maker").fillna(False), "account_id"]
        has_dm = np.zeros(len(ids), dtype=bool)
        found = positions(deciders, ids)
        has_dm[found[found >= 0]] = True
        pos = np.flatnonzero(~has_dm & customer & ((risk >= risk_thr) | (expansion >= exp_thr)))
        accounts = portfolio.accounts
        at = positions(ids.iloc[pos], accounts["account_id"])
        created = np.append(
            pd.to_datetime(accounts["created_at"]).to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT")
        )[at]
        parts.append(
            _rows(
                pos,
                "add-decision-maker",
                c["buying_centre"]["reason"].iloc[pos],
                created,
                arr.iloc[pos],
                np.maximum(risk, expansion).iloc[pos],
            )
        )

    quiet = c["engagement_recency"]
    pos = np.flatnonzero((quiet["severity"] >= TRIGGER["engagement_recency"]) & customer)
    parts.append(
        _rows(
            pos,
            "qbr",
            quiet["reason"].iloc[pos],
            quiet["evidence_at"].iloc[pos],
            arr.iloc[pos],
            risk.iloc[pos],
        )
    )

    full, growing = c["seat_saturation"], c["headcount_growth"]
    saturated = full["severity"] >= TRIGGER["seat_saturation"]
    grown = growing["severity"] >= TRIGGER["headcount_growth"]
    extra = s["extra_seats"].astype(float).fillna(0) if "extra_seats" in s else pd.Series(0.0, index=s.index)
    gain = s["seat_expansion_arr"].astype(float).fillna(0) if "seat_expansion_arr" in s else extra * 0
    pos = np.flatnonzero((saturated | grown) & (extra > 0))
    reason = _join(
        full["reason"].where(saturated, "").iloc[pos], growing["reason"].where(grown, "").iloc[pos]
    )
    reason = (
        reason
        + ". About "
        + fmt_num(extra.iloc[pos])
        + " more seats, "
        + fmt_money(gain.iloc[pos], currency, 3)
    )
    parts.append(
        _rows(
            pos,
            "seat-upsell",
            reason + " a year",
            full["evidence_at"].iloc[pos],
            gain.iloc[pos],
            expansion.iloc[pos],
            full["product_id"].where(saturated, "").iloc[pos],
        )
    )

    parts += _cross_sell_rows(s, c, suggestions, portfolio, as_of, settings, pricing_hint, exp_thr, currency)
    todos = pd.concat(parts, ignore_index=True)
    return _finish(todos, s, portfolio, as_of, call_days, renewal)


def _seat_medians(portfolio: Portfolio, account_ids: pd.Series, as_of: pd.Timestamp) -> pd.DataFrame:
    owned = owned_as_of(portfolio.subscriptions, as_of)
    units = np.append(portfolio.products["unit"].fillna("seat").to_numpy(dtype=object), "seat")
    per_seat = units[positions(owned["product_id"], portfolio.products["product_id"])] == "seat"
    at = positions(owned["account_id"], account_ids)
    keep = per_seat & (at >= 0)
    medians = pd.Series(owned["quantity"].to_numpy(dtype="float64")[keep]).groupby(at[keep]).median()
    column = np.full(len(account_ids), np.nan)
    column[medians.index.to_numpy()] = medians.to_numpy()
    return pd.DataFrame({"account_id": account_ids, "seat_quantity_median": column})


def _cross_sell_rows(s, c, suggestions, portfolio, as_of, settings, pricing_hint, exp_thr, currency) -> list:
    if suggestions is None or suggestions.empty:
        return []
    ids = s["account_id"]
    keen = (c["suggestions"]["severity"] >= TRIGGER["suggestions"]) | (
        s["expansion"].astype(float) >= exp_thr
    )
    pct = float(settings.get("todos.control_group_pct", 0.0))
    if pct > 0:
        candidates = np.flatnonzero(keen)
        held_out = control_group(ids.iloc[candidates], pct, int(settings.get("todos.control_group_seed", 0)))
        keen.iloc[candidates[held_out.to_numpy()]] = False
    ranked = top_suggestions(suggestions, top=10**6 if len(portfolio.bundles) else 1)
    at = positions(ranked["account_id"], ids)
    ranked = ranked[(at >= 0) & keen.to_numpy()[np.maximum(at, 0)]]
    valued = suggestion_values(ranked, portfolio, _seat_medians(portfolio, ids, as_of))
    names = product_names(portfolio)
    rows, covered = [], pd.DataFrame(columns=["account_id", "product_id"])

    bundles = _bundle_candidates(portfolio, valued, as_of)
    if len(bundles):
        bundles = bundles.sort_values(
            ["account_id", "expected_arr", "bundle_id"], ascending=[True, False, True]
        )
        bundles = bundles.drop_duplicates("account_id").reset_index(drop=True)
        missing = bundles["missing"].str.split(";").explode()
        missing_names = join_text(lookup(missing, names).fillna(as_text(missing)), missing.index, ", ")
        bundle_names = portfolio.bundles.set_index("bundle_id")["name"]
        reason = (
            "Owns part of the "
            + lookup(bundles["bundle_id"], bundle_names).fillna(as_text(bundles["bundle_id"]))
            + " bundle, its other products are among this account's suggestions ("
            + missing_names.astype("object")
            + "), expected "
            + fmt_money(bundles["expected_arr"], currency, 3)
            + " a year"
        )
        if pricing_hint is not None and {"account_id", "option", "monthly_price"} <= set(
            pricing_hint.columns
        ):
            hint = pricing_hint.assign(
                bundle_id=pricing_hint["option"].astype("str").str.removeprefix("bundle:")
            )
            hint = bundles[["account_id", "bundle_id"]].merge(
                hint, on=["account_id", "bundle_id"], how="left"
            )
            price = ", bundle priced at " + fmt_money(hint["monthly_price"], currency) + " a month"
            reason = reason + price.where(hint["monthly_price"].notna(), "")
        pos = positions(bundles["account_id"], ids)
        rows.append(
            _rows(
                pos,
                "bundle-offer",
                reason,
                c["suggestions"]["evidence_at"].iloc[pos],
                bundles["expected_arr"],
                s["expansion"].iloc[pos],
                bundles["bundle_id"],
            )
        )
        covered = bundles.assign(product_id=bundles["missing"].str.split(";")).explode("product_id")

    best = valued[valued["rank"] == 1]
    best = best.merge(covered[["account_id", "product_id"]].assign(_covered=True), how="left")
    best = best[best["_covered"].isna()].reset_index(drop=True)
    if len(best):
        pos = positions(best["account_id"], ids)
        ready = c["readiness"].iloc[pos].reset_index(drop=True)
        same_product = ready["product_id"].to_numpy() == as_text(best["product_id"]).to_numpy()
        ready_note = ready["reason"].where((ready["severity"] > 0).to_numpy() & same_product, "")
        reason = (
            as_text(best["reason"]).fillna("").str.rstrip(".")
            + ". Expected "
            + fmt_money(best["expected_arr"], currency, 3)
            + " a year"
        )
        rows.append(
            _rows(
                pos,
                "cross-sell",
                _join(reason, ready_note),
                c["suggestions"]["evidence_at"].iloc[pos],
                best["expected_arr"],
                s["expansion"].iloc[pos],
                as_text(best["product_id"]),
            )
        )
    return rows


def _finish(todos, s, portfolio, as_of, call_days, renewal) -> pd.DataFrame:
    """Ids, quadrant, titles, due dates and priority for the generated rows."""
    if todos.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in TODO_COLUMNS})
    position = todos["position"].to_numpy()
    kind = todos["kind"]
    lead = pd.to_timedelta(kind.map(LEAD_DAYS).fillna(0), unit="D")
    evidence = pd.to_datetime(todos["evidence_at"]).dt.normalize()
    due = (evidence + lead).where(evidence.notna(), as_of + lead).clip(lower=as_of)
    renewal_due = (renewal.iloc[position].reset_index(drop=True) - pd.Timedelta(days=call_days)).clip(
        lower=as_of
    )
    due = due.where(kind.ne("renewal-call"), renewal_due)
    urgency = URGENCY_DAYS / (URGENCY_DAYS + (due - as_of).dt.days.clip(lower=0))
    factor = (todos["score"].fillna(0) / 100).clip(lower=MIN_SCORE_FACTOR)
    account_id = pd.Series(as_text(s["account_id"]).to_numpy()[position], dtype="object")
    product = todos["product_id"].fillna("")
    accounts = portfolio.accounts
    at = positions(s["account_id"], accounts["account_id"])
    name = pd.Series(np.append(as_text(accounts["name"]).to_numpy(), np.nan)[at][position], dtype="object")
    out = pd.DataFrame(
        {
            "todo_id": todo_ids(account_id, kind, product),
            "account_id": account_id,
            "kind": kind,
            "product_id": product,
            "quadrant": pd.Series(as_text(s["quadrant"]).to_numpy()[position], dtype="object"),
            "title": _titles(name.fillna(account_id), kind, product, portfolio),
            "reason": todos["reason"],
            "priority_score": (todos["arr_at_stake"].fillna(0) * urgency * factor).round(4),
            "due": due,
            "evidence_at": evidence,
            "playbook": kind,
        }
    )
    out = out.drop_duplicates("todo_id")
    return out.sort_values("priority_score", ascending=False, ignore_index=True, kind="stable")


def _titles(name: pd.Series, kind: pd.Series, product_id: pd.Series, portfolio: Portfolio) -> pd.Series:
    """One short imperative line per to-do, built kind by kind on that kind's rows only."""
    templates = {
        "renewal-call": ("Renewal call with ", "", ""),
        "usage-recovery": ("Recover usage at ", "", ""),
        "executive-sponsor": ("Bring in an executive sponsor at ", "", ""),
        "add-decision-maker": ("Find the decision maker at ", "", ""),
        "qbr": ("Book a business review with ", "", ""),
        "seat-upsell": ("Offer more ", "product", " seats to "),
        "cross-sell": ("Offer ", "product", " to "),
        "bundle-offer": ("Offer the ", "bundle", " bundle to "),
    }
    out = np.full(len(name), "", dtype=object)
    codes, kinds = pd.factorize(kind)
    for code, key in enumerate(kinds):
        rows = np.flatnonzero(codes == code)
        lead, what, joint = templates.get(key, (key.replace("-", " ").capitalize() + ": ", "", ""))
        who = name.iloc[rows]
        if not what:
            text = lead + who
        else:
            ids = product_id.iloc[rows]
            table = (
                product_names(portfolio)
                if what == "product"
                else portfolio.bundles.set_index("bundle_id")["name"]
            )
            label = lookup(ids, table).fillna(ids)
            text = (lead + label + joint + who).where(ids.ne(""), "Offer more seats to " + who)
        out[rows] = text.to_numpy(dtype=object)
    return pd.Series(out, index=name.index, dtype="object")


def _as_time(values) -> pd.Series:
    """ISO text or timestamps, with or without a zone, as naive UTC timestamps for comparison."""
    values = pd.Series(values)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert(None)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values
    parsed = pd.to_datetime(values.astype("object"), errors="coerce", utc=True, format="ISO8601")
    return parsed.dt.tz_localize(None)


def reconcile(existing: pd.DataFrame, generated: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Merge a recompute's to-dos with the stored ones without ever losing the user's marks.

    Generated fields come from ``generated``; the user's fields (status,
    snoozed_until, note, outcome, status_changed_at) from ``existing``, changed
    only when: a snoozed to-do's ``snoozed_until`` <= ``as_of`` (it becomes open),
    or a done or dismissed to-do that is generated again with an
    ``evidence_at`` after both its ``status_changed_at`` and its previous
    evidence (it reopens: new evidence appeared after it was handled). Stored
    to-dos no longer generated are kept with ``active`` False.

    Returns:
        The generated columns, active, status, snoozed_until, note, outcome,
        status_changed_at; one row per todo_id in either frame.
    """
    if "todo_id" not in generated.columns:
        raise ValueError("generated to-dos lack todo_id")
    if generated["todo_id"].duplicated().any():
        raise ValueError("generated to-dos repeat a todo_id")
    as_of = pd.Timestamp(as_of)
    gen_cols = [c for c in generated.columns if c not in USER_FIELDS and c != "active"]
    if existing is None or existing.empty or "todo_id" not in existing.columns:
        existing = pd.DataFrame(
            {c: pd.Series(dtype="object") for c in ("todo_id", *USER_FIELDS, "evidence_at")}
        )
    existing = existing.reindex(columns=list(dict.fromkeys(["todo_id", *gen_cols, *USER_FIELDS])))

    previous = (
        existing[["todo_id", *USER_FIELDS]]
        .astype("object")
        .assign(evidence_prev=_as_time(existing["evidence_at"]))
    )
    fresh = generated[gen_cols].assign(active=True).merge(previous, on="todo_id", how="left")
    gone = existing[~existing["todo_id"].isin(generated["todo_id"])].assign(
        active=False, evidence_prev=pd.NaT
    )
    merged = pd.concat([fresh, gone[fresh.columns]], ignore_index=True) if len(gone) else fresh
    merged["status"] = merged["status"].astype("object").where(merged["status"].notna(), "open")
    for column in ("due", "evidence_at"):
        if column in merged:
            merged[column] = _as_time(merged[column])

    wake = merged["status"].eq("snoozed") & (_as_time(merged["snoozed_until"]) <= as_of)
    changed_at = _as_time(merged["status_changed_at"])
    evidence = merged["evidence_at"] if "evidence_at" in merged else pd.Series(pd.NaT, index=merged.index)
    reopen = (
        merged["status"].isin(["done", "dismissed"])
        & merged["active"].astype(bool)
        & (evidence > merged["evidence_prev"])
        & (changed_at.isna() | (evidence > changed_at))
    )
    moved = wake | reopen
    merged.loc[moved, "status"] = "open"
    merged.loc[moved, "snoozed_until"] = None
    merged.loc[moved, "status_changed_at"] = as_of.isoformat()
    for column in USER_FIELDS:
        merged[column] = merged[column].astype("object").where(merged[column].notna(), None)
    return merged.drop(columns="evidence_prev").reset_index(drop=True)


def apply_daily_cap(todos: pd.DataFrame, accounts: pd.DataFrame, settings: Mapping) -> pd.DataFrame:
    """Rank each owner's open to-dos and draw the line at what one person can do in a day.

    Open means status 'open' and still generated (``active``). Ties in
    priority_score go to the earlier due date, then the to-do id.

    Returns:
        ``todos`` with priority (1 = most urgent in the owner's open list; NA
        for to-dos not open) and below_line (True beyond ``todos.daily_cap``).
    """
    cap = int(settings["todos.daily_cap"])
    if cap < 1:
        raise ValueError(f"todos.daily_cap must be at least 1, got {cap}")
    for column in ("todo_id", "account_id", "priority_score"):
        if column not in todos.columns:
            raise ValueError(f"todos lack column {column!r}")
    out = todos.copy()
    at = positions(out["account_id"], accounts["account_id"])
    owner = pd.Series(np.append(as_text(accounts["owner"]).to_numpy(), np.nan)[at], index=out.index).fillna(
        ""
    )
    active = out["active"].astype(bool) if "active" in out else pd.Series(True, index=out.index)
    status = out["status"] if "status" in out else pd.Series("open", index=out.index)
    is_open = status.eq("open").to_numpy() & active.to_numpy()
    ranked = pd.DataFrame(
        {
            "owner": owner,
            "score": out["priority_score"].astype(float).fillna(0.0),
            "due": _as_time(out["due"]) if "due" in out else pd.NaT,
            "todo_id": out["todo_id"],
        }
    )[is_open]
    ranked = ranked.sort_values(["owner", "score", "due", "todo_id"], ascending=[True, False, True, True])
    priority = pd.Series(pd.NA, index=out.index, dtype="Int64")
    priority[ranked.index] = ranked.groupby("owner").cumcount().to_numpy() + 1
    out["priority"] = priority
    out["below_line"] = (priority > cap).fillna(False).astype(bool)
    return out
