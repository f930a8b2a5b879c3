"""The ways to charge for a basket: a-la-carte, defined bundles, the policy bundle, platform, credits.

Each builder returns an :class:`Option` block covering every account it applies to, so the
comparison table is a concatenation of a handful of vectorised blocks, never a loop over
accounts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.money import apply_discount, format_many_cents, format_money, mul_div, to_minor
from core.pricing.basket import PRICE_DECIMALS, Basket, masked_sum

MIN_BUNDLE_OVERLAP = 2
"""A defined bundle is offered when it shares at least this many products with the plan."""

_SORTED_LAST = np.iinfo(np.int64).max
"""Stands in for products outside a bundle so that sorting puts them after every bundled line."""


@dataclass
class Text:
    """Per-row text held as codes into its distinct labels.

    Why: 300,000 option rows carry a few thousand distinct product lists and notes; each
    distinct text is built once and the column is decoded in Arrow at the very end.

    Attributes:
        codes: per row, the index of its label.
        labels: the distinct texts, an Arrow string array.
    """

    codes: np.ndarray
    labels: pa.Array

    @classmethod
    def per_row(cls, labels: pa.Array) -> Text:
        """One label per row, for texts that are nearly all different."""
        return cls(np.arange(len(labels)), labels)

    @classmethod
    def same(cls, label: str, count: int) -> Text:
        """``label`` on each of ``count`` rows."""
        return cls(np.zeros(count, dtype="int64"), pa.array([label], pa.string()))

    @classmethod
    def rendered(cls, keys: np.ndarray, render: Callable[[int], str]) -> Text:
        """``render(key)`` for each row's integer key, called once per distinct key."""
        distinct, codes = np.unique(keys, return_inverse=True)
        return cls(codes.ravel(), pa.array([render(k) for k in distinct.tolist()], pa.string()))

    def take(self, rows: np.ndarray) -> Text:
        """The texts of ``rows`` only, sharing the labels."""
        return Text(self.codes[rows], self.labels)


@dataclass
class Option:
    """One pricing option for the accounts at ``rows`` of a basket (money in cents).

    Attributes:
        name: the option label (``a-la-carte``, ``bundle:<id>``, ...).
        rows: indices into the basket's accounts.
        products: the ';'-joined product ids the option prices, per row.
        monthly: what the customer pays per month.
        list_total: the a-la-carte monthly total of those products.
        added_list: the part of list_total from products the account does not own yet.
        break_even: from how many products the bundled part beats a-la-carte (0 = never / no bundle).
        annual_bundle: whether an annual commitment to it earns the annual-bundle incentive.
        note: a human remark per row ('' when there is nothing to say).
    """

    name: str
    rows: np.ndarray
    products: Text
    monthly: np.ndarray
    list_total: np.ndarray
    added_list: np.ndarray
    break_even: np.ndarray
    annual_bundle: bool
    note: Text


def _joined_ids(products: np.ndarray, masks: np.ndarray) -> pa.Array:
    """';'-joined product ids of each mask row (catalogue order), as an Arrow string array."""
    _, cols = np.nonzero(masks)
    offsets = np.zeros(len(masks) + 1, dtype=np.int32)
    np.cumsum(masks.sum(axis=1), out=offsets[1:])
    values = pa.array([str(p) for p in products], pa.string()).take(pa.array(cols, pa.int64()))
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), values), ";")


def plan_ids(basket: Basket) -> Text:
    """The ';'-joined ids of each account's plan, joined once per distinct plan."""
    codes, plans = basket.distinct_plans
    return Text(codes, _joined_ids(basket.products, plans))


def break_even(basket: Basket, rows: np.ndarray, bundled: np.ndarray, price: np.ndarray) -> np.ndarray:
    """From how many of its products a bundled part beats buying them a-la-carte; 0 when it never does.

    The count is the smallest k such that the k most expensive of the bundled products cost
    more a-la-carte than the bundled price: with fewer products the bundle cannot pay off.
    """
    return _break_even_of(basket.lines[rows], bundled, price)


def _break_even_of(lines: np.ndarray, bundled: np.ndarray, price: np.ndarray) -> np.ndarray:
    """:func:`break_even` on the rows' line matrix itself.

    Each row's bundled lines are sorted by value, most expensive first: sorting the values is
    several times cheaper than arg-sorting and gathering whole rows, and gives the same sums.
    """
    size = bundled.sum(axis=1)
    ranked = np.where(bundled, -lines, _SORTED_LAST)
    ranked.sort(axis=1)
    ranked = ranked[:, : size.max(initial=0)]  # beyond the largest bundle there are only fillers
    counted = np.arange(ranked.shape[1]) < size[:, None]
    return _first_paying(np.where(counted, ranked, 0), price, size, counted)


def _break_even_of_all(lines: np.ndarray, price: np.ndarray) -> np.ndarray:
    """:func:`_break_even_of` with every line bundled (the platform, a bundle's own lines): no masking."""
    return _first_paying(np.sort(-lines, axis=1), price, lines.shape[1], np.True_)


def _first_paying(ranked: np.ndarray, price: np.ndarray, size: Any, counted: np.ndarray) -> np.ndarray:
    """The smallest k whose k most expensive lines cost more than ``price``; 0 when no k <= ``size`` does.

    ``ranked`` holds each row's bundled lines negated, most expensive first (0 where not ``counted``).
    """
    minus_spent = np.cumsum(ranked, axis=1)
    k = ((minus_spent >= -price[:, None]) & counted).sum(axis=1) + 1
    return np.where(k <= size, k, 0)


def a_la_carte(basket: Basket, plan_text: Text) -> Option:
    """Every product of the plan at list price x likely quantity: the baseline every option is measured against."""
    total = basket.plan_total
    width = len(basket.products) + 1
    counts = basket.owned.sum(axis=1) * width + basket.added.sum(axis=1)
    return Option(
        name="a-la-carte",
        rows=np.arange(len(basket.accounts)),
        products=plan_text,
        monthly=total,
        list_total=total,
        added_list=basket.added_total,
        break_even=np.zeros(len(total), dtype="int64"),
        annual_bundle=False,
        note=Text.rendered(counts, lambda k: f"{k // width} current + {k % width} suggested at list price"),
    )


def _bundle_columns(basket: Basket, bundle_id: str, product_ids: str) -> np.ndarray:
    """Catalogue positions of a bundle's products, sorted, each once."""
    ids = [p.strip() for p in str(product_ids).split(";") if p.strip()]
    position = pd.Index(basket.products).get_indexer(ids)
    if (position < 0).any():
        unknown = [i for i, p in zip(ids, position, strict=True) if p < 0]
        raise ValueError(f"bundle {bundle_id!r} names product(s) not in the catalogue: {', '.join(unknown)}.")
    return np.unique(position)


def _bundle_cost(
    basket: Basket, rows: np.ndarray, cols: np.ndarray, bundle_lines: np.ndarray, bundle: Any
) -> np.ndarray:
    """What the bundle itself costs each account at ``rows`` per month, in cents."""
    if pd.notna(bundle.price):
        seat_cols = cols[basket.seat_unit[cols]]
        units = (
            basket.quantity[np.ix_(rows, seat_cols)].max(axis=1)
            if len(seat_cols)
            else np.ones(len(rows), "int64")
        )
        price_ticks = to_minor(np.asarray([float(bundle.price)]), PRICE_DECIMALS)
        return mul_div(units, price_ticks, 10 ** (PRICE_DECIMALS - 2))
    if pd.notna(bundle.discount_pct):
        return apply_discount(bundle_lines.sum(axis=1), float(bundle.discount_pct))
    raise ValueError(f"bundle {bundle.bundle_id!r} has neither a price nor a discount_pct.")


def defined_bundles(basket: Basket, bundles: pd.DataFrame | None) -> list[Option]:
    """One option per defined bundle that shares at least two products with an account's plan.

    The bundle replaces its products; plan products outside it stay a-la-carte. A ``price`` is
    per unit per month, the units being the largest quantity among its per-seat products (1 for
    an all-flat bundle); without a price, ``discount_pct`` comes off the bundle's a-la-carte sum.
    """
    if bundles is None or bundles.empty:
        return []
    missing = [c for c in ("bundle_id", "product_ids", "price", "discount_pct") if c not in bundles.columns]
    if missing:
        raise ValueError(f"bundles lack column(s): {', '.join(missing)}.")
    options = []
    for bundle in bundles.sort_values("bundle_id").itertuples(index=False):
        cols = _bundle_columns(basket, str(bundle.bundle_id), bundle.product_ids)
        in_plan = basket.plan[:, cols]
        rows = np.flatnonzero(in_plan.sum(axis=1) >= MIN_BUNDLE_OVERLAP)
        if len(rows):
            options.append(_bundle_option(basket, bundle, rows, cols, in_plan[rows]))
    return options


def _bundle_option(
    basket: Basket, bundle: Any, rows: np.ndarray, cols: np.ndarray, in_plan: np.ndarray
) -> Option:
    """A defined bundle for the accounts at ``rows``, worked on the bundle's own columns only.

    Why: plan sums are already known per account, so the bundle only adjusts them by its own
    few products (``in_plan``: which of them each plan holds) instead of re-summing whole rows.
    """
    bundle_lines = basket.lines[np.ix_(rows, cols)]
    cost = _bundle_cost(basket, rows, cols, bundle_lines, bundle)
    outside = np.where(in_plan, 0, bundle_lines).sum(axis=1)
    inside = bundle_lines.sum(axis=1) - outside
    plan_total = basket.plan_total[rows]
    extra = len(cols) - in_plan.sum(axis=1)
    mask = np.zeros(len(basket.products), dtype=bool)
    mask[cols] = True
    plan_codes, plans = basket.distinct_plans
    return Option(
        name=f"bundle:{bundle.bundle_id}",
        rows=rows,
        products=Text(plan_codes[rows], _joined_ids(basket.products, plans | mask)),
        monthly=cost + plan_total - inside,
        list_total=plan_total + outside,
        added_list=basket.added_total[rows] + outside,  # products outside the plan are never owned
        break_even=_break_even_of_all(bundle_lines, cost),
        annual_bundle=True,
        note=Text.rendered(extra, lambda e: f"includes {e} product(s) outside the plan" if e else ""),
    )


def policy_bundle(basket: Basket, discount_pct: float, plan_text: Text) -> Option:
    """The generic bundle policy: ``discount_pct`` off the plan's a-la-carte sum, for plans of 2+ products."""
    rows = np.flatnonzero(basket.plan.sum(axis=1) >= 2)
    total = basket.plan_total[rows]
    monthly = apply_discount(total, discount_pct)
    return Option(
        name="policy-bundle",
        rows=rows,
        products=plan_text.take(rows),
        monthly=monthly,
        list_total=total,
        added_list=basket.added_total[rows],
        break_even=break_even(basket, rows, basket.plan[rows], monthly),
        annual_bundle=True,
        note=Text.same(f"{discount_pct:g}% off the plan's a-la-carte sum", len(rows)),
    )


def platform(basket: Basket, discount_pct: float, currency: str) -> Option:
    """Every catalogue product at ``discount_pct`` off list, with how much of it pays for unused products.

    The unused part is the platform price allocated to products outside the plan in proportion
    to their list value: the money the customer spends on things it will not run.
    """
    n, m = basket.lines.shape
    total = basket.lines.sum(axis=1)
    monthly = apply_discount(total, discount_pct)
    unused_list = total - basket.plan_total
    unused_paid = np.where(total > 0, mul_div(monthly, unused_list, np.maximum(total, 1)), 0)
    share = np.floor(unused_paid * 100 / np.maximum(monthly, 1) + 0.5).astype("int64")
    return Option(
        name="platform",
        rows=np.arange(n),
        products=Text.same(";".join(map(str, basket.products)), n),
        monthly=monthly,
        list_total=total,
        added_list=unused_list + basket.added_total,  # not owned: outside the plan, or suggested
        break_even=_break_even_of_all(basket.lines, monthly),
        annual_bundle=True,
        note=_unused_notes(unused_paid, share, m - basket.plan.sum(axis=1), currency),
    )


def _unused_notes(paid: np.ndarray, share: np.ndarray, unused: np.ndarray, currency: str) -> Text:
    """What part of the platform price pays for ``unused`` products, one note per row.

    The notes are nearly all different, so they are joined in Arrow; only the amounts go
    through Python, each distinct amount formatted once.
    """
    amounts, which = np.unique(paid, return_inverse=True)
    money = pa.array(format_many_cents(amounts, currency), pa.string()).take(pa.array(which.ravel()))
    note = pc.binary_join_element_wise(
        money,
        " a month (",
        pa.array(share).cast(pa.string()),
        "%) pays for ",
        pa.array(unused).cast(pa.string()),
        " product(s) the account will not use",
        "",
    )
    return Text.per_row(pc.if_else(pa.array(unused != 0), note, ""))


def credit_pool(
    basket: Basket,
    rates: Mapping[str, Any],
    credit_price: float,
    currency: str,
    plan_text: Text,
) -> Option | None:
    """A monthly pool of credits for the plan's products that have a credit rate; the rest a-la-carte.

    The pool is the plan's credits per month (rate x quantity), rounded up to whole credits and
    sold at ``credit_price`` each. None when no rate is defined.
    """
    known = {str(k): v for k, v in (rates or {}).items()}
    rate = np.asarray([float(known.get(p, 0.0)) for p in basket.products], dtype="float64")
    if not (rate > 0).any():
        return None
    rate_ticks = to_minor(rate, PRICE_DECIMALS)
    covered = basket.plan & (rate_ticks > 0)
    rows = np.flatnonzero(covered.any(axis=1))
    covered = covered[rows]
    credit_ticks = np.where(covered, basket.quantity[rows] * rate_ticks, 0).sum(axis=1)
    credits = -(-credit_ticks // 10**PRICE_DECIMALS)
    cost = mul_div(
        credits, to_minor(np.asarray([float(credit_price)]), PRICE_DECIMALS), 10 ** (PRICE_DECIMALS - 2)
    )
    places = max(2, -int(Decimal(repr(float(credit_price))).normalize().as_tuple().exponent))
    each = format_money(credit_price, currency, decimals=min(places, PRICE_DECIMALS))
    lines = basket.lines[rows]
    return Option(
        name="credits",
        rows=rows,
        products=plan_text.take(rows),
        monthly=cost + masked_sum(lines, basket.plan[rows] & ~covered),
        list_total=basket.plan_total[rows],
        added_list=basket.added_total[rows],
        break_even=_break_even_of(lines, covered, cost),
        annual_bundle=True,
        note=Text.rendered(credits, lambda c: f"{c:,} credits a month at {each} each"),
    )
