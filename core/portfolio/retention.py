"""Gross churn and net revenue retention over the last 12 months, single- against multi-product customers.

The case for cross-selling rests on this gap: customers who run two or more products keep
more of their revenue. Both figures come straight from the subscription history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.frames import owned_as_of
from core.portfolio.holdings import Subscriptions, holdings
from core.portfolio.segments import AccountIndex, metric_rows, per_segment, ratio


@dataclass
class Cohort:
    """The accounts that were customers 12 months ago, in cents per account (12 x monthly)."""

    products_then: np.ndarray
    start_arr: np.ndarray
    churned_arr: np.ndarray
    expansion_arr: np.ndarray
    customer_now: np.ndarray


def cohort(index: AccountIndex, subs: Subscriptions, as_of: pd.Timestamp) -> Cohort:
    """Start ARR, ARR lost to churned subscriptions and ARR from subscriptions started since, per account.

    ``start`` is ``as_of`` minus 12 months. Starting ARR is 12 x the MRR of the subscriptions
    owned on ``start``; churned ARR is 12 x the MRR of those that churned by ``as_of``;
    expansion is 12 x the MRR of subscriptions started after ``start`` and still owned on
    ``as_of``. Each subscription's MRR is its recorded (current) MRR: price changes within a
    subscription are not in the history, so contraction shows only as churn.
    """
    start = as_of - pd.DateOffset(months=12)
    then = holdings(index, subs, start)
    base = owned_as_of(subs.frame, start)
    lost = base[(base["status"] == "churned") & (base["churned_at"] <= as_of)]
    held_now = owned_as_of(subs.frame, as_of)
    new = held_now[held_now["start_date"] > start]
    now = holdings(index, subs, as_of)

    def arr(frame: pd.DataFrame) -> np.ndarray:
        return 12 * index.total(frame["pos"].to_numpy(), frame["cents"].to_numpy(dtype="float64")).astype(
            "int64"
        )

    return Cohort(then.products, 12 * then.mrr, arr(lost), arr(new), now.customers)


def retention_rows(
    index: AccountIndex, subs: Subscriptions, as_of: pd.Timestamp
) -> list[tuple[str, str, float]]:
    """gross_churn_rate and nrr for single-, multi-product and all customers of 12 months ago, plus logo churn.

    For the accounts that held at least one product 12 months before ``as_of``, split by how
    many distinct products they held then (1 = single, 2+ = multi):
    ``gross_churn_rate`` = churned ARR / starting ARR (0-1);
    ``nrr`` = (starting ARR - churned ARR + expansion ARR) / starting ARR (a ratio, 1 = flat);
    ``logo_churn_rate`` = share of those accounts that hold no product on ``as_of``;
    ``retention_accounts`` = how many accounts the figures rest on. Definitions as in :func:`cohort`.
    """
    c = cohort(index, subs, as_of)
    groups = {"single": c.products_then == 1, "multi": c.products_then >= 2, "": c.products_then >= 1}
    rows = []
    for name, group in groups.items():
        suffix = f"_{name}" if name else ""

        def churn(m: np.ndarray, g: np.ndarray = group) -> float:
            return ratio(c.churned_arr[m & g].sum(), c.start_arr[m & g].sum())

        def nrr(m: np.ndarray, g: np.ndarray = group) -> float:
            start = c.start_arr[m & g].sum()
            return ratio(start - c.churned_arr[m & g].sum() + c.expansion_arr[m & g].sum(), start)

        def logos(m: np.ndarray, g: np.ndarray = group) -> float:
            return ratio((m & g & ~c.customer_now).sum(), (m & g).sum())

        rows += metric_rows(f"gross_churn_rate{suffix}", per_segment(index, churn))
        rows += metric_rows(f"nrr{suffix}", per_segment(index, nrr))
        rows += metric_rows(f"logo_churn_rate{suffix}", per_segment(index, logos))
        rows += metric_rows(
            f"retention_accounts{suffix}", per_segment(index, lambda m, g=group: (m & g).sum())
        )
    return rows
