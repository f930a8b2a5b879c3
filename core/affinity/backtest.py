"""How well the suggestions would have predicted real purchases, against a popularity baseline.

Everything is rebuilt from the book as it stood ``months`` before ``as_of`` (ownership,
rules, attach rates, roles, timing, suggestions), then compared with the products the
accounts really went on to buy. A manager can trust the suggestions as far as they beat
"offer the most popular product the account lacks".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from core.affinity.attach import attach_matrix
from core.affinity.roles import product_roles
from core.affinity.rules import all_and_segment_rules, check_portfolio
from core.affinity.sequencing import time_to_attach
from core.affinity.suggestions import suggest
from core.frames import Portfolio, as_timestamp, is_in

TOP = 3
PER_ACCOUNT_COLUMNS = [
    "account_id",
    "bought",
    "suggested",
    "baseline",
    "hit_at_1",
    "hits_at_3",
    "baseline_hit_at_1",
    "baseline_hits_at_3",
]


def portfolio_as_of(portfolio: Portfolio, cutoff: Any) -> Portfolio:
    """The book as it stood on ``cutoff``: accounts that existed, subscriptions started by then, churn not yet known.

    An account existed when its ``created_at`` is on or before the cutoff, or, without one, when it
    had a subscription (trials included) starting by then. A subscription churned after the cutoff
    was active on it. Activities and NPS after the cutoff are dropped.
    """
    check_portfolio(portfolio)
    stamp = as_timestamp(cutoff)
    accounts, subs = portfolio.accounts, portfolio.subscriptions
    by_then = (subs["start_date"] <= stamp).to_numpy()
    with_subs = subs["account_id"][by_then]
    ids = accounts["account_id"].astype(str)
    created = pd.to_datetime(accounts["created_at"]) if "created_at" in accounts.columns else None
    if created is None:
        existed = is_in(ids, with_subs)
    else:
        existed = (created <= stamp).to_numpy() | (created.isna().to_numpy() & is_in(ids, with_subs))
    kept = accounts[np.asarray(existed)]
    kept_ids = kept["account_id"]
    started = subs[by_then & is_in(subs["account_id"], kept_ids)]  # one copy of the subscriptions, not two
    churned_later = (started["status"] == "churned") & (started["churned_at"] > stamp)
    started = started.assign(
        status=started["status"].where(~churned_later, "active"),
        churned_at=started["churned_at"].where(~churned_later, pd.NaT),
    )

    def dated(frame: pd.DataFrame) -> pd.DataFrame:
        if "account_id" not in frame.columns or len(frame) == 0:
            return frame
        frame = frame[is_in(frame["account_id"], kept_ids)]
        return frame[pd.to_datetime(frame["date"]) <= stamp] if "date" in frame.columns else frame

    return Portfolio(
        accounts=kept,
        products=portfolio.products,
        subscriptions=started,
        contacts=dated(portfolio.contacts),
        activities=dated(portfolio.activities),
        nps=dated(portfolio.nps),
        bundles=portfolio.bundles,
    )


def backtest(portfolio: Portfolio, as_of: Any, months: int, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Replay the suggestions from ``months`` before ``as_of`` and score them on what accounts then bought.

    A purchase is a non-trial subscription starting in (cutoff, as_of] to a product the account did
    not own at the cutoff. Hit rates and precision are over *buyers* — accounts that existed at the
    cutoff and made such a purchase — since a suggestion can only come true when the account buys.
    The baseline offers the products most owned at the cutoff that the account lacks.

    Returns:
        dict with ``cutoff``, ``as_of`` (Timestamps), ``months``, ``accounts_evaluated`` (accounts that
        existed at the cutoff), ``buyers``, ``hit_rate_at_1`` (buyers whose top suggestion was bought),
        ``hit_rate_at_3`` (any of the top 3 bought), ``precision_at_3`` (mean share of the top 3 bought,
        out of 3), the same three prefixed ``baseline_``, and ``per_account``: a DataFrame of buyers
        with columns ``account_id``, ``bought``, ``suggested``, ``baseline`` (';'-joined product ids),
        ``hit_at_1``, ``hits_at_3``, ``baseline_hit_at_1``, ``baseline_hits_at_3``.
    """
    stamp = as_timestamp(as_of)
    if int(months) < 1:
        raise ValueError(f"months must be at least 1; got {months!r}.")
    cutoff = stamp - pd.DateOffset(months=int(months))
    # The replay reads no activities or NPS, and of the contacts only their departments: dated copies
    # of the rest would only take memory (about 100 MB each at 100,000 accounts).
    read = replace(
        portfolio,
        activities=portfolio.activities[:0],
        nps=portfolio.nps[:0],
        contacts=portfolio.contacts[["account_id", "department"]],
    )
    past = portfolio_as_of(read, cutoff)

    rules_all, rules_seg, owned = all_and_segment_rules(past, settings, cutoff)
    attach = attach_matrix(past, cutoff, settings, owned)
    roles = product_roles(past, attach, cutoff, settings)
    seq = time_to_attach(past)
    suggestions = suggest(past, rules_all, rules_seg, attach, roles, seq, cutoff, settings, reasons=False)

    owned = owned.sort_index()
    accounts = pd.Index(owned.index)
    products = pd.Index([str(c) for c in owned.columns])
    bought = _bought(portfolio.subscriptions, accounts, products, cutoff, stamp) & ~owned.to_numpy(dtype=bool)
    buyers = bought.any(axis=1)

    model_top = _top_matrix(suggestions, accounts, products)
    popularity = owned.to_numpy(dtype=bool).sum(axis=0)
    baseline_top = _popular_top(owned.to_numpy(dtype=bool), popularity)
    model = _score(model_top, bought)
    baseline = _score(baseline_top, bought)

    rows = np.flatnonzero(buyers)
    ids = products.to_numpy(dtype=object)
    per_account = pd.DataFrame(
        {
            "account_id": accounts.to_numpy(dtype=object)[rows],
            "bought": [";".join(ids[bought[r]]) for r in rows],
            "suggested": [";".join(ids[c] for c in model_top[r] if c >= 0) for r in rows],
            "baseline": [";".join(ids[c] for c in baseline_top[r] if c >= 0) for r in rows],
            "hit_at_1": model["hit1"][rows],
            "hits_at_3": model["hits"][rows],
            "baseline_hit_at_1": baseline["hit1"][rows],
            "baseline_hits_at_3": baseline["hits"][rows],
        },
        columns=PER_ACCOUNT_COLUMNS,
    )
    n_buyers = int(buyers.sum())

    def rate(values: np.ndarray) -> float:
        return float(values[buyers].mean()) if n_buyers else float("nan")

    result: dict[str, Any] = {
        "cutoff": cutoff,
        "as_of": stamp,
        "months": int(months),
        "accounts_evaluated": len(accounts),
        "buyers": n_buyers,
    }
    for prefix, figures in (("", model), ("baseline_", baseline)):
        result[f"{prefix}hit_rate_at_1"] = rate(figures["hit1"])
        result[f"{prefix}hit_rate_at_3"] = rate(figures["hits"] > 0)
        result[f"{prefix}precision_at_3"] = rate(figures["hits"] / TOP)
    result["per_account"] = per_account
    return result


def _bought(
    subscriptions: pd.DataFrame,
    accounts: pd.Index,
    products: pd.Index,
    cutoff: pd.Timestamp,
    as_of: pd.Timestamp,
) -> np.ndarray:
    """Dense accounts x products: a non-trial subscription started in (cutoff, as_of]."""
    new = subscriptions[
        (subscriptions["status"] != "trial")
        & (subscriptions["start_date"] > cutoff)
        & (subscriptions["start_date"] <= as_of)
    ]
    matrix = np.zeros((len(accounts), len(products)), dtype=bool)
    rows = accounts.get_indexer(new["account_id"].astype(str))
    cols = products.get_indexer(new["product_id"].astype(str))
    ok = (rows >= 0) & (cols >= 0)
    matrix[rows[ok], cols[ok]] = True
    return matrix


def _top_matrix(suggestions: pd.DataFrame, accounts: pd.Index, products: pd.Index) -> np.ndarray:
    """The top 3 suggested product columns per account, -1 where fewer were suggested."""
    top = np.full((len(accounts), TOP), -1, dtype=np.int64)
    best = suggestions[suggestions["rank"] <= TOP]
    rows = accounts.get_indexer(best["account_id"].astype(str))
    cols = products.get_indexer(best["product_id"].astype(str))
    ok = (rows >= 0) & (cols >= 0)
    top[rows[ok], best["rank"].to_numpy()[ok] - 1] = cols[ok]
    return top


def _popular_top(owned: np.ndarray, popularity: np.ndarray) -> np.ndarray:
    """Per account, the 3 most owned products it lacks (ties by product id), -1 where it lacks fewer."""
    order = np.argsort(-popularity, kind="stable")
    lacking = ~owned[:, order]
    position = np.argsort(~lacking, axis=1, kind="stable")[:, :TOP]
    chosen = order[position]
    valid = np.take_along_axis(lacking, position, axis=1)
    top = np.where(valid, chosen, -1)
    if top.shape[1] < TOP:
        top = np.hstack([top, np.full((len(top), TOP - top.shape[1]), -1)])
    return top


def _score(top: np.ndarray, bought: np.ndarray) -> dict[str, np.ndarray]:
    rows = np.arange(len(top))[:, None]
    hit = (top >= 0) & bought[rows, np.maximum(top, 0)]
    return {"hit1": hit[:, 0], "hits": hit.sum(axis=1)}
