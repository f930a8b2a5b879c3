"""Where a recompute's inputs come from: the book, the usage aggregates and the trust figures.

On a small book this process reads and works them out itself. On a big one helper
processes do (``core.store.bulk_read``, ``core.jobs``): one reads the book, two the usage
in halves of accounts, and the first of those then works out the trust figures. What
they hand over is kept (``core.store.read_cache``), and the next recompute on the same
import maps the book and the usage aggregates instead of reading them again: only the
trust figures, which depend on the day, are worked out again, after the analyses that read
only the book (so that they run on the second core meanwhile). A helper or a kept part
that fails is replaced by the same work in this process, so every way gives the same
tables (tests check).
"""

from __future__ import annotations

import contextlib

import pandas as pd
import pyarrow as pa

from core import jobs
from core.frames import Portfolio
from core.store import Store
from core.store.read_cache import Keeping, lookup
from core.store.store import DATA_TABLES, HELPER_TABLES, portfolio_from_tables
from core.usage import UsageCube, month_index, month_label

_GONE = (OSError, KeyError, pa.ArrowException)  # a kept part deleted under us (another recompute replaced it)


class Inputs:
    """Starts the helpers a recompute needs (none when the book is small) and hands over their work."""

    def __init__(
        self,
        store: Store,
        running: contextlib.ExitStack,
        stamp: pd.Timestamp,
        cutoff: pd.Timestamp,
        settings: dict,
        keeping: Keeping | None = None,
    ) -> None:
        self.store, self.stamp, self.cutoff, self.settings = store, stamp, cutoff, settings
        self.keeping = keeping
        month, past = month_label(month_index(stamp)), month_label(month_index(cutoff))
        self.usage_names = [f"usage-{month}-a", f"usage-{month}-b"]
        self.past_name = f"past-{past}"
        self.book_reader = self.job = self.second_half = None
        self.kept: dict | None = None
        self.from_kept = False  # the one helper works from kept parts: book affinity, then trust
        self.big = store.is_big()
        if not self.big:
            return
        helpers = _Helpers(store, running)
        if keeping is not None:
            self.kept = lookup(store.path, keeping.folder_key, ["book", *self.usage_names, self.past_name])
        common = {"as_of": str(stamp), "cutoff": str(cutoff), "settings": settings}
        if self.kept is not None:
            self.keeping = None  # nothing new to keep
            book, past = str(self.kept["book"]), str(self.kept[self.past_name])
            self.job = helpers.start(jobs.KEPT_TASK, **common, book=book, past=past)
            self.from_kept = self.job is not None
            return
        self.book_reader = helpers.start(HELPER_TABLES, tables=list(DATA_TABLES))
        split = store.middle_account()
        book = str(self.book_reader.part_folder()) if self.book_reader else None
        self.job = helpers.start(jobs.HELPER_TASK, **common, split=split, book=book)
        if self.job is not None and split is not None:
            self.second_half = helpers.start(jobs.SECOND_HALF_TASK, as_of=str(stamp), split=split)

    def book(self) -> tuple[Portfolio, UsageCube | None]:
        """The book, and the usage cube when no helper works on the usage (None when one does)."""
        from core.store import bulk_read

        if self.kept is not None:
            with contextlib.suppress(*_GONE):
                return portfolio_from_tables(bulk_read.mapped(self.kept["book"])), None
            self.kept = None  # gone meanwhile (another recompute kept a newer import): read here
            return self.store.portfolio_and_usage(helpers=False)
        if self.book_reader is not None and self.job is not None:
            try:
                tables = self.book_reader.tables(0, last=False, seen=self._keep("book"))
                return portfolio_from_tables(tables), None
            except bulk_read.BulkReadFailed:
                pass
        return self.store.portfolio_and_usage(self.big, self.job is None)

    def usage(self, cube: UsageCube | None) -> dict[str, pd.DataFrame]:
        """The usage aggregates (``jobs.aggregates_of``): kept, from the helpers, or worked out here."""
        if self.kept is not None:
            from core.store import bulk_read

            with contextlib.suppress(*_GONE):
                halves = [bulk_read.mapped(self.kept[name]) for name in self.usage_names]
                return jobs.combined([{n: t.to_pandas() for n, t in half.items()} for half in halves])
        elif self.job is not None and not self.from_kept:
            helpers = [(self.job, False), *([(self.second_half, True)] if self.second_half else [])]
            halves = [
                _frames(helper, 0, last, self._keep(name))
                for (helper, last), name in zip(helpers, self.usage_names, strict=False)
            ]
            if all(half is not None for half in halves):
                return jobs.combined(halves) if len(halves) > 1 else halves[0]
        if cube is None:
            cube = self.store.usage_cube(helpers=False)
        return jobs.aggregates_of(cube, self.stamp, self.cutoff)

    def affinity(self, book: Portfolio) -> dict[str, pd.DataFrame]:
        """``jobs.book_affinity``: from the helper when it works on it, else worked out here."""
        done = _frames(self.job, 0, last=False) if self.from_kept else None
        return done if done is not None else jobs.book_affinity(book, self.stamp, self.settings)

    def trust(self, book: Portfolio, past_usage: pd.DataFrame | None) -> pd.DataFrame:
        """The trust figures, from the helper when one ran, else worked out here."""
        from core import scoring

        done = None
        if self.from_kept:
            done = _frames(self.job, 1, last=True)
        elif self.job is not None and _frames(self.job, 1, last=False, seen=self._keep(self.past_name)):
            done = _frames(self.job, 2, last=True)
        if done is not None:
            return done["model_metrics"]
        if past_usage is None:
            past_usage = scoring.usage_features(self.store.usage_cube(helpers=False), self.cutoff)
        return jobs.trust_metrics(book, past_usage, self.stamp, self.cutoff, self.settings)

    def _keep(self, name: str):
        """A callback that keeps a helper's part folder as ``name`` (see ``core.store.read_cache``)."""
        keeping = self.keeping
        if keeping is None or (name != "book" and self.second_half is None):
            return None  # a usage half without its other half would never be looked up
        return lambda folder: keeping.link(name, folder)


class _Helpers:
    """Helper processes started for one recompute; closed with it whatever happens."""

    def __init__(self, store: Store, running: contextlib.ExitStack) -> None:
        self.store, self.running = store, running

    def start(self, task: str, **params):
        from core.store import bulk_read

        try:
            helper = bulk_read.Helper(self.store.path, task, params)
        except bulk_read.BulkReadFailed:
            return None
        self.running.callback(helper.close)
        return helper


def _frames(helper, part: int, last: bool, seen=None) -> dict[str, pd.DataFrame] | None:
    """The helper's ``part`` as frames, or None when there was none or it failed (the work is then redone here)."""
    from core.store import bulk_read

    if helper is None:
        return None
    try:
        return helper.frames(part, last=last, seen=seen)
    except bulk_read.BulkReadFailed:
        return None
