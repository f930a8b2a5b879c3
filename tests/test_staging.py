"""Big writes through a scratch file and big reads through ADBC: same rows as the plain path, nothing left behind."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from core.scoring import reconcile
from core.store import Store, frames_io, staging, swap, todo_state
from core.store.store import DERIVE_TODO_COLUMNS


def add_todo(store: Store, todo_id: str) -> None:
    with store.writing() as conn:
        conn.execute("INSERT INTO accounts (account_id, name, segment) VALUES ('A1', 'Acme', 'smb')")
        conn.execute(
            "INSERT INTO todos (todo_id, account_id, kind, created_at, updated_at) "
            "VALUES (?, 'A1', 'qbr', '2026-01-01', '2026-01-01')",
            [todo_id],
        )


def big_frame(rows: int = staging.MIN_ROWS + 5) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    points = rng.normal(size=rows)
    points[::7] = np.nan
    texts = np.array(
        ['it\'s "quoted"; DROP TABLE todos; --', "ünïcödé 株式会社 🚀", "", "plain"], dtype=object
    )
    return pd.DataFrame(
        {
            "account_id": pd.array([f"A{i:06d}" for i in range(rows)], dtype="str"),
            "points": points,
            "rank": np.arange(rows),
            "reason": texts[np.arange(rows) % 4],
            "flag": np.arange(rows) % 2 == 0,
            "at": pd.to_datetime("2026-01-01") + pd.to_timedelta(np.arange(rows) % 300, unit="D"),
        }
    )


def stored(store: Store, table: str) -> list[tuple]:
    return store.conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if any(k in p.name for k in (".stage-", ".read-", ".keep-"))]


def test_staged_write_equals_the_plain_write(tmp_path: Path) -> None:
    frame = big_frame()
    staged, plain = Store(tmp_path / "staged.db"), Store(tmp_path / "plain.db")
    staged.write_results({"scratch_test": frame})
    with plain.writing() as conn:
        frames_io.replace_rows(conn, "scratch_test", frame)  # executemany
    assert stored(staged, "scratch_test") == stored(plain, "scratch_test")
    row = stored(staged, "scratch_test")[7]
    assert row[1] is None and row[5] == "2026-01-08" and row[4] == 0  # NaN as NULL, dates as ISO text
    assert leftovers(tmp_path) == []


def cell_types(store: Store, table: str) -> list[tuple]:
    """Each distinct combination of SQLite storage classes across a table's columns."""
    columns = frames_io.table_columns(store.conn, table)
    kinds = ", ".join(f'typeof("{c}")' for c in columns)
    order = ", ".join(str(n) for n in range(1, len(columns) + 1))
    return store.conn.execute(f'SELECT DISTINCT {kinds} FROM "{table}" ORDER BY {order}').fetchall()


@pytest.mark.parametrize("existing", ["none", "fewer columns", "same columns"])
def test_a_staged_table_is_declared_as_the_store_will_declare_it_and_copied_record_by_record(
    tmp_path: Path, existing: str
) -> None:
    """The scratch table mirrors the store's (as it is, or once the frame's new columns are added), so
    SQLite's transfer optimisation copies whole records; the rows and their types are those of the
    plain write. A first recompute on a new store meets the table with fewer columns."""
    frame = big_frame()
    declared = {"fewer columns": "account_id TEXT, points REAL", "same columns": None}.get(existing)
    staged, plain = Store(tmp_path / "staged.db"), Store(tmp_path / "plain.db")
    for store in (staged, plain):
        with store.writing() as conn:
            if declared:
                conn.execute(f"CREATE TABLE scratch_test ({declared})")
            elif existing == "same columns":
                frames_io.ensure_table(conn, "scratch_test", frame)
    with plain.writing() as conn:
        frames_io.replace_rows(conn, "scratch_test", frame)
    copies: list[str] = []
    with staged.result_stage() as stage:
        stage.add("scratch_test", frame)
        with stage.attached(staged.conn) as names, staged.writing() as conn:
            assert names == {"scratch_test"}
            frames_io.ensure_table(conn, "scratch_test", frame)
            copy = frames_io.staged_copy(conn, "scratch_test", frame.columns, staging.SCHEMA)
            opcodes = {row[1] for row in conn.execute(f"EXPLAIN {copy}")}
            conn.set_trace_callback(copies.append)
            frames_io.replace_rows(conn, "scratch_test", frame, staging.SCHEMA)
            conn.set_trace_callback(None)
    assert "SELECT * FROM" in copy and copy in copies
    assert "RowData" in opcodes and "MakeRecord" not in opcodes  # records moved whole, not rebuilt
    assert frames_io.declared_columns(staged.conn, "scratch_test") == frames_io.declared_columns(
        plain.conn, "scratch_test"
    )
    assert stored(staged, "scratch_test") == stored(plain, "scratch_test")
    assert cell_types(staged, "scratch_test") == cell_types(plain, "scratch_test")
    assert leftovers(tmp_path) == []


def test_a_staged_table_the_store_declares_otherwise_is_copied_column_by_column(tmp_path: Path) -> None:
    """Should the store's table change shape after the scratch table was made, the named copy still fits."""
    frame = big_frame()
    store = Store(tmp_path / "q.db")
    with store.result_stage() as stage:
        stage.add("scratch_test", frame)
        with stage.attached(store.conn) as names, store.writing() as conn:
            assert names == {"scratch_test"}
            conn.execute('CREATE TABLE scratch_test (extra TEXT, account_id TEXT, "rank" INTEGER)')
            frames_io.replace_rows(conn, "scratch_test", frame, staging.SCHEMA)
    assert store.scalar("SELECT count(*) FROM scratch_test") == len(frame)
    assert store.scalar("SELECT count(*) FROM scratch_test WHERE extra IS NOT NULL") == 0
    assert store.conn.execute('SELECT "rank", points FROM scratch_test WHERE rowid = 8').fetchone() == (
        7,
        None,
    )


def test_a_folder_that_cannot_hold_the_scratch_file_falls_back_to_the_plain_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "q.db")

    def refuse(*args, **kwargs):
        raise PermissionError("read-only folder")

    monkeypatch.setattr(tempfile, "TemporaryDirectory", refuse)
    store.write_results({"scratch_test": big_frame()})
    assert store.scalar("SELECT count(*) FROM scratch_test") == staging.MIN_ROWS + 5


def generated_todo(todo_id: str = "t1") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "todo_id": todo_id,
                "account_id": "A1",
                "kind": "qbr",
                "product_id": "",
                "title": "QBR",
                "active": True,
                "evidence_at": None,
            }
        ]
    )


def after_the_first_plan(monkeypatch: pytest.MonkeyPatch, act) -> None:
    """Run ``act()`` once, right after a recompute plans its to-do merge and before its write lock."""
    planned = todo_state.plan_merge
    acted = []

    def plan_then_act(conn, todos, merge):
        plan = planned(conn, todos, merge)
        if not acted:
            acted.append(True)
            act()
        return plan

    monkeypatch.setattr(todo_state, "plan_merge", plan_then_act)


def snooze_elsewhere(path: Path, todo_id: str, until: str):
    """The app's screen, another connection, snoozing a to-do."""

    def act() -> None:
        other = Store(path)
        other.change_todo(todo_id, "snooze", until=until)
        other.close()

    return act


def test_a_change_committed_while_the_merge_was_planned_is_kept(tmp_path: Path, monkeypatch) -> None:
    """A snooze that expired would reopen the to-do; the user snoozes it again meanwhile: the new snooze wins."""
    path = tmp_path / "q.db"
    store = Store(path)
    add_todo(store, "t1")
    store.change_todo("t1", "snooze", until="2026-01-01")
    as_of = pd.Timestamp("2026-11-01")
    after_the_first_plan(monkeypatch, snooze_elsewhere(path, "t1", "2027-03-01"))
    store.write_results({}, generated_todo(), lambda old, new: reconcile(old, new, as_of))
    row = store.todos().iloc[0]
    assert (row.status, row.snoozed_until) == ("snoozed", "2027-03-01")


def test_without_a_concurrent_change_the_planned_merge_applies(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.db")
    add_todo(store, "t1")
    store.change_todo("t1", "snooze", until="2026-01-01")
    as_of = pd.Timestamp("2026-11-01")
    store.write_results({}, generated_todo(), lambda old, new: reconcile(old, new, as_of))
    assert store.todos().iloc[0].status == "open"  # the snooze expired
    assert store.todo_events("t1")["action"].tolist()[-1] == "auto-open"


STORED_TODOS = [  # todo_id, title, reason, evidence_at, status, snoozed_until, note, status_changed_at
    ("t1", "QBR", "usage fell 40%", "2026-09-01", "done", None, "called them", "2026-10-01"),
    ("t2", "Renewal", "renews in 30 days", "2026-10-01", "snoozed", "2026-10-15", None, "2026-10-02"),
    ("t3", "Seats", "seats 95% used", "2026-08-01", "open", None, "ask about Q1", None),
    ("t4", "Exec sponsor", "2 negative tickets", "2026-07-01", "dismissed", None, None, "2026-07-05"),
]


@pytest.mark.parametrize("generated_ids", [["t1", "t2", "t3", "t4"], ["t1", "t3", "t9"], ["t8", "t9"]])
def test_the_merge_plan_reads_whole_rows_only_for_the_to_dos_it_keeps_as_they_were(
    tmp_path: Path, generated_ids: list[str]
) -> None:
    """Every to-do generated again, some, or none: the plan equals the reconcile of every stored column."""
    store = Store(tmp_path / "q.db")
    with store.writing() as conn:
        conn.execute("INSERT INTO accounts (account_id, name, segment) VALUES ('A1', 'Acme', 'smb')")
        conn.executemany(
            "INSERT INTO todos (todo_id, account_id, kind, title, reason, evidence_at, status, snoozed_until, "
            "note, status_changed_at, created_at, updated_at) "
            "VALUES (?, 'A1', 'qbr', ?, ?, ?, ?, ?, ?, ?, '2026-01-01', '2026-01-01')",
            STORED_TODOS,
        )
    generated = pd.concat([generated_todo(i).assign(evidence_at="2026-10-20") for i in generated_ids])
    as_of = pd.Timestamp("2026-11-01")
    seen = []

    def merge(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
        seen.append(old)
        return reconcile(old, new, as_of)

    plan = todo_state.plan_merge(store.conn, generated, merge)
    whole = store.query("SELECT * FROM todos")
    expected = reconcile(whole, generated, as_of).sort_values("todo_id", ignore_index=True)
    planned = plan.rows.sort_values("todo_id", ignore_index=True)
    assert planned["todo_id"].tolist() == sorted({*generated_ids, "t1", "t2", "t3", "t4"})
    kept = [c for c in planned.columns if c not in ("generated_at", "created_at", "updated_at")]
    pd.testing.assert_frame_equal(planned[kept], expected[kept], check_dtype=False)
    gone = set(whole["todo_id"]) - set(generated_ids)
    read = seen[0].set_index("todo_id")
    if gone:  # kept as they were: read whole
        assert read.loc[sorted(gone), "reason"].notna().all()
    if gone != set(whole["todo_id"]):  # the others' generated fields are not read at all
        assert "reason" not in read.columns or read.drop(index=sorted(gone))["reason"].isna().all()


DORMANT = [  # todo_id, kind, due, status, snoozed_until, note: inactive, as an earlier recompute left them
    ("d1", "renewal-call", "2026-03-01", "open", None, "kept note"),
    ("d2", "qbr", "2026-04-01", "snoozed", "2026-10-15", None),  # the snooze ends before as_of
    ("d3", "seat-upsell", "2026-05-01", "done", None, "sold 20 seats"),
]
DORMANT_IDS = [row[0] for row in DORMANT]


def add_dormant(conn: sqlite3.Connection) -> None:
    conn.executemany(
        "INSERT INTO todos (todo_id, account_id, kind, title, reason, due, evidence_at, active, generated_at, "
        "status, snoozed_until, note, status_changed_at, created_at, updated_at) VALUES "
        "(?, 'A1', ?, 'Old title', 'old reason', ?, '2026-02-01', 0, '2026-06-01T08:00:00+00:00', ?, ?, ?, "
        "'2026-06-02T08:00:00+00:00', '2026-01-01', '2026-06-02')",
        DORMANT,
    )


def test_dormant_to_dos_are_not_rewritten_but_a_snooze_still_ends_and_one_generated_again_wakes(
    tmp_path: Path,
) -> None:
    """Inactive to-dos not generated again keep every byte (generated_at too); an expired snooze still
    ends; one generated again is active again with new fields and its note kept."""
    store = Store(tmp_path / "q.db")
    with store.writing() as conn:
        conn.execute("INSERT INTO accounts (account_id, name, segment) VALUES ('A1', 'Acme', 'smb')")
        add_dormant(conn)
    as_of = pd.Timestamp("2026-11-01")
    before = {row[0]: row for row in stored(store, "todos")}
    generated = pd.concat([generated_todo("t1"), generated_todo("d3").assign(title="Seats again")])
    plan = todo_state.plan_merge(store.conn, generated, lambda old, new: reconcile(old, new, as_of))
    assert sorted(plan.rows["todo_id"]) == ["d3", "t1"]  # neither d1 nor d2 is rewritten
    assert plan.moved["todo_id"].tolist() == ["d2"]
    store.write_results({}, generated, lambda old, new: reconcile(old, new, as_of))
    after = {row[0]: row for row in stored(store, "todos")}
    assert after["d1"] == before["d1"]
    woken = store.todos("WHERE todo_id = 'd2'").iloc[0]
    assert (woken.status, woken.snoozed_until, woken.active, woken.reason) == ("open", None, 0, "old reason")
    assert woken.generated_at == "2026-06-01T08:00:00+00:00"
    assert store.todo_events("d2")["action"].tolist() == ["auto-open"]
    again = store.todos("WHERE todo_id = 'd3'").iloc[0]
    assert (again.active, again.title, again.status, again.note) == (
        1,
        "Seats again",
        "done",
        "sold 20 seats",
    )


def test_a_dormant_to_do_another_recompute_made_active_meanwhile_is_planned_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between this recompute's plan and its write lock, another one generates d1 again (active, no
    event): leaving d1 alone would keep a to-do active that this recompute did not generate."""
    path = tmp_path / "q.db"
    store = Store(path)
    with store.writing() as conn:
        conn.execute("INSERT INTO accounts (account_id, name, segment) VALUES ('A1', 'Acme', 'smb')")
        add_dormant(conn)
    as_of = pd.Timestamp("2026-11-01")

    def other_recompute_generates_d1() -> None:
        other = sqlite3.connect(path)
        other.execute("UPDATE todos SET active = 1, title = 'Renewal, generated again' WHERE todo_id = 'd1'")
        other.commit()
        other.close()

    after_the_first_plan(monkeypatch, other_recompute_generates_d1)
    seen = []
    store.write_results(
        {}, generated_todo("t1"), lambda old, new: reconcile(old, new, as_of), lambda t: seen.append(t) or {}
    )
    d1 = store.todos("WHERE todo_id = 'd1'").iloc[0]
    assert (d1.active, d1.title, d1.note) == (0, "Renewal, generated again", "kept note")
    table = store.query(f"SELECT {', '.join(DERIVE_TODO_COLUMNS)} FROM todos")
    pd.testing.assert_frame_equal(as_stored(seen[0]), as_stored(table))


def as_stored(todos: pd.DataFrame) -> pd.DataFrame:
    """The derive columns as SQLite holds them: dates as ISO text, flags as 0/1."""
    out = todos.reindex(columns=list(DERIVE_TODO_COLUMNS)).sort_values("todo_id", ignore_index=True)
    out["due"] = pd.to_datetime(out["due"], format="ISO8601").dt.strftime("%Y-%m-%d").astype(object)
    out["active"] = out["active"].astype(int)
    return out.astype(object).where(out.notna(), None)


@pytest.mark.parametrize("passed_through", [False, True])
@pytest.mark.parametrize("user_acts", [False, True])
@pytest.mark.parametrize("generated_ids", [["t1", "t2", "t3", "t4"], ["t1", "t3", "t9"], ["t8", "t9"]])
def test_the_manager_figures_count_the_to_dos_as_the_merge_left_them(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    generated_ids: list[str],
    user_acts: bool,
    passed_through: bool,
) -> None:
    """``derive`` gets the merge's to-dos from the plan, not from a read: they must be the table's rows,
    also when the user snoozed one while the merge was planned (the plan is made again then), and
    when the reconcile returns no state at all (the stored state stands)."""
    path = tmp_path / "q.db"
    store = Store(path)
    with store.writing() as conn:
        conn.execute("INSERT INTO accounts (account_id, name, segment) VALUES ('A1', 'Acme', 'smb')")
        conn.executemany(
            "INSERT INTO todos (todo_id, account_id, kind, title, reason, evidence_at, status, snoozed_until, "
            "note, status_changed_at, due, created_at, updated_at) "
            "VALUES (?, 'A1', 'qbr', ?, ?, ?, ?, ?, ?, ?, '2026-09-30', '2026-01-01', '2026-01-01')",
            STORED_TODOS,
        )
        add_dormant(conn)
    generated = pd.concat(
        [
            generated_todo(i).assign(
                evidence_at=pd.Timestamp("2026-10-20"), due=pd.Timestamp(f"2026-11-0{n + 1}")
            )
            for n, i in enumerate(generated_ids)
        ]
    )
    as_of = pd.Timestamp("2026-11-01")
    if user_acts:
        after_the_first_plan(monkeypatch, snooze_elsewhere(path, "t3", "2027-03-01"))
    seen = []

    def derive(todos: pd.DataFrame) -> dict[str, pd.DataFrame]:
        seen.append(todos)
        return {}

    def merge(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
        return new if passed_through else reconcile(old, new, as_of)

    store.write_results({}, generated, merge, derive)
    table = store.query(f"SELECT {', '.join(DERIVE_TODO_COLUMNS)} FROM todos")
    if not passed_through:
        assert len(table) == len({*generated_ids, "t1", "t2", "t3", "t4", *DORMANT_IDS})
        assert ("snoozed" in table["status"].tolist()) == user_acts  # t2's snooze expired; t3 snoozed anew
    pd.testing.assert_frame_equal(as_stored(seen[0]), as_stored(table))


def test_import_leaves_consistent_references_and_no_scratch(demo_store: Store) -> None:
    assert demo_store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert demo_store.scalar("PRAGMA foreign_keys") == 1  # switched back on after the copy
    assert leftovers(demo_store.path.parent) == []


def test_read_arrow_survives_a_first_batch_of_nulls(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (a INTEGER, b TEXT, c TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?, NULL)", [(None, None)] * 3000 + [(1, "x"), (2.5, "y")])
    conn.commit()
    conn.close()  # the driver's own SQLite must never share this process with an open sqlite3 handle
    table = frames_io.read_arrow(path, "SELECT * FROM t", declared={"c": "TEXT"})
    assert table.column("b").to_pylist()[-2:] == ["x", "y"]
    assert table.column("a").to_pylist()[-2:] == [1.0, 2.5]
    assert str(table.column("c").type) == "string"  # all NULL: the declared type, not the driver's guess


def test_helper_processes_read_what_sqlite3_reads(demo_store: Store) -> None:
    helped, usage = demo_store.portfolio_and_usage(helpers=True)
    plain, plain_usage = demo_store.portfolio_and_usage(helpers=False)
    for table in ("accounts", "products", "subscriptions", "contacts", "activities", "nps", "bundles"):
        pd.testing.assert_frame_equal(getattr(helped, table), getattr(plain, table))
    assert (usage.account_ids == plain_usage.account_ids).all() and len(usage) == len(plain_usage)
    for name, values in usage.metrics.items():
        np.testing.assert_array_equal(values, plain_usage.metrics[name])
    assert leftovers(demo_store.path.parent) == []


def test_a_failed_helper_falls_back_to_sqlite3(demo_store: Store, monkeypatch) -> None:
    from core.store import bulk_read

    def fail(*args, **kwargs):
        raise bulk_read.BulkReadFailed("no processes here")

    monkeypatch.setattr(bulk_read, "Helper", fail)
    assert len(demo_store.portfolio(helpers=True).accounts) == demo_store.scalar(
        "SELECT count(*) FROM accounts"
    )


RESULT_TABLES = (
    "rules",
    "attach",
    "suggestions",
    "scores",
    "score_components",
    "pricing",
    "readiness",
    "product_roles",
    "time_to_attach",
    "next_product",
    "time_to_second",
    "model_metrics",
    "portfolio",
    "owner_book",
)


def test_a_recompute_with_helper_processes_saves_what_one_without_saves(
    tmp_path: Path, demo_store_file: Path, monkeypatch
) -> None:
    """The usage aggregates and the trust figures from helper processes equal the in-process ones."""
    import shutil
    from datetime import date

    from core.recompute import recompute
    from core.store import bulk_read

    fetched = []
    tables = bulk_read.Helper.tables

    def spy(self, *args, **kwargs):
        out = tables(self, *args, **kwargs)
        fetched.append(sorted(out))
        return out

    monkeypatch.setattr(bulk_read.Helper, "tables", spy)
    saved = {}
    for big in (True, False):
        path = tmp_path / f"big-{big}.db"
        shutil.copy(demo_store_file, path)
        monkeypatch.setattr(Store, "is_big", lambda self, big=big: big)
        store = Store(path)
        report = recompute(store, date(2026, 11, 1))
        assert report.step_seconds["trust"] >= 0
        saved[big] = {table: store.result(table) for table in RESULT_TABLES}
        store.close()
        assert leftovers(tmp_path) == []
    for table in RESULT_TABLES:
        pd.testing.assert_frame_equal(saved[True][table], saved[False][table], obj=table)
    assert ["features", "monthly", "product_monthly"] in fetched and [
        "model_metrics"
    ] in fetched  # helpers ran
    names = set(saved[True]["model_metrics"]["name"])
    assert "risk.n" in names and "backtest.baseline_hit_rate_at_1" in names


@pytest.mark.parametrize("task", ["HELPER_TASK", "SECOND_HALF_TASK"])
def test_a_helper_that_fails_leaves_the_work_to_the_recompute(
    tmp_path: Path, demo_store_file, monkeypatch, task: str
) -> None:
    import shutil
    from datetime import date

    from core import jobs
    from core.recompute import recompute

    path = tmp_path / "q.db"
    shutil.copy(demo_store_file, path)
    monkeypatch.setattr(Store, "is_big", lambda self: True)
    monkeypatch.setattr(jobs, task, "core.jobs:no_such_task")
    store = Store(path)
    before = store.result("scores")
    recompute(store, date(2026, 11, 1))
    pd.testing.assert_frame_equal(store.result("scores"), before)  # same data, same scores
    assert len(store.result("model_metrics"))
    assert leftovers(tmp_path) == []  # no helper's folder outlives the recompute


def test_an_import_that_cannot_write_its_working_copy_says_so_and_changes_nothing(
    demo_store: Store, demo_folder: Path, monkeypatch
) -> None:
    from core.importer import open_portfolio
    from core.store import StoreError

    before = demo_store.counts()

    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryDirectory", refuse)
    with pytest.raises(StoreError, match="working copy.*free space.*Nothing was changed"):
        demo_store.import_portfolio(open_portfolio(demo_folder))
    assert demo_store.counts() == before


def test_a_recompute_that_stages_every_table_saves_what_one_that_stages_none_saves(
    tmp_path: Path, demo_store_file: Path, monkeypatch
) -> None:
    import shutil
    from datetime import date

    from core.recompute import recompute

    attached = []
    attach = staging.attached

    def spy(conn, database):
        attached.append(database.path)
        return attach(conn, database)

    monkeypatch.setattr(staging, "attached", spy)
    swapped = []
    swap_in = swap.swap_in

    def swap_spy(conn, table, *args):
        done = swap_in(conn, table, *args)
        if done:
            swapped.append(table)
        return done

    monkeypatch.setattr(swap, "swap_in", swap_spy)
    saved = {}
    for min_rows in (1, 10**9):
        monkeypatch.setattr(staging, "MIN_ROWS", min_rows)
        path = tmp_path / f"min-{min_rows}.db"
        shutil.copy(demo_store_file, path)
        store = Store(path)
        recompute(store, date(2026, 11, 1))
        saved[min_rows] = {table: store.result(table) for table in (*RESULT_TABLES, "todos")}
        store.close()
    assert len(attached) == 1  # only the run with MIN_ROWS = 1 staged anything
    assert {"suggestions", "scores", "score_components", "pricing"} <= set(swapped)  # and swapped them in
    for table in RESULT_TABLES:
        pd.testing.assert_frame_equal(saved[1][table], saved[10**9][table], obj=table)
    columns = ["todo_id", "status", "title", "reason", "priority_score", "due", "active"]
    pd.testing.assert_frame_equal(saved[1]["todos"][columns], saved[10**9]["todos"][columns])
    assert leftovers(tmp_path) == []


def test_an_index_statement_takes_the_other_name() -> None:
    from core.store.frames_io import _index_named, _other_name

    assert _other_name("t_account") == "t_account__alt" and _other_name("t_account__alt") == "t_account"
    sql = 'CREATE INDEX "t_account" ON "t"(account_id)'
    assert (
        _index_named(sql, "t_account", "t_account__alt") == 'CREATE INDEX "t_account__alt" ON "t"(account_id)'
    )
    assert _index_named("create unique index if not exists x ON t(a)", "x", "y") == (
        'create unique index if not exists "y" ON t(a)'
    )
    with pytest.raises(ValueError):
        _index_named("CREATE INDEX other ON t(a)", "x", "y")


def test_rotating_components_keeps_each_table_indexed(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.db")
    parts = pd.DataFrame(
        [{"account_id": "A1", "axis": "risk", "component": "x", "points": 1.0, "reason": "r"}]
    )
    for points in (1.0, 2.0, 3.0):
        store.write_results({"score_components": parts.assign(points=points)})
    for table in ("score_components", "score_components_prev"):
        indexed = [
            store.conn.execute(f'PRAGMA index_info("{name}")').fetchone()[2]
            for _, name, *_ in store.conn.execute(f'PRAGMA index_list("{table}")').fetchall()
        ]
        assert indexed == ["account_id"], table
        plan = store.conn.execute(f'EXPLAIN QUERY PLAN SELECT * FROM "{table}" WHERE account_id = ?', ["A1"])
        assert "USING INDEX" in " ".join(row[-1] for row in plan.fetchall()), table
    assert store.result("score_components_prev")["points"].tolist() == [2.0]
    assert store.result("score_components")["points"].tolist() == [3.0]
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_scratch_write_that_fails_after_its_frame_left_memory_fails_the_recompute_cleanly(
    tmp_path: Path, demo_store_file: Path, monkeypatch
) -> None:
    import shutil
    from datetime import date

    from core.recompute import RecomputeFailed, recompute

    path = tmp_path / "full.db"
    shutil.copy(demo_store_file, path)
    store = Store(path)
    before = {table: store.result(table) for table in (*RESULT_TABLES, "todos")}
    append = staging.Scratch.append

    def disk_full_at_pricing(self, table, frame):
        if table == "pricing":
            raise OSError(28, "No space left on device")
        append(self, table, frame)

    monkeypatch.setattr(staging, "MIN_ROWS", 1)  # every result is staged, then released after its last reader
    monkeypatch.setattr(staging.Scratch, "append", disk_full_at_pricing)
    with pytest.raises(RecomputeFailed, match="could not be written beside the store.*No space left"):
        recompute(store, date(2026, 11, 1))
    for table, frame in before.items():
        pd.testing.assert_frame_equal(store.result(table), frame, obj=table)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("zone", [None, "America/New_York"])
def test_dates_are_written_as_their_calendar_day_as_python_writes_it(zone: str | None) -> None:
    stamps = pd.Series(
        pd.to_datetime(
            ["1969-12-31 23:00", "2026-01-05 13:45:12", "1900-03-01", None, "2026-10-31"], format="mixed"
        )
    )
    if zone:
        stamps = stamps.dt.tz_localize(zone)
    expected = [None if pd.isna(v) else v.date().isoformat() for v in stamps]
    written = frames_io.arrow_table(pd.DataFrame({"evidence_at": stamps}))
    assert written.column("evidence_at").to_pylist() == expected


def test_dates_parsed_in_arrow_read_as_pandas_reads_them() -> None:
    text = ["2026-01-03", None, "2025-12-31", "2026-01-03T10:11:12"]
    frame = pd.DataFrame({"account_id": ["A", "B", "C", "D"], "created_at": pd.array(text, dtype="str")})
    by_pandas = frames_io.typed("accounts", frame)
    arrow = frames_io.dates_parsed("accounts", pa.Table.from_pandas(frame, preserve_index=False))
    assert pa.types.is_timestamp(arrow.schema.field("created_at").type)
    pd.testing.assert_frame_equal(frames_io.typed("accounts", arrow.to_pandas()), by_pandas)
    bad = pa.table({"account_id": ["A", "B"], "created_at": ["2026-01-03", "2026-13-01"]})
    left = frames_io.dates_parsed("accounts", bad)  # Arrow refuses the column whole: pandas decides
    assert left.column("created_at").to_pylist() == ["2026-01-03", "2026-13-01"]
    assert frames_io.typed("accounts", left.to_pandas())["created_at"].isna().tolist() == [False, True]


PARTED_TASK = """
import time
from pathlib import Path

import pandas as pd


def two_parts(store_path, go, fail=False):
    yield {"first": pd.DataFrame({"n": [1, 2, 3]})}
    while not Path(go).exists():  # the caller reads the first part before letting this one go on
        time.sleep(0.01)
    if fail:
        raise RuntimeError("the second part broke")
    yield {"second": pd.DataFrame({"text": ["a", "b"]})}
"""


@pytest.mark.parametrize("fail", [False, True])
def test_a_helper_hands_over_its_parts_one_after_another(tmp_path: Path, monkeypatch, fail: bool) -> None:
    from core.store import bulk_read

    (tmp_path / "parted_task.py").write_text(PARTED_TASK)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    go = tmp_path / "go"
    helper = bulk_read.Helper(tmp_path / "q.db", "parted_task:two_parts", {"go": str(go), "fail": fail})
    try:
        first = helper.frames(0, last=False)  # while the helper still waits to write the second
        assert first["first"]["n"].tolist() == [1, 2, 3]
        go.touch()
        if fail:
            with pytest.raises(bulk_read.BulkReadFailed, match="the second part broke"):
                helper.frames(1)
        else:
            assert helper.frames(1)["second"]["text"].tolist() == ["a", "b"]
    finally:
        helper.close()
    assert leftovers(tmp_path) == []


STATUS_TASK = """
import pandas as pd


def huge_pages(store_path):
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    return {"status": pd.DataFrame({"thp": [status["THP_enabled"].strip()]})}
"""


@pytest.mark.skipif(
    not Path("/proc/self/status").exists() or "THP_enabled" not in Path("/proc/self/status").read_text(),
    reason="needs Linux's THP_enabled in /proc/self/status",
)
def test_a_helper_runs_without_transparent_huge_pages(tmp_path: Path, monkeypatch) -> None:
    from core.store import bulk_read

    (tmp_path / "status_task.py").write_text(STATUS_TASK)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    helper = bulk_read.Helper(tmp_path / "q.db", "status_task:huge_pages", {})
    try:
        assert helper.frames()["status"]["thp"].tolist() == ["0"]
    finally:
        helper.close()
    assert "THP_enabled:\t1" in Path("/proc/self/status").read_text()  # this process keeps them


def test_the_trust_helper_maps_the_book_its_sibling_wrote(
    tmp_path: Path, demo_store_file: Path, monkeypatch
) -> None:
    """Run in this process on a copy that sqlite3 never opens here (ADBC and sqlite3 must not share a file)."""
    import shutil

    from core import jobs, settings
    from core.store import bulk_read
    from core.store import store as store_module

    path = tmp_path / "q.db"
    shutil.copy(demo_store_file, path)
    read, reads = store_module.helper_tables, []
    shared = tmp_path / "book-reader" / "part-0"  # what the recompute's book helper leaves there
    shared.parent.mkdir()
    bulk_read._write_part(shared, read(path, list(store_module.DATA_TABLES)))
    middle = sorted(read(path, ["accounts"])["accounts"].column("account_id").to_pylist())[50]

    def spy(store_path, tables, *args, **kwargs):
        reads.append(list(tables))
        return read(store_path, tables, *args, **kwargs)

    monkeypatch.setattr(store_module, "helper_tables", spy)
    trust = {}
    for folder in (shared, tmp_path / "gone" / "part-0"):  # a helper that failed leaves no folder
        reads.clear()
        parts = list(
            jobs.usage_then_trust(
                path, "2026-11-01", "2026-05-01", settings.resolve(), split=middle, book=str(folder)
            )
        )
        assert reads[:2] == [["usage"], ["usage"]]  # this half, then the other half's nine months
        assert (list(store_module.DATA_TABLES) in reads) is (folder != shared)
        assert [list(part) for part in parts[1:]] == [["past_features"], ["model_metrics"]]
        trust[folder] = parts[2]["model_metrics"]
    assert "risk.n" in set(trust[shared]["name"])
    pd.testing.assert_frame_equal(*trust.values())
    # The features at the cutoff, from this half's cube and the other half's nine months, are every account's.
    from core import scoring

    whole = Store(path)
    expected = scoring.usage_features(whole.usage_cube(helpers=False), pd.Timestamp("2026-05-01"))
    whole.close()
    pd.testing.assert_frame_equal(parts[1]["past_features"], expected)


def test_a_shared_part_is_mapped_once_it_appears_and_given_up_when_its_folder_goes(tmp_path: Path) -> None:
    import threading

    from core.store import bulk_read

    helper_folder = tmp_path / "reader"
    helper_folder.mkdir()
    later = threading.Timer(
        0.2, bulk_read._write_part, [helper_folder / "part-0", {"t": pd.DataFrame({"a": [1, 2]})}]
    )
    later.start()
    assert bulk_read.shared_part(helper_folder / "part-0")["t"].column("a").to_pylist() == [1, 2]
    (helper_folder / "part-0" / "t.arrow").unlink()
    (helper_folder / "part-0").rmdir()
    threading.Timer(0.2, helper_folder.rmdir).start()
    assert bulk_read.shared_part(helper_folder / "part-0") is None


@pytest.mark.parametrize("distinct", [3, 10_000])
def test_text_is_written_as_python_holds_it_whether_it_repeats_or_not(distinct: int) -> None:
    sentences = [f"Active users down {i}% (4 → 3) — “quoted”, 日本" for i in range(distinct)]
    values = [
        None if i % 7 == 0 else float("nan") if i % 11 == 0 else sentences[i % distinct]
        for i in range(10_000)
    ]
    written = frames_io.text_array(pd.Series(values, dtype=object))
    assert written.type == pa.string()
    assert written.to_pylist() == [v if isinstance(v, str) else None for v in values]


def test_a_helpers_text_columns_become_frames_without_a_copy(tmp_path: Path) -> None:
    """Written as large_string, mapped text turns into pandas' str dtype in place; as string
    (what the ADBC driver returns), pandas would cast it, copying every offset."""
    from core.store import bulk_read

    words = pa.array([f"account name number {i:07d} of the book" for i in range(200_000)])
    table = pa.table({"name": words, "n": np.arange(200_000)})
    bulk_read._write_part(tmp_path / "part-0", {"book": table})
    mapped = bulk_read.mapped(tmp_path / "part-0")["book"]
    assert mapped.schema.field("name").type == pa.large_string()
    assert mapped.schema.field("n").type == pa.int64()  # only text changes
    before = pa.total_allocated_bytes()
    frame = mapped.select(["name"]).to_pandas()
    grown = pa.total_allocated_bytes() - before
    assert grown < 200_000  # the offsets alone would be 1.6 MB
    assert frame["name"].tolist() == words.to_pylist()
    assert str(frame["name"].dtype) == "str"


def test_a_helper_runs_this_code_whatever_folder_quadrant_runs_from(
    tmp_path: Path, demo_store_file: Path, monkeypatch
) -> None:
    """A `core` package in the working folder (another project's) is not what the helper imports."""
    from core.store import bulk_read
    from core.store.store import HELPER_TABLES

    elsewhere = tmp_path / "another-project"
    (elsewhere / "core" / "store").mkdir(parents=True)
    (elsewhere / "core" / "__init__.py").write_text("raise ImportError('not Quadrant')\n")
    (elsewhere / "core" / "store" / "__init__.py").write_text("")
    (elsewhere / "core" / "store" / "bulk_read.py").write_text("raise SystemExit(3)\n")
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    helper = bulk_read.Helper(demo_store_file.resolve(), HELPER_TABLES, {"tables": ["products"]})
    products = helper.tables()["products"]
    store = Store(demo_store_file)
    assert products.num_rows == store.counts()["products"] > 0
    store.close()
