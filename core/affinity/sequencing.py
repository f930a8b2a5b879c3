"""Purchase order: what accounts buy after what, and how long they take.

A product's first purchase by an account is the earliest ``start_date`` among its
non-trial subscriptions to it, churned ones included (the purchase happened). Timing
tells a manager whether an account is "due" for its next product. Everything works on
integer codes of accounts and products (ids are hashed once), so 100,000 accounts take
a fraction of a second.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.affinity.rules import check_portfolio
from core.frames import Portfolio, as_timestamp, is_in, positions_in, unique_rows

ATTACH_TIME_COLUMNS = ["product_a", "product_b", "accounts", "median_days", "p25_days", "p75_days"]
NEXT_COLUMNS = ["after", "after_size", "next_product", "count", "accounts_after", "share", "rank"]
SECOND_COLUMNS = ["account_id", "first_product", "first_date", "second_product", "second_date", "days"]


@dataclass
class _Purchases:
    """First purchases as codes, sorted by account id, date, product id."""

    accounts: np.ndarray  # distinct account ids, sorted
    products: np.ndarray  # distinct product ids, sorted
    account: np.ndarray  # index into accounts, per purchase
    product: np.ndarray  # index into products, per purchase
    day: np.ndarray  # int64 days since 1970-01-01


_last: list = [None, None, None, None]  # weak refs to (subscriptions, accounts), the date, first purchases


def _purchases(portfolio: Portfolio, as_of: Any = None) -> _Purchases:
    """First purchases of ``portfolio``'s accounts by ``as_of``; the last answer is remembered.

    A recompute asks four times in a row for the same book (attach times, next product,
    second product, roles): 0.3 s each at 100,000 accounts. The memo holds its frames only
    weakly and answers only for the very same frame objects, which the analyses never modify.
    """
    check_portfolio(portfolio)
    stamp = None if as_of is None else as_timestamp(as_of)
    subs, accounts, when, bought = _last
    if (
        subs is not None
        and subs() is portfolio.subscriptions
        and accounts() is portfolio.accounts
        and when == stamp
    ):
        return bought
    bought = _first_purchases(portfolio, stamp)
    _last[:] = [weakref.ref(portfolio.subscriptions), weakref.ref(portfolio.accounts), stamp, bought]
    return bought


def _first_purchases(portfolio: Portfolio, as_of: pd.Timestamp | None) -> _Purchases:
    subs = portfolio.subscriptions
    subs = subs[(subs["status"] != "trial") & subs["start_date"].notna()]
    if as_of is not None:
        subs = subs[subs["start_date"] <= as_of]
    subs = subs[is_in(subs["account_id"], portfolio.accounts["account_id"])]
    account, accounts = _sorted_codes(subs["account_id"])
    product, products = _sorted_codes(subs["product_id"])
    day = subs["start_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    earliest = np.lexsort((day, product, account))
    pair = account[earliest] * max(len(products), 1) + product[earliest]
    first = earliest[np.r_[True, pair[1:] != pair[:-1]]] if len(pair) else earliest
    order = first[np.lexsort((product[first], day[first], account[first]))]
    return _Purchases(accounts, products, account[order], product[order], day[order])


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes into the sorted distinct values (as str)."""
    codes, uniques = pd.factorize(values.astype(str))
    if len(uniques) == 0:
        return codes.astype(np.int64), np.zeros(0, dtype=object)
    order = pc.sort_indices(pa.array(np.asarray(uniques, dtype=object), type=pa.large_string())).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], np.asarray(uniques, dtype=object)[order]


def _text(values: np.ndarray, at: np.ndarray | pa.Array) -> pd.Series:
    return pd.Series(pa.array(values, type=pa.large_string()).take(at), dtype="str")


def _dates(days: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    dates = days.astype("datetime64[D]").astype("datetime64[ns]")
    if missing is not None:
        dates[missing] = np.datetime64("NaT")
    return dates


def first_purchases(portfolio: Portfolio, as_of: Any = None) -> pd.DataFrame:
    """Each account's first purchase date of each product (non-trial subscriptions, churned included).

    Only accounts of ``portfolio.accounts`` count; with ``as_of``, only purchases started by then.

    Returns:
        DataFrame with columns ``account_id``, ``product_id``, ``first_date``, sorted by account_id,
        first_date, product_id.
    """
    bought = _purchases(portfolio, as_of)
    return pd.DataFrame(
        {
            "account_id": _text(bought.accounts, bought.account),
            "product_id": _text(bought.products, bought.product),
            "first_date": _dates(bought.day),
        }
    )


def time_to_attach(portfolio: Portfolio, as_of: Any = None) -> pd.DataFrame:
    """How long accounts take to add product B after first buying A, for every pair seen in that order.

    Only accounts whose first purchase of B came strictly after their first purchase of A count.

    Returns:
        DataFrame with columns ``product_a``, ``product_b``, ``accounts`` (accounts that bought B
        after A), ``median_days``, ``p25_days``, ``p75_days`` (float days, linear quantiles as
        numpy and pandas compute them); sorted by product_a, product_b.
    """
    bought = _purchases(portfolio, as_of)
    per_account = np.bincount(bought.account, minlength=len(bought.accounts))
    start = np.cumsum(per_account) - per_account
    # Every ordered pair of purchases of the same account.
    repeat = per_account[bought.account]
    left = np.repeat(np.arange(len(bought.account)), repeat)
    right = np.repeat(start[bought.account], repeat) + _ranges(repeat)
    later = bought.day[right] > bought.day[left]
    left, right = left[later], right[later]
    if len(left) == 0:
        types = ["str", "str", "int64"] + ["float64"] * 3
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(ATTACH_TIME_COLUMNS, types, strict=True)})
    key = bought.product[left] * len(bought.products) + bought.product[right]
    days = (bought.day[right] - bought.day[left]).astype(np.float64)
    order = np.lexsort((days, key))
    key, days = key[order], days[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    size = np.diff(np.r_[first, len(key)])

    def quantile(q: float) -> np.ndarray:
        position = first + q * (size - 1)
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, first + size - 1)
        return days[low] + (position - low) * (days[high] - days[low])

    a, b = np.divmod(key[first], len(bought.products))
    return pd.DataFrame(
        {
            "product_a": _text(bought.products, a),
            "product_b": _text(bought.products, b),
            "accounts": size.astype(np.int64),
            "median_days": quantile(0.5),
            "p25_days": quantile(0.25),
            "p75_days": quantile(0.75),
        }
    )


def next_product(portfolio: Portfolio, as_of: Any = None) -> pd.DataFrame:
    """After an account has bought a given set of products, which product it buys next.

    An account's purchase history is cut at each distinct first-purchase date: the set bought
    before the date is ``after``; every product first bought on that date is a next product (so
    shares of one set may sum to more than 1 when accounts buy two at once). Every set an account
    has reached before a further purchase appears, which includes each account's first purchase.

    Returns:
        DataFrame with columns ``after`` (product ids joined by ';', sorted), ``after_size``,
        ``next_product``, ``count`` (accounts that bought it next), ``accounts_after`` (accounts
        that bought anything next after reaching the set), ``share`` (count / accounts_after) and
        ``rank`` (1 = most common next product for the set); sorted by after_size, after, rank.
    """
    bought = _purchases(portfolio, as_of)
    types = ["str", "int64", "str", "int64", "int64", "float64", "int64"]
    empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(NEXT_COLUMNS, types, strict=True)})
    account, product = bought.account, bought.product
    if len(account) == 0:
        return empty
    new_date = np.r_[True, (account[1:] != account[:-1]) | (bought.day[1:] != bought.day[:-1])]
    new_account = np.r_[True, account[1:] != account[:-1]]
    running = np.cumsum(new_date)
    step = running - running[new_account][np.cumsum(new_account) - 1] + 1  # 1 = first purchase date
    last_step = np.zeros(len(bought.accounts), dtype=np.int64)
    np.maximum.at(last_step, account, step)
    steps_per_account = np.maximum(last_step - 1, 0)  # s purchase dates make s-1 further purchases
    if steps_per_account.sum() == 0:
        return empty
    offsets = np.cumsum(steps_per_account) - steps_per_account
    # Product bought at step r belongs to the "already bought" set of transitions r .. s-1.
    repeats = last_step[account] - step
    member_rows = np.repeat(offsets[account] + step - 1, repeats) + _ranges(repeats)
    bought_sets = np.zeros((int(steps_per_account.sum()), len(bought.products)), dtype=bool)
    bought_sets[member_rows, np.repeat(product, repeats)] = True
    set_ids, set_rows = unique_rows(bought_sets)
    is_next = step >= 2
    next_row = offsets[account[is_next]] + step[is_next] - 2
    moves = pd.DataFrame({"set_id": set_ids[next_row], "next_idx": product[is_next]})
    counts = moves.groupby(["set_id", "next_idx"]).size().rename("count").reset_index()
    reached = np.bincount(set_ids, minlength=len(set_rows))
    labels = np.asarray([";".join(bought.products[row]) for row in set_rows], dtype=object)
    sizes = set_rows.sum(axis=1)
    table = pd.DataFrame(
        {
            "after": pd.array(labels[counts["set_id"]], dtype="str"),
            "after_size": sizes[counts["set_id"]].astype("int64"),
            "next_product": _text(bought.products, counts["next_idx"].to_numpy()),
            "count": counts["count"].astype("int64"),
            "accounts_after": reached[counts["set_id"]].astype("int64"),
        }
    )
    table["share"] = table["count"] / table["accounts_after"]
    table = table.sort_values(
        ["after_size", "after", "count", "next_product"], ascending=[True, True, False, True]
    )
    table["rank"] = table.groupby("after", sort=False).cumcount().astype("int64") + 1
    return table.reset_index(drop=True)[NEXT_COLUMNS]


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """0, 1, ..., n-1 for each n in ``lengths``, concatenated."""
    total = int(lengths.sum())
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total) - starts


def time_to_second_product(portfolio: Portfolio, as_of: Any = None) -> pd.DataFrame:
    """Each account's first purchase and the next distinct product it bought, with the gap in days.

    Products bought on the same day are ordered by product id, so an account that started with
    two products has a second product after 0 days.

    Returns:
        DataFrame with columns ``account_id``, ``first_product``, ``first_date``,
        ``second_product``, ``second_date``, ``days`` (float; NaN when there is no second product,
        and all but account_id missing for accounts that never bought); one row per account of
        ``portfolio.accounts``, sorted by account_id.
    """
    bought = _purchases(portfolio, as_of)
    per_account = np.bincount(bought.account, minlength=len(bought.accounts))
    start = np.cumsum(per_account) - per_account
    everyone = np.sort(portfolio.accounts["account_id"].astype(str).to_numpy(dtype=object))
    found = positions_in(pd.Series(everyone), pd.Index(bought.accounts))
    safe = np.maximum(found, 0)
    first = np.where(found >= 0, start[safe] if len(start) else -1, -1)
    second = np.where((found >= 0) & (per_account[safe] >= 2 if len(start) else False), first + 1, -1)
    first_day = np.where(first >= 0, bought.day[np.maximum(first, 0)] if len(bought.day) else 0, -1)
    second_day = np.where(second >= 0, bought.day[np.maximum(second, 0)] if len(bought.day) else 0, -1)
    days = np.where(second >= 0, (second_day - first_day).astype(np.float64), np.nan)
    return pd.DataFrame(
        {
            "account_id": pd.array(everyone, dtype="str"),
            "first_product": _text(bought.products, _product_at(bought, first)),
            "first_date": _dates(first_day, first < 0),
            "second_product": _text(bought.products, _product_at(bought, second)),
            "second_date": _dates(second_day, second < 0),
            "days": days,
        }
    )[SECOND_COLUMNS]


def _product_at(bought: _Purchases, purchase: np.ndarray) -> pa.Array:
    """Product index of each purchase position, null where the position is -1."""
    index = bought.product[np.maximum(purchase, 0)] if len(bought.product) else np.zeros(len(purchase), int)
    return pa.array(index, mask=purchase < 0)
