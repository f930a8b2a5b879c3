"""The ways to charge for a basket: a-la-carte, defined bundles, the policy bundle, platform, credits.

Each builder returns an :class:`Option` block covering every account it applies to, so the
comparison table is a concatenation of a handful of vectorised blocks, never a loop over
accounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.money import apply_discount, format_many_cents, format_money, mul_div, to_minor
from core.pricing.basket import PRICE_DECIMALS, Basket

MIN_BUNDLE_OVERLAP = 2
"""A defined bundle is offered when it shares at least this many products with the plan."""


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
    products: pd.api.extensions.ExtensionArray | np.ndarray
    monthly: np.ndarray
    list_total: np.ndarray
    added_list: np.ndarray
    break_even: np.ndarray
    annual_bundle: bool
    note: np.ndarray


def join_ids(products: np.ndarray, masks: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """';'-joined product ids of each mask row (catalogue order), joined in Arrow rather than Python."""
    _, cols = np.nonzero(masks)
    offsets = np.zeros(len(masks) + 1, dtype=np.int32)
    np.cumsum(masks.sum(axis=1), out=offsets[1:])
    values = pa.array([str(p) for p in products], pa.string()).take(pa.array(cols, pa.int64()))
    return pd.array(pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), values), ";"), dtype="str")


def break_even(basket: Basket, rows: np.ndarray, bundled: np.ndarray, price: np.ndarray) -> np.ndarray:
    """From how many of its products a bundled part beats buying them a-la-carte; 0 when it never does.

    The count is the smallest k such that the k most expensive of the bundled products cost
    more a-la-carte than the bundled price: with fewer products the bundle cannot pay off.
    """
    width = bundled.shape[1]
    if width == 0:
        return np.zeros(len(rows), dtype="int64")
    in_bundle = np.ascontiguousarray(bundled).ravel()[
        basket.order[rows] + (np.arange(len(rows)) * width)[:, None]
    ]
    spent = np.cumsum(np.where(in_bundle, basket.sorted_lines[rows], 0), axis=1)
    k = ((spent <= price[:, None]) & in_bundle).sum(axis=1) + 1
    return np.where(k <= bundled.sum(axis=1), k, 0)


def _sum(lines: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask, lines, 0).sum(axis=1)


def _plan_sums(basket: Basket) -> tuple[np.ndarray, np.ndarray]:
    return _sum(basket.lines, basket.plan), _sum(basket.lines, basket.added)


def a_la_carte(basket: Basket, plan_text: pd.api.extensions.ExtensionArray) -> Option:
    """Every product of the plan at list price x likely quantity: the baseline every option is measured against."""
    total, added = _plan_sums(basket)
    owned_count, added_count = basket.owned.sum(axis=1).tolist(), basket.added.sum(axis=1).tolist()
    note = [
        f"{o} current + {a} suggested at list price" for o, a in zip(owned_count, added_count, strict=True)
    ]
    return Option(
        name="a-la-carte",
        rows=np.arange(len(basket.accounts)),
        products=plan_text,
        monthly=total,
        list_total=total,
        added_list=added,
        break_even=np.zeros(len(total), dtype="int64"),
        annual_bundle=False,
        note=np.asarray(note, dtype=object),
    )


def _bundle_mask(basket: Basket, bundle_id: str, product_ids: str) -> np.ndarray:
    ids = [p.strip() for p in str(product_ids).split(";") if p.strip()]
    position = pd.Index(basket.products).get_indexer(ids)
    if (position < 0).any():
        unknown = [i for i, p in zip(ids, position, strict=True) if p < 0]
        raise ValueError(f"bundle {bundle_id!r} names product(s) not in the catalogue: {', '.join(unknown)}.")
    mask = np.zeros(len(basket.products), dtype=bool)
    mask[position] = True
    return mask


def _bundle_cost(basket: Basket, rows: np.ndarray, mask: np.ndarray, bundle: Any) -> np.ndarray:
    if pd.notna(bundle.price):
        seat_part = mask & basket.seat_unit
        units = (
            basket.quantity[rows][:, seat_part].max(axis=1)
            if seat_part.any()
            else np.ones(len(rows), "int64")
        )
        price_ticks = to_minor(np.asarray([float(bundle.price)]), PRICE_DECIMALS)
        return mul_div(units, price_ticks, 10 ** (PRICE_DECIMALS - 2))
    if pd.notna(bundle.discount_pct):
        return apply_discount(_sum(basket.lines[rows], mask[None, :]), float(bundle.discount_pct))
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
    plan = basket.plan
    options = []
    for bundle in bundles.sort_values("bundle_id").itertuples(index=False):
        mask = _bundle_mask(basket, str(bundle.bundle_id), bundle.product_ids)
        rows = np.flatnonzero((plan[:, mask]).sum(axis=1) >= MIN_BUNDLE_OVERLAP)
        if not len(rows):
            continue
        lines, row_plan = basket.lines[rows], plan[rows]
        cost = _bundle_cost(basket, rows, mask, bundle)
        priced = row_plan | mask
        extra = (mask & ~row_plan).sum(axis=1)
        note = [f"includes {e} product(s) outside the plan" if e else "" for e in extra.tolist()]
        options.append(
            Option(
                name=f"bundle:{bundle.bundle_id}",
                rows=rows,
                products=join_ids(basket.products, priced),
                monthly=cost + _sum(lines, row_plan & ~mask),
                list_total=_sum(lines, priced),
                added_list=_sum(lines, priced & ~basket.owned[rows]),
                break_even=break_even(basket, rows, np.broadcast_to(mask, row_plan.shape), cost),
                annual_bundle=True,
                note=np.asarray(note, dtype=object),
            )
        )
    return options


def policy_bundle(basket: Basket, discount_pct: float, plan_text: pd.api.extensions.ExtensionArray) -> Option:
    """The generic bundle policy: ``discount_pct`` off the plan's a-la-carte sum, for plans of 2+ products."""
    rows = np.flatnonzero(basket.plan.sum(axis=1) >= 2)
    total, added = (s[rows] for s in _plan_sums(basket))
    monthly = apply_discount(total, discount_pct)
    return Option(
        name="policy-bundle",
        rows=rows,
        products=plan_text[rows],
        monthly=monthly,
        list_total=total,
        added_list=added,
        break_even=break_even(basket, rows, basket.plan[rows], monthly),
        annual_bundle=True,
        note=np.full(len(rows), f"{discount_pct:g}% off the plan's a-la-carte sum", dtype=object),
    )


def platform(basket: Basket, discount_pct: float, currency: str) -> Option:
    """Every catalogue product at ``discount_pct`` off list, with how much of it pays for unused products.

    The unused part is the platform price allocated to products outside the plan in proportion
    to their list value: the money the customer spends on things it will not run.
    """
    n, m = basket.lines.shape
    total = basket.lines.sum(axis=1)
    monthly = apply_discount(total, discount_pct)
    unused = ~basket.plan
    unused_paid = np.where(total > 0, mul_div(monthly, _sum(basket.lines, unused), np.maximum(total, 1)), 0)
    share = np.floor(unused_paid * 100 / np.maximum(monthly, 1) + 0.5).astype("int64").tolist()
    note = [
        f"{p} a month ({s}%) pays for {c} product(s) the account will not use" if c else ""
        for p, s, c in zip(
            format_many_cents(unused_paid, currency), share, unused.sum(axis=1).tolist(), strict=True
        )
    ]
    sorted_spent = np.cumsum(basket.sorted_lines, axis=1)
    k = (sorted_spent <= monthly[:, None]).sum(axis=1) + 1
    return Option(
        name="platform",
        rows=np.arange(n),
        products=pd.array(np.full(n, ";".join(map(str, basket.products)), dtype=object), dtype="str"),
        monthly=monthly,
        list_total=total,
        added_list=_sum(basket.lines, ~basket.owned),
        break_even=np.where(k <= m, k, 0),
        annual_bundle=True,
        note=np.asarray(note, dtype=object),
    )


def credit_pool(
    basket: Basket,
    rates: Mapping[str, Any],
    credit_price: float,
    currency: str,
    plan_text: pd.api.extensions.ExtensionArray,
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
    total, added = (s[rows] for s in _plan_sums(basket))
    return Option(
        name="credits",
        rows=rows,
        products=plan_text[rows],
        monthly=cost + _sum(basket.lines[rows], basket.plan[rows] & ~covered),
        list_total=total,
        added_list=added,
        break_even=break_even(basket, rows, covered, cost),
        annual_bundle=True,
        note=np.asarray([f"{c:,} credits a month at {each} each" for c in credits.tolist()], dtype=object),
    )
