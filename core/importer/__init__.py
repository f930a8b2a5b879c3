"""The strict importer of a portfolio folder (spec/import-format.md).

``open_portfolio(folder)`` returns a reader whose ``batches()`` yield each table's
valid rows in the store's shape while every problem is recorded with its file,
line, column and value; ``raise_if_failed()`` turns them into ``ImportFailed``.
"""

from core.importer.columns import STORE_COLUMNS
from core.importer.errors import MAX_PER_FILE, ImportFailed, ImportIssue
from core.importer.reader import PortfolioReader, open_portfolio, read_portfolio

__all__ = [
    "MAX_PER_FILE",
    "STORE_COLUMNS",
    "ImportFailed",
    "ImportIssue",
    "PortfolioReader",
    "open_portfolio",
    "read_portfolio",
]
