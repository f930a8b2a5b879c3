"""The recompute: read the store, run every analysis, write every result in one transaction.

This is the orchestration layer, so it alone calls both the store and the
pure analyses. A failure leaves the last good results in place.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from core import jobs, memory
from core.frames import is_in
from core.recompute_inputs import Inputs
from core.store import DataChanged, Store, read_cache
from core.store.read_cache import Keeping

Progress = Callable[[str, int, int], None]
ATTEMPTS = 2  # tries of a recompute that an import overtakes (see ``recompute``)
TRUST_MONTHS = 6  # how far back the trust step rebuilds the scores to compare them with what happened


class RecomputeFailed(Exception):
    """An analysis failed; the store still holds the previous results."""


@dataclass
class RecomputeReport:
    """What a recompute did, for the command line and the app's status line."""

    as_of: date
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    quadrant_moves: int = 0
    quadrant_counts: dict[str, int] = field(default_factory=dict)
    new_todos: int = 0
    restarts: int = 0  # started over because an import committed meanwhile

    def describe(self) -> str:
        counts = ", ".join(f"{q} {n:,}" for q, n in self.quadrant_counts.items())
        slowest = sorted(self.step_seconds.items(), key=lambda kv: -kv[1])[:3]
        steps = ", ".join(f"{name} {secs:.2f} s" for name, secs in slowest)
        return (
            f"Recomputed as of {self.as_of} in {self.seconds:.2f} s ({steps}).\n"
            f"Quadrants: {counts or 'none'}; {self.quadrant_moves:,} accounts changed quadrant; "
            f"{self.new_todos:,} new to-dos; {self.rows.get('suggestions', 0):,} suggestions, "
            f"{self.rows.get('rules', 0):,} rules."
            + ("\nStarted over once: the portfolio was imported while it ran." if self.restarts else "")
        )


class _Steps:
    """Times each step and reports progress."""

    def __init__(self, names: list[str], progress: Progress | None, report: RecomputeReport) -> None:
        self.names, self.progress, self.report = names, progress, report
        self.done = 0

    def run(self, name: str, fn: Callable, *args, **kwargs):
        if self.progress is not None:
            self.progress(name, self.done, len(self.names))
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        self.report.step_seconds[name] = time.perf_counter() - started
        self.done += 1
        return result


STEPS = [
    "load",
    "rules",
    "attach",
    "sequencing",
    "usage features",
    "readiness",
    "roles",
    "suggestions",
    "risk",
    "expansion",
    "quadrants",
    "to-dos",
    "pricing",
    "trust",
    "save",
    "portfolio",
]


def compute_all(
    store: Store, as_of: date, steps: _Steps, stage=None, keeping: Keeping | None = None
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, ManagerFigures]:
    """Every analysis, in dependency order.

    Returns result tables, generated to-dos, and the ``ManagerFigures`` that work out
    the manager's figures from the merged to-dos (they count open and overdue to-dos).
    Each big result is handed to ``stage`` (a ``Store.result_stage()``) as soon
    as it is final, so its writing overlaps the analyses that follow. What the helpers
    hand over is linked into ``keeping`` (see ``core.recompute_inputs``).
    """

    def final(name: str, frame: pd.DataFrame) -> pd.DataFrame:
        if stage is not None:
            stage.add(name, frame)
        return frame

    def release(name: str, frame: pd.DataFrame) -> pd.DataFrame:
        """After a staged frame's last reader: only its columns stay in memory (see ``ResultStage.release``)."""
        return frame if stage is None else stage.release(name, frame)

    from core import affinity, pricing, scoring

    settings = store.settings()
    stamp = pd.Timestamp(as_of)
    cutoff = stamp - pd.DateOffset(months=TRUST_MONTHS)
    with contextlib.ExitStack() as running:
        inputs = Inputs(store, running, stamp, cutoff, settings, keeping)
        if inputs.big:  # this process mostly waits for its helpers now: import what readiness needs meanwhile
            threading.Thread(target=_import_statsmodels, name="warm-imports", daemon=True).start()
        book, cube = steps.run("load", inputs.book)

        def usage_scores() -> _UsageScores:
            nonlocal cube
            usage = steps.run("usage features", inputs.usage, cube)
            cube = None  # the largest frame of the run: gone before the analyses build theirs
            return _usage_scores(steps, usage, book, stamp, settings)

        if inputs.from_kept:  # a helper works out the book's affinity meanwhile: score usage first
            scored = usage_scores()
            rules_all, rules_seg, attach, seq, next_product, second = _book_affinity(
                steps, inputs, book, stamp, settings
            )
        else:  # rules first: the helpers are still reading the usage
            rules_all, rules_seg, attach, seq, next_product, second = _book_affinity(
                steps, inputs, book, stamp, settings
            )
            scored = usage_scores()
        roles = steps.run(
            "roles",
            affinity.product_roles,
            book,
            attach,
            stamp,
            settings,
            scored.product_monthly,
            store.role_overrides(),
        )
        magic, flags, account_feats = scored.magic, scored.flags, scored.account_feats
        past_usage = scored.past_usage
        del scored
        suggestions = steps.run(
            "suggestions",
            affinity.suggest,
            book,
            rules_all,
            rules_seg,
            attach,
            roles,
            seq,
            stamp,
            settings,
            flags,
        )

        final("suggestions", suggestions)
        rules = release("rules", final("rules", pd.concat([rules_all, rules_seg], ignore_index=True)))
        del rules_all, rules_seg
        risk, risk_parts = steps.run("risk", scoring.risk_scores, book, account_feats, stamp, settings)
        expansion, expansion_parts = steps.run(
            "expansion", scoring.expansion_scores, book, account_feats, suggestions, flags, stamp, settings
        )
        scores = steps.run("quadrants", scoring.combine_scores, book, risk, expansion, stamp, settings)
        final("scores", scores)
        components = final("score_components", pd.concat([risk_parts, expansion_parts], ignore_index=True))
        del risk, risk_parts, expansion, expansion_parts, account_feats, flags  # no later step reads them
        if stage is not None:  # past the memory peak: the twins of the results are built from here on
            stage.start_building()
        todos = steps.run(
            "to-dos", scoring.generate_todos, scores, components, suggestions, book, stamp, settings
        )

        components = release("score_components", components)
        prices = final(
            "pricing", steps.run("pricing", pricing.price_options, book, suggestions, stamp, settings)
        )
        prices, suggestions = release("pricing", prices), release("suggestions", suggestions)
        results = {
            "rules": rules,
            "attach": attach,
            "time_to_attach": seq,
            "next_product": next_product,
            "time_to_second": second,
            "product_roles": roles,
            "readiness": magic,
            "suggestions": suggestions,
            "scores": scores,
            "score_components": components,
            "pricing": prices,
        }

        results["model_metrics"] = steps.run("trust", inputs.trust, book, past_usage)
    return results, todos, ManagerFigures(steps, book, scores, roles, attach, stamp, settings)


@dataclass
class _UsageScores:
    """What the usage gives the analyses: aggregates, account features and readiness."""

    product_monthly: pd.DataFrame
    account_feats: pd.DataFrame
    past_usage: pd.DataFrame | None
    magic: pd.DataFrame
    flags: pd.DataFrame


def _usage_scores(steps: _Steps, usage: dict, book, stamp: pd.Timestamp, settings: dict) -> _UsageScores:
    """The steps that read the usage aggregates (``jobs.aggregates_of``) and the book, and none of
    the affinity tables. (Risk reads only these too, but it runs late: its components held from
    here on raised the peak memory of a first recompute by 80 MB.)"""
    from core import scoring
    from core.affinity import readiness as ready

    monthly = usage["monthly"]
    account_feats = scoring.account_features(usage["features"], book, stamp)
    magic = steps.run("readiness", ready.magic_numbers, book, monthly, stamp, settings)
    flags = ready.readiness_flags(book, monthly, magic, stamp)
    return _UsageScores(usage["product_monthly"], account_feats, usage.get("past_features"), magic, flags)


def _book_affinity(steps: _Steps, inputs: Inputs, book, stamp: pd.Timestamp, settings: dict) -> tuple:
    """Rules (all accounts, per segment), attach rates, time to attach, next product, time to second.

    Taken from the helper that works them out from a kept book (``jobs.book_affinity``), else
    worked out here, step by step.
    """
    from core import affinity

    if inputs.from_kept:  # see ``jobs.book_affinity``
        done = steps.run("rules", inputs.affinity, book)
        attach = steps.run("attach", affinity.attach_matrix, book, stamp, settings)
        seq = steps.run("sequencing", done.get, "time_to_attach")
        return (
            done["rules_all"],
            done["rules_segment"],
            attach,
            seq,
            done["next_product"],
            done["time_to_second"],
        )
    rules_all, rules_seg, owned = steps.run("rules", affinity.all_and_segment_rules, book, settings, stamp)
    attach = steps.run("attach", affinity.attach_matrix, book, stamp, settings, owned)
    del owned
    seq = steps.run("sequencing", affinity.time_to_attach, book, stamp)
    next_product = affinity.next_product(book, stamp)
    second = affinity.time_to_second_product(book, stamp)
    return rules_all, rules_seg, attach, seq, next_product, second


class ManagerFigures:
    """The manager's figures of a recompute, as ``Store.write_results`` derives them from the merged to-dos.

    All but the to-do counts need only the results: ``start`` works them out in a thread, which
    runs on the other core while SQLite copies the results in (without the GIL). It is started
    once the to-dos are planned, so that its frames and the planning's are not held at once.
    """

    def __init__(
        self, steps: _Steps, book, scores, roles, attach, stamp: pd.Timestamp, settings: dict
    ) -> None:
        self.steps, self.book, self.scores, self.roles, self.attach = steps, book, scores, roles, attach
        self.stamp, self.settings = stamp, settings
        self._figures: Future | None = None

    def start(self) -> None:
        from core import portfolio

        if self._figures is None:
            self._figures = _beside(
                portfolio.book_figures,
                self.book,
                self.scores,
                self.roles,
                self.attach,
                self.stamp,
                self.settings,
            )

    def __call__(self, merged_todos: pd.DataFrame) -> dict[str, pd.DataFrame]:
        from core import portfolio

        self.start()
        live = merged_todos[merged_todos["active"].astype(bool) | merged_todos["status"].ne("open")]
        return {
            "portfolio": self.steps.run(
                "portfolio", lambda: portfolio.with_todos(self._figures.result(), live)
            ),
            "owner_book": portfolio.owner_book(self.book, self.scores, live, self.stamp),
        }


def _beside(fn: Callable, *args) -> Future:
    """``fn(*args)`` in a thread of its own; its result, or its error, when asked for."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="beside")
    try:
        return pool.submit(fn, *args)
    finally:
        pool.shutdown(wait=False)  # the thread ends with its one task


def _import_statsmodels() -> None:
    """statsmodels takes 0.6 s to import; readiness's Granger tests need it."""
    import statsmodels.tsa.stattools  # noqa: F401


@memory.small_pages()
def recompute(store: Store, as_of: date, progress: Progress | None = None) -> RecomputeReport:
    """Rerun every analysis on the store as of ``as_of`` and save the results atomically.

    An import that commits while the analyses read the book would leave results that mix two
    imports: the save then refuses them (``DataChanged``) and the recompute starts over, once.
    """
    from core.store import swap

    report = RecomputeReport(as_of=as_of)
    started = time.perf_counter()
    before = store.query("SELECT account_id, quadrant FROM scores")  # only to count quadrant moves
    run_id = store.start_run("recompute", as_of)
    try:
        try:
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    results = _compute_and_save(store, as_of, _Steps(STEPS, progress, report), report)
                    break
                except DataChanged:
                    if attempt == ATTEMPTS:
                        raise
                    report.restarts += 1
        except Exception as error:
            store.finish_run(run_id, "failed", error=f"{type(error).__name__}: {error}")
            if isinstance(error, DataChanged):
                raise RecomputeFailed(
                    f"The portfolio was imported again during each of {ATTEMPTS} tries; the previous "
                    "results are kept. Run the recompute again once the imports have finished."
                ) from error
            raise RecomputeFailed(
                f"The recompute failed ({type(error).__name__}: {error}); the previous results are kept."
            ) from error
        after = results["scores"]
        report.quadrant_counts = after["quadrant"].value_counts().to_dict()
        if not before.empty:
            moved = before.merge(after, on="account_id", suffixes=("_before", ""))
            report.quadrant_moves = int((moved["quadrant_before"] != moved["quadrant"]).sum())
        report.seconds = time.perf_counter() - started
        store.finish_run(
            run_id,
            "ok",
            summary={
                "seconds": report.seconds,
                "steps": report.step_seconds,
                "rows": report.rows,
                "quadrant_moves": report.quadrant_moves,
                "new_todos": report.new_todos,
                "restarts": report.restarts,
            },
        )
        return report
    finally:
        swap.sweep_in_background(store.path)  # once the run is logged: the drops hold the write lock


def _compute_and_save(store: Store, as_of: date, steps: _Steps, report: RecomputeReport) -> dict:
    """One try: every analysis on the book as the last import left it, saved only if no import came since."""
    from core import scoring

    version = store.data_version()  # before any of the book is read
    keeping = Keeping(store.path, read_cache.key(version))
    stage = store.result_stage()
    try:
        results, todos, manager_figures = compute_all(store, as_of, steps, stage, keeping)
        stamp = pd.Timestamp(as_of)
        settings = store.settings()
        accounts = results["scores"][["account_id"]].merge(
            store.query("SELECT account_id, owner FROM accounts"), how="left"
        )

        def reconcile(existing: pd.DataFrame, generated: pd.DataFrame) -> pd.DataFrame:
            merged = scoring.reconcile(existing, generated, stamp)
            return scoring.apply_daily_cap(merged, accounts, settings)

        known = store.query("SELECT todo_id FROM todos")["todo_id"]
        memory.return_free_memory()  # what the analyses freed; the save's own peak then starts lower (~100 MB)
        report.rows = steps.run(
            "save",
            store.write_results,
            results,
            todos,
            reconcile,
            manager_figures,
            stage,
            planned=manager_figures.start,
            data_version=version,
        )
        report.new_todos = int((~is_in(todos["todo_id"], known)).sum()) if len(todos) else 0
        keeping.commit()  # the save saw no import since ``version``: what was read is that import's
    finally:
        keeping.discard()
        stage.close(sweep=False)  # ``recompute`` sweeps once the run is logged
    return results


@memory.small_pages()
def run_backtest(store: Store, as_of: date, months: int) -> dict:
    """Replay the suggestions from ``months`` ago against what accounts bought since; saved for the app."""
    rows, figures = jobs.backtest_rows(store.portfolio(), pd.Timestamp(as_of), months, store.settings())
    previous = store.result("model_metrics")
    if not previous.empty:
        rows = pd.concat([previous[~previous["name"].str.startswith("backtest.")], rows], ignore_index=True)
    store.write_results({"model_metrics": rows})
    return figures
