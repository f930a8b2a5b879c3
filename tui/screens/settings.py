"""Settings: every tunable value with its default, edited in place, saved at once, then recomputed.

Weights (dict settings) get one row per weight, so a team can change one
without retyping the rest. The store validates types; this screen also refuses
negative, infinite and non-number values before they reach it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Static

from core.settings import DEFAULTS, DESCRIPTIONS, section_of
from tui.messages import RecomputeFailed, RecomputeFinished
from tui.widgets.app_header import AppHeader
from tui.widgets.user_text import clean

NO_RECOMPUTE_PREFIXES = ("ui.",)
RESTART_KEYS = {"as_of"}
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}
RECOMPUTE_DELAY = 0.8
MINIMUMS = {"todos.daily_cap": 1, "rules.max_len": 2, "suggestions.top_k": 1}
"""Settings the analyses refuse below a floor (a daily cap of 0 would fail every recompute)."""


@dataclass(frozen=True)
class SettingRow:
    """One editable line: a setting, or one weight inside a dict setting (``sub`` is its name)."""

    key: str
    sub: str = ""
    section: str = ""
    help: str = ""

    @property
    def row_key(self) -> str:
        return f"{self.key}\x1f{self.sub}" if self.sub else self.key

    @property
    def label(self) -> str:
        return f"{self.key} › {self.sub}" if self.sub else self.key

    @property
    def default(self) -> Any:
        value = DEFAULTS[self.key]
        return value[self.sub] if self.sub else value

    def current(self, settings: dict[str, Any]) -> Any:
        value = settings.get(self.key, DEFAULTS[self.key])
        if self.sub:
            return value.get(self.sub, self.default) if isinstance(value, dict) else self.default
        return value


def setting_rows() -> list[SettingRow]:
    """Every key of DEFAULTS in order; non-empty dict settings as one row per entry."""
    rows: list[SettingRow] = []
    for key, default in DEFAULTS.items():
        section, note = section_of(key), DESCRIPTIONS.get(key, "")
        if isinstance(default, dict) and default:
            for sub in default:
                rows.append(SettingRow(key, sub, section, f"weight of {sub.replace('_', ' ')}"))
        else:
            rows.append(SettingRow(key, "", section, note))
    return rows


def show_value(value: Any) -> str:
    """A setting's value as the user types it back."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return f"{value:g}" if abs(value) >= 1e-4 or value == 0 else repr(value)
    return str(value)


def _number(text: str, integer: bool, minimum: float = 0) -> float | int:
    try:
        number = int(text) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise ValueError(f"Type {kind}, e.g. {'15' if integer else '0.25'}.") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("Type a finite number.")
    if number < minimum:
        raise ValueError(f"Type a number of {minimum:g} or more.")
    return number


def parse_setting(
    row: SettingRow, text: str, settings: dict[str, Any], themes: set[str] | None = None
) -> Any:
    """The value to hand ``store.set_setting(row.key, …)``; raises ValueError with a message for the user."""
    text = text.strip()
    default = DEFAULTS[row.key]
    if row.sub:
        merged = dict(settings.get(row.key) or default)
        merged[row.sub] = _number(text, integer=False)
        return merged
    if isinstance(default, bool):
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise ValueError("Type true or false.")
    if isinstance(default, int):
        return _number(text, integer=True, minimum=MINIMUMS.get(row.key, 0))
    if isinstance(default, float):
        return _number(text, integer=False, minimum=MINIMUMS.get(row.key, 0))
    if isinstance(default, dict):
        try:
            value = json.loads(text or "{}")
        except json.JSONDecodeError:
            raise ValueError('Type a JSON object, e.g. {"MAIL": 2.5} (or {} for none).') from None
        if not isinstance(value, dict):
            raise ValueError('Type a JSON object, e.g. {"MAIL": 2.5} (or {} for none).')
        for name, number in value.items():
            _number(str(number), integer=False)
            if not str(name):
                raise ValueError("Every entry needs a name.")
        return value
    if row.key == "as_of":
        if not text:
            return None
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError("Type a date as YYYY-MM-DD, or leave it empty for today.") from None
    if row.key == "ui.theme" and themes and text not in themes:
        raise ValueError(f"Unknown theme; try one of {', '.join(sorted(themes)[:6])}, …")
    if default is not None and not text:
        raise ValueError("Type a value, or press x to reset it to the default.")
    return text or None


class SettingsScreen(Screen):
    """A table of settings (value, default, what it does); Enter edits, x resets; each change saves at once."""

    CSS_PATH = "settings.tcss"
    BINDINGS = [
        Binding("e", "edit", "Edit", key_display="e/enter"),
        Binding("x", "reset", "Reset to default"),
        Binding("escape", "cancel_edit", "Cancel", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows = setting_rows()
        self.by_key = {row.row_key: row for row in self.rows}
        self.editing: SettingRow | None = None
        self._recompute_pending = False
        self._recompute_timer: Any = None

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static(
            "e / Enter edit · x reset to default · each change is saved at once, then the analyses "
            "recompute in the background",
            id="settings-intro",
            markup=False,
        )
        yield Static("", id="settings-info", markup=False)
        yield DataTable(id="settings-table", cursor_type="row", zebra_stripes=True)
        with Vertical(id="settings-editor"):
            with Horizontal(id="settings-edit-line"):
                yield Label("", id="settings-edit-label", markup=False)
                yield Input("", id="settings-input")
            yield Static("", id="settings-error", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Setting", key="setting", width=36)
        table.add_column("Value", key="value", width=12)
        table.add_column("Default", key="default", width=12)
        table.add_column("What it does", key="help")
        settings = self.app.store.settings()
        for row in self.rows:
            table.add_row(
                Text(row.label),
                *self._value_cells(row, settings),
                Text(row.help, style="dim"),
                key=row.row_key,
            )
        self.query_one("#settings-editor").display = False
        table.focus()

    def on_screen_resume(self) -> None:
        """Show values changed elsewhere (the rules screen's thresholds, the to-do owner) since last shown."""
        if self.query_one(DataTable).row_count:
            settings = self.app.store.settings()
            for row in self.rows:
                self.refresh_row(row, settings)

    def _value_cells(self, row: SettingRow, settings: dict[str, Any]) -> tuple[Text, Text]:
        current, default = row.current(settings), row.default
        changed = current != default
        value = Text(clean(show_value(current)) or "—", style="bold yellow" if changed else "")
        if changed:
            value.append(" ●", style="yellow")
        return value, Text(clean(show_value(default)) or "—", style="dim")

    def refresh_row(self, row: SettingRow, settings: dict[str, Any] | None = None) -> None:
        settings = settings if settings is not None else self.app.store.settings()
        value, default = self._value_cells(row, settings)
        table = self.query_one(DataTable)
        table.update_cell(row.row_key, "value", value)
        table.update_cell(row.row_key, "default", default)

    @property
    def selected(self) -> SettingRow | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.by_key.get(str(key))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self.by_key.get(str(event.row_key.value))
        if row is None:
            return
        info = f"{row.section or 'Settings'} › {row.label}"
        if row.help:
            info += f" — {row.help}"
        self.query_one("#settings-info", Static).update(info)

    # -- editing ---------------------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit()

    def action_edit(self) -> None:
        row = self.selected
        if row is None:
            return
        self.editing = row
        self.query_one("#settings-editor").display = True
        self.query_one("#settings-edit-label", Label).update(f"{row.label} =")
        field = self.query_one("#settings-input", Input)
        field.value = show_value(row.current(self.app.store.settings()))
        field.remove_class("-invalid")
        self._error("")
        field.focus()

    def action_cancel_edit(self) -> None:
        if self.editing is not None:
            self._close_editor()

    def _close_editor(self) -> None:
        self.editing = None
        self.query_one("#settings-editor").display = False
        self.query_one(DataTable).focus()

    def _error(self, text: str) -> None:
        self.query_one("#settings-error", Static).update(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        row = self.editing
        if row is None:
            return
        settings = self.app.store.settings()
        try:
            value = parse_setting(row, event.value, settings, set(getattr(self.app, "available_themes", {})))
            if row.key in ("as_of", "ui.todo_owner") and value is None:
                self.app.store.reset_setting(row.key)
            else:
                self.app.store.set_setting(row.key, value)
        except ValueError as error:
            event.input.add_class("-invalid")
            self._error(f"Not saved: {error}")
            return
        except Exception as error:  # a store that cannot be written: say so, keep the editor open
            event.input.add_class("-invalid")
            self._error(f"Not saved: {error}")
            return
        self._saved(row)
        self._close_editor()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.input.remove_class("-invalid")
        self._error("")

    def action_reset(self) -> None:
        row = self.selected
        if row is None:
            return
        settings = self.app.store.settings()
        try:
            if row.sub:
                merged = {**(settings.get(row.key) or {}), row.sub: row.default}
                if merged == DEFAULTS[row.key]:
                    self.app.store.reset_setting(row.key)
                else:
                    self.app.store.set_setting(row.key, merged)
            else:
                self.app.store.reset_setting(row.key)
        except Exception as error:
            self.notify(f"Could not reset {row.label}: {error}", severity="error")
            return
        self._saved(row)

    def _saved(self, row: SettingRow) -> None:
        settings = self.app.store.settings()
        for other in self.rows:
            if other.key == row.key:
                self.refresh_row(other, settings)
        shown = show_value(row.current(settings)) or "—"
        if row.key in RESTART_KEYS:
            self.notify(f"Saved {row.label} = {clean(shown)}; it applies the next time Quadrant starts.")
        elif row.key.startswith(NO_RECOMPUTE_PREFIXES):
            self.notify(f"Saved {row.label} = {clean(shown)}.")
        else:
            self.notify(f"Saved {row.label} = {clean(shown)}; recomputing in the background.")
            self._schedule_recompute()

    # -- recompute, debounced so several quick edits run it once ---------------------------------------

    def _schedule_recompute(self) -> None:
        if self._recompute_timer is not None:
            self._recompute_timer.stop()
        self._recompute_timer = self.set_timer(RECOMPUTE_DELAY, self._start_recompute)

    def _start_recompute(self) -> None:
        self._recompute_timer = None
        if getattr(self.app, "busy", False):
            self._recompute_pending = True
            return
        self._recompute_pending = False
        self.app.action_recompute()

    def on_recompute_finished(self, message: RecomputeFinished) -> None:
        if self._recompute_pending:
            self._start_recompute()

    def on_recompute_failed(self, message: RecomputeFailed) -> None:
        if self._recompute_pending:
            self._start_recompute()
