"""One quadrant's to-dos: a fast line list with a cursor and the daily-cap divider.

A Line API widget (only visible lines are rendered), so an owner-less view of
a 100,000-account book scrolls as smoothly as a 15-row one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.widgets.todo_row import TodoRow, render_todo_row


@dataclass(frozen=True, slots=True)
class CapDivider:
    """The line between the to-dos within the daily cap and those beyond it."""

    label: str


class TodoList(ScrollView, can_focus=True):
    """Rows sorted by the caller; rows with ``below_line`` go under a dimmed "daily cap" divider."""

    HELP_NAME = "to-do list"

    DEFAULT_CSS = """
    TodoList { overflow-x: hidden; overflow-y: auto; scrollbar-size-vertical: 1; }
    TodoList > .todo-list--cursor { background: $surface-lighten-2; }
    TodoList:focus > .todo-list--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    TodoList > .todo-list--divider { color: $warning; }
    TodoList > .todo-list--empty { color: $text-muted; text-style: italic; }
    """
    COMPONENT_CLASSES = {"todo-list--cursor", "todo-list--divider", "todo-list--empty"}
    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("enter", "select", "Open account", show=False),
    ]

    cursor: reactive[int] = reactive(-1, always_update=True, init=False)
    """Index into ``lines`` of the highlighted to-do (-1 when the list is empty)."""

    class _ListMessage(Message):
        """A message about one to-do list; ``control`` lets handlers filter by list."""

        def __init__(self, todo_list: TodoList) -> None:
            super().__init__()
            self.todo_list = todo_list

        @property
        def control(self) -> TodoList:
            return self.todo_list

    class Highlighted(_ListMessage):
        """The highlighted to-do changed (``row`` is None when the list is empty)."""

        def __init__(self, todo_list: TodoList, row: TodoRow | None) -> None:
            super().__init__(todo_list)
            self.row = row

    class Selected(_ListMessage):
        """Enter (or a second click) on a to-do: open its account."""

        def __init__(self, todo_list: TodoList, row: TodoRow) -> None:
            super().__init__(todo_list)
            self.row = row

    class Edge(_ListMessage):
        """Up on the first row or down on the last: the parent may move to the next list."""

        def __init__(self, todo_list: TodoList, direction: int) -> None:
            super().__init__(todo_list)
            self.direction = direction

    def __init__(
        self, empty_text: str = "Nothing to do here.", *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.empty_text = empty_text
        self.lines: list[TodoRow | CapDivider] = []
        """What each line shows, top to bottom."""
        self.today: date | None = None
        """Dates before this read as overdue."""
        self._index: dict[str, int] = {}

    # -- data ------------------------------------------------------------------------------------------

    def set_rows(self, rows: list[TodoRow], divider: str, keep: str | None = None) -> None:
        """Show ``rows`` (already sorted, within-cap first); keep the cursor on to-do ``keep`` if present."""
        above = [r for r in rows if not r.below_line]
        below = [r for r in rows if r.below_line]
        self.lines = [*above, CapDivider(divider), *below] if below else list(above)
        self._index = {line.todo_id: i for i, line in enumerate(self.lines) if isinstance(line, TodoRow)}
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.lines))
        target = self._index.get(keep, -1) if keep else -1
        if target < 0:
            target = self._first_row(0, 1)
        self.cursor = target
        self.refresh()

    @property
    def rows(self) -> list[TodoRow]:
        return [line for line in self.lines if isinstance(line, TodoRow)]

    @property
    def highlighted_row(self) -> TodoRow | None:
        if 0 <= self.cursor < len(self.lines):
            line = self.lines[self.cursor]
            return line if isinstance(line, TodoRow) else None
        return None

    def row_by_id(self, todo_id: str) -> TodoRow | None:
        """The to-do with this id if this list shows it."""
        index = self._index.get(todo_id)
        line = self.lines[index] if index is not None else None
        return line if isinstance(line, TodoRow) else None

    def update_row(self, row: TodoRow) -> None:
        """Replace the to-do with the same id in place (after a saved change) and repaint its line."""
        index = self._index.get(row.todo_id)
        if index is None:
            return
        self.lines[index] = row
        self.refresh_line(index)
        if index == self.cursor:
            self.post_message(self.Highlighted(self, row))

    def refresh_line(self, index: int) -> None:
        y = index - round(self.scroll_offset.y)
        self.refresh(Region(0, y, self.size.width, 1))

    # -- cursor ----------------------------------------------------------------------------------------

    def _first_row(self, start: int, step: int) -> int:
        index = start
        while 0 <= index < len(self.lines):
            if isinstance(self.lines[index], TodoRow):
                return index
            index += step
        return -1

    def watch_cursor(self, old: int, new: int) -> None:
        if old != new:
            if 0 <= old < len(self.lines):
                self.refresh_line(old)
            if 0 <= new < len(self.lines):
                self.refresh_line(new)
        if new >= 0:
            self.scroll_to_region(Region(0, new, 1, 1), animate=False, immediate=True, force=True)
        self.post_message(self.Highlighted(self, self.highlighted_row))

    def _move(self, step: int) -> None:
        if not self.lines:
            self.post_message(self.Edge(self, step))
            return
        target = self._first_row(self.cursor + step, step)
        if target < 0:
            self.post_message(self.Edge(self, step))
        else:
            self.cursor = target

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_first(self) -> None:
        self.cursor = self._first_row(0, 1)

    def action_last(self) -> None:
        self.cursor = self._first_row(len(self.lines) - 1, -1)

    def _page(self, step: int) -> None:
        if not self.lines:
            return
        jump = max(1, self.scrollable_content_region.height - 1)
        start = min(max(self.cursor + step * jump, 0), len(self.lines) - 1)
        target = self._first_row(start, step)
        self.cursor = target if target >= 0 else self._first_row(start, -step)

    def action_page_up(self) -> None:
        self._page(-1)

    def action_page_down(self) -> None:
        self._page(1)

    def action_select(self) -> None:
        row = self.highlighted_row
        if row is not None:
            self.post_message(self.Selected(self, row))

    def focus_edge(self, direction: int) -> None:
        """Put the cursor on the first row (coming from above) or the last (coming from below)."""
        self.cursor = self._first_row(0, 1) if direction > 0 else self._first_row(len(self.lines) - 1, -1)

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = offset.y + round(self.scroll_offset.y)
        if 0 <= index < len(self.lines) and isinstance(self.lines[index], TodoRow):
            if index == self.cursor and event.chain >= 1 and self.has_focus:
                self.action_select()
            else:
                self.cursor = index
        self.focus()

    # -- rendering -------------------------------------------------------------------------------------

    def _on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.lines))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = y + round(self.scroll_offset.y)
        base = self.rich_style
        if not self.lines:
            if y != 0:
                return Strip.blank(width, base)
            style = self.get_component_rich_style("todo-list--empty")
            return self._strip(Text(self.empty_text, no_wrap=True), width, base + style)
        if index >= len(self.lines):
            return Strip.blank(width, base)
        line = self.lines[index]
        if isinstance(line, CapDivider):
            style = self.get_component_rich_style("todo-list--divider")
            label = f" {line.label} "
            text = Text(label.center(width, "─") if width > len(label) else label, no_wrap=True)
            return self._strip(text, width, base + style)
        text = render_todo_row(line, width, self.today)
        style = base
        if index == self.cursor:
            style = base + self.get_component_rich_style("todo-list--cursor")
        return self._strip(text, width, style)

    def _strip(self, text: Text, width: int, style) -> Strip:
        segments = list(text.render(self.app.console))
        return Strip(segments).adjust_cell_length(width).apply_style(style)
