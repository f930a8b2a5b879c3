"""Rules explorer: which products go together, filtered live by support, confidence and lift.

Tightening a threshold filters the mined rules at once; loosening below what
the last recompute mined saves the new threshold and re-mines in the background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static, Tabs

from tui.formatting import format_pct
from tui.messages import RecomputeFailed, RecomputeFinished, RecomputeStarted
from tui.widgets.app_header import AppHeader
from tui.widgets.book_table import BookTable, TableColumn
from tui.widgets.segment_tabs import SegmentTabs
from tui.widgets.user_text import clean
from tui.worker_results import post_if_current

THRESHOLDS = {
    "support": ("rules.min_support", 0.0, 1.0),
    "confidence": ("rules.min_confidence", 0.0, 1.0),
    "lift": ("rules.min_lift", 0.0, math.inf),
}
"""Input name -> (setting key, lowest, highest accepted value)."""

NUMBER_COLUMNS = [
    TableColumn("support_text", "Support", 8, "right"),
    TableColumn("confidence_text", "Confidence", 10, "right"),
    TableColumn("lift_text", "Lift", 6, "right"),
    TableColumn("leverage_text", "Leverage", 8, "right"),
    TableColumn("conviction_text", "Conviction", 10, "right"),
    TableColumn("count_text", "Accounts", 8, "right"),
]
NARROW_HIDDEN = {"leverage_text", "conviction_text"}


def rule_columns(width: int) -> list[TableColumn]:
    """The table's columns for a screen ``width`` cells wide: itemsets share what the numbers leave."""
    numbers = [c for c in NUMBER_COLUMNS if width >= 100 or c.key not in NARROW_HIDDEN]
    spare = max(24, width - sum(c.width + 2 for c in numbers) - 2 - 4)
    first = max(12, spare * 4 // 7)
    return [
        TableColumn("if_text", "If they own", first),
        TableColumn("then_text", "…they also own", max(10, spare - first)),
        *numbers,
    ]


def product_list(itemset: str, names: dict[str, str]) -> str:
    """``JRN;MAIL`` -> ``Journeys + Mail Studio`` (ids whose name is unknown stay ids)."""
    return " + ".join(clean(names.get(p, p)) for p in str(itemset).split(";") if p)


def _joined(itemset: str, names: dict[str, str]) -> str:
    parts = [clean(names.get(p, p)) for p in str(itemset).split(";") if p]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def rule_sentence(rule: dict[str, Any], names: dict[str, str], segment: str = "all") -> str:
    """One sentence a CSM can repeat: base count, confidence, and lift as "x the base rate"."""
    confidence = float(rule["confidence"])
    count = float(rule["count"])
    having = round(count / confidence) if confidence > 0 else 0
    who = "accounts" if segment == "all" else f"{segment} accounts"
    then = _joined(rule["consequents"], names)
    return (
        f"Of the {having:,} {who} with {_joined(rule['antecedents'], names)}, {format_pct(confidence)} "
        f"also own {then} — {float(rule['lift']):.1f}x the base rate."
    )


SORTS = {"lift": "lift", "confidence": "confidence", "support": "support", "count": "accounts"}
"""Sort keys the explorer cycles through, with the word the status line uses."""


def rule_rows(rules: pd.DataFrame, names: dict[str, str], by: str = "lift") -> tuple[pa.Table, pd.DataFrame]:
    """The rules as the table's text columns, and the same rules in that order (highest ``by`` first)."""
    order = [by, *(key for key in ("lift", "confidence", "support") if key != by)]
    rules = rules.sort_values(order, ascending=False, kind="stable")
    return pa.table(
        {
            "if_text": [product_list(a, names) for a in rules["antecedents"]],
            "then_text": [product_list(c, names) for c in rules["consequents"]],
            "support_text": [format_pct(v, 1) for v in rules["support"]],
            "confidence_text": [format_pct(v) for v in rules["confidence"]],
            "lift_text": [f"{v:.2f}" for v in rules["lift"]],
            "leverage_text": [f"{v:.3f}" for v in rules["leverage"]],
            "conviction_text": [
                "∞" if not math.isfinite(v) else f"{v:.2f}" for v in rules["conviction"].astype(float)
            ],
            "count_text": [f"{int(v):,}" for v in rules["count"]],
            "row": list(range(len(rules))),
        }
    ), rules.reset_index(drop=True)


@dataclass
class RulesData:
    rules: pd.DataFrame
    names: dict[str, str]
    mined: dict[str, float]


def load_rules(store: Any) -> RulesData:
    """Every segment's rules, product names, and the thresholds the stored rules were mined at."""
    rules = store.result("rules")
    if rules.empty:
        rules = pd.DataFrame(
            columns=[
                "segment",
                "antecedents",
                "consequents",
                "support",
                "confidence",
                "lift",
                "leverage",
                "conviction",
                "count",
            ]
        )
    if "segment" not in rules:
        rules["segment"] = "all"
    rules["segment"] = rules["segment"].fillna("all")
    products = store.query("SELECT product_id, name FROM products")
    settings = store.settings()
    return RulesData(
        rules=rules,
        names=dict(zip(products["product_id"].astype(str), products["name"].astype(str), strict=True)),
        mined={name: float(settings.get(key) or 0.0) for name, (key, _, _) in THRESHOLDS.items()},
    )


def parse_threshold(name: str, text: str) -> float:
    """The typed threshold as a number in range; raises ValueError with a message for the user."""
    _, low, high = THRESHOLDS[name]
    try:
        value = float(text.strip().rstrip("%")) / (100 if text.strip().endswith("%") else 1)
    except ValueError:
        raise ValueError(f"Minimum {name} must be a number, e.g. 0.05 or 5%.") from None
    if not (low <= value <= high) or math.isnan(value):
        raise ValueError(f"Minimum {name} must be between {low:g} and {high:g}.")
    return value


class RulesScreen(Screen):
    """A segment's association rules in a fast table, three threshold inputs and the chosen rule in words."""

    CSS_PATH = "rules.tcss"
    BINDINGS = [
        Binding("g", "next_segment", "Segment"),
        Binding("t", "focus_thresholds", "Thresholds"),
        Binding("s", "next_sort", "Sort"),
        Binding("ctrl+s", "remine", "Re-mine", priority=True),
        Binding("escape", "focus_table", "Table", show=False),
    ]

    class Loaded(Message):
        def __init__(self, data: RulesData | None, error: str = "") -> None:
            super().__init__()
            self.data = data
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self.data: RulesData | None = None
        self.thresholds: dict[str, float] = {}
        """The minimums the table is filtered by now."""
        self.shown = pd.DataFrame()
        """The rules in the table, in table order."""
        self.sort = "lift"
        """The measure the table is sorted by, highest first."""
        self.remining = False
        self._table: pa.Table | None = None
        self._width = 0

    def on_resize(self) -> None:
        if self._table is not None and self.size.width != self._width:
            self._width = self.size.width
            self.query_one(BookTable).show(self._table, rule_columns(self._width), keep_cursor=True)

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield SegmentTabs(id="rules-segment")
        with Horizontal(id="rules-bar"):
            for name in THRESHOLDS:
                yield Label(f"min {name}", classes="rules-label")
                yield Input("", id=f"rules-{name}", classes="rules-input")
            yield Static("", id="rules-count", markup=False)
        yield Static("", id="rules-hint", markup=False)
        yield BookTable(rule_columns(120), id="rules-table")
        yield Static("", id="rules-explain", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#rules-table", BookTable).focus()
        self.reload()

    @work(thread=True, exclusive=True, exit_on_error=False, group="rules-load")
    def reload(self) -> None:
        try:
            post_if_current(self, self.Loaded(load_rules(self.app.store)))
        except Exception as error:
            post_if_current(self, self.Loaded(None, f"{type(error).__name__}: {error}"))

    def on_rules_screen_loaded(self, message: Loaded) -> None:
        if message.data is None:
            self.notify(f"Could not read the rules: {message.error}", severity="error")
            return
        self.data = message.data
        self.remining = False
        self.thresholds = dict(self.data.mined)
        for name, value in self.thresholds.items():
            self.query_one(f"#rules-{name}", Input).value = f"{value:g}"
        self._hint("")
        self.refilter()

    # -- filtering -----------------------------------------------------------------------------------

    @property
    def segment(self) -> str:
        return self.query_one(SegmentTabs).segment

    def refilter(self) -> None:
        """Filter the loaded rules by segment and the current minimums; no store access."""
        if self.data is None:
            return
        rules = self.data.rules
        mask = rules["segment"].eq(self.segment)
        for name, value in self.thresholds.items():
            mask &= rules[name].astype(float) >= value - 1e-12
        self._table, self.shown = rule_rows(rules[mask], self.data.names, self.sort)
        self.query_one(BookTable).show(self._table, rule_columns(self.size.width))
        total = int(rules["segment"].eq(self.segment).sum())
        self.query_one("#rules-count", Static).update(
            f"{len(self.shown):,} of {total:,} rules · by {SORTS[self.sort]}"
        )
        self._explain()
        if rules.empty:
            self._hint("No rules mined yet — press r to recompute.")

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        self.refilter()

    def action_next_sort(self) -> None:
        keys = list(SORTS)
        self.sort = keys[(keys.index(self.sort) + 1) % len(keys)]
        self.refilter()

    def action_next_segment(self) -> None:
        self.query_one(SegmentTabs).cycle()

    def on_input_changed(self, event: Input.Changed) -> None:
        name = str(event.input.id).removeprefix("rules-")
        if name not in THRESHOLDS or self.data is None:
            return
        try:
            value = parse_threshold(name, event.value)
        except ValueError as error:
            event.input.add_class("-invalid")
            self._hint(str(error), error=True)
            return
        event.input.remove_class("-invalid")
        self.thresholds[name] = value
        self.refilter()
        self._hint(self._loosened_note())

    def _loosened(self) -> dict[str, float]:
        if self.data is None:
            return {}
        return {n: v for n, v in self.thresholds.items() if v < self.data.mined[n] - 1e-12}

    def _loosened_note(self) -> str:
        loosened = self._loosened()
        if not loosened:
            return ""
        parts = ", ".join(f"{n} {v:g} (mined at {self.data.mined[n]:g})" for n, v in loosened.items())
        return (
            f"Below what was mined: {parts}. Press Enter (or ctrl+s) to save and re-mine in the background."
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.input.has_class("-invalid"):
            self.action_remine()
            self.action_focus_table()

    def action_remine(self) -> None:
        """Save loosened thresholds and recompute in the background; tightening needs no re-mine."""
        loosened = self._loosened()
        if not loosened:
            self._hint("The table already shows every rule at these minimums (tightening needs no re-mine).")
            return
        try:
            for name, value in loosened.items():
                self.app.store.set_setting(THRESHOLDS[name][0], value)
        except Exception as error:
            self._hint(f"Not saved: {error}", error=True)
            return
        self.remining = True
        self._hint("Saved; re-mining the rules in the background — progress in the header.")
        self.app.action_recompute()

    def on_recompute_started(self, message: RecomputeStarted) -> None:
        if self.remining:
            self.query_one("#rules-hint", Static).add_class("-busy")

    def on_recompute_finished(self, message: RecomputeFinished) -> None:
        self.query_one("#rules-hint", Static).remove_class("-busy")
        self.reload()

    def on_recompute_failed(self, message: RecomputeFailed) -> None:
        self.query_one("#rules-hint", Static).remove_class("-busy")
        if self.remining:
            self.remining = False
            self._hint(
                f"Re-mining failed; the table keeps the last good rules. {message.message}", error=True
            )

    def _hint(self, text: str, error: bool = False) -> None:
        hint = self.query_one("#rules-hint", Static)
        hint.update(text)
        hint.display = bool(text)
        hint.set_class(error, "-error")

    # -- the selected rule -----------------------------------------------------------------------------

    def on_data_table_row_highlighted(self, event: Any) -> None:
        self._explain()

    def _explain(self) -> None:
        table = self.query_one(BookTable)
        explain = self.query_one("#rules-explain", Static)
        row = table.cursor_row
        if self.data is None or self.shown.empty or not 0 <= row < len(self.shown):
            explain.update("No rule at these minimums." if self.data is not None else "")
            return
        explain.update(rule_sentence(self.shown.iloc[row].to_dict(), self.data.names, self.segment))

    def action_focus_thresholds(self) -> None:
        self.query_one("#rules-support", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one(BookTable).focus()
