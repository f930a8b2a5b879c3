"""The stand-in for a screen that could not be loaded: says which, and why."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.widgets.app_header import AppHeader


class MissingScreen(Screen):
    """Shown instead of a screen whose module failed to import, so the rest of the app works."""

    DEFAULT_CSS = """
    MissingScreen #missing { padding: 2 4; color: $text-muted; }
    """

    def __init__(self, label: str, reason: str) -> None:
        super().__init__()
        self.label = label
        self.reason = reason

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static(
            f"The {self.label} screen is not available yet.\n\n{self.reason}\n\n"
            "Press 1-5 to switch screens, ? for help.",
            id="missing",
            markup=False,
        )
        yield Footer()
