"""Tunable thresholds, weights and price policy, with their defaults.

The store keeps only the values a team changed; every analysis reads the
merged view through :func:`resolve`, so a new setting needs no migration.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

DEFAULTS: dict[str, Any] = {
    "rules.min_support": 0.001,
    "rules.min_count": 3,
    "rules.min_confidence": 0.05,
    "rules.min_lift": 0.0,
    "rules.max_len": 3,
    "rules.segment_min_accounts": 200,
    "attach.strong": 0.40,
    "attach.weak": 0.05,
    "suggestions.top_k": 5,
    "suggestions.lift_cap": 3.0,
    "suggestions.early_factor": 0.8,
    "suggestions.ready_factor": 1.25,
    "suggestions.not_ready_factor": 0.8,
    "roles.anchor_entry_share": 0.25,
    "roles.strategic_max_arr_share": 0.10,
    "roles.strategic_min_nrr_gap": 0.20,
    "roles.sunset_decline": 0.25,
    "roles.sunset_churn": 0.15,
    "roles.sunset_max_attach": 0.20,
    "roles.min_holders": 10,
    "roles.trend_months": 6,
    "readiness.horizon_months": 6,
    "readiness.reference_months": 2,
    "readiness.min_accounts": 10,
    "readiness.min_buyers": 3,
    "readiness.top_signals": 3,
    "quadrant.risk_threshold": 50.0,
    "quadrant.expansion_threshold": 50.0,
    "risk.weights": {
        "usage_trend": 25,
        "seat_utilisation": 15,
        "renewal_proximity": 15,
        "engagement_recency": 10,
        "sentiment": 15,
        "breadth": 10,
        "buying_centre": 5,
        "headcount": 5,
    },
    "expansion.weights": {
        "suggestions": 35,
        "seat_saturation": 20,
        "headcount_growth": 15,
        "usage_growth": 10,
        "readiness": 10,
        "sentiment": 5,
        "reactivation": 5,
    },
    "todos.daily_cap": 15,
    "todos.renewal_call_days": 90,
    "todos.control_group_pct": 0.0,
    "todos.control_group_seed": 0,
    "trust.min_positives": 10,
    "pricing.policy_discount_pct": 20.0,
    "pricing.platform_discount_pct": 30.0,
    "pricing.credit_rates": {},
    "pricing.credit_price": 1.0,
    "pricing.intro_discount_pct": 50.0,
    "pricing.annual_bundle_discount_pct": 20.0,
    "pricing.currency": "USD",
    "pricing.top_suggestions": 3,
    "pricing.seats_per_employee": 0.1,
    "pricing.inertia_discount_pct": 10.0,
    "pricing.band_low_pct": 15.0,
    "pricing.band_high_pct": 30.0,
    "as_of": None,
    "ui.theme": "textual-dark",
    "ui.todo_owner": None,
}

SECTIONS: dict[str, tuple[str, ...]] = {
    "Association rules and affinity": ("rules.", "attach.", "suggestions.", "roles.", "readiness."),
    "Scores and quadrants": ("quadrant.", "risk.", "expansion."),
    "To-dos and trust": ("todos.", "trust."),
    "Pricing": ("pricing.",),
    "General": ("as_of", "ui."),
}
"""Each setting's section, by key prefix, in the order the settings screen lists them."""

DESCRIPTIONS: dict[str, str] = {
    "rules.min_support": "a rule's itemset must be owned by at least this fraction of all accounts",
    "rules.min_count": "...and by at least this many accounts, so a small book still gets rules",
    "rules.min_confidence": "rules whose consequent follows less often than this are dropped",
    "rules.min_lift": "rules below this lift are dropped (1 = no better than the base rate)",
    "rules.max_len": "most products in one rule, antecedent and consequent together",
    "rules.segment_min_accounts": "a segment gets rules of its own from this many accounts",
    "attach.strong": "an attach rate at or above this is a strong pair",
    "attach.weak": "an attach rate at or below this is a weak pair",
    "suggestions.top_k": "products suggested per account",
    "suggestions.lift_cap": "lift counts up to this in a suggestion's score",
    "suggestions.early_factor": "score x this when the antecedent was just bought, up to 1 at the typical gap",
    "suggestions.ready_factor": "score x this when readiness says ready",
    "suggestions.not_ready_factor": "...and x this when it says not ready",
    "roles.anchor_entry_share": "an anchor is bought first by, and owned by, at least this share of customers",
    "roles.strategic_max_arr_share": "a strategic product brings at most this share of ARR on its own",
    "roles.strategic_min_nrr_gap": "...and its holders keep this many more points of revenue than like non-holders",
    "roles.sunset_decline": "a sunset candidate's new purchases or usage fell by at least this share",
    "roles.sunset_churn": "...and at least this share of last year's holders dropped it",
    "roles.sunset_max_attach": "...and no product's owners take it at this rate or more",
    "roles.min_holders": "smaller groups of holders never decide a role",
    "roles.trend_months": "adoption trends compare the last this many months with the ones before",
    "readiness.horizon_months": "a purchase within this many months counts as following a signal",
    "readiness.reference_months": "past months the magic numbers learn from, horizon_months apart",
    "readiness.min_accounts": "a threshold needs this many accounts on each side...",
    "readiness.min_buyers": "...and this many buyers past it",
    "readiness.top_signals": "magic numbers kept per product",
    "quadrant.risk_threshold": "risk at or above this (0-100) is high",
    "quadrant.expansion_threshold": "expansion at or above this (0-100) is high",
    "risk.weights": "points each risk component can add; scaled to sum to 100",
    "expansion.weights": "points each expansion component can add; scaled to sum to 100",
    "todos.daily_cap": "to-dos per owner above the line each day; the rest wait below it",
    "todos.renewal_call_days": "a renewal call is due this many days before the renewal date",
    "todos.control_group_pct": "percent of accounts held out of cross-sell to-dos, to measure uplift",
    "todos.control_group_seed": "fixes who is in the cross-sell hold-out",
    "trust.min_positives": "churned accounts needed before the risk AUC is reported",
    "pricing.policy_discount_pct": "the generic bundle policy: percent off the a-la-carte sum",
    "pricing.platform_discount_pct": "the platform price: the whole catalogue at this percent off list",
    "pricing.credit_rates": "product_id -> monthly credits per unit; empty = no credit option",
    "pricing.credit_price": "currency per credit",
    "pricing.intro_discount_pct": "percent off added products for their first 90 days",
    "pricing.annual_bundle_discount_pct": "percent off a bundle paid annually, in the first-year figure",
    "pricing.currency": "currency of every amount (ISO code)",
    "pricing.top_suggestions": "suggestions up to this rank join the priced plan",
    "pricing.seats_per_employee": "seat estimate for an account with no per-seat product",
    "pricing.inertia_discount_pct": "bundle discounts below this rarely overcome buying inertia",
    "pricing.band_low_pct": "the usual bundle discount band starts here...",
    "pricing.band_high_pct": "...and ends here; deeper discounts erode pricing power",
    "as_of": "ISO date that freezes today for the analyses; empty = the real date",
    "ui.theme": "the app's colour theme, remembered between runs",
    "ui.todo_owner": "the to-do screen's owner (my book); empty = every owner",
}
"""What each setting does, in one line, for the settings screen and `quadrant settings`."""


def section_of(key: str) -> str:
    """The settings screen's section for ``key``."""
    return next(
        (name for name, prefixes in SECTIONS.items() if any(key.startswith(p) for p in prefixes)), "General"
    )


def resolve(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults merged with a team's overrides; dict-valued settings merge key by key."""
    merged = deepcopy(DEFAULTS)
    for key, value in (overrides or {}).items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


# Bounds a value must respect, by key prefix or exact key; a value outside them is refused.
RANGES: dict[str, tuple[float, float]] = {
    "todos.daily_cap": (1, 500),
    "rules.max_len": (2, 4),
    "rules.min_count": (1, 1e9),
    "suggestions.top_k": (1, 50),
    "quadrant.": (0, 100),
    "rules.min_support": (0, 1),
    "rules.min_confidence": (0, 1),
    "attach.": (0, 1),
    "pricing.policy_discount_pct": (0, 100),
    "pricing.platform_discount_pct": (0, 100),
    "pricing.intro_discount_pct": (0, 100),
    "pricing.annual_bundle_discount_pct": (0, 100),
    "todos.control_group_pct": (0, 90),
    "risk.weights": (0, 100),
    "expansion.weights": (0, 100),
}


def _bounds(key: str) -> tuple[float, float] | None:
    if key in RANGES:
        return RANGES[key]
    return next((b for prefix, b in RANGES.items() if prefix.endswith(".") and key.startswith(prefix)), None)


def _coerce(key: str, default: Any, value: Any) -> Any:
    if isinstance(default, bool):
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise TypeError
        return {k: float(v) for k, v in value.items()}
    return value


def validate(key: str, value: Any) -> Any:
    """Coerce a user-entered value to the default's type and bounds, or raise ValueError naming the key."""
    if key not in DEFAULTS:
        raise ValueError(f"unknown setting {key!r}")
    default = DEFAULTS[key]
    try:
        value = _coerce(key, default, value)
    except (TypeError, ValueError):
        raise ValueError(f"setting {key!r} expects {type(default).__name__}, got {value!r}") from None
    bounds = _bounds(key)
    numbers = list(value.values()) if isinstance(value, dict) else [value]
    if bounds is not None and not isinstance(value, bool):
        for number in numbers:
            if isinstance(number, (int, float)) and not (bounds[0] <= number <= bounds[1]):
                raise ValueError(
                    f"setting {key!r} must be between {bounds[0]:g} and {bounds[1]:g}, got {number!r}"
                )
    return value
