"""Big results built beside the live tables and swapped in by renaming: same rows, indexed, nothing left behind."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.store import DataChanged, Store, staging, swap
from core.store.store import finish_checkpoints
from core.store.workdirs import WorkFolder

ROOT = Path(__file__).resolve().parents[1]


def components(rows: int = staging.MIN_ROWS + 7, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "account_id": pd.array([f"A{i % 900:05d}" for i in range(rows)], dtype="str"),
            "axis": np.where(np.arange(rows) % 2 == 0, "risk", "expansion"),
            "component": pd.array([f"c{i % 15}" for i in range(rows)], dtype="str"),
            "points": rng.normal(size=rows).round(3),
            "reason": "x'; DROP TABLE todos; --",
        }
    )


def rows_of(store: Store, table: str) -> list[tuple]:
    return store.conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()


def twins(store: Store) -> list[str]:
    """Tables a swap builds or sets aside, still in the store."""
    return [
        r[0]
        for r in store.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE '\\_next\\_%' ESCAPE '\\' "
            "OR name LIKE '\\_old\\_%' ESCAPE '\\')"
        )
    ]


def indexed_columns(store: Store, table: str) -> list[str]:
    """The first column of each of ``table``'s declared indexes."""
    names = [
        r[0]
        for r in store.conn.execute("SELECT name, origin FROM pragma_index_list(?)", [table])
        if r[1] == "c"
    ]
    return sorted(
        store.conn.execute("SELECT name FROM pragma_index_info(?)", [n]).fetchone()[0] for n in names
    )


def plain_copy(tmp_path: Path, frames: list[pd.DataFrame]) -> Store:
    """The same saves with nothing built beside the store (every table copied in the save)."""
    store = Store(tmp_path / "plain.db")
    for frame in frames:
        store.write_results({"score_components": frame}, stage=_NoTwins(store))
    return store


class _NoTwins:
    """A stage that builds no twin: the save copies the staged rows itself, as before swaps."""

    def __new__(cls, store: Store):
        stage = store.result_stage()
        stage._like = None
        return stage


def test_a_swapped_result_holds_the_rows_the_plain_copy_holds_and_keeps_the_last_ones(tmp_path: Path) -> None:
    first, second, third = components(seed=1), components(seed=2), components(seed=3)
    store = Store(tmp_path / "q.db")
    for frame in (first, second, third):
        with store.result_stage() as stage:
            store.write_results({"score_components": frame}, stage=stage)
            assert set(stage.built) == {"score_components"}  # the save renamed, it did not copy
        finish_checkpoints()
    plain = plain_copy(tmp_path, [first, second, third])
    assert rows_of(store, "score_components") == rows_of(plain, "score_components")
    assert rows_of(store, "score_components_prev") == rows_of(plain, "score_components_prev")
    assert rows_of(store, "score_components")[0][3] == third.loc[0, "points"]
    assert rows_of(store, "score_components_prev")[0][3] == second.loc[0, "points"]
    for table in ("score_components", "score_components_prev"):
        assert indexed_columns(store, table) == ["account_id"]
        plan = store.conn.execute(f"EXPLAIN QUERY PLAN SELECT * FROM {table} WHERE account_id = 'A00001'")
        assert "USING INDEX" in " ".join(str(r[-1]) for r in plan)
    assert twins(store) == []
    assert store.scalar("PRAGMA integrity_check") == "ok"


def test_a_table_with_a_primary_key_and_new_columns_is_swapped_whole(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.db")
    scores = pd.DataFrame(
        {"account_id": [f"A{i:06d}" for i in range(staging.MIN_ROWS + 1)], "risk": 1.0, "new_figure": 2.5}
    )
    with store.result_stage() as stage:
        store.write_results({"scores": scores}, stage=stage)
        assert "scores" in stage.built
    finish_checkpoints()
    assert store.scalar("SELECT count(*) FROM scores") == len(scores)
    assert store.scalar("SELECT sum(new_figure) FROM scores") == 2.5 * len(scores)
    with pytest.raises(sqlite3.IntegrityError):  # the primary key came with the swapped table
        store.conn.execute("INSERT INTO scores (account_id) VALUES ('A000001')")
    assert twins(store) == []


def test_a_twin_gone_before_the_save_is_replaced_by_a_copy_of_the_staged_rows(
    tmp_path: Path, monkeypatch
) -> None:
    store = Store(tmp_path / "q.db")
    frame = components()
    monkeypatch.setattr(swap, "build", lambda *args: "_next_gone_score_components")
    store.write_results({"score_components": frame})
    finish_checkpoints()
    assert rows_of(store, "score_components") == rows_of(plain_copy(tmp_path, [frame]), "score_components")


def test_refused_results_leave_the_tables_as_they_were_and_no_twin(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.db")
    store.write_results({"score_components": components(seed=1)})
    before = rows_of(store, "score_components")
    with pytest.raises(DataChanged), store.result_stage() as stage:
        store.write_results({"score_components": components(seed=2)}, stage=stage, data_version=("other",))
    assert stage.built  # it was built, then dropped
    finish_checkpoints()
    assert rows_of(store, "score_components") == before
    assert twins(store) == []


def test_a_sweep_drops_what_dead_stages_left_and_keeps_what_a_living_one_built(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.db")
    with WorkFolder(store.path, "stage") as living:
        token = living.path.name.removeprefix(f".{store.path.name}.stage-")
        with store.writing() as conn:
            for name in ("_next_dead1234_scores", "_old_dead1234_pricing", f"_next_{token}_scores"):
                conn.execute(f'CREATE TABLE "{name}" (x)')
        swap.sweep(store.path)
        assert twins(store) == [f"_next_{token}_scores"]
    swap.sweep(store.path)  # the folder is gone: nothing holds it any more
    assert twins(store) == []


KILLED_CHILD = """
import sys, time
import numpy as np, pandas as pd
from core.store import Store
store = Store(sys.argv[1])
frame = pd.DataFrame({"account_id": [f"A{i:06d}" for i in range(20_000)], "axis": "risk",
                      "component": "c", "points": np.arange(20_000.0), "reason": "new"})
stage = store.result_stage()
stage.add("score_components", frame)
stage._finish()
print("built" if stage.built else "not built", flush=True)
time.sleep(60)
"""


def test_a_process_killed_after_building_its_twin_changes_nothing_and_the_next_save_sweeps_it(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "q.db")
    store.write_results({"score_components": components()})
    before = rows_of(store, "score_components")
    store.close()
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CHILD, str(store.path)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert child.stdout.readline().strip() == "built"
    child.send_signal(signal.SIGKILL)
    child.wait()
    store = Store(store.path)  # sweeps the dead process's working folder
    assert store.scalar("PRAGMA integrity_check") == "ok"
    assert rows_of(store, "score_components") == before
    assert len(twins(store)) == 1  # left in the store until the next save sweeps
    store.write_results({"score_components": components(seed=5)})
    finish_checkpoints()
    assert twins(store) == []


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "CREATE INDEX score_components_account ON score_components(account_id)",
            'CREATE INDEX main."i" ON "t" (account_id)',
        ),
        (
            'CREATE UNIQUE INDEX IF NOT EXISTS "odd ""name""" ON "my table" (a, b DESC)',
            'CREATE UNIQUE INDEX main."i" ON "t" (a, b DESC)',
        ),
    ],
)
def test_an_index_statement_is_declared_again_under_another_name_and_table(sql: str, expected: str) -> None:
    assert swap.index_on(sql, "i", "t") == expected


def test_a_table_statement_is_declared_again_under_another_name() -> None:
    assert swap.table_named('CREATE TABLE "a ""b""" (x TEXT)', "n") == 'CREATE TABLE main."n" (x TEXT)'
    assert swap.table_named("CREATE TABLE scores (account_id TEXT PRIMARY KEY)", "n").startswith(
        'CREATE TABLE main."n" (account_id'
    )


SAVING_CHILD = """
import sys
import pandas as pd
from core.store import Store
rows = 30_000
marker = sys.argv[2]
store = Store(sys.argv[1])
store.write_results({
    "score_components": pd.DataFrame({"account_id": [f"A{i:06d}" for i in range(rows)], "axis": "risk",
                                      "component": "c", "points": 1.0, "reason": marker}),
    "scores": pd.DataFrame({"account_id": [f"A{i:06d}" for i in range(rows)], "risk": 1.0, "quadrant": marker}),
})
store.close()
"""


def test_two_processes_saving_at_once_each_swap_whole_tables_in(tmp_path: Path) -> None:
    store = Store(tmp_path / "q.db")
    store.write_results({"score_components": components()})  # "x'; DROP TABLE todos; --" in every reason
    store.close()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", SAVING_CHILD, str(store.path), marker],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for marker in ("first", "second")
    ]
    for child in children:
        assert child.wait(timeout=120) == 0, child.stderr.read()
    store = Store(store.path)
    assert store.scalar("PRAGMA integrity_check") == "ok"
    now = {r[0] for r in store.conn.execute("SELECT DISTINCT reason FROM score_components")}
    before = {r[0] for r in store.conn.execute("SELECT DISTINCT reason FROM score_components_prev")}
    assert now in ({"first"}, {"second"}) and before in ({"first"}, {"second"}) and now != before
    assert {r[0] for r in store.conn.execute("SELECT DISTINCT quadrant FROM scores")} == now
    for table in ("score_components", "score_components_prev"):
        assert indexed_columns(store, table) == ["account_id"]
    assert twins(store) == []


def test_a_stage_folder_deleted_while_the_sweep_looks_counts_as_abandoned(tmp_path: Path) -> None:
    from core.store import workdirs

    assert workdirs.abandoned(tmp_path / ".q.db.stage-gone")
