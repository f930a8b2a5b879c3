"""Scores become concrete actions: what to do, for whom, by when, and why, in a list a person can finish.

A to-do's identity is (account, kind, product), hashed into a stable id, so a
recompute updates it instead of duplicating it, and the user's marks on it
(done, snoozed, dismissed, notes, outcomes) survive every recompute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from core.frames import Portfolio, is_in, owned_as_of
from core.scoring.expansion import SUGGESTION_COLUMNS, suggestion_values, top_suggestions
from core.scoring.features import (
    as_text,
    concat,
    fmt_date,
    fmt_days,
    fmt_money,
    fmt_num,
    join_text,
    lookup,
    pick,
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
    """'t' + 12 hex characters of sha1('account|kind|product'): the same action always gets the same id.

    The three series are read row by row (they share one index); each key is
    joined inside the hashing loop rather than by three column concatenations.
    """
    columns = (as_text(account_id), as_text(kind), as_text(product_id).fillna(""))
    keys = map("|".join, zip(*(c.to_numpy() for c in columns)))
    return pd.Series(
        ["t" + hashlib.sha1(k.encode()).hexdigest()[:12] for k in keys],
        index=columns[0].index,
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


def _components_by_name(components: pd.DataFrame, wanted, account_ids: pd.Series) -> dict[str, _Component]:
    """Each wanted component lined up with ``account_ids``; the 1.5M-row table is factorized once."""
    axis_codes, axes = _codes(components["axis"])
    name_codes, names = _codes(components["component"])
    key = axis_codes.astype(np.int64) * (len(names) + 1) + name_codes
    out = {}
    for axis, name in wanted:
        code = (
            axes.index(axis) * (len(names) + 1) + names.index(name) if axis in axes and name in names else -1
        )
        out[name] = _Component(components, np.flatnonzero(key == code), account_ids)
    return out


def _take(values: pd.Series, rows: np.ndarray) -> pd.Series:
    """``values.iloc[rows]``, a free slice when the rows are one ascending run (as scorers write blocks)."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows) and bool((np.diff(rows) == 1).all()):
        return values.iloc[rows[0] : rows[-1] + 1]
    return values.iloc[rows]


class _Component:
    """One score component lined up with the accounts: its table row for each account (-1 if none).

    A block already in the accounts' order (as the scorers write it) is used as
    is, any other order is realigned by id. Severity is needed for every
    account; text and dates are read only for the accounts that get a to-do.
    """

    def __init__(self, table: pd.DataFrame, block: np.ndarray, account_ids: pd.Series):
        ids = _take(table["account_id"], block)
        aligned = len(block) == len(account_ids) and bool(
            np.asarray(ids.array == account_ids.array, dtype=bool).all()
        )
        self.table = table
        self.rows = block if aligned else np.append(block, -1)[positions(account_ids, ids)]
        weight = self._numbers("weight")
        points = self._numbers("points")
        severity = np.where(weight > 0, points / np.where(weight > 0, weight, 1), 0.0)
        self.severity = np.nan_to_num(severity)

    def _numbers(self, column: str) -> np.ndarray:
        found = self.rows >= 0
        out = np.zeros(len(self.rows))
        out[found] = _take(self.table[column], self.rows[found]).to_numpy(dtype=float)
        return out

    def text(self, column: str, pos: np.ndarray, when=None) -> pd.Series:
        """``column`` as plain strings for the accounts at ``pos``; "" where missing or ``when`` is False."""
        rows = self.rows[pos]
        found = rows >= 0 if when is None else (rows >= 0) & when
        out = np.full(len(pos), "", dtype=object)
        out[found] = as_text(self.table[column].iloc[rows[found]]).fillna("").to_numpy(dtype=object)
        return pd.Series(out, index=pos, dtype="object")

    def evidence(self, pos: np.ndarray) -> pd.Series:
        """When the evidence for the accounts at ``pos`` was seen (NaT where missing)."""
        rows = self.rows[pos]
        found = rows >= 0
        out = np.full(len(pos), np.datetime64("NaT"), dtype="datetime64[ns]")
        out[found] = pd.to_datetime(self.table["evidence_at"].iloc[rows[found]]).to_numpy(
            dtype="datetime64[ns]"
        )
        return pd.Series(out, index=pos)


def _account_ids(ids: pd.Series) -> np.ndarray:
    """The accounts' ids as plain strings, refusing repeats: one factorize serves both."""
    codes, distinct = pd.factorize(ids)
    if len(distinct) + bool((codes < 0).any()) < len(ids):
        raise ValueError("scores repeat an account_id")
    return np.append(np.asarray(distinct.to_numpy(dtype=object), dtype=object), np.nan)[codes]


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
    """Non-empty sentences joined with '. ' (only rows with two sentences are concatenated)."""
    out = texts[0].fillna("").to_numpy(dtype=object)
    for text in texts[1:]:
        text = text.fillna("").to_numpy(dtype=object)
        both = (out != "") & (text != "")
        out = np.where(out == "", text, out)
        out[both] = concat(out[both], ". ", text[both])
    return pd.Series(out, index=texts[0].index, dtype="object")


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
    ids_text = _account_ids(scores["account_id"])
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
    reason = concat(
        "Renews on ",
        fmt_date(renewal.iloc[pos]),
        " (",
        _in_days(days.iloc[pos]),
        "), ",
        fmt_money(arr.iloc[pos], currency),
        " ARR",
        _risk_notes(s, pos, risk_thr),
    )
    evidence = renewal.iloc[pos] - pd.Timedelta(days=call_days + RENEWAL_NOTICE_DAYS)
    parts.append(_rows(pos, "renewal-call", reason, evidence, arr.iloc[pos], risk.iloc[pos]))

    trend, seats_used = c["usage_trend"], c["seat_utilisation"]
    falling = trend.severity >= TRIGGER["usage_trend"]
    idle = seats_used.severity >= TRIGGER["seat_utilisation"]
    pos = np.flatnonzero((falling | idle) & customer)
    reason = _join(trend.text("reason", pos, falling[pos]), seats_used.text("reason", pos, idle[pos]))
    evidence = trend.evidence(pos).fillna(seats_used.evidence(pos))
    parts.append(_rows(pos, "usage-recovery", reason, evidence, arr.iloc[pos], risk.iloc[pos]))

    mood = c["sentiment"]
    pos = np.flatnonzero((mood.severity >= TRIGGER["sentiment"]) & (risk >= risk_thr) & customer)
    parts.append(
        _rows(
            pos,
            "executive-sponsor",
            mood.text("reason", pos),
            mood.evidence(pos),
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
                c["buying_centre"].text("reason", pos),
                created,
                arr.iloc[pos],
                np.maximum(risk, expansion).iloc[pos],
            )
        )

    quiet = c["engagement_recency"]
    pos = np.flatnonzero((quiet.severity >= TRIGGER["engagement_recency"]) & customer)
    parts.append(
        _rows(
            pos,
            "qbr",
            quiet.text("reason", pos),
            quiet.evidence(pos),
            arr.iloc[pos],
            risk.iloc[pos],
        )
    )

    full, growing = c["seat_saturation"], c["headcount_growth"]
    saturated = full.severity >= TRIGGER["seat_saturation"]
    grown = growing.severity >= TRIGGER["headcount_growth"]
    extra = s["extra_seats"].astype(float).fillna(0) if "extra_seats" in s else pd.Series(0.0, index=s.index)
    gain = s["seat_expansion_arr"].astype(float).fillna(0) if "seat_expansion_arr" in s else extra * 0
    pos = np.flatnonzero((saturated | grown) & (extra > 0))
    reason = _join(full.text("reason", pos, saturated[pos]), growing.text("reason", pos, grown[pos]))
    reason = concat(
        reason,
        ". About ",
        fmt_num(extra.iloc[pos]),
        " more seats, ",
        fmt_money(gain.iloc[pos], currency, 3),
        " a year",
    )
    parts.append(
        _rows(
            pos,
            "seat-upsell",
            reason,
            full.evidence(pos),
            gain.iloc[pos],
            expansion.iloc[pos],
            full.text("product_id", pos, saturated[pos]),
        )
    )

    parts += _cross_sell_rows(
        s, ids_text, c, suggestions, portfolio, as_of, settings, pricing_hint, exp_thr, currency
    )
    todos = pd.concat(parts, ignore_index=True)
    return _finish(todos, s, ids_text, portfolio, as_of, call_days, renewal)


def _risk_notes(s: pd.DataFrame, pos: np.ndarray, risk_thr: float) -> pd.Series:
    """The note ", risk 72: <top risk reason>" for the high-risk accounts at ``pos``, "" for the rest.

    Only high-risk accounts are read: their long reason lists are what costs.
    """
    risk = s["risk"].astype(float)
    high = pos[(risk.iloc[pos] >= risk_thr).to_numpy()]
    top_reason = pd.Series(
        [str(r).partition("; ")[0] for r in as_text(s["risk_reasons"].iloc[high]).fillna("").to_numpy()],
        index=high,
        dtype="object",
    )
    notes = pd.Series("", index=pos, dtype="object")
    notes.loc[high] = concat(", risk ", fmt_num(risk.iloc[high]), ": ", top_reason)
    return notes


def _owned(portfolio: Portfolio, account_ids: pd.Series, as_of: pd.Timestamp) -> pd.DataFrame:
    """Who owns what on ``as_of``, copied once with only what the cross-sell steps read.

    Returns the owning account's position in ``account_ids`` (-1 if not
    scored, so each id is looked up once), product_id and quantity.
    """
    subscriptions = portfolio.subscriptions
    owned = owned_as_of(
        subscriptions[["account_id", "product_id", "quantity", "start_date", "status", "churned_at"]], as_of
    )
    return pd.DataFrame(
        {
            "position": positions(owned["account_id"], account_ids),
            "product_id": owned["product_id"].array,
            "quantity": owned["quantity"].array,
        }
    )


def _seat_medians(portfolio: Portfolio, owned: pd.DataFrame, account_ids: pd.Series) -> pd.DataFrame:
    """Each account's median quantity over its per-seat subscriptions: the likely seats of a suggestion."""
    units = np.append(portfolio.products["unit"].fillna("seat").to_numpy(dtype=object), "seat")
    per_seat = units[positions(owned["product_id"], portfolio.products["product_id"])] == "seat"
    at = owned["position"].to_numpy()
    keep = per_seat & (at >= 0)
    medians = pd.Series(owned["quantity"].to_numpy(dtype="float64")[keep]).groupby(at[keep]).median()
    column = np.full(len(account_ids), np.nan)
    column[medians.index.to_numpy()] = medians.to_numpy()
    return pd.DataFrame({"account_id": account_ids, "seat_quantity_median": column})


def _keen(s: pd.DataFrame, c: dict, settings: Mapping, exp_thr: float) -> np.ndarray:
    """Accounts that get expansion offers: a strong suggestion or a high expansion score, minus the hold-out."""
    keen = (c["suggestions"].severity >= TRIGGER["suggestions"]) | (
        s["expansion"].astype(float).to_numpy() >= exp_thr
    )
    pct = float(settings.get("todos.control_group_pct", 0.0))
    if pct > 0:
        candidates = np.flatnonzero(keen)
        ids = s["account_id"].iloc[candidates]
        held_out = control_group(ids, pct, int(settings.get("todos.control_group_seed", 0)))
        keen[candidates[held_out.to_numpy()]] = False
    return keen


def _cross_sell_rows(
    s, ids_text, c, suggestions, portfolio, as_of, settings, pricing_hint, exp_thr, currency
) -> list:
    """Bundle offers, then each keen account's best suggestion that no bundle offer already covers.

    Suggestions are narrowed to the columns read here and filtered by row number,
    so their long text columns are never copied; only a best suggestion or one
    of a bundle's products is valued, and a reason is fetched only for the
    suggestions that become to-dos.
    """
    if suggestions is None or suggestions.empty:
        return []
    ids = s["account_id"]
    bundles = _Bundles.of(portfolio.bundles) if len(portfolio.bundles) else None
    read = [col for col in (*SUGGESTION_COLUMNS, "rank") if col in suggestions.columns]
    ranked = top_suggestions(suggestions[read], top=1 if bundles is None else 10**6)
    at = positions(ranked["account_id"], ids)
    product = (
        np.full(len(ranked), -1) if bundles is None else positions(ranked["product_id"], bundles.product_ids)
    )
    useful = (ranked["rank"] == 1).to_numpy() | (product >= 0)
    kept = np.flatnonzero(useful & (at >= 0) & _keen(s, c, settings, exp_thr)[np.maximum(at, 0)])
    at, product = at[kept], product[kept]
    owned = _owned(portfolio, ids, as_of)
    offers = ranked[["account_id", "product_id", "rank", "confidence"]].iloc[kept].reset_index(drop=True)
    valued = suggestion_values(offers, portfolio, _seat_medians(portfolio, owned, ids))
    rows, covered = [], np.zeros(len(valued), dtype=bool)
    if bundles is not None and len(valued):
        value = valued["expected_arr"].to_numpy()
        offered, covered = _bundle_offers(bundles, portfolio, owned, ids, ids_text, at, product, value)
        if len(offered):
            rows.append(_bundle_rows(offered, s, c, portfolio, pricing_hint, currency))
    best = np.flatnonzero((valued["rank"] == 1).to_numpy() & ~covered)
    if len(best):
        reasons = ranked["reason"].iloc[kept[best]]
        rows.append(_best_suggestion_rows(valued.iloc[best], at[best], reasons, s, c, currency))
    return rows


def _bundle_rows(bundles: pd.DataFrame, s: pd.DataFrame, c: dict, portfolio, pricing_hint, currency):
    """bundle-offer to-dos for the chosen bundles."""
    pos = bundles["position"].to_numpy()
    return _rows(
        pos,
        "bundle-offer",
        _bundle_reasons(bundles, portfolio, pricing_hint, currency),
        c["suggestions"].evidence(pos),
        bundles["expected_arr"],
        s["expansion"].iloc[pos],
        bundles["bundle_id"],
    )


def _best_suggestion_rows(chosen, pos, reasons, s: pd.DataFrame, c: dict, currency: str) -> pd.DataFrame:
    """cross-sell to-dos for each account's best suggestion, with its readiness note when about that product."""
    chosen = chosen.reset_index(drop=True)
    product = as_text(chosen["product_id"])
    ready = c["readiness"]
    same_product = ready.text("product_id", pos).to_numpy() == product.to_numpy()
    ready_note = ready.text("reason", pos, (ready.severity[pos] > 0) & same_product).reset_index(drop=True)
    reason = pd.Series(
        concat(
            reasons.str.rstrip(".").fillna(""),
            ". Expected ",
            fmt_money(chosen["expected_arr"], currency, 3),
            " a year",
        ),
        dtype="object",
    )
    return _rows(
        pos,
        "cross-sell",
        _join(reason, ready_note),
        c["suggestions"].evidence(pos),
        chosen["expected_arr"],
        s["expansion"].iloc[pos],
        product,
    )


class _Bundles(NamedTuple):
    """The defined bundles as numbers: bundles and products are numbered in id order, so sorting sorts ids."""

    members: pd.DataFrame  # one row per product a bundle lists: bundle, product
    bundle_ids: pd.Index
    product_ids: pd.Index
    size: np.ndarray  # how many products each bundle lists

    @classmethod
    def of(cls, bundles: pd.DataFrame) -> _Bundles:
        listed = (
            bundles[["bundle_id", "product_ids"]]
            .assign(product_id=bundles["product_ids"].astype("str").str.split(";"))
            .explode("product_id")
        )
        listed["product_id"] = listed["product_id"].str.strip()
        bundle_ids = pd.Index(listed["bundle_id"].dropna().unique()).sort_values()
        product_ids = pd.Index(listed["product_id"].dropna().unique()).sort_values()
        bundle = positions(listed["bundle_id"], bundle_ids)
        product = positions(listed["product_id"], product_ids)
        known = (bundle >= 0) & (product >= 0)
        members = pd.DataFrame({"bundle": bundle[known], "product": product[known]})
        return cls(
            members, bundle_ids, product_ids, np.bincount(bundle[bundle >= 0], minlength=len(bundle_ids))
        )

    def expand(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (account, product, ...) once per bundle listing the product, with pair = account x bundle."""
        out = frame.merge(self.members, on="product")
        return out.assign(pair=out["account"] * len(self.bundle_ids) + out["bundle"])


def _bundle_candidates(bundles: _Bundles, owned, at, product, value) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bundles an account owns part of and is suggested all the rest of.

    The suggestions are given as their accounts' positions ``at``, ``product``
    numbers (-1: in no bundle) and expected ``value``; ``owned`` is as from
    ``_owned``. Joins and groupings run on these numbers, never on id strings.

    Returns:
        (the suggested products each account lacks, once per bundle listing
        them, in product order: account, product, expected_arr, bundle, pair;
        the candidates: pair, account, bundle, expected_arr). A pair numbers
        an (account, bundle).
    """
    n_products, n_bundles = len(bundles.product_ids), len(bundles.bundle_ids)
    held_account = owned["position"].to_numpy()
    held_product = positions(owned["product_id"], bundles.product_ids)
    mine = (held_account >= 0) & (held_product >= 0)
    held = pd.unique(held_account[mine] * n_products + held_product[mine])
    owned_n = bundles.expand(pd.DataFrame({"account": held // n_products, "product": held % n_products}))
    owned_n = owned_n["pair"].value_counts()

    missing = pd.DataFrame({"account": at, "product": product, "expected_arr": value})[product >= 0]
    missing = bundles.expand(missing)
    missing = missing[~np.isin(missing["account"] * n_products + missing["product"], held)]
    missing = missing.sort_values("product", kind="stable", ignore_index=True)
    grouped = missing.groupby("pair")
    suggested, expected = grouped.size(), grouped["expected_arr"].sum()
    owns = owned_n.reindex(expected.index, fill_value=0).to_numpy()
    pair = expected.index.to_numpy()
    candidates = pd.DataFrame(
        {
            "pair": pair,
            "account": pair // n_bundles,
            "bundle": pair % n_bundles,
            "expected_arr": expected.to_numpy(),
        }
    )
    complete = (owns >= 1) & (owns + suggested.to_numpy() == bundles.size[candidates["bundle"].to_numpy()])
    return missing, candidates[complete]


def _bundle_offers(bundles: _Bundles, portfolio, owned, ids, ids_text, at, product, value):
    """Each account's most valuable candidate bundle (ties go to the first bundle id).

    Arguments as for ``_bundle_candidates``; ``at`` are rows of ``ids`` (and
    of ``ids_text``, the same ids as plain strings).

    Returns:
        (one offer per account in account_id order: position, account_id,
        bundle_id, missing (product names), expected_arr; for each suggestion
        whether an offer covers it).
    """
    missing, candidates = _bundle_candidates(bundles, owned, at, product, value)
    account, bundle = candidates["account"].to_numpy(), candidates["bundle"].to_numpy()
    best = np.lexsort((bundle, -candidates["expected_arr"].to_numpy(), account))
    first = np.ones(len(best), dtype=bool)
    first[1:] = account[best][1:] != account[best][:-1]
    best = best[first]
    best = candidates.iloc[best[ids.array.take(account[best]).argsort()]]  # Arrow sorts ids fastest

    row = pd.Index(best["pair"]).get_indexer(missing["pair"])
    part = missing[row >= 0]
    names = lookup(pd.Series(bundles.product_ids), product_names(portfolio))
    names = names.fillna(as_text(pd.Series(bundles.product_ids)))
    listed = join_text(names.iloc[part["product"].to_numpy()], row[row >= 0], ", ")
    n_products = len(bundles.product_ids)
    covered = (product >= 0) & np.isin(
        at * n_products + product, part["account"] * n_products + part["product"]
    )
    position = best["account"].to_numpy()
    offers = pd.DataFrame(
        {
            "position": position,
            "account_id": pd.Series(ids_text[position], dtype="object"),
            "bundle_id": pd.Series(
                np.asarray(bundles.bundle_ids, dtype=object)[best["bundle"].to_numpy()], dtype="object"
            ),
            "missing": pd.Series(listed.to_numpy(dtype=object), dtype="object"),
            "expected_arr": best["expected_arr"].to_numpy(),
        }
    )
    return offers, covered


def _bundle_reasons(bundles: pd.DataFrame, portfolio: Portfolio, pricing_hint, currency: str) -> pd.Series:
    """Why a bundle: what the account owns, what it would add, the expected value and, if known, the price."""
    bundle_names = portfolio.bundles.set_index("bundle_id")["name"]
    reason = pd.Series(
        concat(
            "Owns part of the ",
            lookup(bundles["bundle_id"], bundle_names).fillna(as_text(bundles["bundle_id"])),
            " bundle, its other products are among this account's suggestions (",
            bundles["missing"],
            "), expected ",
            fmt_money(bundles["expected_arr"], currency, 3),
            " a year",
        ),
        dtype="object",
    )
    if pricing_hint is not None and {"account_id", "option", "monthly_price"} <= set(pricing_hint.columns):
        hint = pricing_hint.assign(bundle_id=pricing_hint["option"].astype("str").str.removeprefix("bundle:"))
        hint = bundles[["account_id", "bundle_id"]].merge(hint, on=["account_id", "bundle_id"], how="left")
        price = ", bundle priced at " + fmt_money(hint["monthly_price"], currency) + " a month"
        reason = reason + price.where(hint["monthly_price"].notna(), "")
    return reason


def _finish(todos, s, ids_text, portfolio, as_of, call_days, renewal) -> pd.DataFrame:
    """Ids, quadrant, titles, due dates and priority for the generated rows, most urgent first.

    The order (first of each id, by priority) is settled before the text
    columns are built, so they are built in place instead of shuffled after.
    """
    if todos.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in TODO_COLUMNS})
    position = todos["position"].to_numpy()
    kind = todos["kind"]
    product = todos["product_id"].fillna("")
    todo_id = todo_ids(pd.Series(ids_text[position], dtype="object"), kind, product)
    kind_codes, kinds = pd.factorize(kind)
    lead_days = np.array([LEAD_DAYS.get(k, 0) for k in kinds], dtype=float)
    lead = pd.to_timedelta(pd.Series(lead_days[kind_codes]), unit="D")
    evidence = pd.to_datetime(todos["evidence_at"]).dt.normalize()
    due = (evidence + lead).where(evidence.notna(), as_of + lead).clip(lower=as_of)
    renewal_due = (renewal.iloc[position].reset_index(drop=True) - pd.Timedelta(days=call_days)).clip(
        lower=as_of
    )
    due = due.where(kind.ne("renewal-call"), renewal_due)
    urgency = URGENCY_DAYS / (URGENCY_DAYS + (due - as_of).dt.days.clip(lower=0))
    factor = (todos["score"].fillna(0) / 100).clip(lower=MIN_SCORE_FACTOR)
    priority = (todos["arr_at_stake"].fillna(0) * urgency * factor).round(4)
    kept = priority[~todo_id.duplicated().to_numpy()]
    order = kept.sort_values(ascending=False, kind="stable").index.to_numpy()

    position, kind, product = position[order], kind.to_numpy()[order], product.to_numpy()[order]
    account_id = pd.Series(ids_text[position], dtype="object")
    name = pd.Series(_account_names(portfolio.accounts, s["account_id"])[position], dtype="object")
    kind = pd.Series(kind, dtype="object")
    return pd.DataFrame(
        {
            "todo_id": pd.Series(todo_id.to_numpy()[order], dtype="object"),
            "account_id": account_id,
            "kind": kind,
            "product_id": pd.Series(product, dtype="object"),
            "quadrant": pd.Series(as_text(s["quadrant"]).to_numpy()[position], dtype="object"),
            "title": _titles(
                name.fillna(account_id),
                kind_codes[order],
                kinds,
                pd.Series(product, dtype="object"),
                portfolio,
            ),
            "reason": pd.Series(todos["reason"].to_numpy()[order], dtype="object"),
            "priority_score": priority.to_numpy()[order],
            "due": due.to_numpy()[order],
            "evidence_at": evidence.to_numpy()[order],
            "playbook": kind,
        }
    )


def _account_names(accounts: pd.DataFrame, account_ids: pd.Series) -> np.ndarray:
    """Each account's display name (NaN if unknown); names are mostly distinct, so they are not factorized."""
    at = positions(account_ids, accounts["account_id"])
    found = at >= 0
    names = np.full(len(at), np.nan, dtype=object)
    names[found] = accounts["name"].iloc[at[found]].to_numpy(dtype=object)
    return names


def _titles(name: pd.Series, codes, kinds, product_id: pd.Series, portfolio: Portfolio) -> pd.Series:
    """One short imperative line per to-do: words set by its kind (and product), then the account's name.

    ``codes`` number each row's kind in ``kinds``. The words are written once
    per kind and product, then put before the names in one pass.
    """
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
    head = np.full(len(name), "", dtype=object)
    for code, key in enumerate(kinds):
        rows = np.flatnonzero(codes == code)
        lead, what, joint = templates.get(key, (key.replace("-", " ").capitalize() + ": ", "", ""))
        if not what:
            head[rows] = lead
        else:
            which, ids = pd.factorize(product_id.iloc[rows])
            ids = pd.Series(ids, dtype="object")
            table = (
                product_names(portfolio)
                if what == "product"
                else portfolio.bundles.set_index("bundle_id")["name"]
            )
            heads = (lead + lookup(ids, table).fillna(ids) + joint).where(ids.ne(""), "Offer more seats to ")
            head[rows] = heads.to_numpy(dtype=object)[which]
    return pd.Series(head, index=name.index, dtype="object") + name


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
    gone = existing[~is_in(existing["todo_id"], generated["todo_id"])].assign(
        active=False, evidence_prev=pd.NaT
    )
    dated = [column for column in ("due", "evidence_at") if column in fresh]
    # Dates parsed on each side first: concatenating timestamps with text builds a Python object
    # per cell (0.6 s for 200,000 to-dos).
    fresh = fresh.assign(**{column: _as_time(fresh[column]) for column in dated})
    gone = gone.assign(**{column: _as_time(gone[column]) for column in dated})
    merged = pd.concat([fresh, gone[fresh.columns]], ignore_index=True) if len(gone) else fresh
    merged["status"] = merged["status"].astype("object").where(merged["status"].notna(), "open")

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


def _in_days(days: pd.Series) -> np.ndarray:
    """When, from a count of days ahead: "today", "in 1 day", "in 12 days"."""
    return pick(days.eq(0).to_numpy(), "today", concat("in ", fmt_days(days)))
