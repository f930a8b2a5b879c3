"""The Accounts screen's filters: segment, owner, quadrant, renewal window, product held or not."""

from __future__ import annotations

from dataclasses import replace

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from core.frames import QUADRANTS, SEGMENTS
from tui.account_book import BookQuery


class AccountFilters(ModalScreen[BookQuery | None]):
    """Dismisses with the query narrowed as chosen (Apply / ctrl+s), or None (Escape)."""

    DEFAULT_CSS = """
    AccountFilters { align: center middle; }
    AccountFilters > Vertical {
        width: 76; height: auto; max-height: 95%; padding: 1 2; border: thick $accent; background: $surface;
    }
    AccountFilters #filters-title { text-style: bold; margin-bottom: 1; }
    AccountFilters Grid { grid-size: 2; grid-columns: 22 1fr; grid-rows: 3; height: auto; }
    AccountFilters Label { padding: 1 0 0 0; }
    AccountFilters Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    AccountFilters Button { margin-left: 1; }
    AccountFilters #filters-error { color: $error; height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "apply", "Apply")]

    def __init__(self, query: BookQuery, owners: list[str], products: list[tuple[str, str]]) -> None:
        super().__init__()
        self.query_in = query
        self.owners = owners
        self.products = products

    def compose(self) -> ComposeResult:
        q = self.query_in
        product_options = [(f"{name} ({pid})", pid) for pid, name in self.products]
        with Vertical():
            yield Static("Filter the accounts", id="filters-title")
            with Grid():
                yield Label("Segment")
                yield _select("segment", [(s, s) for s in SEGMENTS], q.segment, "any segment")
                yield Label("Owner")
                yield _select("owner", [(o, o) for o in self.owners], q.owner, "any owner")
                yield Label("Quadrant")
                yield _select(
                    "quadrant", [(x, x) for x in (*QUADRANTS, "churned")], q.quadrant, "any quadrant"
                )
                yield Label("Renews within (days)")
                yield Input(
                    value="" if q.renewal_within is None else str(q.renewal_within),
                    placeholder="e.g. 90 (empty: any)",
                    type="integer",
                    id="renewal_within",
                )
                yield Label("Holds product")
                yield _select("product_held", product_options, q.product_held, "any")
                yield Label("Lacks product")
                yield _select("product_not_held", product_options, q.product_not_held, "any")
            yield Static("", id="filters-error")
            with Horizontal():
                yield Button("Clear all", id="clear")
                yield Button("Cancel", id="cancel")
                yield Button("Apply (ctrl+s)", id="apply", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#segment", Select).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.action_apply()
        elif event.button.id == "clear":
            self.dismiss(
                BookQuery(
                    search=self.query_in.search, sort=self.query_in.sort, descending=self.query_in.descending
                )
            )
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    def action_apply(self) -> None:
        text = self.query_one("#renewal_within", Input).value.strip()
        if text and (not text.lstrip("-").isdigit() or int(text) < 0):
            self.query_one("#filters-error", Static).update(
                "Renews within: a whole number of days, 0 or more."
            )
            return
        chosen = {
            name: self._value(name)
            for name in ("segment", "owner", "quadrant", "product_held", "product_not_held")
        }
        self.dismiss(replace(self.query_in, renewal_within=int(text) if text else None, **chosen))

    def _value(self, name: str) -> str | None:
        value = self.query_one(f"#{name}", Select).value
        return None if value is Select.NULL else str(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _select(name: str, options: list[tuple[str, str]], value: str | None, prompt: str) -> Select:
    known = {v for _, v in options}
    return Select(
        options, prompt=prompt, allow_blank=True, value=value if value in known else Select.NULL, id=name
    )
