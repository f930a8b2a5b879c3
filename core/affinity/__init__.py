"""Product affinity: what accounts own together, in what order, which role each product plays,
and what each account should be offered next.

``readiness`` (readiness signals) lives in this package too but is imported on its own.
"""

from core.affinity.attach import attach_from_onehot, attach_matrix
from core.affinity.backtest import backtest, portfolio_as_of
from core.affinity.roles import product_roles
from core.affinity.rules import (
    all_and_segment_rules,
    association_rules_frame,
    frequent_itemsets,
    ownership_onehot,
    rules_from_onehot,
    segment_rules,
)
from core.affinity.sequencing import first_purchases, next_product, time_to_attach, time_to_second_product
from core.affinity.suggestions import suggest, suggest_loop

__all__ = [
    "all_and_segment_rules",
    "association_rules_frame",
    "attach_from_onehot",
    "attach_matrix",
    "backtest",
    "first_purchases",
    "frequent_itemsets",
    "next_product",
    "ownership_onehot",
    "portfolio_as_of",
    "product_roles",
    "rules_from_onehot",
    "segment_rules",
    "suggest",
    "suggest_loop",
    "time_to_attach",
    "time_to_second_product",
]
