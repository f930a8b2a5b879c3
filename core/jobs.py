"""Recompute work that runs beside the main analyses in helper processes, on a second core.

Two parts of a recompute depend only on the stored book: the usage aggregates
(every analysis needs them first) and the trust figures (risk AUC on past
churn and the suggestions backtest, needed only when the results are saved).
On a big book each runs as a task of ``core.store.bulk_read``'s helper
processes, which read the store with ADBC themselves; the recompute does the
same work in-process on a small book or when a helper fails, with the same
functions, so both ways give the same tables (a test checks).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

USAGE_TASK = "core.jobs:usage_aggregates"
TRUST_TASK = "core.jobs:trust"


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


def _cube(store_path: Path, months: tuple[str, str] | None = None):
    from core.store.store import helper_tables
    from core.usage import UsageCube

    return UsageCube.from_arrow(helper_tables(store_path, ["usage"], months)["usage"])


def usage_aggregates(store_path: Path, as_of: str, cutoff: str | None) -> dict[str, pd.DataFrame]:
    """Helper task: ``aggregates_of`` the stored usage."""
    return aggregates_of(
        _cube(store_path), pd.Timestamp(as_of), None if cutoff is None else pd.Timestamp(cutoff)
    )


def trust(store_path: Path, as_of: str, cutoff: str, settings: dict) -> dict[str, pd.DataFrame]:
    """Helper task: ``trust_metrics`` of the stored book."""
    from core import scoring
    from core.store.store import DATA_TABLES, helper_tables, portfolio_from_tables
    from core.usage import LOOKBACK_MONTHS, month_index, month_label

    book = portfolio_from_tables(helper_tables(store_path, list(DATA_TABLES)))
    stamp, past = pd.Timestamp(as_of), pd.Timestamp(cutoff)
    window = (month_label(month_index(past) - LOOKBACK_MONTHS), month_label(month_index(past)))
    past_usage = scoring.usage_features(_cube(store_path, window), past)  # reads only the months it needs
    return {"model_metrics": trust_metrics(book, past_usage, stamp, past, settings)}
