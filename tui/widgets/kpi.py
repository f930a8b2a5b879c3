"""A headline figure: a small label, a big value, a line of context."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class KpiTile(Static):
    """One KPI box; ``tone`` ("good", "bad", "warn", or a quadrant name) colours the value."""

    DEFAULT_CSS = """
    KpiTile {
        width: 1fr;
        height: 5;
        padding: 0 1;
        border: round $panel-lighten-2;
    }
    KpiTile.-bad { border: round $error; }
    KpiTile.-warn { border: round $warning; }
    KpiTile.-good { border: round $success; }
    """

    def __init__(
        self, label: str, value: str, detail: str = "", tone: str = "", id: str | None = None
    ) -> None:  # noqa: A002
        text = Text()
        text.append(label + "\n", style="dim")
        text.append(value + "\n", style="bold")
        text.append(detail, style="dim")
        super().__init__(text, id=id, classes=f"-{tone}" if tone else "")
        self.label = label
        self.value = value
