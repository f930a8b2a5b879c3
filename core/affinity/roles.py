"""Product roles: which product opens accounts, which rides on it, which keeps them, which is fading.

A manager sells differently by role: lead with the anchor, add attach products to
anchor owners, protect strategic products for the retention they bring, and stop
pushing sunset products (suggestions never offer them). The team can override a
role; the computed one is kept beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from core.affinity.attach import single_thread_blas
from core.affinity.rules import ownership_onehot, product_ids
from core.affinity.sequencing import first_purchases
from core.frames import Portfolio, as_timestamp, owned_as_of, positions_in

ROLES = ("anchor", "attach", "strategic", "sunset", "core")
ROLE_COLUMNS = ["product_id", "role", "reason", "computed_role", "overridden"]
FIGURE_COLUMNS = [
    "name",
    "holders",
    "reach",
    "entry_accounts",
    "entry_share",
    "arr",
    "arr_share",
    "churn_rate_12m",
    "new_recent",
    "new_prior",
    "adoption_trend",
    "usage_trend",
    "anchor_source",
    "attach_from_anchor",
    "attach_in_max",
    "holder_churn_12m",
    "nonholder_churn_12m",
    "holder_nrr_12m",
    "nonholder_nrr_12m",
]
ROLE_SETTINGS = (
    "attach.strong",
    "roles.anchor_entry_share",
    "roles.strategic_max_arr_share",
    "roles.strategic_min_nrr_gap",
    "roles.sunset_decline",
    "roles.sunset_churn",
    "roles.sunset_max_attach",
    "roles.min_holders",
    "roles.trend_months",
)


def product_roles(
    portfolio: Portfolio,
    attach: pd.DataFrame,
    as_of: Any,
    settings: Mapping[str, Any],
    usage_product_monthly: pd.DataFrame | None = None,
    overrides: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each catalogue product's role, with the figures and one sentence saying why.

    Rules, first match wins: **anchor** — the product most accounts buy first, plus any other
    bought first by >= ``roles.anchor_entry_share`` of customers and owned by as many;
    **sunset** — new purchases (or usage, when ``usage_product_monthly`` is given) fell by
    >= ``roles.sunset_decline`` over the last ``roles.trend_months`` against the ones before,
    >= ``roles.sunset_churn`` of its holders a year ago dropped it, and no product's owners take
    it at ``roles.sunset_max_attach`` or more; **attach** — at least ``attach.strong`` of an
    anchor's owners own it; **strategic** — at most ``roles.strategic_max_arr_share`` of ARR,
    but its holders a year ago churned no more than non-holders and kept at least
    ``roles.strategic_min_nrr_gap`` more of their revenue (net revenue retention; the gap must be
    material because multi-product accounts retain better anyway); otherwise **core**. Groups
    smaller than ``roles.min_holders`` never decide a role.

    Args:
        attach: the frame of :func:`core.affinity.attach.attach_matrix` on the same date.
        usage_product_monthly: optional product_id, period, active_users, key_events (summed over
            accounts) for the usage trend.
        overrides: optional product_id, role set by the team; an override wins.

    Returns:
        DataFrame with columns ``product_id``, ``role``, ``reason``, ``computed_role``,
        ``overridden`` (bool), then the figures: ``name``, ``holders``, ``reach`` (share of
        customers owning it), ``entry_accounts``, ``entry_share`` (share of buyers whose first
        purchase included it), ``arr``, ``arr_share``, ``churn_rate_12m`` (holders a year ago who
        no longer hold it), ``new_recent``, ``new_prior`` (first purchases in the last and the
        previous trend window), ``adoption_trend`` (new_recent / new_prior - 1), ``usage_trend``,
        ``anchor_source``, ``attach_from_anchor``, ``attach_in_max``, ``holder_churn_12m``,
        ``nonholder_churn_12m``, ``holder_nrr_12m``, ``nonholder_nrr_12m``; sorted by product_id.
    """
    missing = [k for k in ROLE_SETTINGS if k not in settings]
    if missing:
        raise ValueError(f"settings lack {', '.join(missing)}: pass the merged settings from resolve().")
    _check_attach(attach)
    stamp = as_timestamp(as_of)
    figures = role_figures(portfolio, attach, stamp, settings, usage_product_monthly)
    computed = _computed_roles(figures, settings)
    names = dict(zip(figures["product_id"], figures["name"], strict=True))
    figures = figures.assign(computed_role=computed, anchor_name=figures["anchor_source"].map(names))
    figures["computed_reason"] = [_reason(row) for row in figures.itertuples(index=False)]
    chosen = _overrides(overrides).reindex(figures["product_id"]).to_numpy(dtype=object)
    overridden = pd.notna(chosen) & (chosen != figures["computed_role"].to_numpy(dtype=object))
    role = np.where(pd.notna(chosen), chosen, figures["computed_role"].to_numpy(dtype=object))
    reason = [
        f"Set to {r} by the team (computed: {c}). {why}" if o else why
        for r, c, o, why in zip(
            role, figures["computed_role"], overridden, figures["computed_reason"], strict=True
        )
    ]
    figures = figures.assign(
        role=pd.array(role, dtype="str"),
        reason=pd.array(reason, dtype="str"),
        overridden=overridden.astype(bool),
    )
    return figures[ROLE_COLUMNS + FIGURE_COLUMNS].reset_index(drop=True)


def role_figures(
    portfolio: Portfolio,
    attach: pd.DataFrame,
    as_of: pd.Timestamp,
    settings: Mapping[str, Any],
    usage_product_monthly: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The per-product figures the roles are decided from (see :func:`product_roles`)."""
    products = product_ids(portfolio)
    window = int(settings["roles.trend_months"])
    year_ago = as_of - pd.DateOffset(months=12)
    now = ownership_onehot(portfolio, as_of)[products]
    then = ownership_onehot(portfolio, year_ago)[products]
    customers = now.any(axis=1)
    holders = now.sum().astype("int64")
    names = portfolio.products.assign(product_id=portfolio.products["product_id"].astype(str))
    names = names.set_index("product_id")["name"].astype(str).reindex(products)

    firsts = first_purchases(portfolio, as_of)
    entry_dates = firsts.groupby("account_id")["first_date"].transform("min")
    entry = firsts[firsts["first_date"] == entry_dates]
    buyers = firsts["account_id"].nunique()
    entry_accounts = entry.groupby("product_id").size().reindex(products, fill_value=0).astype("int64")
    recent_start = as_of - pd.DateOffset(months=window)
    prior_start = as_of - pd.DateOffset(months=2 * window)
    new_recent = _count_between(firsts, recent_start, as_of, products)
    new_prior = _count_between(firsts, prior_start, recent_start, products)

    arr_now = _arr_matrix(portfolio, as_of, now.index, products)
    product_arr = pd.Series(arr_now.sum(axis=0), index=products)
    total_arr = float(product_arr.sum())
    held_then = then.sum()
    dropped = (then & ~now).sum()

    figures = pd.DataFrame(
        {
            "product_id": products,
            "name": names.to_numpy(),
            "holders": holders.to_numpy(),
            "reach": _share(holders.to_numpy(), int(customers.sum())),
            "entry_accounts": entry_accounts.to_numpy(),
            "entry_share": _share(entry_accounts.to_numpy(), buyers),
            "arr": product_arr.to_numpy(dtype="float64"),
            "arr_share": _share(product_arr.to_numpy(dtype="float64"), total_arr),
            "churn_rate_12m": _ratio(dropped.to_numpy(), held_then.to_numpy()),
            "new_recent": new_recent,
            "new_prior": new_prior,
            "adoption_trend": _ratio(new_recent, new_prior) - 1.0,
            "usage_trend": _usage_trend(usage_product_monthly, products, as_of, window),
        }
    )
    arr_then = _arr_matrix(portfolio, year_ago, now.index, products)
    figures = figures.join(_retention(now, then, arr_now, arr_then, settings), on="product_id")
    anchors = _anchor_mask(figures, settings)
    return figures.join(_attach_figures(attach, products, anchors, figures, settings), on="product_id")


def _computed_roles(figures: pd.DataFrame, settings: Mapping[str, Any]) -> np.ndarray:
    decline = -float(settings["roles.sunset_decline"])
    falling = (figures["adoption_trend"] <= decline) | (figures["usage_trend"] <= decline)
    churning = figures["churn_rate_12m"] >= float(settings["roles.sunset_churn"])
    weak = figures["attach_in_max"].fillna(0.0) < float(settings["roles.sunset_max_attach"])
    attach = figures["attach_from_anchor"] >= float(settings["attach.strong"])
    cheap = figures["arr_share"] <= float(settings["roles.strategic_max_arr_share"])
    churn_gap = figures["nonholder_churn_12m"] - figures["holder_churn_12m"]
    nrr_gap = figures["holder_nrr_12m"] - figures["nonholder_nrr_12m"]
    keeps = (churn_gap >= 0) & (nrr_gap >= float(settings["roles.strategic_min_nrr_gap"]))
    conditions = [_anchor_mask(figures, settings), falling & churning & weak, attach, cheap & keeps]
    return np.select(conditions, ["anchor", "sunset", "attach", "strategic"], default="core").astype(object)


def _anchor_mask(figures: pd.DataFrame, settings: Mapping[str, Any]) -> np.ndarray:
    share = float(settings["roles.anchor_entry_share"])
    broad = (figures["entry_share"] >= share) & (figures["reach"] >= share)
    top = np.zeros(len(figures), dtype=bool)
    if len(figures) and figures["entry_accounts"].max() > 0:
        ranked = figures.sort_values(
            ["entry_accounts", "reach", "product_id"], ascending=[False, False, True]
        )
        top[figures.index.get_loc(ranked.index[0])] = True
    return (broad.to_numpy() | top) & (figures["entry_accounts"].to_numpy() > 0)


def _attach_figures(
    attach: pd.DataFrame,
    products: list[str],
    anchors: np.ndarray,
    figures: pd.DataFrame,
    settings: Mapping[str, Any],
) -> pd.DataFrame:
    """Best attach rate into each product from an anchor, and from any product with enough owners."""
    rates = attach.assign(
        product_a=attach["product_a"].astype(str), product_b=attach["product_b"].astype(str)
    )
    rates = rates[rates["accounts_a"] >= int(settings["roles.min_holders"])]
    anchor_ids = set(figures.loc[anchors, "product_id"])
    from_anchor = rates[rates["product_a"].isin(anchor_ids)].sort_values(
        ["attach_rate", "product_a"], ascending=[False, True]
    )
    best = from_anchor.drop_duplicates("product_b").set_index("product_b")
    return pd.DataFrame(
        {
            "anchor_source": best["product_a"].reindex(products),
            "attach_from_anchor": best["attach_rate"].reindex(products).astype("float64"),
            "attach_in_max": rates.groupby("product_b")["attach_rate"]
            .max()
            .reindex(products)
            .astype("float64"),
        },
        index=pd.Index(products, name="product_id"),
    )


BREADTH_CAP = 5  # accounts with 5+ products form one stratum


def _retention(
    now: pd.DataFrame,
    then: pd.DataFrame,
    arr_now: np.ndarray,
    arr_then: np.ndarray,
    settings: Mapping[str, Any],
) -> pd.DataFrame:
    """Logo churn and net revenue retention over 12 months: the product's holders against
    non-holders *of the same breadth*.

    Accounts with more products retain better whatever they hold, so comparing holders with all
    other customers would credit every add-on. Non-holders are therefore grouped by how many
    products they held a year ago (1, 2, ..., 5+) and weighted like the holders (by count for
    churn, by ARR for retention): direct standardisation.
    """
    held_then = then.to_numpy(dtype=bool)
    breadth = held_then.sum(axis=1)
    customer = breadth > 0
    lost = (customer & ~now.to_numpy(dtype=bool).any(axis=1)).astype("float64")
    strata = (np.minimum(breadth, BREADTH_CAP)[:, None] == np.arange(1, BREADTH_CAP + 1)[None, :]).astype(
        "float64"
    )
    then_total, now_total = arr_then.sum(axis=1), arr_now.sum(axis=1)
    holders = held_then.astype("float64")
    with single_thread_blas():
        # (products x strata): holders' sums, and everyone's minus holders' for the non-holders.
        sums = {
            name: (holders.T @ (strata * values[:, None]), (strata * values[:, None]).sum(axis=0))
            for name, values in (
                ("count", np.ones(len(lost))),
                ("lost", lost),
                ("then", then_total),
                ("now", now_total),
            )
        }
    held = {name: pair[0] for name, pair in sums.items()}
    other = {name: pair[1][None, :] - pair[0] for name, pair in sums.items()}
    minimum = int(settings["roles.min_holders"])
    matched = (other["count"] * (held["count"] > 0)).sum(axis=1)
    enough = (held["count"].sum(axis=1) >= minimum) & (matched >= minimum)

    def standardised(rate_top: str, rate_bottom: str, weight: str) -> np.ndarray:
        rate = np.divide(
            other[rate_top],
            other[rate_bottom],
            out=np.zeros_like(other[rate_top]),
            where=other[rate_bottom] > 0,
        )
        weights = held[weight] * (other[rate_bottom] > 0)
        return _ratio((weights * rate).sum(axis=1), weights.sum(axis=1))

    columns = {
        "holder_churn_12m": _ratio(held["lost"].sum(axis=1), held["count"].sum(axis=1)),
        "nonholder_churn_12m": standardised("lost", "count", "count"),
        "holder_nrr_12m": _ratio(held["now"].sum(axis=1), held["then"].sum(axis=1)),
        "nonholder_nrr_12m": standardised("now", "then", "then"),
    }
    return pd.DataFrame(
        {name: np.where(enough, values, np.nan) for name, values in columns.items()},
        index=pd.Index([str(c) for c in then.columns], name="product_id"),
    )


def _arr_matrix(
    portfolio: Portfolio, as_of: pd.Timestamp, accounts: pd.Index, products: list[str]
) -> np.ndarray:
    """ARR (12 x mrr of the subscriptions owned on ``as_of``) per account and product."""
    subs = portfolio.subscriptions
    if "mrr" not in subs.columns:
        raise ValueError("portfolio.subscriptions lacks column mrr.")
    held = owned_as_of(subs, as_of)
    rows = positions_in(held["account_id"], accounts)
    cols = positions_in(held["product_id"], pd.Index(products))
    ok = (rows >= 0) & (cols >= 0)
    arr = 12.0 * pd.to_numeric(held["mrr"], errors="coerce").fillna(0.0).to_numpy(dtype="float64")
    # bincount sums in the same order as np.add.at, a few times faster (and is int64 when empty).
    cells = np.bincount(
        rows[ok] * len(products) + cols[ok], weights=arr[ok], minlength=len(accounts) * len(products)
    )
    return cells.astype("float64", copy=False).reshape(len(accounts), len(products))


def _count_between(
    firsts: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, products: list[str]
) -> np.ndarray:
    inside = firsts[(firsts["first_date"] > start) & (firsts["first_date"] <= end)]
    return inside.groupby("product_id").size().reindex(products, fill_value=0).to_numpy("int64")


def _usage_trend(
    usage: pd.DataFrame | None, products: list[str], as_of: pd.Timestamp, window: int
) -> np.ndarray:
    """Active users (key events where there are none) in the last ``window`` months over the ones before, minus 1."""
    if usage is None or len(usage) == 0:
        return np.full(len(products), np.nan)
    missing = [c for c in ("product_id", "period") if c not in usage.columns]
    if missing or not {"active_users", "key_events"} & set(usage.columns):
        raise ValueError("usage_product_monthly needs product_id, period and active_users or key_events.")
    usage = usage.assign(product_id=usage["product_id"].astype(str), period=pd.to_datetime(usage["period"]))
    month = as_of.to_period("M").to_timestamp()
    recent = (usage["period"] > month - pd.DateOffset(months=window)) & (usage["period"] <= month)
    prior = (
        (usage["period"] > month - pd.DateOffset(months=2 * window)) & ~recent & (usage["period"] <= month)
    )
    trend = np.full(len(products), np.nan)
    for metric in ("key_events", "active_users"):
        if metric not in usage.columns:
            continue
        values = pd.to_numeric(usage[metric], errors="coerce")
        now = values[recent].groupby(usage.loc[recent, "product_id"]).sum().reindex(products, fill_value=0.0)
        before = values[prior].groupby(usage.loc[prior, "product_id"]).sum().reindex(products, fill_value=0.0)
        found = _ratio(now.to_numpy(dtype="float64"), before.to_numpy(dtype="float64")) - 1.0
        trend = np.where(np.isnan(found), trend, found)
    return trend


def _overrides(overrides: pd.DataFrame | None) -> pd.Series:
    if overrides is None or len(overrides) == 0:
        return pd.Series(dtype=object)
    missing = [c for c in ("product_id", "role") if c not in overrides.columns]
    if missing:
        raise ValueError(f"overrides lacks column(s): {', '.join(missing)}.")
    bad = sorted(set(overrides["role"].dropna().astype(str)) - set(ROLES))
    if bad:
        raise ValueError(f"override roles must be one of {', '.join(ROLES)}; got {', '.join(bad)}.")
    kept = overrides.dropna(subset=["role"]).drop_duplicates("product_id", keep="last")
    return pd.Series(kept["role"].astype(str).to_numpy(dtype=object), index=kept["product_id"].astype(str))


def _check_attach(attach: pd.DataFrame) -> None:
    if not isinstance(attach, pd.DataFrame):
        raise ValueError("attach must be the DataFrame of attach_matrix().")
    missing = [c for c in ("product_a", "product_b", "accounts_a", "attach_rate") if c not in attach.columns]
    if missing:
        raise ValueError(f"attach lacks column(s): {', '.join(missing)}.")


def _share(part: np.ndarray, whole: float) -> np.ndarray:
    return np.asarray(part, dtype="float64") / whole if whole else np.zeros(len(part))


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = np.asarray(numerator, dtype="float64")
    denominator = np.asarray(denominator, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def _pct(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.0%}"


def _reason(row: Any) -> str:
    """One sentence with the numbers behind the computed role."""
    role, name = row.computed_role, row.name
    if role == "anchor":
        return (
            f"{name} is where accounts start: {_pct(row.entry_share)} of customers bought it first "
            f"and {_pct(row.reach)} own it."
        )
    if role == "sunset":
        steeper = pd.isna(row.usage_trend) or row.adoption_trend <= row.usage_trend
        if pd.notna(row.adoption_trend) and steeper:
            fall = (
                f"new purchases fell {_pct(-row.adoption_trend)} ({row.new_recent} vs {row.new_prior} before)"
            )
        else:
            fall = f"usage fell {_pct(-row.usage_trend)}"
        return (
            f"{name} is fading: {fall}, {_pct(row.churn_rate_12m)} of last year's holders dropped it, "
            f"and at most {_pct(0.0 if pd.isna(row.attach_in_max) else row.attach_in_max)} of any "
            f"product's owners take it."
        )
    if role == "attach":
        return f"{name} rides on {row.anchor_name}: {_pct(row.attach_from_anchor)} of its owners also own {name}."
    if role == "strategic":
        return (
            f"{name} brings only {_pct(row.arr_share)} of ARR, but its holders churned "
            f"{_pct(row.holder_churn_12m)} vs {_pct(row.nonholder_churn_12m)} for accounts with as many products "
            f"but not it, over 12 months, and kept {_pct(row.holder_nrr_12m)} vs {_pct(row.nonholder_nrr_12m)} "
            f"of their revenue."
        )
    return (
        f"{name}: {_pct(row.reach)} of customers own it and it brings {_pct(row.arr_share)} of ARR, "
        f"with no anchor, attach, strategic or sunset signal."
    )
