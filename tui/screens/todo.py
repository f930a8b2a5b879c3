"""The to-do screen: a CSM's morning, as the four quadrants of their book.

Every change (done, snooze, dismiss, note, undo) is saved to the store at once
and the row updates in place; a failed save leaves the row as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.cells import cell_len
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Grid
from textual.events import DescendantFocus
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static

from core.frames import QUADRANTS
from tui.dialogs.note import NoteDialog
from tui.dialogs.outcome import OutcomeDialog
from tui.dialogs.owner_pick import OwnerPickDialog
from tui.dialogs.snooze import SnoozeDialog
from tui.formatting import format_money
from tui.messages import RecomputeFinished
from tui.widgets.app_header import AppHeader
from tui.widgets.todo_detail import TodoDetail
from tui.widgets.todo_list import TodoList
from tui.widgets.todo_row import OUTCOME_KINDS, TodoRow
from tui.widgets.user_text import clean
from tui.worker_results import post_if_current

QUADRANT_LABELS = {
    "fix-and-expand": "Fix & expand",
    "rescue": "Rescue",
    "expand": "Expand",
    "nurture": "Nurture",
}
GRID = ("fix-and-expand", "rescue", "expand", "nurture")
"""Reading order of the 2x2 grid: high risk on top, high expansion on the left."""
OWNER_SETTING = "ui.todo_owner"
LOADING_DELAY = 0.25  # seconds a re-read may take before the filter line says it is loading

TODO_SQL = """
SELECT t.todo_id, t.account_id, COALESCE(a.name, ''), COALESCE(a.owner, ''), COALESCE(t.kind, ''),
       COALESCE(t.product_id, ''), COALESCE(t.quadrant, s.quadrant, ''), COALESCE(t.title, ''),
       COALESCE(t.reason, ''), COALESCE(t.priority, 0), COALESCE(t.below_line, 0) != 0, COALESCE(t.due, ''),
       COALESCE(t.playbook, ''), t.status, COALESCE(t.snoozed_until, ''), COALESCE(t.note, ''),
       COALESCE(t.outcome, ''), COALESCE(s.arr, 0.0)
FROM accounts a CROSS JOIN todos t ON t.account_id = a.account_id
LEFT JOIN scores s ON s.account_id = t.account_id
WHERE t.active = 1 {status} {owner}
ORDER BY t.below_line, t.priority IS NULL, t.priority, t.priority_score DESC, t.todo_id
"""
"""Columns in TodoRow's field order, no NULLs. Driven from accounts (CROSS JOIN fixes the join order): at
100,000 accounts that is several times faster than looking each to-do's account up, and an owner's book
reads in milliseconds."""


@dataclass
class TodoData:
    """Everything the screen shows, read in one go off the UI thread."""

    rows: dict[str, list[TodoRow]]
    owners: list[str]
    owner: str
    playbooks: dict[str, tuple[str, list[str]]]
    daily_cap: int
    currency: str
    total_todos: int
    failed: str = ""
    keep: dict[str, str] = field(default_factory=dict)


def load_todos(store: Any, owner: str | None, show_hidden: bool) -> TodoData:
    """Read the active to-dos (one owner's or everyone's), the owners, playbooks and the cap setting."""
    settings = store.settings()
    owners = [
        str(o)
        for o in store.query(
            "SELECT DISTINCT owner FROM accounts WHERE owner IS NOT NULL AND owner != '' ORDER BY owner"
        )["owner"]
    ]
    if owner is None:
        owner = settings.get(OWNER_SETTING) or ""
    if owner and owner not in owners:
        owner = ""
    params: list = []
    owner_sql = ""
    if owner:
        owner_sql = "AND a.owner = ?"
        params.append(owner)
    status_sql = "" if show_hidden else "AND t.status = 'open'"
    cursor = store.conn.execute(TODO_SQL.format(status=status_sql, owner=owner_sql), params)
    rows: dict[str, list[TodoRow]] = {q: [] for q in QUADRANTS}
    for values in cursor:
        row = TodoRow(*values)
        rows[row.quadrant if row.quadrant in rows else "nurture"].append(row)
    books = store.playbooks()
    playbooks = {str(k): (str(t), list(s)) for k, t, s in zip(books["kind"], books["title"], books["steps"])}
    total = int(store.scalar("SELECT count(*) FROM todos") or 0)
    return TodoData(
        rows=rows,
        owners=owners,
        owner=owner,
        playbooks=playbooks,
        daily_cap=int(settings.get("todos.daily_cap", 15)),
        currency=str(settings.get("pricing.currency") or "USD"),
        total_todos=total,
    )


def quadrant_title(quadrant: str, rows: list[TodoRow], currency: str, width: int = 0) -> str:
    """``Rescue · 12 to-dos · $1,234,567 ARR``: open to-dos and the ARR of their distinct accounts.

    When that does not fit a border ``width`` cells wide, the short form ``Rescue 12 · $1,234,567``.
    """
    open_rows = [r for r in rows if r.is_open]
    arr = format_money(sum({r.account_id: r.arr for r in open_rows}.values()), currency)
    noun = "to-do" if len(open_rows) == 1 else "to-dos"
    title = f"{QUADRANT_LABELS[quadrant]} · {len(open_rows):,} {noun} · {arr} ARR"
    if width and cell_len(title) + 4 > width:
        title = f"{QUADRANT_LABELS[quadrant]} {len(open_rows):,} · {arr}"
    return title


class TodoScreen(Screen):
    """Four quadrant lists, a filter line and the detail of the highlighted to-do."""

    HELP_NAME = "to-do"

    CSS_PATH = "todo.tcss"
    BINDINGS = [
        Binding("d", "done", "Done"),
        Binding("s", "snooze", "Snooze"),
        Binding("x", "dismiss_todo", "Dismiss"),
        Binding("n", "note", "Note"),
        Binding("u", "undo", "Undo"),
        Binding("o", "next_owner", "Next owner", show=False),
        Binding("O", "pick_owner", "Pick owner", key_display="O", show=False),
        Binding("h", "toggle_hidden", "Show closed"),
        Binding("left", "move(-1, 0)", "Left quadrant", show=False),
        Binding("right", "move(1, 0)", "Right quadrant", show=False),
    ]

    class Loaded(Message):
        """The worker read the to-dos."""

        def __init__(self, data: TodoData) -> None:
            super().__init__()
            self.data = data

    def __init__(self) -> None:
        super().__init__()
        self.show_hidden = False
        """Whether done, snoozed and dismissed to-dos are listed too (h)."""
        self.owner = ""
        """Whose book is shown; '' = everyone."""
        self.data: TodoData | None = None
        self.undo_stack: list[str] = []
        """To-do ids changed on this screen, most recent last: what u undoes."""
        self._active = GRID[0]
        self._owner_known = False
        self._loading_line: Timer | None = None

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static("", id="todo-filter", markup=False)
        with Grid(id="todo-grid"):
            for quadrant in GRID:
                todo_list = TodoList(
                    "Loading…", id=f"todo-{quadrant}", classes=f"todo-quadrant todo-q-{quadrant}"
                )
                todo_list.border_title = QUADRANT_LABELS[quadrant]
                yield todo_list
        yield TodoDetail(id="todo-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TodoDetail).can_focus = False
        for todo_list in self.query(TodoList):
            todo_list.today = self.app.as_of
        self.list_for(GRID[0]).focus()
        self.reload()

    # -- loading -----------------------------------------------------------------------------------------

    def list_for(self, quadrant: str) -> TodoList:
        return self.query_one(f"#todo-{quadrant}", TodoList)

    @property
    def active_list(self) -> TodoList:
        return self.list_for(self._active)

    def reload(self) -> None:
        """Re-read the to-dos in a thread worker, keeping the highlighted to-do of each list.

        The filter line says what is being read until it arrives: everyone's to-dos at 100,000
        accounts take about 2 s, and the lists meanwhile still show the previous selection. Once
        lists are shown, it says so only after ``LOADING_DELAY``: an owner's book, read in
        milliseconds, would make it flash.
        """
        keep = {q: (self.list_for(q).highlighted_row or _NO_ROW).todo_id for q in GRID}
        self._stop_loading_line()
        if self.data is None:
            self._show_filter(loading=True)
        else:
            self._loading_line = self.set_timer(LOADING_DELAY, lambda: self._show_filter(loading=True))
        self._load(None if not self._owner_known else self.owner, self.show_hidden, keep)

    def _stop_loading_line(self) -> None:
        if self._loading_line is not None:
            self._loading_line.stop()
            self._loading_line = None

    @work(thread=True, exclusive=True, exit_on_error=False, group="todo-load")
    def _load(self, owner: str | None, show_hidden: bool, keep: dict[str, str]) -> None:
        try:
            data = load_todos(self.app.store, owner, show_hidden)
        except Exception as error:  # shown on screen; the lists keep what they had
            data = TodoData({}, [], owner or "", {}, 15, "USD", 0, failed=f"{type(error).__name__}: {error}")
        data.keep = keep
        post_if_current(self, self.Loaded(data))

    def on_todo_screen_loaded(self, message: Loaded) -> None:
        data = message.data
        self._stop_loading_line()
        if data.failed:
            self.notify(f"Could not read the to-dos: {data.failed}", severity="error", timeout=10)
            if self.data is not None:  # the lists still show that book
                self.owner = self.data.owner
            self._show_filter()
            return
        self.data = data
        self.owner = data.owner
        self._owner_known = True
        empty = (
            "No to-dos yet — press r to recompute."
            if data.total_todos == 0
            else "Nothing to do here."
            if not self.show_hidden
            else "No to-dos here."
        )
        divider = f"daily cap ({data.daily_cap})" if data.owner else f"daily cap ({data.daily_cap} per owner)"
        for quadrant in GRID:
            todo_list = self.list_for(quadrant)
            todo_list.empty_text = empty
            todo_list.set_rows(data.rows.get(quadrant, []), divider, keep=data.keep.get(quadrant))
            self._retitle(quadrant)
        self._show_filter()
        if not self.active_list.lines and self.focused is self.active_list:
            filled = next((q for q in GRID if self.list_for(q).lines), None)
            if filled is not None:
                self.list_for(filled).focus()
        self._show_detail()

    def _retitle(self, quadrant: str) -> None:
        todo_list = self.list_for(quadrant)
        currency = self.data.currency if self.data else "USD"
        todo_list.border_title = quadrant_title(quadrant, todo_list.rows, currency, todo_list.size.width)

    def on_resize(self) -> None:
        if self.data is not None:
            for quadrant in GRID:
                self._retitle(quadrant)

    def _show_filter(self, loading: bool = False) -> None:
        data = self.data
        who = f"{clean(self.owner)}'s book" if self.owner else "everyone's to-dos"
        shown = "open, done, snoozed and dismissed" if self.show_hidden else "open only"
        if loading:
            text = f"Loading {who if self._owner_known else 'the to-dos'} · {shown}…"
        else:
            cap = data.daily_cap if data else 15
            text = f"Showing {who} (o next owner · O pick) · {shown} (h) · daily cap {cap}"
        self.query_one("#todo-filter", Static).update(text)

    def on_recompute_finished(self, message: RecomputeFinished) -> None:
        self.reload()

    # -- the detail pane ---------------------------------------------------------------------------------

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        if isinstance(event.widget, TodoList):
            self._active = str(event.widget.id).removeprefix("todo-")
            self._show_detail()

    def on_todo_list_highlighted(self, message: TodoList.Highlighted) -> None:
        if message.todo_list is self.active_list:
            self._show_detail()

    def _show_detail(self) -> None:
        row = self.active_list.highlighted_row
        title, steps = "", []
        if row is not None and self.data is not None:
            book = self.data.playbooks.get(row.playbook) or self.data.playbooks.get(row.kind)
            if book:
                title, steps = book
        currency = self.data.currency if self.data else "USD"
        self.query_one(TodoDetail).show(row, steps, title, currency)

    # -- moving between quadrants ------------------------------------------------------------------------

    def action_move(self, dx: int, dy: int) -> None:
        index = GRID.index(self._active)
        col, line = index % 2, index // 2
        col, line = min(max(col + dx, 0), 1), min(max(line + dy, 0), 1)
        self.list_for(GRID[line * 2 + col]).focus()

    def on_todo_list_edge(self, message: TodoList.Edge) -> None:
        index = GRID.index(str(message.todo_list.id).removeprefix("todo-"))
        line = index // 2 + message.direction
        if 0 <= line <= 1:
            target = self.list_for(GRID[line * 2 + index % 2])
            target.focus()
            target.focus_edge(message.direction)

    def on_todo_list_selected(self, message: TodoList.Selected) -> None:
        self.app.open_account(message.row.account_id)

    # -- changes -----------------------------------------------------------------------------------------

    def _current(self) -> TodoRow | None:
        row = self.active_list.highlighted_row
        if row is None:
            self.notify("No to-do selected here.", severity="warning")
        return row

    def _save(self, row: TodoRow, action: str, **changes: Any) -> bool:
        """Write one change; on success update the row in place, on failure say why and change nothing."""
        try:
            state = self.app.store.change_todo(row.todo_id, action, source="tui", **changes)
        except Exception as error:  # the store's message is for the user; the row stays as it was
            self.notify(
                f"Could not save ({action}): {error}", title="Not saved", severity="error", timeout=10
            )
            return False
        self.undo_stack.append(row.todo_id)
        self._replace(row.with_state(state))
        return True

    def _replace(self, row: TodoRow) -> None:
        for quadrant in GRID:
            todo_list = self.list_for(quadrant)
            if todo_list.row_by_id(row.todo_id) is not None:
                todo_list.update_row(row)
                self._retitle(quadrant)
        self._show_detail()
        refresh = getattr(self.app, "refresh_summary", None)
        if callable(refresh):
            refresh()

    def action_done(self) -> None:
        row = self._current()
        if row is None:
            return
        if row.kind in OUTCOME_KINDS:

            def answered(outcome: str | None) -> None:
                if outcome is not None:
                    self._save(row, "done", outcome=outcome or None)

            self.app.push_screen(OutcomeDialog(f"How did it end? {clean(row.title)}"), answered)
        else:
            self._save(row, "done")

    def action_snooze(self) -> None:
        row = self._current()
        if row is None:
            return

        def answered(until: Any) -> None:
            if until is not None:
                self._save(row, "snooze", until=until)

        self.app.push_screen(SnoozeDialog(f"Snooze until when? {clean(row.title)}", self.app.as_of), answered)

    def action_dismiss_todo(self) -> None:
        row = self._current()
        if row is not None:
            self._save(row, "dismiss")

    def action_note(self) -> None:
        row = self._current()
        if row is None:
            return

        def answered(text: str | None) -> None:
            if text is not None and text != row.note:
                self._save(row, "note", note=text)

        self.app.push_screen(NoteDialog(f"Note on: {clean(row.title)}", row.note), answered)

    def action_undo(self) -> None:
        """Undo the last change made here; with none, the highlighted to-do's last change."""
        todo_id = self.undo_stack.pop() if self.undo_stack else None
        if todo_id is None:
            row = self._current()
            if row is None:
                return
            todo_id = row.todo_id
        try:
            state = self.app.store.undo_todo(todo_id, source="tui")
        except Exception as error:
            self.notify(f"Could not undo: {error}", title="Not undone", severity="error")
            return
        title = clean(state.get("title") or todo_id)
        self.notify(f"Undone: {title} is {state.get('status', 'open')} again.")
        for quadrant in GRID:
            row = self.list_for(quadrant).row_by_id(todo_id)
            if row is not None:
                self._replace(row.with_state(state))
                return
        self.reload()  # the to-do is not on screen (hidden since): show it where it now belongs

    # -- filters -----------------------------------------------------------------------------------------

    def action_toggle_hidden(self) -> None:
        self.show_hidden = not self.show_hidden
        self.reload()

    def _set_owner(self, owner: str) -> None:
        self.owner = owner
        self._owner_known = True
        try:
            self.app.store.set_setting(OWNER_SETTING, owner or None)
        except Exception as error:
            self.notify(f"Could not remember the owner: {error}", severity="warning")
        self.reload()

    def action_next_owner(self) -> None:
        owners = [""] + (self.data.owners if self.data else [])
        index = owners.index(self.owner) if self.owner in owners else 0
        self._set_owner(owners[(index + 1) % len(owners)])

    def action_pick_owner(self) -> None:
        owners = self.data.owners if self.data else []

        def answered(owner: str | None) -> None:
            if owner is not None:
                self._set_owner(owner)

        self.app.push_screen(OwnerPickDialog(owners, self.owner), answered)

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "To-do: pick whose book", "Show one owner's to-dos, or everyone's (O)", self.action_pick_owner
        )
        yield SystemCommand(
            "To-do: show / hide closed to-dos",
            "Include done, snoozed and dismissed (h)",
            self.action_toggle_hidden,
        )


_NO_ROW = TodoRow(todo_id="", account_id="")
