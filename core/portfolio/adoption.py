"""Cross-product adoption: how fast customers add a second product, what each product role brings, who attaches to what."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from core.portfolio.holdings import Subscriptions, product_holdings
from core.portfolio.segments import AccountIndex, median, metric_rows, per_segment, ratio

ROLES = ("anchor", "attach", "strategic", "sunset")


def second_purchases(subs: Subscriptions, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each account's first purchase date and the first purchase date of its second distinct product.

    A product's first purchase is the earliest ``start_date`` among the account's non-trial
    subscriptions to it started by ``as_of``, churned ones included (the purchase happened).
    Two products first bought on the same day make a second product after 0 days.

    Returns:
        DataFrame indexed by account position with ``first_date``, ``second_date`` (NaT when
        there is none) and ``days`` (float, NaN when there is none); accounts that never bought
        are absent.
    """
    bought = subs.frame
    bought = bought[(bought["status"] != "trial") & (bought["start_date"] <= as_of)]
    firsts = bought.groupby(["pos", "prod"], sort=False)["start_date"].min().reset_index()
    firsts = firsts.sort_values(["pos", "start_date", "prod"], ignore_index=True)
    nth = firsts.groupby("pos", sort=False).cumcount()
    first = firsts[nth == 0].set_index("pos")["start_date"]
    second = firsts[nth == 1].set_index("pos")["start_date"].reindex(first.index)
    table = pd.DataFrame({"first_date": first, "second_date": second})
    table["days"] = (table["second_date"] - table["first_date"]).dt.days.astype("float64")
    return table


def second_product_rows(
    index: AccountIndex, subs: Subscriptions, as_of: pd.Timestamp
) -> list[tuple[str, str, float]]:
    """Median days from first purchase to second product, overall and by cohort year of first purchase.

    Medians are over the accounts that did buy a second product (a censored view: young accounts
    that have not yet bought one do not count); ``second_product_share`` says how many did.
    """
    table = second_purchases(subs, as_of)
    days = np.full(len(index), np.nan)
    days[table.index.to_numpy()] = table["days"].to_numpy()
    buyer = np.zeros(len(index), dtype=bool)
    buyer[table.index.to_numpy()] = True
    year = np.full(len(index), -1)
    year[table.index.to_numpy()] = table["first_date"].dt.year.to_numpy()
    has_second = ~np.isnan(days)
    rows = metric_rows(
        "time_to_second_product_days_median", per_segment(index, lambda m: median(days[m & has_second]))
    )
    rows += metric_rows(
        "second_product_share", per_segment(index, lambda m: ratio((m & has_second).sum(), (m & buyer).sum()))
    )
    for cohort_year in sorted(set(year[buyer].tolist())):
        in_cohort = has_second & (year == cohort_year)
        rows += metric_rows(
            f"time_to_second_product_days_median_{cohort_year}",
            per_segment(index, lambda m, c=in_cohort: median(days[m & c])),
        )
    return rows


def role_rows(
    index: AccountIndex, subs: Subscriptions, roles: pd.DataFrame, as_of: pd.Timestamp
) -> list[tuple[str, str, float]]:
    """Per product role: how many catalogue products have it ('all' only), their ARR and the accounts holding one.

    Returns ``role_products_<role>``, ``role_arr_<role>`` and ``role_accounts_<role>`` rows for
    the four standard roles and any other role present.
    """
    role_of = roles.assign(product_id=roles["product_id"].astype(str)).drop_duplicates("product_id")
    role_of = role_of.set_index("product_id")["role"].astype(str)
    held = product_holdings(index, subs, as_of)
    held = held.assign(role=held["product_id"].map(role_of))
    rows = []
    for role in [*ROLES, *sorted(set(role_of) - set(ROLES))]:
        mine = held[held["role"] == role]
        pos, arr = mine["pos"].to_numpy(), mine["cents"].to_numpy(dtype="int64")
        rows.append((f"role_products_{role}", "all", float((role_of == role).sum())))
        rows += metric_rows(
            f"role_arr_{role}", per_segment(index, lambda m, p=pos, a=arr: 12 * a[m[p]].sum() / 100)
        )
        rows += metric_rows(
            f"role_accounts_{role}", per_segment(index, lambda m, p=pos: len(np.unique(p[m[p]])))
        )
    return rows


def attach_rows(attach: pd.DataFrame, settings: Mapping[str, Any]) -> list[tuple[str, str, float]]:
    """How many product pairs attach strongly (rate at or above ``attach.strong``), over the whole book."""
    strong = float(settings.get("attach.strong", 0.4))
    rated = attach[pd.to_numeric(attach["accounts_a"], errors="coerce") > 0]
    rate = pd.to_numeric(rated["attach_rate"], errors="coerce")
    return [
        ("attach_pairs_strong", "all", float((rate >= strong).sum())),
        ("attach_rate_median", "all", float(rate.median()) if len(rate) else float("nan")),
    ]


def attach_heatmap(attach: pd.DataFrame) -> pd.DataFrame:
    """The attach-rate matrix a manager scans for cross-sell paths: row = owned product A, column = B.

    Why: the long attach table answers one pair at a time; the heatmap shows every path at once.

    Returns:
        DataFrame indexed by ``product_a`` with one column per ``product_b`` (both over every
        product in the table, sorted), values ``attach_rate`` (accounts with both / accounts with A);
        the diagonal and pairs absent from the table are NaN.
    """
    missing = [c for c in ("product_a", "product_b", "attach_rate") if c not in attach.columns]
    if missing:
        raise ValueError(f"attach lacks column(s): {', '.join(missing)}.")
    products = sorted(set(attach["product_a"].astype(str)) | set(attach["product_b"].astype(str)))
    pairs = attach.assign(
        product_a=attach["product_a"].astype(str), product_b=attach["product_b"].astype(str)
    )
    pairs = pairs[pairs["product_a"] != pairs["product_b"]]
    matrix = pairs.pivot_table(index="product_a", columns="product_b", values="attach_rate", aggfunc="first")
    matrix = matrix.reindex(index=products, columns=products).astype("float64")
    matrix.index.name, matrix.columns.name = "product_a", "product_b"
    return matrix
