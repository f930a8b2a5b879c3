"""A recompute never saves results that mix two imports.

The analyses read the book over several seconds (in helper processes on a big
book). An import that commits meanwhile changes the book under them; the save
notices from the data version and the recompute starts over on the new book.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

AS_OF = date(2026, 11, 1)  # the demo store's date, as in conftest.py
NEW_ACCOUNT = "A999001"


@pytest.fixture()
def grown_folder(tmp_path: Path, demo_folder: Path) -> Path:
    """The demo folder plus one new account with an active subscription."""
    folder = tmp_path / "grown"
    shutil.copytree(demo_folder, folder)
    with open(folder / "accounts.csv", "a", encoding="utf-8") as accounts:
        accounts.write(
            f"{NEW_ACCOUNT},Late Arrival GmbH,smb,Retail,EMEA,40,38,5000000,Maya Chen,Noah Fischer,2026-10-01\n"
        )
    with open(folder / "subscriptions.csv", "a", encoding="utf-8") as subscriptions:
        subscriptions.write(f"{NEW_ACCOUNT},crm-core,2026-10-01,2027-10-01,5,375,active,\n")
    return folder


def import_folder(store, folder: Path) -> None:
    from core.importer import open_portfolio

    store.import_portfolio(open_portfolio(folder))


def import_at_save(store, folder: Path, times: int):
    """A progress callback that imports ``folder`` as the save is announced, the first ``times`` times."""
    imported = []

    def progress(step: str, done: int, total: int) -> None:
        if step == "save" and len(imported) < times:
            import_folder(store, folder)
            imported.append(step)

    return progress, imported


def test_the_data_version_moves_with_imports_only(demo_store, demo_folder: Path) -> None:
    from core.recompute import recompute

    first = demo_store.data_version()
    assert first is not None
    todo_id = demo_store.todos("WHERE active = 1 LIMIT 1").iloc[0]["todo_id"]
    demo_store.change_todo(todo_id, "done")
    recompute(demo_store, AS_OF)
    assert demo_store.data_version() == first
    import_folder(demo_store, demo_folder)  # the same rows again: still a new import
    second = demo_store.data_version()
    assert second != first and second[0] > first[0]
    assert demo_store.query("SELECT kind, status FROM runs WHERE run_id = ?", [second[0]]).iloc[
        0
    ].tolist() == [
        "import",
        "ok",
    ]


def test_an_empty_store_has_no_data_version(tmp_path: Path) -> None:
    from core.store import Store

    store = Store(tmp_path / "empty.db")
    try:
        assert store.data_version() is None
    finally:
        store.close()


def test_an_import_during_the_recompute_makes_it_start_over(demo_store, grown_folder: Path) -> None:
    from core.recompute import recompute

    assert NEW_ACCOUNT not in set(demo_store.query("SELECT account_id FROM scores")["account_id"])
    progress, imported = import_at_save(demo_store, grown_folder, times=1)
    report = recompute(demo_store, AS_OF, progress=progress)
    assert imported == ["save"]
    assert report.restarts == 1
    assert "Started over once" in report.describe()
    scores = demo_store.query("SELECT account_id, arr FROM scores")
    # The first try worked on the book without the new account; only the second try's results were saved.
    assert scores.loc[scores["account_id"] == NEW_ACCOUNT, "arr"].tolist() == [375 * 12]
    assert len(scores) == demo_store.scalar("SELECT count(*) FROM accounts")


def test_imports_during_every_try_keep_the_previous_results(demo_store, grown_folder: Path) -> None:
    from core.recompute import ATTEMPTS, RecomputeFailed, recompute

    todo_id = demo_store.todos("WHERE active = 1 LIMIT 1").iloc[0]["todo_id"]
    demo_store.change_todo(todo_id, "snooze", until="2026-11-20", note="call after the holidays")
    before = demo_store.query("SELECT * FROM scores ORDER BY account_id")
    todos_before = demo_store.query("SELECT * FROM todos ORDER BY todo_id")
    progress, imported = import_at_save(demo_store, grown_folder, times=ATTEMPTS)
    with pytest.raises(RecomputeFailed, match="imported again during each of 2 tries"):
        recompute(demo_store, AS_OF, progress=progress)
    assert len(imported) == ATTEMPTS
    pd.testing.assert_frame_equal(demo_store.query("SELECT * FROM scores ORDER BY account_id"), before)
    pd.testing.assert_frame_equal(demo_store.query("SELECT * FROM todos ORDER BY todo_id"), todos_before)
    last = demo_store.query(
        "SELECT status, error FROM runs WHERE kind = 'recompute' ORDER BY run_id DESC LIMIT 1"
    )
    assert last.iloc[0]["status"] == "failed"
    assert "DataChanged" in last.iloc[0]["error"]
    assert demo_store.scalar("PRAGMA integrity_check") == "ok"


def test_two_stores_with_the_same_history_have_different_versions(tmp_path: Path, demo_folder: Path) -> None:
    """A store deleted and rebuilt at the same path must not pass for the old one (read_cache keys on this)."""
    from core.store import Store

    versions = []
    for name in ("one.db", "two.db"):
        store = Store(tmp_path / name)
        import_folder(store, demo_folder)
        versions.append(store.data_version())
        store.close()
    assert versions[0][0] == versions[1][0]  # the same run id
    assert versions[0] != versions[1]


def test_a_store_without_a_version_still_notices_its_first_versioned_import(
    demo_store, grown_folder: Path
) -> None:
    """A store imported before imports were logged has no version; the first logged import is a change."""
    from core.recompute import recompute

    with demo_store.writing() as conn:
        conn.execute("DELETE FROM runs WHERE kind = 'import'")
    assert demo_store.data_version() is None
    progress, imported = import_at_save(demo_store, grown_folder, times=1)
    report = recompute(demo_store, AS_OF, progress=progress)
    assert imported == ["save"] and report.restarts == 1
    assert NEW_ACCOUNT in set(demo_store.query("SELECT account_id FROM scores")["account_id"])
