"""The offer to load the demo portfolio into an empty store."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class DemoOfferDialog(ModalScreen[bool]):
    """Asks once, on an empty store; dismisses with True to load the demo."""

    DEFAULT_CSS = """
    DemoOfferDialog { align: center middle; }
    DemoOfferDialog > Vertical {
        width: 64; height: auto; padding: 1 2; border: thick $accent; background: $surface;
    }
    DemoOfferDialog #demo-text { margin-bottom: 1; }
    DemoOfferDialog Horizontal { height: auto; align-horizontal: right; }
    DemoOfferDialog Button { margin-left: 2; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Load demo"),
        Binding("n,escape", "answer(False)", "Not now"),
    ]

    def __init__(self, accounts: int = 500) -> None:
        super().__init__()
        self.accounts = accounts

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                "[b]This store has no accounts yet.[/b]\n\n"
                f"Load the demo portfolio ({self.accounts:,} accounts with products, usage, contacts "
                "and activities) to explore Quadrant? You can import your own book later with "
                "[i]quadrant import FOLDER[/i].",
                id="demo-text",
            )
            with Horizontal():
                yield Button("Not now (n)", id="no")
                yield Button("Load the demo (y)", id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
