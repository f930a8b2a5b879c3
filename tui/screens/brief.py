"""The account brief: what a rep needs to know in two minutes before a call."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Sparkline, Static

from tui.brief_data import AccountBrief, load_brief
from tui.brief_render import SECTIONS, kpi_values, products_table, title
from tui.messages import RecomputeFinished
from tui.widgets.app_header import AppHeader
from tui.widgets.kpi import KpiTile
from tui.worker_results import post_if_current

NARROW = 110
TITLE_NAME_LIMIT = 120  # characters: a longer name would push the figures below the title off the screen
ROWS: tuple[tuple[str, ...], ...] = (
    ("Risk breakdown", "Expansion breakdown"),
    ("What moved since last time", "Open to-dos"),
    ("Suggestions",),
    ("Bundle pricing",),
    ("Contacts",),
    ("Timeline", "Notes"),
)
"""The sections after the products as the screen lays them out: related pairs side by side when wide."""
TONES = {"bold red": "bad", "bold yellow": "warn", "bold green": "good"}


class BriefScreen(Screen):
    """Loads the brief in a thread worker and lays it out in two columns (one on a narrow terminal)."""

    HELP_NAME = "account brief"

    CSS_PATH = "brief.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("c", "copy", "Copy as text"),
        Binding("j", "scroll(1)", "Down", show=False),
        Binding("k", "scroll(-1)", "Up", show=False),
    ]

    class Loaded(Message):
        """The worker read the brief (or failed: ``error``)."""

        def __init__(self, brief: AccountBrief | None, error: str = "") -> None:
            super().__init__()
            self.brief = brief
            self.error = error

    def __init__(self, account_id: str) -> None:
        super().__init__()
        self.account_id = account_id
        """The account this brief is about."""

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield BriefBody(self.account_id, id="brief-body")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="brief")
    def load(self) -> None:
        app: Any = self.app
        try:
            brief = load_brief(app.store, self.account_id, app.as_of)
        except Exception as error:  # an unknown id or a store error: said on screen
            post_if_current(self, self.Loaded(None, str(error)))
            return
        post_if_current(self, self.Loaded(brief))

    @property
    def brief(self) -> AccountBrief | None:
        """The brief once read (its body holds it)."""
        return self.query_one(BriefBody).brief

    async def on_brief_screen_loaded(self, message: Loaded) -> None:
        body = self.query_one(BriefBody)
        body.brief, body.error = message.brief, message.error
        await body.recompose()  # the body only: the header and the footer stay as they are
        body.focus()

    def on_recompute_finished(self, message: RecomputeFinished) -> None:
        self.load()

    def on_resize(self) -> None:
        for row in self.query(".brief-row"):
            row.set_class(self.size.width < NARROW, "-narrow")

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_scroll(self, lines: int) -> None:
        self.query_one(BriefBody).scroll_relative(y=lines, animate=False)

    def brief_text(self) -> str:
        """The brief as plain text, laid out as ``quadrant brief`` prints it."""
        if self.brief is None:
            return ""
        console = Console(width=100, record=True, file=_Null(), color_system=None)
        console.print(Panel(title(self.brief), box=box.HEAVY))
        for heading, render in SECTIONS:
            console.print(Panel(render(self.brief), title=heading, title_align="left", box=box.ROUNDED))
        return console.export_text()

    def action_copy(self) -> None:
        text = self.brief_text()
        if not text:
            return
        self.app.copy_to_clipboard(text)
        self.notify("The brief is on the clipboard: paste it into your call notes.")

    def palette_commands(self) -> list[SystemCommand]:
        return [
            SystemCommand("Brief: copy as text", "Copy this brief for a call-prep doc (c)", self.action_copy),
            SystemCommand("Brief: back", "Close the brief (Escape)", self.action_back),
        ]


class BriefBody(VerticalScroll):
    """The brief under the header: a loading line, then every section once the brief is read.

    It recomposes on its own when the brief arrives, so the screen's header and footer (a
    widget per key) are not built a second time.
    """

    def __init__(self, account_id: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self.account_id = account_id
        self.brief: AccountBrief | None = None
        self.error = ""

    def compose(self) -> ComposeResult:
        if self.brief is None:
            message = self.error or f"Loading the brief of {self.account_id}…"
            yield Static(message, id="brief-loading", markup=False)
        else:
            yield from self._sections(self.brief)

    def _sections(self, brief: AccountBrief) -> ComposeResult:
        yield Static(title(brief, name_limit=TITLE_NAME_LIMIT), id="brief-title")
        with Horizontal(id="brief-kpis"):
            for label, value, detail, style in kpi_values(brief):
                yield KpiTile(label, value, detail, TONES.get(style, ""), id=f"kpi-{label.lower()}")
        narrow = "-narrow" if self.app.size.width < NARROW else ""
        with Vertical(classes="brief-section", id="brief-products") as products:
            products.border_title = "Products held"
            with Horizontal(id="brief-products-row"):
                yield Static(products_table(brief, sparklines=False), id="brief-products-table")
                if not brief.products.empty:
                    with Vertical(id="brief-sparklines"):
                        # One line at any width, or every sparkline would sit a row below its product.
                        head = Text("Users, 12 months", style="bold dim", no_wrap=True, overflow="ellipsis")
                        yield Static(head, classes="spark-head")
                        for usage in brief.products["usage"]:
                            yield Sparkline(list(usage), classes="spark")
        sections = dict(SECTIONS)
        for row in ROWS:
            with Horizontal(classes=f"brief-row {narrow}"):
                for heading in row:
                    section = Static(sections[heading](brief), classes="brief-section")
                    section.border_title = heading
                    yield section


class _Null:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        return None
