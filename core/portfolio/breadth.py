"""How many products customers run: size of the book, breadth, its distribution, trend and revenue mix.

Multi-product customers churn less and spend more; a manager watches breadth grow quarter by
quarter and the share of ARR that sits with customers of two or more products.
"""

from __future__ import annotations

import pandas as pd

from core.portfolio.holdings import Holdings, Subscriptions, holdings
from core.portfolio.segments import AccountIndex, mean, median, metric_rows, per_segment, ratio

TREND_QUARTERS = 8


def book_rows(index: AccountIndex, now: Holdings) -> list[tuple[str, str, float]]:
    """accounts, arr, products per customer (mean, median, distribution) and the multi-product ARR share."""
    customers = now.customers
    rows = metric_rows("accounts", per_segment(index, lambda m: (m & customers).sum()))
    rows += metric_rows("arr", per_segment(index, lambda m: 12 * now.mrr[m].sum() / 100))
    rows += metric_rows(
        "products_per_customer_mean", per_segment(index, lambda m: mean(now.products[m & customers]))
    )
    rows += metric_rows(
        "products_per_customer_median", per_segment(index, lambda m: median(now.products[m & customers]))
    )
    multi = now.products >= 2
    rows += metric_rows(
        "multi_product_revenue_share",
        per_segment(index, lambda m: ratio(now.mrr[m & multi].sum(), now.mrr[m].sum())),
    )
    for k in range(1, int(now.products.max(initial=0)) + 1):
        rows += metric_rows(
            f"products_per_customer_{k}", per_segment(index, lambda m, k=k: (m & (now.products == k)).sum())
        )
    return rows


def quarter_points(as_of: pd.Timestamp, quarters: int = TREND_QUARTERS) -> list[tuple[str, pd.Timestamp]]:
    """The last ``quarters`` quarters up to as_of's, each labelled ``YYYYQn`` and measured at its end (as_of for the current)."""
    current = as_of.to_period("Q")
    points = []
    for back in range(quarters - 1, -1, -1):
        period = current - back
        points.append((f"{period.year}Q{period.quarter}", min(period.end_time.normalize(), as_of)))
    return points


def trend_rows(index: AccountIndex, subs: Subscriptions, as_of: pd.Timestamp) -> list[tuple[str, str, float]]:
    """products_per_customer_mean_<YYYY>Q<n>: mean breadth of the customers of each of the last 8 quarters."""
    rows = []
    for label, moment in quarter_points(as_of):
        then = holdings(index, subs, moment)
        rows += metric_rows(
            f"products_per_customer_mean_{label}",
            per_segment(index, lambda m, then=then: mean(then.products[m & then.customers])),
        )
    return rows
