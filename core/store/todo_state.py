"""To-do state changes: the user's marks, and the recompute's merge that must never lose them.

Every change appends a row to ``todo_events``, holding the previous values
too, so any change can be undone and the history audited.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pandas as pd

from core.frames import is_in
from core.store import frames_io
from core.store.errors import StoreError

ACTIONS = ("done", "snooze", "dismiss", "reopen", "note", "outcome")
STATUS_AFTER = {"done": "done", "snooze": "snoozed", "dismiss": "dismissed", "reopen": "open"}
OUTCOMES = ("won", "lost", "no-decision")
GENERATED = (
    "account_id",
    "kind",
    "product_id",
    "quadrant",
    "title",
    "reason",
    "priority",
    "priority_score",
    "below_line",
    "due",
    "evidence_at",
    "playbook",
    "active",
    "generated_at",
)
STATE = ("status", "snoozed_until", "status_changed_at")


def _now() -> str:
    from core.store.store import now_iso

    return now_iso()


def _row(conn: sqlite3.Connection, todo_id: str) -> dict:
    cursor = conn.execute("SELECT * FROM todos WHERE todo_id = ?", [todo_id])
    row = cursor.fetchone()
    if row is None:
        raise StoreError(f"There is no to-do with id {todo_id!r} (see `quadrant export todos`).")
    return dict(zip([d[0] for d in cursor.description], row))


def _log(conn: sqlite3.Connection, todo_id: str, action: str, before: dict, after: dict, source: str) -> None:
    conn.execute(
        "INSERT INTO todo_events (todo_id, at, action, from_status, to_status, snoozed_until, note, outcome, "
        "source, prev_snoozed_until, prev_note, prev_outcome) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            todo_id,
            _now(),
            action,
            before["status"],
            after["status"],
            after["snoozed_until"],
            after["note"],
            after["outcome"],
            source,
            before["snoozed_until"],
            before["note"],
            before["outcome"],
        ],
    )


def change(
    conn: sqlite3.Connection,
    todo_id: str,
    action: str,
    until: date | str | None,
    note: str | None,
    outcome: str | None,
    source: str,
) -> dict:
    """Apply one user action inside the caller's write transaction."""
    if action not in ACTIONS:
        raise StoreError(f"Unknown to-do action {action!r}; expected one of {', '.join(ACTIONS)}.")
    before = _row(conn, todo_id)
    after = dict(before)
    if action == "snooze":
        if until is None:
            raise StoreError("Snoozing needs a date: --until YYYY-MM-DD.")
        try:
            after["snoozed_until"] = date.fromisoformat(str(until)).isoformat()
        except ValueError:
            raise StoreError(f"--until expects a date as YYYY-MM-DD, got {until!r}.") from None
    elif action in STATUS_AFTER:
        after["snoozed_until"] = None
    if action in STATUS_AFTER:
        after["status"] = STATUS_AFTER[action]
        after["status_changed_at"] = _now()
    if note is not None:
        after["note"] = note
    if outcome is not None:
        if outcome not in OUTCOMES:
            raise StoreError(f"Outcome {outcome!r} is not one of {', '.join(OUTCOMES)}.")
        after["outcome"] = outcome
    after["updated_at"] = _now()
    conn.execute(
        "UPDATE todos SET status=?, snoozed_until=?, note=?, outcome=?, status_changed_at=?, updated_at=? "
        "WHERE todo_id=?",
        [
            after["status"],
            after["snoozed_until"],
            after["note"],
            after["outcome"],
            after["status_changed_at"],
            after["updated_at"],
            todo_id,
        ],
    )
    _log(conn, todo_id, action, before, after, source)
    return after


def undo(conn: sqlite3.Connection, todo_id: str, source: str) -> dict:
    """Restore the values the last non-undone user change replaced."""
    before = _row(conn, todo_id)
    events = conn.execute(
        "SELECT event_id, action, from_status, prev_snoozed_until, prev_note, prev_outcome FROM todo_events "
        "WHERE todo_id = ? AND source != 'recompute' ORDER BY event_id DESC",
        [todo_id],
    ).fetchall()
    undone = 0
    for _event_id, action, from_status, prev_snoozed, prev_note, prev_outcome in events:
        if action == "undo":
            undone += 1
            continue
        if undone:
            undone -= 1
            continue
        after = dict(before)
        after.update(status=from_status, snoozed_until=prev_snoozed, note=prev_note, outcome=prev_outcome)
        after["status_changed_at"] = _now()
        conn.execute(
            "UPDATE todos SET status=?, snoozed_until=?, note=?, outcome=?, status_changed_at=?, updated_at=? "
            "WHERE todo_id=?",
            [
                after["status"],
                after["snoozed_until"],
                after["note"],
                after["outcome"],
                after["status_changed_at"],
                _now(),
                todo_id,
            ],
        )
        _log(conn, todo_id, "undo", before, after, source)
        return after
    raise StoreError(f"Nothing to undo for to-do {todo_id}.")


def version(conn: sqlite3.Connection) -> tuple[int, int]:
    """Changes whenever a to-do's state can have changed: every such change logs an event.

    The count covers to-dos another recompute added. (SQLite's own ``PRAGMA data_version``
    did not move for commits from other processes in the concurrency test, so it is not used.)
    """
    row = conn.execute(
        "SELECT (SELECT coalesce(max(event_id), 0) FROM todo_events), (SELECT count(*) FROM todos)"
    ).fetchone()
    return int(row[0]), int(row[1])


@dataclass
class MergePlan:
    """What a recompute writes to the to-dos: every merged row's generated fields, and the state moves.

    ``standing`` is every to-do as it stands once the plan is applied (its ``STANDING`` columns), true
    for as long as ``version`` has not moved and ``dormant_unchanged`` holds; None when the plan does
    not write all of the generated ones (the table keeps its own values there).
    ``dormant`` holds the ids of the to-dos the plan leaves alone (see ``plan_merge``).
    """

    rows: pd.DataFrame
    moved: pd.DataFrame
    standing: pd.DataFrame | None
    dormant: pd.Series


def plan_merge(
    conn: sqlite3.Connection,
    generated: pd.DataFrame,
    reconcile: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame],
) -> MergePlan:
    """Read the stored to-dos and reconcile the generated ones with them (writes nothing).

    Dormant to-dos (stored, inactive, and not generated again) are left as they are: only a state
    move (a snooze that expired) touches them. A book used daily gathers them by the hundred
    thousand, and rewriting each one every time cost a recompute seconds.
    """
    existing, dormant = _stored(conn, generated)
    merged = reconcile(existing, generated)
    now = _now()
    columns = ["todo_id", *[c for c in GENERATED if c in merged.columns or c == "generated_at"]]
    rows = merged[~is_in(merged["todo_id"], dormant)] if len(dormant) else merged
    rows = rows.assign(generated_at=now).reindex(columns=columns)
    rows["created_at"] = now
    rows["updated_at"] = now
    moved = _state_moves(existing, merged)
    return MergePlan(rows, moved, _standing(rows, existing, moved), dormant)


def dormant_unchanged(conn: sqlite3.Connection, plan: MergePlan) -> bool:
    """Whether the to-dos ``plan`` leaves alone are all still inactive.

    Another recompute that generated one of them again since the plan was made would have made it
    active without logging an event, so ``version`` cannot tell; leaving it alone would keep it.
    """
    if plan.dormant.empty:
        return True
    still = conn.execute(
        "SELECT count(*) FROM todos WHERE active = 0 AND todo_id IN (SELECT value FROM json_each(?))",
        [json.dumps(plan.dormant.tolist())],
    ).fetchone()[0]
    return still == len(plan.dormant)


def _stored(conn: sqlite3.Connection, generated: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The stored to-dos as the reconcile needs them, and the ids of the dormant ones.

    Read for every to-do: the user's fields, the evidence date and whether it is active. The whole
    row only of those no longer generated that were active: they are kept, made inactive, as they
    were. The generated fields of the others are about to be replaced: reading them too took
    1.2-2 s for 170,000 to-dos. Of the dormant ones, only what the manager's figures count.
    """
    columns = [
        c
        for c in frames_io.table_columns(conn, "todos")
        if c not in GENERATED or c in ("evidence_at", "active")
    ]
    state = frames_io.read_frame(conn, f"SELECT {', '.join(columns)} FROM todos")
    ids = generated["todo_id"] if "todo_id" in generated.columns else pd.Series([], dtype="str")
    gone = ~is_in(state["todo_id"], ids)
    dormant = gone & pd.to_numeric(state["active"], errors="coerce").eq(0)
    whole = gone & ~dormant
    parts = [state[~gone]]
    if whole.any() and whole.all():
        parts = [frames_io.read_frame(conn, "SELECT * FROM todos")]
    elif whole.any():
        parts.append(
            frames_io.read_frame(
                conn,
                "SELECT * FROM todos WHERE todo_id IN (SELECT value FROM json_each(?))",
                [json.dumps(state.loc[whole, "todo_id"].tolist())],
            )
        )
    if dormant.any():
        light = ["todo_id", *(c for c in STANDING if c not in columns)]  # the state is read already
        light = frames_io.read_frame(conn, f"SELECT {', '.join(light)} FROM todos WHERE active = 0")
        parts.append(state[dormant].merge(light, on="todo_id", how="left"))
    existing = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return existing, state.loc[dormant, "todo_id"]


def apply_merge(
    conn: sqlite3.Connection, plan: MergePlan, staged: str | None = None, staged_table: str = "todos"
) -> int:
    """Upsert a planned merge: generated fields always, state only where the reconcile moved it.

    Notes and outcomes are never written here. ``staged`` names an attached database
    holding ``plan.rows`` as ``staged_table``. Returns the number of to-dos written.
    """
    rows = plan.rows
    columns = list(rows.columns)
    updates = [c for c in columns if c not in ("todo_id", "created_at")]
    if len(rows) and staged is None:
        frames_io.upsert(conn, "todos", rows, ["todo_id"], updates)
    elif len(rows):
        frames_io.upsert_from(conn, "todos", f'"{staged}"."{staged_table}"', columns, ["todo_id"], updates)
    now = rows["generated_at"].iloc[0] if len(rows) else _now()
    for record in plan.moved.to_dict("records"):
        before = _row(conn, record["todo_id"])
        after = {
            **before,
            "status": record["status"],
            "snoozed_until": record.get("snoozed_until"),
            "status_changed_at": now,
        }
        conn.execute(
            "UPDATE todos SET status=?, snoozed_until=?, status_changed_at=? WHERE todo_id=?",
            [after["status"], after["snoozed_until"], now, record["todo_id"]],
        )
        _log(conn, record["todo_id"], "auto-" + str(record["status"]), before, after, "recompute")
    return len(rows)


def merge_generated(
    conn: sqlite3.Connection,
    generated: pd.DataFrame,
    reconcile: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame],
) -> int:
    """Plan and apply a merge in the caller's transaction; returns the number of to-dos written."""
    return apply_merge(conn, plan_merge(conn, generated, reconcile))


STANDING = ("todo_id", "account_id", "kind", "due", "active", "status", "snoozed_until")
"""What the manager's figures count of each to-do (``MergePlan.standing``)."""


def _standing(rows: pd.DataFrame, existing: pd.DataFrame, moved: pd.DataFrame) -> pd.DataFrame | None:
    """Every to-do as ``apply_merge`` leaves the table (``STANDING``): ``rows`` as written, the stored
    to-dos the plan does not write (dormant ones) as they were; the state stored, moved, or a new
    to-do's default. None if ``rows`` lack one of the generated columns."""
    written = [c for c in STANDING if c not in STATE]
    if not set(written) <= set(rows.columns):
        return None
    table = rows.reindex(columns=written)
    untouched = existing[~is_in(existing["todo_id"], rows["todo_id"])].reindex(columns=written)
    if len(untouched):
        if pd.api.types.is_datetime64_any_dtype(table["due"]):  # text beside timestamps costs an object each
            untouched["due"] = pd.to_datetime(untouched["due"], errors="coerce", format="ISO8601")
        table = pd.concat([table, untouched], ignore_index=True)
    state = existing.drop_duplicates("todo_id").set_index("todo_id")[["status", "snoozed_until"]]
    state = state.astype(object).reindex(table["todo_id"])
    if len(moved):
        changes = moved.drop_duplicates("todo_id").set_index("todo_id")[["status", "snoozed_until"]]
        state.loc[changes.index, ["status", "snoozed_until"]] = changes.astype(object).to_numpy()  # None too
    state["status"] = state["status"].where(state["status"].notna(), "open")
    state["snoozed_until"] = state["snoozed_until"].where(state["snoozed_until"].notna(), None)
    table = table.assign(status=state["status"].to_numpy(), snoozed_until=state["snoozed_until"].to_numpy())
    return table[list(STANDING)]


def _state_moves(existing: pd.DataFrame, merged: pd.DataFrame) -> pd.DataFrame:
    """Rows whose status the reconcile changed (a snooze that expired, a done to-do with new evidence)."""
    if existing.empty or "status" not in merged:
        return merged.iloc[0:0]
    old = existing.set_index("todo_id")["status"]
    new = merged.set_index("todo_id")
    common = new.index.intersection(old.index)
    differs = new.loc[common, "status"].ne(old.loc[common])
    out = new.loc[common[differs.to_numpy()]].reset_index()
    if "snoozed_until" not in out:
        out["snoozed_until"] = None
    return out[["todo_id", "status", "snoozed_until"]]
