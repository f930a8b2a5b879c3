"""The ``?`` screen: every key that works where you are, grouped by where it comes from."""

from __future__ import annotations

from collections import defaultdict

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

MOUSE_TIPS = (
    "Click a screen's key in the footer to run it; click a column header to sort by it; "
    "click a row to move there and double-click it (or press Enter) to open it; scroll with the wheel. "
    'ctrl+p opens the command palette: every action, and "open account …" by name.'
)


def binding_rows(screen: Screen) -> list[tuple[str, str, str]]:
    """(where, keys, description) for every described binding active on ``screen``, app first."""
    app = screen.app
    merged: dict[tuple[str, str], list[str]] = defaultdict(list)
    order: list[tuple[str, str]] = []
    for active in screen.active_bindings.values():
        binding: Binding = active.binding
        if not binding.description:
            continue
        where = _where(active.node, screen)
        key = (where, binding.description)
        if key not in merged:
            order.append(key)
        display = app.get_key_display(binding)
        if display not in merged[key]:
            merged[key].append(display)
    rank = {"Everywhere": 0, "This screen": 1}
    order.sort(key=lambda k: rank.get(k[0], 2))
    return [(where, " / ".join(merged[(where, what)]), what) for where, what in order]


def _where(node: object, screen: Screen) -> str:
    if isinstance(node, App):
        return "Everywhere"
    if node is screen:
        return "This screen"
    return f"In the {getattr(node, 'HELP_NAME', type(node).__name__)}"


class HelpScreen(ModalScreen[None]):
    """Lists the bindings of the screen it was opened from; any of ? / Escape / q closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 110; height: 90%; border: thick $accent; background: $surface; padding: 0 1;
    }
    HelpScreen #help-tips { color: $text-muted; margin: 1 0; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close help")]

    def __init__(self, target: Screen) -> None:
        super().__init__()
        self.rows = binding_rows(target)
        self.target_name = getattr(
            target, "HELP_NAME", type(target).__name__.removesuffix("Screen") or "this"
        )

    def compose(self) -> ComposeResult:
        table = Table(title=f"Keys on the {self.target_name} screen", expand=True, show_lines=False)
        table.add_column("Where", style="dim", no_wrap=True)
        table.add_column("Key", style="bold", max_width=36)
        table.add_column("What it does", ratio=1)
        last = ""
        for where, keys, what in self.rows:
            table.add_row(where if where != last else "", Text(keys), Text(what))
            last = where
        with VerticalScroll():
            yield Static(table, id="help-table")
            yield Static(MOUSE_TIPS, id="help-tips", markup=False)
            yield Static("Press ? or Escape to close.", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
