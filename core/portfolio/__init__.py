"""The manager's portfolio metrics, each owner's book and the attach heatmap."""

from core.portfolio.adoption import attach_heatmap
from core.portfolio.book import OWNER_COLUMNS
from core.portfolio.metrics import owner_book, portfolio_metrics
from core.portfolio.segments import METRIC_COLUMNS, SEGMENT_ROWS

__all__ = [
    "METRIC_COLUMNS",
    "OWNER_COLUMNS",
    "SEGMENT_ROWS",
    "attach_heatmap",
    "owner_book",
    "portfolio_metrics",
]
