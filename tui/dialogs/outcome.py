"""How did a sales to-do end? Won, lost or no decision; skipping marks it done without one."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

SKIP = ""
"""Dismiss value for "done, no outcome recorded"."""


class OutcomeDialog(ModalScreen[str | None]):
    """Dismisses with 'won' / 'lost' / 'no-decision', SKIP (''), or None when cancelled (Escape)."""

    DEFAULT_CSS = """
    OutcomeDialog { align: center middle; }
    OutcomeDialog > Vertical {
        width: 70; max-width: 95%; height: auto; padding: 1 2; border: thick $accent; background: $surface;
    }
    OutcomeDialog #outcome-title { text-style: bold; margin-bottom: 1; }
    OutcomeDialog Horizontal { height: auto; }
    OutcomeDialog Button { margin-right: 1; min-width: 10; }
    OutcomeDialog #outcome-hint { color: $text-muted; margin-top: 1; }
    """
    BINDINGS = [
        Binding("w", "choose('won')", "Won"),
        Binding("l", "choose('lost')", "Lost"),
        Binding("n", "choose('no-decision')", "No decision"),
        Binding("s", "choose('')", "Skip"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="outcome-title", markup=False)
            with Horizontal():
                yield Button("Won (w)", id="outcome-won", variant="success")
                yield Button("Lost (l)", id="outcome-lost", variant="error")
                yield Button("No decision (n)", id="outcome-no-decision")
                yield Button("Skip (s)", id="outcome-skip")
            yield Static("Escape: don't mark it done", id="outcome-hint", markup=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        choice = str(event.button.id).removeprefix("outcome-")
        self.dismiss(SKIP if choice == "skip" else choice)

    def action_choose(self, outcome: str) -> None:
        self.dismiss(outcome)

    def action_cancel(self) -> None:
        self.dismiss(None)
