"""The store: opening safely, migrating, settings, to-do state and its log, backup and restore."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from core.store import Store, StoreError
from core.store import store as store_module
from core.store.schema import SCHEMA_VERSION
from core.store.store import finish_checkpoints

V1 = Path(__file__).parent / "data" / "store_v1.db"


def add_todo(store: Store, todo_id: str = "t1", status: str = "open") -> None:
    with store.writing() as conn:
        conn.execute("INSERT OR IGNORE INTO accounts (account_id, name, segment) VALUES ('A1','Acme','smb')")
        conn.execute(
            "INSERT INTO todos (todo_id, account_id, kind, status, created_at, updated_at) "
            "VALUES (?, 'A1', 'qbr', ?, '2026-01-01', '2026-01-01')",
            [todo_id, status],
        )


def test_new_store_is_wal_with_foreign_keys_and_marked(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.db")
    assert store.scalar("PRAGMA journal_mode") == "wal"
    assert store.scalar("PRAGMA foreign_keys") == 1
    assert store.scalar("PRAGMA busy_timeout") >= 5000
    assert store.scalar("SELECT count(*) FROM _sqlite_migrations") == SCHEMA_VERSION


def test_replacing_results_does_not_write_the_freed_pages_again(tmp_path: Path) -> None:
    """Builds with secure_delete on would zero every page of the old rows: as much again through the WAL."""
    store = Store(tmp_path / "q.db")
    wal = Path(f"{store.path}-wal")
    old = pd.DataFrame({"metric": [f"m{i}" for i in range(20_000)], "segment": "all", "value": 1.0})
    old["note"] = "x" * 200  # about 4 MB of rows
    store.write_results({"portfolio": old})
    finish_checkpoints()
    store.scalar("PRAGMA wal_checkpoint(TRUNCATE)")
    assert wal.stat().st_size == 0
    store.write_results({"portfolio": old.head(10)})
    assert wal.stat().st_size < 1_000_000  # zeroing the freed pages writes over 4 MB here
    assert len(store.result("portfolio")) == 10


def test_a_big_write_reaches_the_file_after_its_commit_in_a_thread(tmp_path: Path, monkeypatch) -> None:
    """The commit returns before SQLite copies the WAL into the file; readers see the rows meanwhile."""
    import threading

    release = threading.Event()
    checkpoint = store_module._checkpoint
    monkeypatch.setattr(store_module, "_checkpoint", lambda path: (release.wait(10), checkpoint(path)))
    store = Store(tmp_path / "q.db")
    finish_checkpoints()
    size = store.path.stat().st_size
    rows = pd.DataFrame({"metric": [f"m{i}" for i in range(20_000)], "segment": "all", "value": 1.0})
    rows["note"] = "x" * 200  # about 4 MB: over the 1,000 pages that make a commit checkpoint itself
    store.write_results({"portfolio": rows})
    assert store.path.stat().st_size == size  # every new page is still in the WAL only
    assert Path(f"{store.path}-wal").stat().st_size > 4_000_000
    assert len(Store(store.path).result("portfolio")) == 20_000  # another reader sees them there
    assert store.scalar("PRAGMA wal_autocheckpoint") == 1000  # small commits checkpoint as before
    release.set()
    finish_checkpoints()
    assert store.path.stat().st_size > size + 4_000_000
    busy, log, copied = store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and log == copied


def test_foreign_keys_refuse_orphans(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.db")
    with pytest.raises(StoreError), store.writing() as conn:
        conn.execute(
            "INSERT INTO subscriptions (account_id, product_id, start_date, mrr) VALUES ('nope','P','2024-01-01',1)"
        )


def test_v1_store_upgrades_keeps_data_and_backs_up_first(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(V1, path)
    store = Store(path)
    assert store.scalar("SELECT count(*) FROM _sqlite_migrations") == SCHEMA_VERSION
    assert store.scalar("SELECT note FROM todos WHERE todo_id = 't000000001'") == "spoke to Ana"
    assert store.settings()["todos.daily_cap"] == 10
    assert store.has_table("saved_views")
    assert store.backup_written and Path(store.backup_written).exists()
    backup = sqlite3.connect(store.backup_written)
    assert backup.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == 1


def test_not_a_store_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("hello, I am a text file")
    with pytest.raises(StoreError, match="not a Quadrant store"):
        Store(path)
    assert path.read_text() == "hello, I am a text file"


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE x (a)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a Quadrant store"):
        Store(path)
    assert path.read_bytes() == before


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('quadrant', 'm999_future', 'x')"
    )
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer Quadrant"):
        Store(path)


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "nope" / "q.db")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_store_refuses_writes_clearly(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    Store(path).close()
    path.chmod(0o444)
    with pytest.raises(StoreError, match="read-only"):
        Store(path).set_setting("todos.daily_cap", 5)


def test_settings_roundtrip_and_validation(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.db")
    store.set_setting("todos.daily_cap", "12")
    store.set_setting("risk.weights", {"usage_trend": 40})
    settings = store.settings()
    assert settings["todos.daily_cap"] == 12
    assert settings["risk.weights"]["usage_trend"] == 40
    assert settings["risk.weights"]["sentiment"] == 15  # untouched keys keep their default
    with pytest.raises(ValueError):
        store.set_setting("todos.daily_cap", "many")
    store.reset_setting("todos.daily_cap")
    assert store.settings()["todos.daily_cap"] == 15


def test_todo_actions_are_logged_and_undoable(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.db")
    add_todo(store)
    store.change_todo("t1", "done", note="called them")
    store.change_todo("t1", "snooze", until="2026-12-01")
    row = store.todos("WHERE todo_id = 't1'").iloc[0]
    assert (row.status, row.snoozed_until, row.note) == ("snoozed", "2026-12-01", "called them")
    store.undo_todo("t1")
    row = store.todos("WHERE todo_id = 't1'").iloc[0]
    assert (row.status, row.snoozed_until) == ("done", None)
    store.undo_todo("t1")
    row = store.todos("WHERE todo_id = 't1'").iloc[0]
    assert (row.status, row.note) == ("open", None)
    events = store.todo_events("t1")
    assert events["action"].tolist() == ["done", "snooze", "undo", "undo"]
    with pytest.raises(StoreError, match="Nothing to undo"):
        store.undo_todo("t1")


def test_todo_errors_are_clear(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.db")
    add_todo(store)
    with pytest.raises(StoreError, match="no to-do"):
        store.change_todo("nope", "done")
    with pytest.raises(StoreError, match="--until"):
        store.change_todo("t1", "snooze")
    with pytest.raises(StoreError, match="YYYY-MM-DD"):
        store.change_todo("t1", "snooze", until="tomorrow")
    assert store.todo_events("t1").empty


def test_write_results_keeps_user_state_and_previous_components(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.db")
    add_todo(store, "t1")
    store.change_todo("t1", "done", note="keep me")
    generated = pd.DataFrame(
        [
            {
                "todo_id": "t1",
                "account_id": "A1",
                "kind": "qbr",
                "product_id": "",
                "title": "QBR",
                "active": True,
            },
            {
                "todo_id": "t2",
                "account_id": "A1",
                "kind": "seat-upsell",
                "product_id": "",
                "title": "Seats",
                "active": True,
            },
        ]
    )
    components = pd.DataFrame(
        [{"account_id": "A1", "axis": "risk", "component": "x", "points": 3.0, "reason": "r"}]
    )

    def keep(existing: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
        return new

    store.write_results({"score_components": components}, generated, keep)
    store.write_results({"score_components": components.assign(points=5.0)}, generated, keep)
    todos = store.todos("ORDER BY todo_id")
    assert todos["status"].tolist() == ["done", "open"]
    assert todos["note"].tolist()[0] == "keep me"
    assert todos["title"].tolist() == ["QBR", "Seats"]
    assert store.result("score_components_prev")["points"].tolist() == [3.0]
    assert store.result("score_components")["points"].tolist() == [5.0]


def test_backup_and_restore_roundtrip(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.db")
    add_todo(store)
    store.change_todo("t1", "done", note="before backup")
    store.backup(tmp_path / "copy.db")
    store.change_todo("t1", "reopen", note="after backup")
    store.restore(tmp_path / "copy.db")
    row = store.todos().iloc[0]
    assert (row.status, row.note) == ("done", "before backup")
    with pytest.raises(StoreError, match="another file"):
        store.backup(tmp_path / "q.db")
    with pytest.raises(StoreError, match="no backup"):
        store.restore(tmp_path / "missing.db")


def test_sqlite_errors_become_clear_messages() -> None:
    from core.store.errors import StoreBusy, translate

    assert "read-only" in str(
        translate(sqlite3.OperationalError("attempt to write a readonly database"), "q.db")
    )
    assert "disk holding q.db is full" in str(
        translate(sqlite3.OperationalError("database or disk is full"), "q.db")
    )
    assert isinstance(translate(sqlite3.OperationalError("database is locked"), "q.db"), StoreBusy)


def test_settings_refuse_values_out_of_range(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.db")
    for key, value in [
        ("todos.daily_cap", 0),
        ("quadrant.risk_threshold", 101),
        ("rules.min_support", 2),
        ("risk.weights", {"usage_trend": -5}),
    ]:
        with pytest.raises(ValueError, match="between"):
            store.set_setting(key, value)
    assert store.set_setting("quadrant.risk_threshold", 100) == 100.0


def test_monthly_usage_sums_seated_users_apart(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.db")
    with store.writing() as conn:
        conn.execute("INSERT INTO accounts (account_id, name, segment) VALUES ('A', 'A', 'smb')")
        for product in ("SEAT", "FLAT"):
            conn.execute(
                "INSERT INTO products (product_id, name, list_price) VALUES (?, ?, 1)", [product, product]
            )
        conn.executemany(
            "INSERT INTO usage (account_id, product_id, period, active_users, licensed_seats) VALUES (?,?,?,?,?)",
            [("A", "SEAT", "2025-01-01", 8, 10), ("A", "FLAT", "2025-01-01", 6, None)],
        )
    row = store.usage_account_monthly().iloc[0]
    assert (row["active_users"], row["licensed_seats"], row["seated_users"]) == (14, 10, 8)
