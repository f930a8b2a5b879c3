"""Recompute work that runs beside the main analyses in helper processes, on a second core.

Two parts of a recompute depend only on the stored book: the usage aggregates
(every analysis needs them first) and the trust figures (risk AUC on past
churn and the suggestions backtest, needed only when the results are saved).
On a big book two helper processes of ``core.store.bulk_read`` read the usage
in two halves of accounts, on both cores while the recompute waits for them
(each account's aggregates depend on its own rows only). The first helper then
works out the trust figures while the recompute runs the analyses. Once an
import's aggregates are kept (``core.store.read_cache``), the recompute has little
to wait for and the second core would idle: one helper works out the analyses that
read only the book (``book_affinity``), then the trust figures, from the kept parts
(``affinity_then_trust``), while the recompute scores usage. The recompute does the
same work in-process on a small book or when a helper fails, with the same
functions, so every way gives the same tables (tests check).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from core import memory

HELPER_TASK = "core.jobs:usage_then_trust"
SECOND_HALF_TASK = "core.jobs:usage_aggregates"  # one part: the second half's aggregates
KEPT_TASK = "core.jobs:affinity_then_trust"  # from kept parts: the book's affinity tables, then trust


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


def combined(halves: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """The aggregates of the usage read in halves of accounts (in id order), as one read gives them.

    Per-account rows follow one another; the product sums add up, NaN only where no half had a value.
    """
    out = {name: stacked([half[name] for half in halves]) for name in ("monthly", "features")}
    products = pd.concat([half["product_monthly"] for half in halves], ignore_index=True)
    out["product_monthly"] = (
        products.groupby(["product_id", "period"], sort=True).sum(min_count=1).reset_index()
    )
    return out


def stacked(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Per-account tables of account halves (in id order) one after another; an empty half adds nothing."""
    return pd.concat([frame for frame in frames if len(frame)] or frames[:1], ignore_index=True)


def book_affinity(book, as_of: pd.Timestamp, settings: dict) -> dict[str, pd.DataFrame]:
    """The analyses that read only the book: the association rules (all accounts, then per segment),
    the time to attach each product, the usual next product and the time to a second product."""
    from core import affinity

    rules_all, rules_segment, _ = affinity.all_and_segment_rules(book, settings, as_of)
    return {
        "rules_all": rules_all,
        "rules_segment": rules_segment,
        "time_to_attach": affinity.time_to_attach(book, as_of),
        "next_product": affinity.next_product(book, as_of),
        "time_to_second": affinity.time_to_second_product(book, as_of),
    }


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
    return pd.concat(
        [risk_rows(book, past_usage, as_of, cutoff, settings), trust_backtest(book, as_of, cutoff, settings)],
        ignore_index=True,
    )


def risk_rows(book, past_usage: pd.DataFrame, as_of: pd.Timestamp, cutoff: pd.Timestamp, settings: dict):
    """The risk score's AUC on the churn since ``cutoff`` (see ``scoring.risk_auc``), as model_metrics rows."""
    from core import scoring

    past = scoring.account_features(past_usage, book, cutoff)
    return pd.DataFrame(
        _metric_rows("risk", scoring.risk_auc(book, past, cutoff, as_of, settings)),
        columns=["name", "value", "detail"],
    )


def trust_backtest(book, as_of: pd.Timestamp, cutoff: pd.Timestamp, settings: dict) -> pd.DataFrame:
    """The suggestions replayed from ``cutoff``, as model_metrics rows."""
    months = (as_of.year - cutoff.year) * 12 + as_of.month - cutoff.month
    return backtest_rows(book, as_of, months, settings)[0]


# -- helper tasks (run by ``python -m core.store.bulk_read``) ------------------------------------------------


def _cube(store_path: Path, accounts: tuple[str | None, str | None], months: tuple[str, str] | None = None):
    from core.store.store import helper_tables
    from core.usage import UsageCube

    return UsageCube.from_arrow(helper_tables(store_path, ["usage"], months, accounts)["usage"])


def usage_then_trust(
    store_path: Path,
    as_of: str,
    cutoff: str,
    settings: dict,
    split: str | None = None,
    book: str | None = None,
) -> Iterator[dict]:
    """Helper task in three parts: ``aggregates_of`` the usage of accounts before ``split``, the usage
    features of every account at ``cutoff``, then ``trust_metrics`` of the book.

    This half's usage is read once for all three: its features at the trust cutoff come from the
    same cube; the other half's are read for the nine months they need. ``book`` is the folder
    where the recompute's book helper writes the book (``Helper.part_folder``): mapped from there,
    not read a second time, unless that helper failed. The recompute keeps the first two parts
    for its next run (``core.store.read_cache``).
    """
    from core import scoring
    from core.usage import LOOKBACK_MONTHS, month_index, month_label

    stamp, past = pd.Timestamp(as_of), pd.Timestamp(cutoff)
    cube = _cube(store_path, (None, split))
    yield aggregates_of(cube, stamp, None)
    past_usage = scoring.usage_features(cube, past)
    del cube
    if split is not None:
        months = (month_label(month_index(past) - LOOKBACK_MONTHS), month_label(month_index(past)))
        rest = scoring.usage_features(_cube(store_path, (split, None), months), past)
        past_usage = stacked([past_usage, rest])
    yield {"past_features": past_usage}
    from core.store.bulk_read import shared_part

    yield _trust_part(
        store_path,
        stamp,
        past,
        settings,
        _portfolio(store_path, shared_part(Path(book)) if book else None),
        past_usage,
    )


def affinity_then_trust(
    store_path: Path, as_of: str, cutoff: str, settings: dict, book: str, past: str
) -> Iterator[dict]:
    """Helper task in two parts: ``book_affinity``, then ``trust_metrics``, from a kept book and kept
    usage features at ``cutoff`` (``book`` and ``past`` are their folders, see ``core.store.read_cache``).

    Should the kept folders be gone (a newer import's recompute replaced them), the book is read and
    the features are worked out from the usage, as ``usage_then_trust`` does.
    """
    from core import scoring
    from core.store.bulk_read import mapped_if_there  # a kept part never appears later: no waiting
    from core.usage import LOOKBACK_MONTHS, month_index, month_label

    stamp, when = pd.Timestamp(as_of), pd.Timestamp(cutoff)
    portfolio = _portfolio(store_path, mapped_if_there(Path(book)))
    yield book_affinity(portfolio, stamp, settings)
    kept = mapped_if_there(Path(past))
    if kept is not None and "past_features" in kept:
        past_usage = kept["past_features"].to_pandas()
    else:
        months = (month_label(month_index(when) - LOOKBACK_MONTHS), month_label(month_index(when)))
        past_usage = scoring.usage_features(_cube(store_path, (None, None), months), when)
    yield _trust_part(store_path, stamp, when, settings, portfolio, past_usage)


def _portfolio(store_path: Path, book: dict | None):
    """The portfolio from a helper's or a kept part's ``book`` tables; read from the store when None."""
    from core.store.store import DATA_TABLES, helper_tables, portfolio_from_tables

    try:
        if book:
            return portfolio_from_tables(book)
    except KeyError:  # a kept book that lost files while a newer one replaced it
        pass
    return portfolio_from_tables(helper_tables(store_path, list(DATA_TABLES)))


def _trust_part(
    store_path: Path, stamp: pd.Timestamp, past: pd.Timestamp, settings: dict, portfolio, past_usage
) -> dict:
    """The trust figures as a helper's part, on the ``portfolio`` given."""
    risk = risk_rows(portfolio, past_usage, stamp, past, settings)
    memory.return_free_memory()  # the backtest's peak is this helper's; it need not sit on the risk step's leftovers
    return {
        "model_metrics": pd.concat(
            [risk, trust_backtest(portfolio, stamp, past, settings)], ignore_index=True
        )
    }


def usage_aggregates(store_path: Path, as_of: str, split: str) -> dict:
    """Helper task: ``aggregates_of`` the usage of accounts from ``split`` on."""
    return aggregates_of(_cube(store_path, (split, None)), pd.Timestamp(as_of), None)
