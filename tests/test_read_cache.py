"""What a recompute's helpers read is kept until an import changes the book, and read back only when valid.

The demo store stands in for a big book: ``Store.is_big`` is forced on, so the recompute
starts its helper processes (as it does from 20,000 accounts).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from test_staging import RESULT_TABLES as SAVED_TABLES

from core.store import Store, read_cache

AS_OF = date(2026, 11, 1)  # the demo store's date, as in conftest.py
RESULT_TABLES = (*SAVED_TABLES, "todos")
PARTS = ["book", "past-2026-05", "usage-2026-11-a", "usage-2026-11-b"]


@pytest.fixture()
def big(monkeypatch, tmp_path: Path, demo_store_file: Path):
    """A copy of the demo store that recomputes with helpers; yields (store, the tasks its helpers ran)."""
    from core.store import bulk_read

    monkeypatch.setattr(Store, "is_big", lambda self: True)
    tasks: list[str] = []
    start = bulk_read.Helper.__init__

    def spy(self, store_path, task, params):
        tasks.append(task)
        start(self, store_path, task, params)

    monkeypatch.setattr(bulk_read.Helper, "__init__", spy)
    path = tmp_path / "q.db"
    shutil.copy(demo_store_file, path)
    store = Store(path)
    yield store, tasks
    store.close()


def kept_folders(store: Store) -> list[Path]:
    cache = read_cache.root(store.path)
    return sorted(cache.iterdir()) if cache.exists() else []


def results(store: Store) -> dict[str, pd.DataFrame]:
    out = {}
    for table in RESULT_TABLES:
        frame = store.query(f'SELECT * FROM "{table}"')
        out[table] = frame.drop(columns=[c for c in frame.columns if c.endswith("_at")])
    return out


def test_the_next_recompute_maps_the_kept_parts_and_saves_the_same(big) -> None:
    from core import jobs
    from core.recompute import recompute

    store, tasks = big
    recompute(store, AS_OF)
    [folder] = kept_folders(store)
    assert folder.name == read_cache.key(store.data_version())
    assert sorted(p.name for p in folder.iterdir()) == PARTS
    assert {jobs.HELPER_TASK, jobs.SECOND_HALF_TASK} <= set(tasks)
    first = results(store)

    tasks.clear()
    recompute(store, AS_OF)
    assert tasks == [jobs.KEPT_TASK]  # no book helper, no usage halves: book affinity and the day's trust
    again = results(store)

    shutil.rmtree(read_cache.root(store.path))  # the same recompute, reading everything once more
    tasks.clear()
    recompute(store, AS_OF)
    assert jobs.HELPER_TASK in tasks
    for table in RESULT_TABLES:
        pd.testing.assert_frame_equal(again[table], results(store)[table], obj=table)
        if table != "todos":  # the first run created the to-dos the later ones reconcile with
            pd.testing.assert_frame_equal(first[table], again[table], obj=table)


def test_an_import_makes_the_kept_parts_stale_and_the_next_recompute_replaces_them(
    big, demo_folder: Path
) -> None:
    from core import jobs
    from core.importer import open_portfolio
    from core.recompute import recompute

    store, tasks = big
    recompute(store, AS_OF)
    [old] = kept_folders(store)
    store.import_portfolio(open_portfolio(demo_folder))
    assert read_cache.lookup(store.path, read_cache.key(store.data_version()), PARTS) is None
    tasks.clear()
    recompute(store, AS_OF)
    assert jobs.HELPER_TASK in tasks  # read again
    [new] = kept_folders(store)
    assert new != old and not old.exists()


def test_kept_parts_are_for_their_months_only(big) -> None:
    from core import jobs
    from core.recompute import recompute

    store, tasks = big
    recompute(store, AS_OF)
    tasks.clear()
    recompute(store, date(2026, 12, 1))  # features as of another month: the usage is read again
    assert jobs.HELPER_TASK in tasks
    [folder] = kept_folders(store)
    assert {"usage-2026-12-a", "past-2026-06"} <= {p.name for p in folder.iterdir()}


def test_kept_parts_that_vanish_are_read_again(big, monkeypatch, tmp_path: Path) -> None:
    """Another copy of the app may replace the kept folder between the lookup and the mapping."""
    from core import recompute_inputs
    from core.recompute import recompute

    store, tasks = big
    recompute(store, AS_OF)
    expected = results(store)
    gone = tmp_path / "gone" / "key"
    monkeypatch.setattr(recompute_inputs, "lookup", lambda path, key, names: {n: gone / n for n in names})
    recompute(store, AS_OF)
    for table in RESULT_TABLES:
        if table != "todos":
            pd.testing.assert_frame_equal(expected[table], results(store)[table], obj=table)
    assert len(store.result("model_metrics")) == len(expected["model_metrics"])


def test_a_recompute_whose_results_are_refused_keeps_nothing(big, demo_folder: Path) -> None:
    from core.importer import open_portfolio
    from core.recompute import ATTEMPTS, RecomputeFailed, recompute

    store, _ = big
    imports = []

    def import_at_save(step: str, done: int, total: int) -> None:
        if step == "save":
            store.import_portfolio(open_portfolio(demo_folder))
            imports.append(step)

    with pytest.raises(RecomputeFailed):
        recompute(store, AS_OF, progress=import_at_save)
    assert len(imports) == ATTEMPTS
    assert kept_folders(store) == []
    assert not list(store.path.parent.glob(f".{store.path.name}.keep-*"))


def test_without_hard_links_nothing_is_kept(big, monkeypatch) -> None:
    import os

    from core.recompute import recompute

    store, _ = big

    def refuse(*args):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)
    recompute(store, AS_OF)
    assert kept_folders(store) == []
    assert not list(store.path.parent.glob(f".{store.path.name}.keep-*"))


def test_the_key_names_the_import_the_schema_and_the_format(monkeypatch) -> None:
    assert read_cache.key(None) is None
    one = read_cache.key((7, "2026-12-05T10:00:00+00:00"))
    assert one.startswith("v7-") and one == read_cache.key((7, "2026-12-05T10:00:00+00:00"))
    assert one != read_cache.key((7, "2026-12-05T10:00:01+00:00"))
    monkeypatch.setattr(read_cache, "SCHEMA_VERSION", read_cache.SCHEMA_VERSION + 1)
    assert one != read_cache.key((7, "2026-12-05T10:00:00+00:00"))
    monkeypatch.undo()
    monkeypatch.setattr(read_cache, "FORMAT", read_cache.FORMAT + 1)
    assert one != read_cache.key((7, "2026-12-05T10:00:00+00:00"))


def test_the_kept_parts_helper_works_from_the_store_when_kept_parts_went(
    tmp_path: Path, demo_store_file: Path
) -> None:
    """A kept part deleted under the helper never appears again: the helper must not wait for it."""
    import threading

    from core import jobs, settings
    from core.store import Store

    path = tmp_path / "q.db"
    shutil.copy(demo_store_file, path)
    key = tmp_path / "key"
    key.mkdir()  # the kept folder is still there; its parts are not
    args = (path, "2026-11-01", "2026-05-01", settings.resolve())
    expected = list(jobs.usage_then_trust(*args))[2]["model_metrics"]
    got = []
    worker = threading.Thread(
        target=lambda: got.extend(
            jobs.affinity_then_trust(*args, book=str(key / "book"), past=str(key / "past-2026-05"))
        ),
        daemon=True,  # should it hang, the test fails instead of the whole run waiting
    )
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "the helper waited for a kept part that will never appear"
    affinity, trust = got
    pd.testing.assert_frame_equal(trust["model_metrics"], expected)
    book = Store(path).portfolio()
    for name, frame in jobs.book_affinity(book, pd.Timestamp("2026-11-01"), settings.resolve()).items():
        pd.testing.assert_frame_equal(affinity[name], frame, obj=name)
