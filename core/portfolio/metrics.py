"""The manager's figures for the whole book and each segment, and each owner's share of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.frames import Portfolio, as_timestamp, require_portfolio_columns
from core.portfolio.adoption import attach_rows, role_rows, second_product_rows
from core.portfolio.book import owner_table, quadrant_rows, renewal_rows, todo_rows
from core.portfolio.breadth import book_rows, trend_rows
from core.portfolio.holdings import holdings, prepare
from core.portfolio.retention import retention_rows
from core.portfolio.segments import AccountIndex, as_frame

_NEEDED: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id", "segment"),
    "products": ("product_id", "list_price"),
    "subscriptions": (
        "account_id",
        "product_id",
        "start_date",
        "end_date",
        "quantity",
        "mrr",
        "status",
        "churned_at",
    ),
}
_INPUTS: dict[str, tuple[str, ...]] = {
    "scores": ("account_id", "risk", "quadrant", "arr"),
    "todos": ("account_id", "status", "due"),
    "roles": ("product_id", "role"),
    "attach": ("product_a", "product_b", "accounts_a", "attach_rate"),
}


def _check(portfolio: Portfolio, **frames: pd.DataFrame | None) -> None:
    require_portfolio_columns(portfolio, _NEEDED)
    _check_inputs(**frames)


def _check_inputs(**frames: pd.DataFrame | None) -> None:
    for name, frame in frames.items():
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"{name} must be a DataFrame.")
        missing = [c for c in _INPUTS[name] if c not in frame.columns]
        if missing and not (frame.empty and len(frame.columns) == 0):
            raise ValueError(f"{name} lacks column(s): {', '.join(missing)}.")


def _or_empty(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    if frame.empty and any(c not in frame.columns for c in _INPUTS[name]):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in _INPUTS[name]})
    return frame


def portfolio_metrics(
    portfolio: Portfolio,
    scores: pd.DataFrame,
    todos: pd.DataFrame,
    roles: pd.DataFrame,
    attach: pd.DataFrame,
    as_of: Any,
    settings: Mapping[str, Any],
) -> pd.DataFrame:
    """The manager's picture of the book, in total and per segment, from pure inputs.

    Why: a manager acts on breadth, revenue mix, retention of single- against multi-product
    customers, speed to a second product, where accounts sit in the quadrants and what renews
    soon. Owning a product means an active subscription (``owned_as_of``); a customer is an
    account that owns at least one; ARR is 12 x the MRR of owned subscriptions.

    Metrics (segment rows ``all``, ``enterprise``, ``mid-market``, ``smb`` unless noted):
    ``accounts`` (customers), ``arr``, ``products_per_customer_mean`` / ``_median`` (distinct
    owned products per customer), ``products_per_customer_<k>`` (customers owning exactly k),
    ``multi_product_revenue_share`` (ARR of customers with 2+ products / ARR, 0-1),
    ``products_per_customer_mean_<YYYY>Q<n>`` (the last 8 quarters, each measured at its end,
    the current one at as_of), ``gross_churn_rate[_single|_multi]``, ``nrr[_single|_multi]``,
    ``logo_churn_rate[_single|_multi]``, ``retention_accounts[_single|_multi]`` (over the 12
    months to as_of for the customers of 12 months ago split by their product count then:
    gross churn = ARR lost to subscriptions churned since / starting ARR; NRR = (starting ARR -
    churned ARR + ARR of subscriptions started since and still owned) / starting ARR, each
    subscription at its recorded MRR), ``time_to_second_product_days_median`` (first purchase
    to first purchase of a second distinct product, non-trial, over accounts that bought one),
    ``time_to_second_product_days_median_<YYYY>`` (by year of first purchase),
    ``second_product_share``, ``quadrant_accounts_<q>``, ``quadrant_arr_<q>`` (from scores),
    ``renewal_arr_30d``, ``renewal_arr_90d`` (ARR of owned subscriptions ending within N days),
    ``renewal_arr_at_risk_90d`` (of those, accounts with risk >= ``quadrant.risk_threshold``),
    ``todos_open``, ``todos_overdue``, ``role_products_<role>`` ('all' only),
    ``role_arr_<role>``, ``role_accounts_<role>``, ``attach_pairs_strong`` and
    ``attach_rate_median`` ('all' only). Ratios with nothing to divide by are NaN.

    Returns:
        DataFrame with columns ``metric``, ``segment``, ``value`` (float).
    """
    _check(portfolio, todos=todos)
    return with_todos(book_figures(portfolio, scores, roles, attach, as_of, settings), todos)


@dataclass(frozen=True)
class BookFigures:
    """Every figure of ``portfolio_metrics`` but the to-do counts, as rows in the table's order.

    The to-do counts change with each user's action, so a recompute adds them last, under the
    store's write lock; the rest is worked out beside the saving of the results.
    """

    index: AccountIndex
    as_of: pd.Timestamp
    before: list[tuple[str, str, float]]
    after: list[tuple[str, str, float]]


def book_figures(
    portfolio: Portfolio,
    scores: pd.DataFrame,
    roles: pd.DataFrame,
    attach: pd.DataFrame,
    as_of: Any,
    settings: Mapping[str, Any],
) -> BookFigures:
    """The manager's figures that do not count to-dos (see ``portfolio_metrics``)."""
    _check(portfolio, scores=scores, roles=roles, attach=attach)
    if "quadrant.risk_threshold" not in settings:
        raise ValueError("settings lack quadrant.risk_threshold: pass the merged settings from resolve().")
    stamp = as_timestamp(as_of)
    scores = _or_empty(scores, "scores")
    roles, attach = _or_empty(roles, "roles"), _or_empty(attach, "attach")
    index = AccountIndex.of(portfolio.accounts)
    subs = prepare(portfolio, index)
    now = holdings(index, subs, stamp)
    rows = book_rows(index, now)
    rows += trend_rows(index, subs, stamp)
    rows += retention_rows(index, subs, stamp)
    rows += second_product_rows(index, subs, stamp)
    rows += quadrant_rows(index, now, scores)
    rows += renewal_rows(index, subs, scores, stamp, float(settings["quadrant.risk_threshold"]))
    return BookFigures(
        index, stamp, rows, role_rows(index, subs, roles, stamp) + attach_rows(attach, settings)
    )


def with_todos(figures: BookFigures, todos: pd.DataFrame) -> pd.DataFrame:
    """``portfolio_metrics``'s table: the book's figures with the to-do counts of ``todos``."""
    _check_inputs(todos=todos)
    todo_counts = todo_rows(figures.index, _or_empty(todos, "todos"), figures.as_of)
    return as_frame(figures.before + todo_counts + figures.after)


def owner_book(portfolio: Portfolio, scores: pd.DataFrame, todos: pd.DataFrame, as_of: Any) -> pd.DataFrame:
    """Each account owner's book: how much they carry, where their accounts sit, and their to-do backlog.

    Why: a manager balances books between CSMs and spots who is drowning in overdue work.
    Accounts without an owner are grouped as ``(unassigned)``; owners with no customer, scored
    account or to-do are left out.

    Returns:
        DataFrame, sorted by owner, with columns ``owner``, ``accounts`` (customers: accounts with
        an active subscription), ``arr`` (12 x their active MRR), ``fix-and-expand``, ``rescue``,
        ``expand``, ``nurture`` (scored accounts per quadrant), ``open_todos`` and
        ``overdue_todos`` (open and due before as_of).
    """
    _check(portfolio, scores=scores, todos=todos)
    stamp = as_timestamp(as_of)
    scores, todos = _or_empty(scores, "scores"), _or_empty(todos, "todos")
    index = AccountIndex.of(portfolio.accounts)
    subs = prepare(portfolio, index)
    accounts = portfolio.accounts.assign(account_id=portfolio.accounts["account_id"].astype(str))
    accounts = accounts.drop_duplicates("account_id")
    owners = accounts["owner"] if "owner" in accounts.columns else pd.Series(pd.NA, index=accounts.index)
    return owner_table(
        index, owners.reset_index(drop=True), holdings(index, subs, stamp), scores, todos, stamp
    )
