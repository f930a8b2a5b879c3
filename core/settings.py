"""Tunable thresholds, weights and price policy, with their defaults.

The store keeps only the values a team changed; every analysis reads the
merged view through :func:`resolve`, so a new setting needs no migration.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

DEFAULTS: dict[str, Any] = {
    # Association rules and affinity
    "rules.min_support": 0.001,  # fraction of all accounts
    "rules.min_count": 3,  # ...and at least this many accounts
    "rules.min_confidence": 0.05,
    "rules.min_lift": 0.0,
    "rules.max_len": 3,
    "rules.segment_min_accounts": 200,
    "attach.strong": 0.40,
    "attach.weak": 0.05,
    "suggestions.top_k": 5,
    "readiness.horizon_months": 6,
    # Scores and quadrants
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
    # To-dos
    "todos.daily_cap": 15,
    "todos.renewal_call_days": 90,
    "todos.control_group_pct": 0.0,
    # Pricing
    "pricing.policy_discount_pct": 20.0,
    "pricing.platform_discount_pct": 30.0,
    "pricing.credit_rates": {},  # product_id -> monthly credits per unit; empty = no credit option
    "pricing.credit_price": 1.0,  # currency per credit
    "pricing.intro_discount_pct": 50.0,  # off added products for the first 90 days
    "pricing.annual_bundle_discount_pct": 20.0,
    "pricing.currency": "USD",
    # General
    "as_of": None,  # ISO date that freezes "today" for analyses; None = the real date
}


def resolve(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults merged with a team's overrides; dict-valued settings merge key by key."""
    merged = deepcopy(DEFAULTS)
    for key, value in (overrides or {}).items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def validate(key: str, value: Any) -> Any:
    """Coerce a user-entered value to the default's type, or raise ValueError naming the key."""
    if key not in DEFAULTS:
        raise ValueError(f"unknown setting {key!r}")
    default = DEFAULTS[key]
    try:
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
    except (TypeError, ValueError):
        raise ValueError(f"setting {key!r} expects {type(default).__name__}, got {value!r}") from None
    return value
