"""The manager's portfolio metrics, each owner's book and the attach heatmap."""

from core.portfolio.adoption import attach_heatmap
from core.portfolio.book import OWNER_COLUMNS
from core.portfolio.metrics import BookFigures, book_figures, owner_book, portfolio_metrics, with_todos
from core.portfolio.segments import METRIC_COLUMNS, SEGMENT_ROWS

__all__ = [
    "METRIC_COLUMNS",
    "BookFigures",
    "OWNER_COLUMNS",
    "SEGMENT_ROWS",
    "attach_heatmap",
    "book_figures",
    "owner_book",
    "portfolio_metrics",
    "with_todos",
]
