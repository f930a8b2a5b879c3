"""Saved views of the account list: save the current filters and sort by name, or recall one."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.account_book import BookQuery


class SavedViews(ModalScreen[tuple[str, str] | None]):
    """Dismisses with ("save", name), ("load", name) or ("delete", name); None on Escape."""

    DEFAULT_CSS = """
    SavedViews { align: center middle; }
    SavedViews > Vertical {
        width: 80; height: auto; max-height: 90%; padding: 1 2; border: thick $accent; background: $surface;
    }
    SavedViews .title { text-style: bold; margin: 1 0 0 0; }
    SavedViews OptionList { height: auto; max-height: 14; }
    SavedViews #views-hint { color: $text-muted; margin-top: 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("delete", "delete", "Delete view")]

    def __init__(self, views: dict[str, dict], current: BookQuery) -> None:
        super().__init__()
        self.views = views
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Save the current view as", classes="title")
            yield Input(placeholder="a name, e.g. Renewals this quarter", id="view-name")
            yield Static(f"Saved views ({len(self.views)})", classes="title")
            options = [
                Option(f"{name} — {BookQuery.from_spec(spec).describe() or 'all accounts'}", id=name)
                for name, spec in sorted(self.views.items())
            ]
            yield OptionList(*options, id="view-list")
            yield Static(
                "Enter on a name saves · Enter on a view recalls it · Delete removes it · Escape closes",
                id="views-hint",
            )

    def on_mount(self) -> None:
        if self.views:
            self.query_one(OptionList).focus()
        else:
            self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = event.value.strip()
        if name:
            self.dismiss(("save", name))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(("load", str(event.option.id)))

    def action_delete(self) -> None:
        options = self.query_one(OptionList)
        if options.has_focus and options.highlighted is not None:
            self.dismiss(("delete", str(options.get_option_at_index(options.highlighted).id)))

    def action_cancel(self) -> None:
        self.dismiss(None)
