"""The selected to-do in full: why it exists (with its numbers), the playbook's steps, and the note."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.formatting import format_money
from tui.widgets.todo_row import TodoRow
from tui.widgets.user_text import user_text

WIDE = 96


class TodoDetailView:
    """Rich renderable: two columns (why | playbook) when wide enough, stacked when narrow."""

    def __init__(self, row: TodoRow, steps: list[str], playbook_title: str, currency: str = "USD") -> None:
        self.row = row
        self.steps = steps
        self.playbook_title = playbook_title
        self.currency = currency

    def _facts(self) -> Text:
        row = self.row
        facts = Text(style="")
        facts.append_text(user_text(row.name, "bold"))
        parts = [
            ("owner ", row.owner or "—"),
            ("", row.quadrant or "—"),
            ("ARR ", format_money(row.arr, self.currency)),
            ("due ", row.due[:10] or "—"),
        ]
        for label, value in parts:
            facts.append("  ·  " + label, style="dim")
            facts.append_text(user_text(value))
        status = row.status
        if status == "snoozed" and row.snoozed_until:
            status = f"snoozed until {row.snoozed_until[:10]}"
        facts.append("  ·  ", style="dim")
        facts.append(status, style="bold green" if row.status == "done" else "bold")
        if row.outcome:
            facts.append("  ·  outcome ", style="dim")
            facts.append_text(user_text(row.outcome, "bold"))
        return facts

    def _why(self) -> Group:
        row = self.row
        parts: list = [user_text(row.title, "bold"), self._facts(), Text("")]
        parts.append(Text("Why", style="bold underline"))
        parts.append(user_text(row.reason or "No reason recorded.", multiline=True))
        if row.note:
            parts += [
                Text(""),
                Text("Note", style="bold underline"),
                user_text(row.note, "italic", multiline=True),
            ]
        return Group(*parts)

    def _playbook(self) -> Group:
        head = Text("Playbook: ", style="bold underline")
        head.append_text(user_text(self.playbook_title or self.row.kind))
        lines: list = [head]
        if not self.steps:
            lines.append(Text("No playbook for this kind of to-do yet.", style="dim italic"))
        for number, step in enumerate(self.steps, 1):
            line = Text(f"{number}. ", style="bold")
            line.append_text(user_text(step))
            lines.append(line)
        return Group(*lines)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if options.max_width >= WIDE:
            grid = Table.grid(expand=True, padding=(0, 2))
            grid.add_column(ratio=3)
            grid.add_column(ratio=2)
            grid.add_row(self._why(), self._playbook())
            yield grid
        else:
            yield Group(self._why(), Text(""), self._playbook())


class TodoDetail(VerticalScroll):
    """Scrollable pane under the quadrants; shows whatever to-do the lists highlight."""

    DEFAULT_CSS = """
    TodoDetail { height: 1fr; border-top: solid $primary-darken-2; padding: 0 1; }
    TodoDetail > #todo-detail-body { width: 1fr; }
    """

    def compose(self):
        yield Static(Text("Select a to-do to see why it is here.", style="dim italic"), id="todo-detail-body")

    def show(self, row: TodoRow | None, steps: list[str], playbook_title: str, currency: str = "USD") -> None:
        body = self.query_one("#todo-detail-body", Static)
        if row is None:
            body.update(Text("Select a to-do to see why it is here.", style="dim italic"))
        else:
            body.update(TodoDetailView(row, steps, playbook_title, currency))
        self.scroll_home(animate=False)
