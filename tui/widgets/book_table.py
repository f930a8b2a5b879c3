"""A fastdatatable over Arrow whose rows and columns can be swapped in place, with cheap cells.

fastdatatable has no public way to replace its data (its ``clear`` says "mount
a new one"); remounting on every keystroke would cost focus and time, so
:meth:`BookTable.show` swaps the backend and invalidates the caches that
depend on it. Its cells go through Rich's full render pipeline (about half a
millisecond each, so 150 ms for a screenful); every cell here is plain text,
so :meth:`BookTable._render_cell` builds the one segment directly, cell-width
aware (CJK counts two cells). Both reach into the widget's internals, which is
why they live together in this one file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual_fastdatatable import ArrowBackend, DataTable

MISSING = "—"


@dataclass(frozen=True)
class TableColumn:
    """A column as the table shows it: the Arrow column, header text, width in cells, alignment."""

    key: str
    label: str
    width: int
    align: str = "left"


class BookTable(DataTable):
    """Row-cursor table of a large Arrow table of text; ellipsis on overflow; nulls as a dash."""

    HELP_NAME = "list"
    BINDINGS = [Binding("enter", "select_cursor", "Open the selected row", show=False)]

    def __init__(self, columns: Sequence[TableColumn], *, id: str | None = None) -> None:  # noqa: A002
        self._columns = list(columns)
        super().__init__(
            backend=ArrowBackend(_empty(self._columns)),
            column_labels=[_label(c) for c in self._columns],
            column_widths=[c.width for c in self._columns],
            max_column_content_width=10_000,
            cursor_type="row",
            zebra_stripes=True,
            null_rep=MISSING,
            render_markup=False,
            show_row_labels=False,
            id=id,
        )
        self.shown: pa.Table = _empty(self._columns)
        """The rows shown, with every column the caller passed (ids included)."""
        self._cells: list[pa.Array] = []

    @property
    def table_columns(self) -> list[TableColumn]:
        return list(self._columns)

    def show(
        self, rows: pa.Table, columns: Sequence[TableColumn] | None = None, keep_cursor: bool = False
    ) -> None:
        """Show ``rows`` (an Arrow table holding at least the columns' keys), optionally new columns."""
        if columns is not None:
            self._columns = list(columns)
            self._column_labels = [_label(c) for c in self._columns]
            self._column_widths = [c.width for c in self._columns]
            self._ordered_columns = None
        self.shown = rows
        selected = rows.select([c.key for c in self._columns]).combine_chunks()
        self._cells = [
            selected.column(i).chunk(0) if selected.num_rows else pa.array([], pa.string())
            for i in range(selected.num_columns)
        ]
        backend = ArrowBackend(selected)
        backend.render_markup = False
        backend._column_content_widths = [c.width for c in self._columns]
        self.backend = backend
        self._update_count += 1
        self._clear_caches()
        self._update_dimensions([])
        row = min(self.cursor_row, max(rows.num_rows - 1, 0)) if keep_cursor else 0
        self.cursor_coordinate = Coordinate(row, 0)
        if not keep_cursor:
            self.scroll_home(animate=False)
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        """A double click on a row opens it, like Enter."""
        row = (event.style.meta or {}).get("row", -1)
        if event.chain >= 2 and 0 <= row < self.row_count:
            event.stop()
            self.action_select_cursor()

    def value_at(self, row: int, key: str) -> object:
        """A cell of the shown rows by column name (any column of ``rows``, shown or not)."""
        if 0 <= row < self.shown.num_rows and key in self.shown.column_names:
            return self.shown[key][row].as_py()
        return None

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
        in_range: bool = False,
    ) -> list[list[Segment]]:
        if row_index < 0 or column_index < 0 or column_index >= len(self._cells):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover, in_range)
        key = (
            row_index,
            column_index,
            base_style,
            cursor,
            hover,
            in_range,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cached = self._cell_render_cache.get(key)
        if cached is not None:
            return cached
        value = self._cells[column_index][row_index].as_py()
        text = MISSING if value is None else str(value)
        inner = max(width - 2, 0)
        size = cell_len(text)
        if size > inner:
            text = set_cell_size(text, max(inner - 1, 0)) + "…" if inner else ""
        elif self._columns[column_index].align == "right":
            text = " " * (inner - size) + text
        else:
            text = text + " " * (inner - size)
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            in_range,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_type == "range",
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        style = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component_style
        lines = [[Segment(f" {text} ", style + post_style)]]
        self._cell_render_cache[key] = lines
        return lines


def _label(column: TableColumn) -> Text:
    return Text(column.label, justify="right" if column.align == "right" else "left")


def _empty(columns: Sequence[TableColumn]) -> pa.Table:
    return pa.table({c.key: pa.array([], pa.string()) for c in columns})
