"""Recompute work that runs beside the main analyses in helper processes, on a second core.

Two parts of a recompute depend only on the stored book: the usage aggregates
(every analysis needs them first) and the trust figures (risk AUC on past
churn and the suggestions backtest, needed only when the results are saved).
On a big book one helper process of ``core.store.bulk_read`` does both, one
after the other: it reads the usage once, hands over the aggregates, then
works out the trust figures while the recompute runs the analyses. The
recompute does the same work in-process on a small book or when the helper
fails, with the same functions, so both ways give the same tables (a test checks).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

HELPER_TASK = "core.jobs:usage_then_trust"
HELPER_PARTS = 2  # the usage aggregates, then the trust figures


def aggregates_of(cube, as_of: pd.Timestamp, cutoff: pd.Timestamp | None) -> dict[str, pd.DataFrame]:
    """Monthly usage per account and per product, and the usage features now and at the trust cutoff.

    ``past_features`` only when a ``cutoff`` is given.
    """
    from core import scoring, usage

    out = {
        "monthly": usage.account_monthly(cube),
        "product_monthly": usage.product_monthly(cube),
        "features": scoring.usage_features(cube, as_of),
    }
    if cutoff is not None:
        out["past_features"] = scoring.usage_features(cube, cutoff)
    return out


def _metric_rows(prefix: str, figures: dict) -> list[dict]:
    """Scalar figures as model_metrics rows; frames and other detail stay out of the table."""
    rows = []
    for key, value in figures.items():
        if isinstance(value, pd.DataFrame):
            continue
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        rows.append({"name": f"{prefix}.{key}", "value": number, "detail": str(value)})
    return rows


def backtest_rows(book, as_of: pd.Timestamp, months: int, settings: dict) -> tuple[pd.DataFrame, dict]:
    """The suggestions backtest as model_metrics rows, and its scalar figures."""
    from core import affinity

    figures = affinity.backtest(book, as_of, months, settings)
    rows = pd.DataFrame(_metric_rows("backtest", figures), columns=["name", "value", "detail"])
    return rows, {k: v for k, v in figures.items() if not isinstance(v, pd.DataFrame)}


def trust_metrics(book, past_usage: pd.DataFrame, as_of: pd.Timestamp, cutoff: pd.Timestamp, settings: dict):
    """How far to trust the scores: risk AUC on past churn beside a fitted model's, and the backtest.

    ``past_usage`` is the usage features as of ``cutoff``; the backtest replays the months since.
    """
    from core import scoring

    past = scoring.account_features(past_usage, book, cutoff)
    rows = pd.DataFrame(
        _metric_rows("risk", scoring.risk_auc(book, past, cutoff, as_of, settings)),
        columns=["name", "value", "detail"],
    )
    months = (as_of.year - cutoff.year) * 12 + as_of.month - cutoff.month
    return pd.concat([rows, backtest_rows(book, as_of, months, settings)[0]], ignore_index=True)


# -- helper tasks (run by ``python -m core.store.bulk_read``) ------------------------------------------------


def _cube(store_path: Path):
    from core.store.store import helper_tables
    from core.usage import UsageCube

    return UsageCube.from_arrow(helper_tables(store_path, ["usage"])["usage"])


def usage_then_trust(store_path: Path, as_of: str, cutoff: str, settings: dict) -> Iterator[dict]:
    """Helper task in two parts: ``aggregates_of`` the stored usage, then ``trust_metrics`` of the book.

    The usage is read once for both: the features at the trust cutoff come from the same cube.
    """
    from core import scoring
    from core.store.store import DATA_TABLES, helper_tables, portfolio_from_tables

    stamp, past = pd.Timestamp(as_of), pd.Timestamp(cutoff)
    cube = _cube(store_path)
    yield aggregates_of(cube, stamp, None)
    past_usage = scoring.usage_features(cube, past)
    del cube
    book = portfolio_from_tables(helper_tables(store_path, list(DATA_TABLES)))
    yield {"model_metrics": trust_metrics(book, past_usage, stamp, past, settings)}
