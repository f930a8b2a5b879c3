"""The one-line header every screen shows: the store, its counts, and the recompute status."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static


class AppHeader(Horizontal):
    """Mirrors the app's ``store_summary`` and ``status`` reactives, so every screen agrees."""

    DEFAULT_CSS = """
    AppHeader {
        dock: top;
        height: 1;
        background: $panel;
        color: $foreground;
    }
    AppHeader > #hdr-title { width: auto; padding: 0 1; text-style: bold; color: $accent; }
    AppHeader > #hdr-store { width: 1fr; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    AppHeader > #hdr-status { width: auto; max-width: 60%; padding: 0 1; color: $text-muted;
        text-wrap: nowrap; text-overflow: ellipsis; }
    AppHeader > #hdr-status.-busy { color: $warning; text-style: bold; }
    AppHeader > #hdr-status.-failed { color: $error; }
    """

    def compose(self) -> ComposeResult:
        yield Static("◧ Quadrant", id="hdr-title", markup=False)
        yield Static("", id="hdr-store", markup=False)
        yield Static("", id="hdr-status", markup=False)

    def on_mount(self) -> None:
        app = self.app
        if hasattr(app, "store_summary"):
            self.watch(app, "store_summary", self._show_summary)
            self.watch(app, "status", self._show_status)

    def _show_summary(self, text: str) -> None:
        self.query_one("#hdr-store", Static).update(text)

    def _show_status(self, text: str) -> None:
        status = self.query_one("#hdr-status", Static)
        status.update(text)
        status.set_class(bool(getattr(self.app, "busy", False)), "-busy")
        status.set_class(text.startswith("recompute failed"), "-failed")
