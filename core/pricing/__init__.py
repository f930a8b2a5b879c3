"""Bundle pricing comparisons: what each account would pay under every offer, in exact money."""

from core.pricing.compare import EXTRA_COLUMNS, PRICING_COLUMNS, empty_pricing, price_options
from core.pricing.options import break_even

__all__ = ["EXTRA_COLUMNS", "PRICING_COLUMNS", "break_even", "empty_pricing", "price_options"]
