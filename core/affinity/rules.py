"""Association rules between products: which products accounts tend to own together.

Frequent itemsets come from mlxtend: ``apriori(low_memory=True)`` for books under 50,000
accounts, ``hmine`` from there (both a few MB; same itemsets). Measured on 40 products at
min support 0.1%: 10,000 accounts apriori 0.05 s / hmine 0.08 s; 100,000: 0.30 s / 0.19 s;
1,000,000: 2.75 s / 1.44 s; fpgrowth took 1.9 s and plain apriori 3.4 GB at 100,000
(see bench/bench_affinity.py). The rules themselves are
derived here from the *integer* itemset counts rather than with mlxtend's
``association_rules``, which works from float supports and is slower: every figure
is then one division of exact integers, so it equals a direct count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from mlxtend.frequent_patterns import apriori, hmine

from core.frames import (
    SEGMENTS,
    Portfolio,
    as_timestamp,
    owned_as_of,
    positions_in,
    require_portfolio_columns,
)

RULE_COLUMNS = [
    "antecedents",
    "consequents",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "count",
]
EXTRA_COLUMNS = ["segment", "antecedent_count", "consequent_count"]


def check_portfolio(portfolio: Portfolio) -> None:
    """Refuse a portfolio whose core tables lack the columns the affinity analyses read."""
    needed = {
        "accounts": ("account_id", "segment"),
        "products": ("product_id", "name"),
        "subscriptions": ("account_id", "product_id", "start_date", "status", "churned_at"),
    }
    require_portfolio_columns(portfolio, needed)
    if portfolio.accounts["account_id"].duplicated().any():
        raise ValueError("portfolio.accounts has duplicate account_id values.")
    if portfolio.products["product_id"].duplicated().any():
        raise ValueError("portfolio.products has duplicate product_id values.")


def product_ids(portfolio: Portfolio) -> list[str]:
    """Every product of the catalogue, sorted: the fixed column order of every one-hot frame."""
    return sorted(portfolio.products["product_id"].astype(str).unique())


def ownership_onehot(portfolio: Portfolio, as_of: Any, segment: str | None = None) -> pd.DataFrame:
    """Who owns what on ``as_of``: a boolean frame, one row per account (owners of nothing included).

    Returns a bool DataFrame indexed by account_id (the accounts table's order, restricted to
    ``segment`` when given) with one column per catalogue product id, sorted.
    """
    ids, columns, days = holding_days(portfolio, as_of, segment)
    return pd.DataFrame(~np.isnan(days), index=ids, columns=columns)


def holding_days(
    portfolio: Portfolio, as_of: Any, segment: str | None = None, sort_accounts: bool = False
) -> tuple[pd.Index, pd.Index, np.ndarray]:
    """How long each account has held each product on ``as_of``, in days since its earliest owning subscription.

    Returns:
        (account ids, product ids, float matrix accounts x products, NaN where not owned). Accounts
        are in the accounts table's order (sorted when ``sort_accounts``), products sorted.
    """
    check_portfolio(portfolio)
    stamp = as_timestamp(as_of)
    accounts = portfolio.accounts
    if segment is not None:
        if segment not in SEGMENTS:
            raise ValueError(f"segment must be one of {', '.join(SEGMENTS)}; got {segment!r}.")
        accounts = accounts[accounts["segment"] == segment]
    ids = pd.Index(accounts["account_id"].astype(str), name="account_id")
    if sort_accounts:
        ids = ids.sort_values()
    held = owned_as_of(portfolio.subscriptions, stamp)
    # frames.ownership_matrix (pd.crosstab) answers the same, but takes seconds at 100,000 accounts.
    held_products = pd.unique(held["product_id"].astype(str))
    columns = pd.Index(sorted(set(product_ids(portfolio)) | {str(p) for p in held_products}))
    cols = positions_in(held["product_id"], columns)
    rows = positions_in(held["account_id"], ids)
    ok = rows >= 0
    days = np.full((len(ids), len(columns)), np.nan)
    since = (stamp - pd.to_datetime(held["start_date"])).dt.days.to_numpy(dtype="float64")
    np.fmax.at(days, (rows[ok], cols[ok]), since[ok])
    return ids, columns, days


def min_itemset_count(n_accounts: int, settings: Mapping[str, Any]) -> int:
    """The smallest count an itemset needs: max(rules.min_count, rules.min_support x accounts), at least 1."""
    by_share = math.ceil(float(settings["rules.min_support"]) * n_accounts - 1e-9)
    return max(1, int(settings["rules.min_count"]), by_share)


HMINE_FROM_ROWS = 50_000
"""From this many accounts hmine finds the itemsets faster than apriori(low_memory=True)."""


def frequent_itemsets(onehot: pd.DataFrame, min_support: float, max_len: int) -> pd.DataFrame:
    """Itemsets owned together by at least ``min_support`` of the rows (mlxtend apriori or hmine).

    Args:
        onehot: bool frame, one row per account, one column per product.
        min_support: a fraction of all rows, in (0, 1].
        max_len: the largest itemset size.

    Returns:
        DataFrame with columns ``itemsets`` (tuple of column names, sorted), ``count`` (int),
        ``support`` (count / rows) and ``length``, sorted by length then itemset.
    """
    if not isinstance(onehot, pd.DataFrame):
        raise ValueError("onehot must be a DataFrame of booleans.")
    if not 0 < min_support <= 1:
        raise ValueError(f"min_support must be in (0, 1]; got {min_support!r}.")
    if int(max_len) < 1:
        raise ValueError(f"max_len must be at least 1; got {max_len!r}.")
    n = len(onehot)
    columns = [str(c) for c in onehot.columns]
    threshold = max(1, math.ceil(min_support * n - 1e-9))
    items, counts = _itemset_counts(onehot.to_numpy(dtype=bool), threshold, int(max_len))
    itemsets = [tuple(sorted(columns[i] for i in row if i >= 0)) for row in items]
    frame = pd.DataFrame({"itemsets": pd.Series(itemsets, dtype=object), "count": counts})
    frame = frame.assign(
        support=frame["count"] / n if n else frame["count"].astype(float),
        length=frame["itemsets"].map(len).astype("int64"),
        _key=frame["itemsets"].map(";".join),
    )
    return frame.sort_values(["length", "_key"]).drop(columns="_key").reset_index(drop=True)


def _itemset_counts(
    values: np.ndarray, threshold: int, max_len: int, algorithm: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Frequent itemsets as column indices (rows ascending, -1 padded to max_len) and their integer counts.

    ``algorithm`` is "apriori" or "hmine"; by default the faster one for the book's size.
    """
    n = len(values)
    if n == 0 or values.shape[1] == 0 or threshold > n:
        return np.zeros((0, max_len), dtype=np.int64), np.zeros(0, dtype=np.int64)
    frame = pd.DataFrame(values, columns=range(values.shape[1]))
    # Slightly below the threshold: mlxtend compares floats, the integer filter below is exact.
    support = max((threshold - 0.5) / n, 1e-12)
    if (algorithm or ("hmine" if n >= HMINE_FROM_ROWS else "apriori")) == "hmine":
        found = hmine(frame, min_support=support, max_len=max_len)
    else:
        found = apriori(frame, min_support=support, max_len=max_len, low_memory=True)
    counts = np.rint(found["support"].to_numpy(dtype="float64") * n).astype(np.int64)
    items = np.full((len(found), max_len), -1, dtype=np.int64)
    for row, itemset in enumerate(found["itemsets"]):
        members = sorted(itemset)
        items[row, : len(members)] = members
    keep = counts >= threshold
    return items[keep], counts[keep]


def empty_rules() -> pd.DataFrame:
    """A rules frame with no rows and the right columns and dtypes."""
    types = ["str", "str", "float64", "float64", "float64", "float64", "float64", "int64"]
    types += ["str", "int64", "int64"]
    return pd.DataFrame(
        {c: pd.Series(dtype=t) for c, t in zip(RULE_COLUMNS + EXTRA_COLUMNS, types, strict=True)}
    )


def rules_from_onehot(
    onehot: pd.DataFrame, settings: Mapping[str, Any], segment: str = "all"
) -> pd.DataFrame:
    """Association rules over the rows of a one-hot frame; the denominator is every row.

    Every split of every frequent itemset into a non-empty antecedent and consequent is a rule;
    the three counts are looked up among the itemsets by an integer key, all at once.

    Returns:
        The rules columns of :func:`association_rules_frame`.
    """
    n = len(onehot)
    max_len = int(settings["rules.max_len"])
    columns = np.asarray([str(c) for c in onehot.columns], dtype=object)
    order = np.argsort(columns, kind="stable")
    columns = columns[order]
    base = len(columns) + 1
    if n == 0 or float(base) ** max_len >= 2**62:
        if n and len(columns):
            raise ValueError("too many products for rules.max_len: lower rules.max_len.")
        return empty_rules()
    items, counts = _itemset_counts(
        onehot.to_numpy(dtype=bool)[:, order], min_itemset_count(n, settings), max_len
    )
    powers = base ** np.arange(max_len, dtype=np.int64)

    def keys(matrix: np.ndarray) -> np.ndarray:
        return ((matrix + 1) * powers[: matrix.shape[1]]).sum(axis=1)

    itemset_keys = keys(items)
    by_key = np.argsort(itemset_keys)

    def count_of(matrix: np.ndarray) -> np.ndarray:
        return counts[by_key[np.searchsorted(itemset_keys[by_key], keys(matrix))]]

    lengths = (items >= 0).sum(axis=1)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for length in range(2, max_len + 1):
        block, joint = items[lengths == length, :length], counts[lengths == length]
        for size in range(1, length):
            for left in combinations(range(length), size):
                right = [i for i in range(length) if i not in left]
                parts.append((block[:, list(left)], block[:, right], joint))
    if not parts or not sum(len(p[2]) for p in parts):
        return empty_rules()
    joint = np.concatenate([p[2] for p in parts])
    left_n = np.concatenate([count_of(p[0]) for p in parts])
    right_n = np.concatenate([count_of(p[1]) for p in parts])
    rules = pd.DataFrame(
        {
            "antecedents": _itemset_names([p[0] for p in parts], columns, keys),
            "consequents": _itemset_names([p[1] for p in parts], columns, keys),
            **rule_metrics(joint, left_n, right_n, n),
            "segment": segment,
            "antecedent_count": left_n,
            "consequent_count": right_n,
        }
    )
    keep = (rules["confidence"] >= float(settings["rules.min_confidence"])) & (
        rules["lift"] >= float(settings["rules.min_lift"])
    )
    rules = rules[keep].sort_values(
        ["lift", "confidence", "antecedents", "consequents"], ascending=[False, False, True, True]
    )
    return rules.reset_index(drop=True)[RULE_COLUMNS + EXTRA_COLUMNS]


def _itemset_names(blocks: list[np.ndarray], columns: np.ndarray, keys: Any) -> pd.Series:
    """';'-joined ids of index rows, joining each distinct itemset once."""
    all_keys = np.concatenate([keys(b) for b in blocks])
    _, first, at = np.unique(all_keys, return_index=True, return_inverse=True)
    rows = np.concatenate(
        [
            np.pad(b, ((0, 0), (0, max(x.shape[1] for x in blocks) - b.shape[1])), constant_values=-1)
            for b in blocks
        ]
    )
    names = [";".join(columns[i] for i in rows[r] if i >= 0) for r in first]
    return pd.Series(pa.array(names, type=pa.large_string()).take(at), dtype="str")


def rule_metrics(joint: np.ndarray, left: np.ndarray, right: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Support, confidence, lift, leverage and conviction, each a single division of exact integers.

    Conviction is ``inf`` where confidence is 1 (the consequent never misses); it stays a float
    infinity so exports show ``inf`` rather than an arbitrary large number.
    """
    joint, left, right = (np.asarray(x, dtype="int64") for x in (joint, left, right))
    misses = left - joint
    with np.errstate(divide="ignore", invalid="ignore"):
        conviction = np.where(misses == 0, np.inf, ((n - right) * left) / (n * misses))
    return {
        "support": joint / n,
        "confidence": joint / left,
        "lift": (joint * n) / (left * right),
        "leverage": (joint * n - left * right) / (n * n),
        "conviction": conviction.astype("float64"),
        "count": joint,
    }


def association_rules_frame(
    portfolio: Portfolio,
    settings: Mapping[str, Any],
    as_of: Any,
    segment: str | None = None,
    onehot: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Which products predict which: rules over ownership on ``as_of``, for all accounts or one segment.

    Support is a fraction of ALL accounts in ``portfolio.accounts`` (of the segment when given),
    accounts owning nothing included. Itemsets need ``max(rules.min_count, rules.min_support x n)``
    accounts and at most ``rules.max_len`` products; rules need ``rules.min_confidence`` and
    ``rules.min_lift``. ``onehot``: ``ownership_onehot(portfolio, as_of)`` of all accounts when
    the caller has it (it takes 0.3 s at 100,000 accounts); the segment's rows are taken from it.

    Returns:
        DataFrame with columns ``antecedents``, ``consequents`` (product ids joined by ';', sorted),
        ``support``, ``confidence``, ``lift``, ``leverage``, ``conviction`` (inf when confidence is 1),
        ``count`` (accounts owning both sides), then ``segment`` ('all' or the segment),
        ``antecedent_count`` and ``consequent_count``; sorted by lift, confidence, antecedents,
        consequents.
    """
    _check_rule_settings(settings)
    if onehot is None:
        onehot = ownership_onehot(portfolio, as_of, segment)
    elif segment is not None:  # the onehot's rows are the accounts table's, in its order
        onehot = onehot[(portfolio.accounts["segment"] == segment).to_numpy()]
    return rules_from_onehot(onehot, settings, segment or "all")


def segment_rules(
    portfolio: Portfolio, settings: Mapping[str, Any], as_of: Any, onehot: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The rules of each segment with at least ``rules.segment_min_accounts`` accounts, stacked.

    ``onehot`` as for :func:`association_rules_frame`; built here once for all segments when not given.

    Returns:
        The columns of :func:`association_rules_frame`; ``segment`` names the segment.
    """
    _check_rule_settings(settings)
    check_portfolio(portfolio)
    sizes = portfolio.accounts["segment"].value_counts()
    chosen = [s for s in SEGMENTS if sizes.get(s, 0) >= int(settings["rules.segment_min_accounts"])]
    if chosen and onehot is None:
        onehot = ownership_onehot(portfolio, as_of)
    frames = [association_rules_frame(portfolio, settings, as_of, s, onehot) for s in chosen]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else empty_rules()


def all_and_segment_rules(
    portfolio: Portfolio, settings: Mapping[str, Any], as_of: Any
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`association_rules_frame` and :func:`segment_rules` from one ownership matrix (0.3 s to
    build at 100,000 accounts), which is returned too: the attach rates read the same one."""
    onehot = ownership_onehot(portfolio, as_of)
    return (
        association_rules_frame(portfolio, settings, as_of, onehot=onehot),
        segment_rules(portfolio, settings, as_of, onehot),
        onehot,
    )


def _check_rule_settings(settings: Mapping[str, Any]) -> None:
    keys = ("rules.min_support", "rules.min_count", "rules.min_confidence", "rules.min_lift", "rules.max_len")
    missing = [k for k in keys + ("rules.segment_min_accounts",) if k not in settings]
    if missing:
        raise ValueError(f"settings lack {', '.join(missing)}: pass the merged settings from resolve().")
    if int(settings["rules.max_len"]) < 2:
        raise ValueError("rules.max_len must be at least 2: a rule needs two products.")
