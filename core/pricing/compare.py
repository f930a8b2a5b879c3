"""The side-by-side comparison: every option's monthly, annual and first-year money for every account.

All arithmetic stays in integer cents until the frame is built, so a quote never shows float
drift; amounts leave as floats that are the exact 2-decimal values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from core.frames import Portfolio
from core.money import cents_to_float, mul_div, percent_to_basis_points, round_div
from core.pricing.basket import Basket, build_basket
from core.pricing.options import (
    Option,
    Text,
    a_la_carte,
    credit_pool,
    defined_bundles,
    plan_ids,
    platform,
    policy_bundle,
)

PRICING_COLUMNS = [
    "account_id",
    "option",
    "products",
    "monthly_price",
    "list_total",
    "discount_pct",
    "arr_delta",
]
EXTRA_COLUMNS = [
    "annual_price",
    "first_year_price",
    "saving_monthly",
    "arr_now",
    "flag",
    "note",
    "break_even_products",
]
_BAND = ("inertia_discount_pct", "band_low_pct", "band_high_pct")
INTRO_MONTHS = 3
"""The intro discount's 90 days, counted as three monthly bills."""

_SETTINGS = (
    "pricing.policy_discount_pct",
    "pricing.platform_discount_pct",
    "pricing.credit_rates",
    "pricing.credit_price",
    "pricing.intro_discount_pct",
    "pricing.annual_bundle_discount_pct",
    "pricing.currency",
    "pricing.top_suggestions",
    "pricing.seats_per_employee",
    "pricing.inertia_discount_pct",
    "pricing.band_low_pct",
    "pricing.band_high_pct",
)


def empty_pricing() -> pd.DataFrame:
    """The pricing table with no rows, its columns typed."""
    types = ["str", "str", "str", "float64", "float64", "float64", "float64"]
    types += ["float64", "float64", "float64", "float64", "str", "str", "Int64"]
    return pd.DataFrame(
        {c: pd.Series(dtype=t) for c, t in zip(PRICING_COLUMNS + EXTRA_COLUMNS, types, strict=True)}
    )


def as_text(codes: np.ndarray, labels: Sequence[str]) -> pd.api.extensions.ExtensionArray:
    """``labels[codes]`` as a pandas str array, decoded in Arrow: 100,000s of repeated labels cost nothing."""
    table = pa.DictionaryArray.from_arrays(
        pa.array(codes, pa.int64()), pa.array([str(x) for x in labels], pa.string())
    )
    return pd.array(table.cast(pa.string()), dtype="str")


def _stacked_text(texts: list[Text], order: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Several :class:`Text` blocks stacked, their rows put in ``order``, as one pandas str array.

    Why: the labels are pooled and the rows taken from the pool in one Arrow pass, so the
    300,000 texts never exist as Python strings.
    """
    starts = np.cumsum([0] + [len(t.labels) for t in texts[:-1]])
    codes = np.concatenate([t.codes + start for t, start in zip(texts, starts, strict=True)])
    pool = pa.concat_arrays([t.labels.cast(pa.large_string()) for t in texts])
    return pd.array(pool.take(pa.array(codes[order])), dtype="str")


def _flags(discount_bp: np.ndarray, is_bundle: np.ndarray, settings: Mapping[str, Any]) -> np.ndarray:
    """Which pricing-practice warning applies to each option: codes into :func:`flag_labels`."""
    inertia, low, high = percent_to_basis_points([settings[f"pricing.{k}"] for k in _BAND])
    conditions = [~is_bundle, discount_bp < 0, discount_bp < inertia, discount_bp < low, discount_bp > high]
    return np.select(conditions, [0, 4, 1, 2, 3], default=0)


def flag_labels(settings: Mapping[str, Any]) -> list[str]:
    """The flag texts, the first empty: under inertia, under the usual band, above it, dearer than list."""
    inertia, low, high = (float(settings[f"pricing.{k}"]) for k in _BAND)
    return [
        "",
        f"below-{inertia:g}%: rarely overcomes buying inertia",
        f"below-{low:g}%: under the usual {low:g}-{high:g}% band",
        f"above-{high:g}%: erodes pricing power",
        "above-list: costs more than a-la-carte",
    ]


def _options(basket: Basket, bundles: pd.DataFrame | None, settings: Mapping[str, Any]) -> list[Option]:
    currency = str(settings["pricing.currency"])
    plan_text = plan_ids(basket)
    options = [a_la_carte(basket, plan_text), *defined_bundles(basket, bundles)]
    options.append(policy_bundle(basket, float(settings["pricing.policy_discount_pct"]), plan_text))
    options.append(platform(basket, float(settings["pricing.platform_discount_pct"]), currency))
    credits = credit_pool(
        basket, settings["pricing.credit_rates"], float(settings["pricing.credit_price"]), currency, plan_text
    )
    return [*options, credits] if credits is not None else options


def _table(basket: Basket, options: list[Option], settings: Mapping[str, Any]) -> pd.DataFrame:
    def stack(field: str) -> np.ndarray:
        return np.concatenate([np.asarray(getattr(o, field)) for o in options])

    rows = stack("rows")
    rank = np.concatenate([np.full(len(o.rows), i) for i, o in enumerate(options)])
    order = np.lexsort((rank, rows))
    rows = rows[order]
    rank = rank[order]
    monthly, list_total, added_list = (
        stack(f)[order].astype("int64") for f in ("monthly", "list_total", "added_list")
    )
    annual_bundle = np.asarray([o.annual_bundle for o in options])[rank]
    break_even = stack("break_even")[order]

    discount_bp = np.where(
        list_total > 0, round_div((list_total - monthly) * 10_000, np.maximum(list_total, 1)), 0
    )
    added_monthly = np.where(list_total > 0, mul_div(monthly, added_list, np.maximum(list_total, 1)), 0)
    intro_points = percent_to_basis_points(settings["pricing.intro_discount_pct"])
    annual_points = percent_to_basis_points(settings["pricing.annual_bundle_discount_pct"])
    intro = mul_div(added_monthly * INTRO_MONTHS, intro_points, 10_000)
    commitment = np.where(
        annual_bundle, mul_div(added_monthly * (12 - INTRO_MONTHS), annual_points, 10_000), 0
    )
    plan_monthly = basket.plan_total[rows]
    mrr = basket.mrr[rows]
    return pd.DataFrame(
        {
            "account_id": as_text(rows, basket.accounts),
            "option": as_text(rank, [o.name for o in options]),
            "products": _stacked_text([o.products for o in options], order),
            "monthly_price": cents_to_float(monthly),
            "list_total": cents_to_float(list_total),
            "discount_pct": discount_bp / 100,
            "arr_delta": cents_to_float(12 * (monthly - mrr)),
            "annual_price": cents_to_float(12 * monthly),
            "first_year_price": cents_to_float(12 * monthly - intro - commitment),
            "saving_monthly": cents_to_float(plan_monthly - monthly),
            "arr_now": cents_to_float(12 * mrr),
            "flag": as_text(_flags(discount_bp, annual_bundle, settings), flag_labels(settings)),
            "note": _stacked_text([o.note for o in options], order),
            "break_even_products": pd.arrays.IntegerArray(break_even.astype("int64"), break_even <= 0),
        }
    )


def price_options(
    portfolio: Portfolio,
    suggestions: pd.DataFrame | None,
    as_of: Any,
    settings: Mapping[str, Any],
    account_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every way to charge each account for its current products plus its top suggestions, side by side.

    Why: a manager proposing an upsell needs to see what the customer would pay under each
    offer, what it saves them, and what it does to our ARR, before picking one. Options: the
    plan a-la-carte at list price x likely quantity; each defined bundle sharing 2+ products
    with the plan (the rest of the plan a-la-carte); the generic policy bundle (plans of 2+
    products); the platform (whole catalogue at ``pricing.platform_discount_pct`` off); a
    credit pool when ``pricing.credit_rates`` is set. First-year money takes
    ``pricing.intro_discount_pct`` off the added products' share for the first 90 days and,
    for bundle options, ``pricing.annual_bundle_discount_pct`` off it for the other 9 months.
    Money is exact: integer cents throughout, rounded half away from zero.

    Args:
        portfolio: the book (accounts, products, subscriptions, bundles).
        suggestions: ``account_id, product_id, rank, ...``; ranks up to ``pricing.top_suggestions`` count.
        as_of: the date "current products" refers to.
        settings: the merged settings from ``resolve()``.
        account_ids: price only these accounts (one account is instant); None = every account.

    Returns:
        DataFrame, per account (in the accounts table's order) one row per option in the order
        a-la-carte, bundle:<id> (by id), policy-bundle, platform, credits, with columns
        ``account_id``, ``option``, ``products`` (';'-joined ids priced), ``monthly_price``,
        ``list_total`` (their a-la-carte monthly total), ``discount_pct``
        (100 x (1 - monthly_price / list_total), 2 decimals), ``arr_delta``
        (12 x (monthly_price - current MRR)), ``annual_price`` (12 x monthly_price),
        ``first_year_price`` (after migration incentives), ``saving_monthly`` (plan
        a-la-carte minus monthly_price; negative = costs more), ``arr_now``, ``flag`` (discount
        outside the usual band), ``note``, ``break_even_products`` (Int64: the smallest k such that
        the k most expensive of the bundled products cost more a-la-carte than the bundled price;
        NA for a-la-carte or when it never does).
    """
    missing = [k for k in _SETTINGS if k not in settings]
    if missing:
        raise ValueError(f"settings lack {', '.join(missing)}: pass the merged settings from resolve().")
    if as_of is None or pd.isna(pd.Timestamp(as_of)):
        raise ValueError("as_of is required: pass the date the prices are as of.")
    basket = build_basket(portfolio, suggestions, as_of, settings, account_ids)
    if len(basket.accounts) == 0:
        return empty_pricing()
    return _table(basket, _options(basket, portfolio.bundles, settings), settings)
