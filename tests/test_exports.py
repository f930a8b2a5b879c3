"""`quadrant export` as CSV and JSON: streamed from the store, the same values a frame of the table holds.

Both are written batch by batch from SQLite's rows (a frame of a big table took 880 MB); these
tests check them against a frame of the same query, table by table.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from core.exports import export_query, table_names


def cli(store, capsys, *args: str) -> tuple[int, str, str]:
    from tui.cli import main

    capsys.readouterr()
    code = main(["--db", str(store.path), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def same_values(printed: pd.Series, stored: pd.Series) -> bool:
    """Numbers equal as numbers (3 and 3.0 alike), everything else as text; gaps where the store has NULL."""
    text = printed.fillna("")
    numbers = pd.to_numeric(stored, errors="coerce")
    if stored.notna().any() and numbers.notna().sum() == stored.notna().sum():  # a numeric column
        printed_numbers = pd.to_numeric(text.replace("", np.nan), errors="coerce").to_numpy(dtype="float64")
        return bool(np.array_equal(printed_numbers, numbers.to_numpy(dtype="float64"), equal_nan=True))
    return text.tolist() == stored.map(lambda v: "" if v is None or v != v else str(v)).tolist()


@pytest.mark.parametrize("table", table_names())
def test_csv_holds_the_tables_rows_in_order(demo_store, capsys, table: str) -> None:
    todo_id = demo_store.todos("WHERE active = 1 LIMIT 1").iloc[0]["todo_id"]
    demo_store.change_todo(todo_id, "snooze", until="2026-11-20", note='a "quoted", note\r\nover lines')
    code, out, err = cli(demo_store, capsys, "export", table)
    assert code == 0, err
    printed = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False, na_values=[""])
    sql, params, _ = export_query(demo_store, table)
    stored = demo_store.query(sql, params)
    assert printed.columns.tolist() == stored.columns.tolist()
    assert len(printed) == len(stored) > 0
    for column in stored.columns:
        assert same_values(printed[column], stored[column]), column


def test_whole_numbers_in_an_integer_column_with_gaps_print_as_integers(demo_store, capsys) -> None:
    account = demo_store.query("SELECT account_id FROM accounts ORDER BY account_id LIMIT 1").iloc[0, 0]
    with demo_store.writing() as conn:
        conn.execute(
            "UPDATE accounts SET employees = 120, employees_prev = NULL WHERE account_id = ?", [account]
        )
    code, out, _ = cli(demo_store, capsys, "export", "accounts", "--account", account)
    assert code == 0
    header, row = out.splitlines()
    fields = dict(zip(header.split(","), row.split(","), strict=False))
    assert fields["employees"] == "120"  # a frame would print 120.0 beside the gap
    assert fields["employees_prev"] == ""


def test_filters_and_an_unknown_account(demo_store, capsys) -> None:
    owner = demo_store.query("SELECT owner FROM accounts WHERE owner IS NOT NULL LIMIT 1").iloc[0, 0]
    code, out, _ = cli(demo_store, capsys, "export", "scores", "--owner", owner)
    assert code == 0
    printed = pd.read_csv(io.StringIO(out), dtype=str)
    mine = set(demo_store.query("SELECT account_id FROM accounts WHERE owner = ?", [owner])["account_id"])
    assert set(printed["account_id"]) == mine & set(
        demo_store.query("SELECT account_id FROM scores")["account_id"]
    )
    code, out, err = cli(demo_store, capsys, "export", "suggestions", "--account", "NOPE-1")
    assert code != 0 and "There is no account 'NOPE-1'" in err and "Traceback" not in err


@pytest.mark.parametrize("table", table_names())
def test_json_holds_the_tables_records_in_order(demo_store, capsys, table: str) -> None:
    todo_id = demo_store.todos("WHERE active = 1 LIMIT 1").iloc[0]["todo_id"]
    demo_store.change_todo(todo_id, "snooze", until="2026-11-20", note='a "quoted" note\r\nover lines')
    code, out, err = cli(demo_store, capsys, "export", table, "--format", "json")
    assert code == 0, err
    records = json.loads(out)
    sql, params, columns = export_query(demo_store, table)
    stored = demo_store.query(sql, params)
    assert len(records) == len(stored) > 0
    assert all(list(record) == columns for record in records)
    for column in columns:
        printed = pd.Series([record[column] for record in records], dtype=object)
        values = stored[column].astype(object)
        infinite = values.map(lambda v: isinstance(v, float) and math.isinf(v))
        assert printed[infinite.to_numpy()].isna().all(), column  # JSON has no infinity: null
        kept = ~infinite.to_numpy()
        assert same_values(printed[kept].map(lambda v: "" if v is None else str(v)), values[kept]), column


def test_json_of_rules_with_certain_consequents_has_null_conviction(demo_store, capsys) -> None:
    code, out, _ = cli(demo_store, capsys, "export", "rules", "--format", "json")
    rules = json.loads(out)
    certain = [r for r in rules if r["confidence"] == 1.0]
    assert certain and all(r["conviction"] is None for r in certain)
    assert all(r["conviction"] is not None for r in rules if r["confidence"] < 1.0)


def test_json_of_nothing_is_an_empty_array(demo_store, capsys) -> None:
    assert demo_store.scalar("SELECT count(*) FROM todo_events") == 0  # nobody has touched a to-do yet
    code, out, _ = cli(demo_store, capsys, "export", "events", "--format", "json")
    assert code == 0 and json.loads(out) == []
