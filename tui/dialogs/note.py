"""Write or edit the note on a to-do (several lines allowed)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea


class NoteDialog(ModalScreen[str | None]):
    """Dismisses with the note text (ctrl+s or Save; empty clears the note), or None (Escape)."""

    DEFAULT_CSS = """
    NoteDialog { align: center middle; }
    NoteDialog > Vertical {
        width: 80; max-width: 95%; height: auto; max-height: 90%; padding: 1 2;
        border: thick $accent; background: $surface;
    }
    NoteDialog #note-title { text-style: bold; margin-bottom: 1; }
    NoteDialog TextArea { height: 8; }
    NoteDialog Horizontal { height: auto; margin-top: 1; }
    NoteDialog Button { margin-right: 1; }
    NoteDialog #note-hint { color: $text-muted; margin-top: 1; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save", priority=True),
    ]

    def __init__(self, title: str, text: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="note-title", markup=False)
            yield TextArea(self.text, id="note-text", soft_wrap=True, show_line_numbers=False)
            with Horizontal():
                yield Button("Save", id="note-save", variant="primary")
                yield Button("Cancel", id="note-cancel")
            yield Static(
                "ctrl+s to save · Escape to cancel · an empty note clears it", id="note-hint", markup=False
            )

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.move_cursor(area.document.end)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "note-save":
            self.action_save()
        else:
            self.action_cancel()

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
