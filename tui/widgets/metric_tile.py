"""One headline figure of the portfolio: a label, a big value, and a line of context."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.widgets import Static


class MetricTile(Static):
    """A bordered tile; :meth:`set` changes its value and context line in place."""

    DEFAULT_CSS = """
    MetricTile {
        height: 5;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
    }
    MetricTile.-missing { color: $text-muted; }
    """

    def __init__(self, label: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__("", id=id)
        self.border_title = label
        self.label = label

    def set(self, value: str, context: str = "", missing: bool = False) -> None:
        """Show ``value`` big and ``context`` under it; ``missing`` dims the tile ("not computed")."""
        self.set_class(missing, "-missing")
        self.update(
            Group(
                Text(value, style="bold", no_wrap=True, overflow="ellipsis"),
                Text(context, style="dim", overflow="ellipsis"),
            )
        )
