"""Pick whose book the to-do screen shows: type to filter the owners, Enter to choose."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.widgets.user_text import user_text

EVERYONE = ""
"""Dismiss value for "every owner's to-dos"."""


class OwnerPickDialog(ModalScreen[str | None]):
    """Dismisses with an owner, EVERYONE (''), or None (Escape)."""

    DEFAULT_CSS = """
    OwnerPickDialog { align: center middle; }
    OwnerPickDialog > Vertical {
        width: 60; max-width: 95%; height: 80%; padding: 1 2; border: thick $accent; background: $surface;
    }
    OwnerPickDialog #owner-title { text-style: bold; margin-bottom: 1; }
    OwnerPickDialog OptionList { height: 1fr; margin-top: 1; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "to_list", "List", show=False),
    ]

    def __init__(self, owners: list[str], current: str | None) -> None:
        super().__init__()
        self.owners = owners
        self.current = current or EVERYONE

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Whose to-dos?", id="owner-title", markup=False)
            yield Input(placeholder="type to filter owners", id="owner-filter")
            yield OptionList(id="owner-options")

    def on_mount(self) -> None:
        self._fill("")

    def _fill(self, needle: str) -> None:
        options = self.query_one(OptionList)
        needle = needle.casefold().strip()
        chosen = [Option("Everyone (all owners)", id="\x00everyone")] if not needle else []
        chosen += [Option(user_text(o), id=f"owner:{o}") for o in self.owners if needle in o.casefold()]
        options.set_options(chosen)
        if chosen:
            ids = [option.id for option in chosen]
            current = f"owner:{self.current}" if self.current else "\x00everyone"
            options.highlighted = ids.index(current) if current in ids else 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self._choose(options.get_option_at_index(options.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        if option_id is None:
            return
        self.dismiss(EVERYONE if option_id == "\x00everyone" else option_id.removeprefix("owner:"))

    def action_to_list(self) -> None:
        self.query_one(OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
