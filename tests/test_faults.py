"""Nothing lost: SIGKILL mid-write, two processes on one store, and stores that cannot be used.

Each test runs the real command line in a subprocess, the way a user's
second terminal or a cron job would, and then inspects the store directly.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

AS_OF = date(2026, 11, 1)  # the demo store's date, as in conftest.py
QUADRANT = [sys.executable, "-m", "tui.cli"]
ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, db: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*QUADRANT, *args, "--db", str(db)], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def start(*args: str, db: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [*QUADRANT, *args, "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def one(db: Path, sql: str, params: tuple = ()) -> object:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]
    finally:
        conn.close()


def mark_first_todo(store) -> str:
    todo_id = store.todos("WHERE active = 1 ORDER BY todo_id LIMIT 1").iloc[0]["todo_id"]
    store.change_todo(todo_id, "done", note="promised a discount", outcome="won")
    return todo_id


def assert_user_state(db: Path, todo_id: str) -> None:
    assert one(db, "SELECT status FROM todos WHERE todo_id = ?", (todo_id,)) == "done"
    assert one(db, "SELECT note FROM todos WHERE todo_id = ?", (todo_id,)) == "promised a discount"
    assert one(db, "SELECT outcome FROM todos WHERE todo_id = ?", (todo_id,)) == "won"


@pytest.fixture(scope="module")
def bigger_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fixtures.demo import generate

    folder = tmp_path_factory.mktemp("bigger") / "portfolio"
    folder.mkdir()
    generate(folder, accounts=3000, seed=11, as_of=AS_OF)
    return folder


@pytest.mark.parametrize("delay", [0.3, 0.9, 1.6, 2.5])
def test_sigkill_during_import_keeps_old_or_new_never_a_mix(
    demo_store, bigger_folder: Path, delay: float
) -> None:
    todo_id = mark_first_todo(demo_store)
    db = demo_store.path
    old_accounts = demo_store.scalar("SELECT count(*) FROM accounts")
    old_usage = demo_store.scalar("SELECT count(*) FROM usage")
    demo_store.close()
    proc = start("import", str(bigger_folder), "--no-recompute", db=db)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert integrity(db) == "ok"
    accounts, usage = one(db, "SELECT count(*) FROM accounts"), one(db, "SELECT count(*) FROM usage")
    if accounts == old_accounts:
        assert usage == old_usage, "accounts are old but usage is partly new"
    else:
        assert accounts > old_accounts and usage > old_usage
    assert_user_state(db, todo_id)


@pytest.mark.parametrize("delay", [0.4, 1.2, 2.0])
def test_sigkill_during_recompute_keeps_results_and_state(demo_store, delay: float) -> None:
    todo_id = mark_first_todo(demo_store)
    db = demo_store.path
    n_scores = demo_store.scalar("SELECT count(*) FROM scores")
    demo_store.close()
    proc = start("recompute", "--as-of", AS_OF.isoformat(), db=db)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert integrity(db) == "ok"
    assert one(db, "SELECT count(*) FROM scores") == n_scores
    assert_user_state(db, todo_id)
    result = run("recompute", "--as-of", AS_OF.isoformat(), db=db)
    assert result.returncode == 0, result.stderr
    assert_user_state(db, todo_id)


CHECKPOINTING_CHILD = """
import sys, time
import pandas as pd
from core.store import Store
from core.store import store as module

copy = module._checkpoint

def announced(path):
    print("committed", flush=True)
    copy(path)

module._checkpoint = announced
rows = pd.DataFrame({"metric": [f"m{i}" for i in range(150_000)], "segment": "all", "value": 1.0})
rows["note"] = "x" * 200
Store(sys.argv[1]).write_results({"portfolio": rows})
time.sleep(60)
"""


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.08])
def test_sigkill_while_the_results_are_copied_into_the_file_loses_nothing(
    tmp_path: Path, delay: float
) -> None:
    """The commit is in the WAL before the background checkpoint starts; a kill during it loses nothing."""
    db = tmp_path / "q.db"
    child = subprocess.Popen(
        [sys.executable, "-c", CHECKPOINTING_CHILD, str(db)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert child.stdout.readline().strip() == "committed"
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert integrity(db) == "ok"
    assert one(db, "SELECT count(*) FROM portfolio") == 150_000
    assert one(db, "SELECT count(DISTINCT metric) FROM portfolio") == 150_000


def test_sigkill_during_todo_changes_leaves_state_and_log_in_step(demo_store) -> None:
    todo_id = demo_store.todos("WHERE active = 1 ORDER BY todo_id LIMIT 1").iloc[0]["todo_id"]
    db = demo_store.path
    demo_store.close()
    script = (
        "import sys\nfrom core.store import Store\n"
        f"s = Store({str(db)!r})\n"
        "i = 0\n"
        "while True:\n"
        f"    s.change_todo({todo_id!r}, 'done' if i % 2 == 0 else 'reopen', note=f'note {{i}}')\n"
        "    i += 1\n"
    )
    for delay in (0.05, 0.2, 0.5):
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
        deadline = time.monotonic() + 60
        while not one(db, "SELECT count(*) FROM todo_events") and time.monotonic() < deadline:
            time.sleep(0.02)  # start the clock once the writer is really writing
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert integrity(db) == "ok"
        status = one(db, "SELECT status FROM todos WHERE todo_id = ?", (todo_id,))
        note = one(db, "SELECT note FROM todos WHERE todo_id = ?", (todo_id,))
        last = (
            sqlite3.connect(db)
            .execute(
                "SELECT to_status, note FROM todo_events WHERE todo_id = ? ORDER BY event_id DESC LIMIT 1",
                (todo_id,),
            )
            .fetchone()
        )
        assert last is not None
        assert (status, note) == tuple(last), "the to-do and its log disagree"


def test_todo_changes_while_a_recompute_runs_are_all_kept(demo_store) -> None:
    todos = demo_store.todos("WHERE active = 1 ORDER BY todo_id LIMIT 12")["todo_id"].tolist()
    db = demo_store.path
    demo_store.close()
    recomputes = [start("recompute", "--as-of", AS_OF.isoformat(), db=db) for _ in range(2)]
    results = [
        run("todo", "done", t, "--note", f"done while recomputing {i}", db=db) for i, t in enumerate(todos)
    ]
    finished = [(p.wait(timeout=300), p.stderr.read()) for p in recomputes]
    for code, stderr in finished:
        assert code == 0, stderr
        assert "locked" not in stderr.lower()
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    for i, todo_id in enumerate(todos):
        assert one(db, "SELECT status FROM todos WHERE todo_id = ?", (todo_id,)) == "done"
        assert (
            one(db, "SELECT note FROM todos WHERE todo_id = ?", (todo_id,)) == f"done while recomputing {i}"
        )


def test_import_while_another_process_holds_the_write_lock_says_try_again(
    demo_store, demo_folder: Path
) -> None:
    db = demo_store.path
    demo_store.close()
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.perf_counter()
        result = run("todo", "done", "nonexistent", db=db, timeout=120)
        waited = time.perf_counter() - started
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert result.returncode == 1
    assert "busy" in result.stderr and "try again" in result.stderr
    assert "Traceback" not in result.stderr
    assert waited > 10  # it waited for the other writer before giving up


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: p.write_text("just text"), "not a Quadrant store"),
        (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100), "Quadrant store"),
        (lambda p: p.mkdir(), "is a folder"),
    ],
)
def test_unusable_store_files_get_a_message_not_a_traceback(tmp_path: Path, make, expected: str) -> None:
    db = tmp_path / "weird.db"
    make(db)
    before = db.read_bytes() if db.is_file() else None
    result = run("export", "scores", db=db)
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    if before is not None:
        assert db.read_bytes() == before


def test_missing_directory_is_a_message(tmp_path: Path) -> None:
    result = run("recompute", db=tmp_path / "no" / "such" / "dir.db")
    assert result.returncode == 1 and "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_bad_usage_exits_2_with_a_message(tmp_path: Path) -> None:
    """The contract: 1 is for bad input, 2 for a command called wrongly."""
    db = tmp_path / "s.db"
    for args, said in (
        (("export", "bogus"), "Unknown table 'bogus'"),
        (("todo", "snooze", "t1"), "needs --until"),
        (("export",), "usage:"),
    ):
        result = run(*args, db=db)
        assert result.returncode == 2 and said in result.stderr and "Traceback" not in result.stderr, args
    assert not db.exists()  # a usage error never creates or touches the store


def test_full_disk_during_import_changes_nothing(demo_store, bigger_folder: Path) -> None:
    from core.importer import open_portfolio
    from core.store import StoreError

    before = demo_store.scalar("SELECT count(*) FROM usage")
    pages = demo_store.scalar("PRAGMA page_count")
    demo_store.conn.execute(f"PRAGMA max_page_count = {pages + 50}")  # the disk fills 200 KB from now
    with pytest.raises(StoreError, match="full"):
        demo_store.import_portfolio(open_portfolio(bigger_folder))
    assert demo_store.scalar("SELECT count(*) FROM usage") == before
    assert demo_store.scalar("PRAGMA integrity_check") == "ok"


def test_backup_and_restore_commands(demo_store, tmp_path: Path) -> None:
    todo_id = mark_first_todo(demo_store)
    db = demo_store.path
    demo_store.close()
    assert run("backup", str(tmp_path / "copy.db"), db=db).returncode == 0
    assert run("todo", "reopen", todo_id, db=db).returncode == 0
    restored = run("restore", str(tmp_path / "copy.db"), db=db)
    assert restored.returncode == 0, restored.stderr
    assert_user_state(db, todo_id)
