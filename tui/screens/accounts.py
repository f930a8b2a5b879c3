"""Accounts: the whole book, searchable as you type, sortable, filterable, with saved views."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from tui.account_book import BY_KEY, COLUMNS, AccountBook, BookQuery, fit_columns, read_book, store_holders
from tui.messages import RecomputeFinished
from tui.widgets.app_header import AppHeader
from tui.widgets.book_table import BookTable, TableColumn
from tui.worker_results import post_if_current

SORT_ORDER = [c.key for c in COLUMNS]
NUMERIC = {"arr_text", "products_text", "risk_text", "expansion_text"}


class AccountsScreen(Screen):
    """The book in a fastdatatable over Arrow; the search filters with pyarrow on each keystroke."""

    CSS_PATH = "accounts.tcss"
    BINDINGS = [
        Binding("slash", "focus_search", "Search", key_display="/"),
        Binding("f", "filters", "Filter"),
        Binding("x", "clear_filters", "Clear filters", show=False),
        Binding("s", "sort_next", "Sort"),
        Binding("S", "reverse_sort", "Reverse the sort", key_display="S", show=False),
        Binding("v", "views", "Views"),
        Binding("escape", "escape", "Back to list", show=False),
    ]

    class BookLoaded(Message):
        """The worker read the book; carries it (or the error) back to the UI thread."""

        def __init__(self, book: AccountBook | None, error: str = "") -> None:
            super().__init__()
            self.book = book
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self.book: AccountBook | None = None
        """Every account, loaded once per recompute; filters and sorts run on it in memory."""
        self.query_state = BookQuery()
        """The search, filters and sort the list shows now (a saved view stores this)."""
        self._layout_width = 0

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with Horizontal(id="accounts-bar"):
            yield Input(placeholder="Search by name or id  (/)", id="accounts-search")
            yield Static("", id="accounts-count")
        yield Static("Loading the accounts…", id="accounts-status")
        yield BookTable(self._columns_for(120), id="accounts-table")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(BookTable).focus()
        self.load_book()

    # -- loading ---------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="accounts-book")
    def load_book(self) -> None:
        """Read the book in a thread: the screen paints and answers keys while SQLite works."""
        app: Any = self.app
        store = app.store
        try:
            currency = store.settings().get("pricing.currency", "USD")
            table = read_book(store, app.as_of, currency)
            book = AccountBook(table, store_holders(store))
            book.sorted(self.query_state.sort, self.query_state.descending)
        except Exception as error:  # shown in the status line; the previous list stays
            post_if_current(self, self.BookLoaded(None, f"{type(error).__name__}: {error}"))
            return
        post_if_current(self, self.BookLoaded(book))

    def on_accounts_screen_book_loaded(self, message: BookLoaded) -> None:
        if message.book is None:
            self.query_one("#accounts-status", Static).update(f"Could not read the accounts: {message.error}")
            return
        self.book = message.book
        self.refresh_rows(keep_cursor=True)

    def on_recompute_finished(self, message: RecomputeFinished) -> None:
        self.load_book()

    # -- showing ---------------------------------------------------------------------------------------

    def refresh_rows(self, keep_cursor: bool = False) -> None:
        """Apply the query to the book and show the result (the per-keystroke path)."""
        table = self.query_one(BookTable)
        if self.book is None:
            return
        shown = self.book.apply(self.query_state)
        width = self.size.width or self.app.size.width
        table.show(shown, self._columns_for(width), keep_cursor=keep_cursor)
        self._layout_width = width
        self._update_status(shown.num_rows)

    def _columns_for(self, width: int) -> list[TableColumn]:
        sort, descending = self.query_state.sort, self.query_state.descending
        columns = []
        for column, cells in fit_columns(width):
            label = column.label
            if column.key == sort:
                label = f"{label} {'▼' if descending else '▲'}"
            columns.append(TableColumn(column.key, label, max(cells, len(label)), column.align))
        return columns

    def _update_status(self, shown: int) -> None:
        total = len(self.book) if self.book is not None else 0
        self.query_one("#accounts-count", Static).update(f"{shown:,} of {total:,} accounts")
        parts = []
        described = self.query_state.describe()
        parts.append(f"Filters: {described}" if described else "No filters (f to filter)")
        column = BY_KEY[self.query_state.sort]
        parts.append(
            f"sorted by {column.label.rstrip('.')} {'high→low' if self.query_state.descending else 'low→high'}"
        )
        if total and self.book is not None and self.book.table["risk"].null_count == total:
            parts.append("scores not computed yet: press r to recompute")
        if total == 0:
            parts = [
                "No accounts in this store: load the demo (ctrl+p → Load the demo) or `quadrant import FOLDER`"
            ]
        elif shown == 0:
            parts.insert(0, "Nothing matches")
        self.query_one("#accounts-status", Static).update(" · ".join(parts))

    def on_resize(self) -> None:
        if self.book is not None and abs(self.size.width - self._layout_width) >= 1:
            self.refresh_rows(keep_cursor=True)

    # -- search, sort, filters, views ------------------------------------------------------------------

    @on(Input.Changed, "#accounts-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.query_state = replace(self.query_state, search=event.value)
        self.refresh_rows()

    @on(Input.Submitted, "#accounts-search")
    def _search_submitted(self) -> None:
        self.query_one(BookTable).focus()

    def action_focus_search(self) -> None:
        self.query_one("#accounts-search", Input).focus()

    def action_escape(self) -> None:
        search = self.query_one("#accounts-search", Input)
        if search.has_focus:
            self.query_one(BookTable).focus()
        elif search.value:
            search.value = ""

    def set_sort(self, key: str, descending: bool | None = None) -> None:
        """Sort by a visible column; numbers start high→low, text A→Z, renewals soonest first."""
        if descending is None:
            descending = key in NUMERIC
        self.query_state = replace(self.query_state, sort=key, descending=descending)
        self.refresh_rows()

    def action_sort_next(self) -> None:
        index = SORT_ORDER.index(self.query_state.sort)
        self.set_sort(SORT_ORDER[(index + 1) % len(SORT_ORDER)])

    def action_reverse_sort(self) -> None:
        self.set_sort(self.query_state.sort, not self.query_state.descending)

    def on_data_table_header_selected(self, event: BookTable.HeaderSelected) -> None:
        event.stop()
        key = self.query_one(BookTable).table_columns[event.column_index].key
        if key == self.query_state.sort:
            self.action_reverse_sort()
        else:
            self.set_sort(key)

    def on_data_table_row_selected(self, event: BookTable.RowSelected) -> None:
        event.stop()
        account_id = self.query_one(BookTable).value_at(event.cursor_row, "account_id")
        if account_id:
            self.app.open_account(str(account_id))

    def action_filters(self) -> None:
        from tui.dialogs.account_filters import AccountFilters

        if self.book is None:
            return
        products = [
            (str(r[0]), str(r[1]))
            for r in self.app.store.conn.execute(
                "SELECT product_id, name FROM products ORDER BY name"
            ).fetchall()
        ]
        self.app.push_screen(
            AccountFilters(self.query_state, self.book.owners(), products), self._filters_chosen
        )

    def _filters_chosen(self, query: BookQuery | None) -> None:
        if query is not None:
            self.apply_query(query)

    def action_clear_filters(self) -> None:
        self.apply_query(BookQuery(sort=self.query_state.sort, descending=self.query_state.descending))

    def apply_query(self, query: BookQuery) -> None:
        """Show ``query`` (from the filter dialog or a saved view), search box included."""
        self.query_state = query
        search = self.query_one("#accounts-search", Input)
        if search.value != query.search:
            with search.prevent(Input.Changed):
                search.value = query.search
        self.refresh_rows()

    def action_views(self) -> None:
        from tui.dialogs.saved_views import SavedViews

        self.app.push_screen(SavedViews(self.app.store.saved_views(), self.query_state), self._view_chosen)

    def _view_chosen(self, choice: tuple[str, str] | None) -> None:
        if choice is None:
            return
        action, name = choice
        store = self.app.store
        if action == "save":
            store.save_view(name, self.query_state.to_spec())
            self.notify(f"Saved the view “{name}”.")
        elif action == "delete":
            store.delete_view(name)
            self.notify(f"Deleted the view “{name}”.")
        else:
            spec = store.saved_views().get(name)
            if spec is not None:
                self.apply_query(BookQuery.from_spec(spec))
                self.notify(f"Showing the view “{name}”.")

    def palette_commands(self) -> list[SystemCommand]:
        """This screen's actions for the command palette."""
        commands = [
            SystemCommand("Accounts: search", "Search accounts by name or id (/)", self.action_focus_search),
            SystemCommand(
                "Accounts: filter",
                "Filter by segment, owner, quadrant, renewal, product (f)",
                self.action_filters,
            ),
            SystemCommand("Accounts: clear filters", "Show every account (x)", self.action_clear_filters),
            SystemCommand("Accounts: saved views", "Save or recall a view (v)", self.action_views),
            SystemCommand("Accounts: reverse sort", "Flip the sort direction (S)", self.action_reverse_sort),
        ]
        for column in COLUMNS:
            commands.append(
                SystemCommand(
                    f"Accounts: sort by {column.label.rstrip('.')}",
                    "Sort the list by this column",
                    lambda key=column.key: self.set_sort(key),
                )
            )
        return commands
