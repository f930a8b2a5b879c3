"""Renewal risk, expansion, quadrants and the to-do list: explainable scores turned into actions.

Pure functions over the frames of ``core.frames`` with an explicit ``as_of``.
"""

from core.scoring.expansion import expansion_scores, suggestion_values
from core.scoring.features import account_features, usage_features
from core.scoring.outcomes import control_uplift, conversion_rates
from core.scoring.playbooks import DEFAULT_PLAYBOOKS
from core.scoring.quadrants import assign_quadrants, combine_scores, score_moves
from core.scoring.risk import breadth_churn_history, risk_scores
from core.scoring.todos import apply_daily_cap, control_group, generate_todos, reconcile, todo_ids
from core.scoring.trust import churn_labels, risk_auc

__all__ = [
    "DEFAULT_PLAYBOOKS",
    "account_features",
    "apply_daily_cap",
    "assign_quadrants",
    "breadth_churn_history",
    "churn_labels",
    "combine_scores",
    "control_group",
    "control_uplift",
    "conversion_rates",
    "expansion_scores",
    "generate_todos",
    "reconcile",
    "risk_auc",
    "risk_scores",
    "score_moves",
    "suggestion_values",
    "todo_ids",
    "usage_features",
]
