"""Where the book stands today: quadrants, renewals coming up, to-dos, and each owner's share of it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.frames import QUADRANTS, owned_as_of
from core.portfolio.holdings import Holdings, Subscriptions
from core.portfolio.segments import AccountIndex, cents, metric_rows, per_segment

RENEWAL_WINDOWS = (30, 90)
UNASSIGNED = "(unassigned)"
OWNER_COLUMNS = ["owner", "accounts", "arr", *QUADRANTS, "open_todos", "overdue_todos"]


def quadrant_rows(index: AccountIndex, now: Holdings, scores: pd.DataFrame) -> list[tuple[str, str, float]]:
    """quadrant_accounts_<q> and quadrant_arr_<q>: how many customers sit in each quadrant, with their ARR.

    A churned account keeps its score row but is no customer, so the counts add up to ``accounts``.
    """
    pos = index.locate(scores["account_id"])
    known = pos >= 0
    known[known] = now.customers.astype(bool)[pos[known]]
    pos, quadrant = pos[known], scores["quadrant"].astype(str).to_numpy()[known]
    arr = cents(scores["arr"]).astype("int64")[known]
    rows = []
    for name in QUADRANTS:
        inside = quadrant == name
        p, a = pos[inside], arr[inside]
        rows += metric_rows(f"quadrant_accounts_{name}", per_segment(index, lambda m, p=p: m[p].sum()))
        rows += metric_rows(
            f"quadrant_arr_{name}", per_segment(index, lambda m, p=p, a=a: a[m[p]].sum() / 100)
        )
    return rows


def renewal_rows(
    index: AccountIndex, subs: Subscriptions, scores: pd.DataFrame, as_of: pd.Timestamp, risk_threshold: float
) -> list[tuple[str, str, float]]:
    """ARR of owned subscriptions whose term ends within 30 and 90 days, and the 90-day part at risk.

    A subscription is up for renewal when its ``end_date`` lies in [as_of, as_of + N days];
    its ARR is 12 x its MRR. At risk = its account's risk score is at or above ``risk_threshold``.
    """
    held = owned_as_of(subs.frame, as_of)
    risk = np.full(len(index), -np.inf)
    scored = index.locate(scores["account_id"])
    risk[scored[scored >= 0]] = (
        pd.to_numeric(scores["risk"], errors="coerce").fillna(-np.inf).to_numpy()[scored >= 0]
    )
    risky = risk >= risk_threshold
    rows = []
    for days in RENEWAL_WINDOWS:
        due = held[(held["end_date"] >= as_of) & (held["end_date"] <= as_of + pd.Timedelta(days=days))]
        arr = 12 * index.total(due["pos"].to_numpy(), due["cents"].to_numpy(dtype="float64"))
        rows += metric_rows(f"renewal_arr_{days}d", per_segment(index, lambda m, a=arr: a[m].sum() / 100))
    rows += metric_rows(
        f"renewal_arr_at_risk_{max(RENEWAL_WINDOWS)}d",
        per_segment(index, lambda m: arr[m & risky].sum() / 100),
    )
    return rows


def todo_flags(todos: pd.DataFrame, as_of: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """Which to-dos are open (status 'open', and still active when the store says so) and which of those are overdue."""
    is_open = (todos["status"].astype(str) == "open").to_numpy()
    if "active" in todos.columns:
        is_open = is_open & (pd.to_numeric(todos["active"], errors="coerce").fillna(1).to_numpy() != 0)
    due = pd.to_datetime(todos["due"], errors="coerce", format="ISO8601")
    overdue = is_open & (due < as_of).to_numpy()
    return is_open, overdue


def todo_rows(index: AccountIndex, todos: pd.DataFrame, as_of: pd.Timestamp) -> list[tuple[str, str, float]]:
    """todos_open and todos_overdue (open, due before as_of) per segment."""
    is_open, overdue = todo_flags(todos, as_of)
    pos = index.locate(todos["account_id"])
    known = pos >= 0
    open_count = index.total(pos[known & is_open])
    overdue_count = index.total(pos[known & overdue])
    rows = metric_rows("todos_open", per_segment(index, lambda m: open_count[m].sum()))
    rows += metric_rows("todos_overdue", per_segment(index, lambda m: overdue_count[m].sum()))
    return rows


def owner_table(
    index: AccountIndex,
    owners: pd.Series,
    now: Holdings,
    scores: pd.DataFrame,
    todos: pd.DataFrame,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """Each owner's book; ``owners`` is the owner per account position (missing = unassigned)."""
    owner = owners.fillna(UNASSIGNED).astype(str).replace("", UNASSIGNED).to_numpy()
    table = pd.DataFrame(
        {"owner": owner, "accounts": now.customers.astype("int64"), "arr_cents": 12 * now.mrr}
    )
    score_pos = index.locate(scores["account_id"])
    quadrant = np.full(len(index), "", dtype=object)
    quadrant[score_pos[score_pos >= 0]] = scores["quadrant"].astype(str).to_numpy()[score_pos >= 0]
    customer = now.customers.astype(bool)
    for name in QUADRANTS:  # quadrant mix of live customers, so it adds up to ``accounts``
        table[name] = ((quadrant == name) & customer).astype("int64")
    is_open, overdue = todo_flags(todos, as_of)
    todo_pos = index.locate(todos["account_id"])
    table["open_todos"] = index.total(todo_pos[(todo_pos >= 0) & is_open]).astype("int64")
    table["overdue_todos"] = index.total(todo_pos[(todo_pos >= 0) & overdue]).astype("int64")
    counted = table.drop(columns="owner").sum(axis=1) > 0
    book = table[counted].groupby("owner", as_index=False, sort=True).sum()
    book["arr"] = book.pop("arr_cents") / 100
    book = book.astype({"owner": "str"})
    return book[OWNER_COLUMNS].reset_index(drop=True)
