"""The attach-rate heat map: of the owners of the row's product, the share that also own the column's.

Columns are numbered like the rows: product ids and names are too long for a 6-cell column.
"""

from __future__ import annotations

import math

import pandas as pd
from rich.color import Color
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui.formatting import fit
from tui.widgets.user_text import clean

LOW = (38, 44, 56)
HIGH = (46, 160, 90)
LABEL_WIDTH = 22
CELL_WIDTH = 5


def cell_colour(rate: float) -> Color:
    """Dark at 0 %, green at 100 %, linear in between."""
    share = 0.0 if not math.isfinite(rate) else min(max(rate, 0.0), 1.0)
    return Color.from_rgb(*(round(lo + (hi - lo) * share) for lo, hi in zip(LOW, HIGH, strict=True)))


def _cell(rate: float | None) -> Text:
    if rate is None or not math.isfinite(rate):
        return Text("—".rjust(CELL_WIDTH), style="dim")
    text_colour = "black" if rate >= 0.55 else "white"
    return Text(
        f"{rate * 100:.0f}%".rjust(CELL_WIDTH), style=Style(bgcolor=cell_colour(rate), color=text_colour)
    )


def heatmap_table(attach: pd.DataFrame, names: dict[str, str], limit: int = 40) -> Table | Text:
    """A Rich table of attach rates, products with the most owners first (``limit`` of them); Text when empty."""
    if attach.empty:
        return Text("Attach rates not computed yet — press r to recompute.", style="dim italic")
    owners = attach.groupby("product_a")["accounts_a"].max().sort_values(ascending=False, kind="stable")
    others = sorted(set(attach["product_b"]) - set(owners.index))
    products = [*owners.index, *others][:limit]
    rates = {
        (a, b): float(r)
        for a, b, r in zip(attach["product_a"], attach["product_b"], attach["attach_rate"], strict=True)
        if r is not None
    }
    table = Table(box=None, padding=0, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column(Text("of owners ↓, % own →", style="dim"), width=LABEL_WIDTH, no_wrap=True)
    for number in range(1, len(products) + 1):
        table.add_column(Text(str(number), style="bold"), width=CELL_WIDTH, no_wrap=True, justify="right")
    for number, row_product in enumerate(products, 1):
        label = f"{number:>2} {clean(names.get(row_product, row_product))}"
        cells = [Text(fit(label, LABEL_WIDTH - 1), style="bold")]
        for col_product in products:
            if col_product == row_product:
                cells.append(Text("·".rjust(CELL_WIDTH), style="dim"))
            else:
                cells.append(_cell(rates.get((row_product, col_product))))
        table.add_row(*cells)
    return table


class AttachHeatmap(Static):
    """Shows :func:`heatmap_table`; put it in a horizontally scrolling container for wide catalogues."""

    DEFAULT_CSS = """
    AttachHeatmap { width: auto; height: auto; }
    """

    def show(self, attach: pd.DataFrame, names: dict[str, str]) -> None:
        self.update(heatmap_table(attach, names))
