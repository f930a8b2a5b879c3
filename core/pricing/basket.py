"""What each account would buy: its current products plus its top suggestions, with quantities.

Every pricing option is a different way to charge for the same basket, so the basket is built
once as dense account x product integer matrices (quantities, list-price lines in cents) and
every option is a few vectorised sums over them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from core.frames import Portfolio, owned_as_of, require_portfolio_columns, unique_rows
from core.money import mul_div, round_div, to_minor
from core.portfolio.segments import positions

PRICE_DECIMALS = 4
"""Per-unit list prices are held in 1/10,000 of the currency: usage prices go below a cent."""

_NEEDED = {
    "accounts": ("account_id", "employees"),
    "products": ("product_id", "list_price", "unit"),
    "subscriptions": ("account_id", "product_id", "start_date", "quantity", "mrr", "status", "churned_at"),
}
_SUGGESTION_COLUMNS = ("account_id", "product_id", "rank")


@dataclass
class Basket:
    """Dense per-account view of what is owned, what is suggested and what it costs at list price.

    Attributes:
        accounts: account ids, one per matrix row.
        products: catalogue product ids (sorted), one per matrix column.
        seat_unit: True for products priced per seat.
        price_ticks: list price per unit per month, in 1/10,000 currency units.
        quantity: the likely quantity of every product for every account.
        lines: quantity x list price per account and product, in cents.
        owned: the account owns the product today (an active subscription).
        added: the product is among the account's top suggestions.
        mrr: the account's current monthly recurring revenue, in cents.
    """

    accounts: np.ndarray
    products: np.ndarray
    seat_unit: np.ndarray
    price_ticks: np.ndarray
    quantity: np.ndarray
    lines: np.ndarray
    owned: np.ndarray
    added: np.ndarray
    mrr: np.ndarray

    @cached_property
    def plan(self) -> np.ndarray:
        """Current plus suggested products: what the customer would run after the upsell."""
        return self.owned | self.added

    @cached_property
    def plan_total(self) -> np.ndarray:
        """Each account's plan at list price x likely quantity, in cents: the baseline of every option."""
        return masked_sum(self.lines, self.plan)

    @cached_property
    def added_total(self) -> np.ndarray:
        """The suggested products' part of :attr:`plan_total`, in cents."""
        return masked_sum(self.lines, self.added)

    @cached_property
    def distinct_plans(self) -> tuple[np.ndarray, np.ndarray]:
        """Each account's index among the distinct plans (rows of :attr:`plan`), and those plans.

        Why: 100,000 accounts run a few thousand distinct plans, so plan texts are built once per plan.
        """
        return unique_rows(self.plan)


def masked_sum(lines: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each row's sum of ``lines`` where ``mask`` holds, in exact integers, without a temporary matrix."""
    return np.einsum("ij,ij->i", lines, mask)


def _check(portfolio: Portfolio, suggestions: pd.DataFrame | None) -> None:
    require_portfolio_columns(portfolio, _NEEDED)
    if portfolio.products["product_id"].duplicated().any():
        raise ValueError("portfolio.products has duplicate product_id values.")
    if portfolio.products["list_price"].isna().any():
        raise ValueError("portfolio.products has a product without a list_price.")
    if suggestions is not None and len(suggestions.columns):
        missing = [c for c in _SUGGESTION_COLUMNS if c not in suggestions.columns]
        if missing:
            raise ValueError(f"suggestions lack column(s): {', '.join(missing)}.")


def _account_table(portfolio: Portfolio, account_ids: Sequence[str] | None) -> pd.DataFrame:
    """``account_id`` (str) and ``employees`` of every account, or of ``account_ids`` in that order."""
    table = portfolio.accounts[["account_id", "employees"]]
    table = table.assign(account_id=table["account_id"].astype(str))
    if account_ids is not None:
        wanted = pd.Index([str(a) for a in account_ids], name="account_id").unique()
        table = table[table["account_id"].isin(wanted)]
        unknown = wanted.difference(pd.Index(table["account_id"]))
        if len(unknown):
            raise ValueError(f"unknown account id(s): {', '.join(map(str, unknown[:5]))}.")
        table = table.drop_duplicates("account_id").set_index("account_id").reindex(wanted).reset_index()
    return table.drop_duplicates("account_id", ignore_index=True)


def _seat_estimate(employees: pd.Series, seats_per_employee: float) -> np.ndarray:
    """Seats for an account with no per-seat product: a share of its headcount, at least 1."""
    estimate = pd.to_numeric(employees, errors="coerce").to_numpy(dtype="float64") * seats_per_employee
    estimate = np.where(np.isfinite(estimate), np.floor(estimate + 0.5), 1.0)
    return np.maximum(estimate, 1.0).astype("int64")


def _top_picks(
    suggestions: pd.DataFrame | None, top: int, accounts: pd.Index, products: pd.Index
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (account, product) of the suggestions ranked ``top`` or better; -1 where unknown.

    Positions are looked up on the whole id columns and then masked: filtering the wide
    suggestions frame first would copy every one of its text columns.
    """
    if suggestions is None or not len(suggestions):
        return np.zeros(0, dtype="int64"), np.zeros(0, dtype="int64")
    top_ranked = (pd.to_numeric(suggestions["rank"], errors="coerce") <= top).to_numpy(bool, na_value=False)
    account = positions(suggestions["account_id"], accounts)[top_ranked]
    product = positions(suggestions["product_id"], products)[top_ranked]
    account = np.where(product >= 0, account, -1)
    return account, product


def build_basket(
    portfolio: Portfolio,
    suggestions: pd.DataFrame | None,
    as_of: Any,
    settings: Mapping[str, Any],
    account_ids: Sequence[str] | None = None,
) -> Basket:
    """The basket of every account (or of ``account_ids``) that owns or is suggested something.

    Quantities: an owned product keeps its current quantity (summed over its active
    subscriptions); a suggested per-seat product gets the seat count of the account's main
    per-seat product (the one with the highest MRR), or ``pricing.seats_per_employee`` x
    headcount when it has none; flat and usage products get 1.
    """
    _check(portfolio, suggestions)
    stamp = pd.Timestamp(as_of)
    top = int(settings["pricing.top_suggestions"])
    catalogue = portfolio.products.assign(product_id=portfolio.products["product_id"].astype(str))
    catalogue = catalogue.sort_values("product_id", ignore_index=True)
    products = pd.Index(catalogue["product_id"])
    price_ticks = to_minor(catalogue["list_price"].to_numpy(dtype="float64"), PRICE_DECIMALS)
    seat_unit = catalogue["unit"].fillna("seat").astype(str).str.lower().eq("seat").to_numpy()
    account_table = _account_table(portfolio, account_ids)
    candidates = pd.Index(account_table["account_id"])

    subs = portfolio.subscriptions
    if account_ids is not None:
        subs = subs[subs["account_id"].astype(str).isin(candidates)]
        if suggestions is not None and len(suggestions):
            suggestions = suggestions[suggestions["account_id"].astype(str).isin(candidates)]
    subs = owned_as_of(subs, stamp)
    sub_account = positions(subs["account_id"], candidates)
    sub_product = positions(subs["product_id"], products)
    keep = (sub_account >= 0) & (sub_product >= 0)
    subs, sub_account, sub_product = subs[keep], sub_account[keep], sub_product[keep]
    pick_account, pick_product = _top_picks(suggestions, top, candidates, products)
    pick_product = pick_product[pick_account >= 0]
    pick_account = pick_account[pick_account >= 0]
    used = np.zeros(len(candidates), dtype=bool)
    used[sub_account] = True
    used[pick_account] = True
    accounts = candidates[used]
    new_row = np.cumsum(used) - 1
    n, m = len(accounts), len(products)

    row, col = new_row[sub_account], sub_product
    quantity_each = subs["quantity"].fillna(1).to_numpy(dtype="int64")
    mrr_given = subs["mrr"].to_numpy(dtype="float64")
    fallback = round_div(price_ticks[col] * quantity_each, 10 ** (PRICE_DECIMALS - 2))
    mrr_each = np.where(np.isnan(mrr_given), fallback, to_minor(np.nan_to_num(mrr_given), 2))
    cell = row * m + col
    owned_qty = np.bincount(cell, weights=quantity_each, minlength=n * m).astype("int64").reshape(n, m)
    owned_mrr = np.bincount(cell, weights=mrr_each, minlength=n * m).astype("int64").reshape(n, m)
    owned = np.zeros((n, m), dtype=bool)
    owned[row, col] = True

    seats = _seat_estimate(account_table["employees"][used], float(settings["pricing.seats_per_employee"]))
    seat_mrr = np.where(owned & seat_unit, owned_mrr, -1)
    main = seat_mrr.argmax(axis=1) if m else np.zeros(n, dtype="int64")
    has_seat_product = (owned & seat_unit).any(axis=1)
    seats = np.where(has_seat_product, owned_qty[np.arange(n), main] if m else 0, seats)

    quantity = np.where(seat_unit, seats[:, None], 1).astype("int64")
    quantity = np.where(owned, owned_qty, quantity)
    added = np.zeros((n, m), dtype=bool)
    added[new_row[pick_account], pick_product] = True
    added &= ~owned
    lines = mul_div(quantity, price_ticks[None, :], 10 ** (PRICE_DECIMALS - 2))
    return Basket(
        accounts=accounts.to_numpy(dtype=object),
        products=products.to_numpy(dtype=object),
        seat_unit=seat_unit,
        price_ticks=price_ticks,
        quantity=quantity,
        lines=lines,
        owned=owned,
        added=added,
        mrr=owned_mrr.sum(axis=1),
    )
