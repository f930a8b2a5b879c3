"""One to-do as the to-do screen holds it, and how it reads as a single line at any width."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from rich.text import Text

from tui.formatting import fit
from tui.widgets.user_text import clean

STATUS_GLYPHS = {"open": "·", "done": "✓", "snoozed": "z", "dismissed": "×"}
OUTCOME_KINDS = frozenset({"cross-sell", "seat-upsell", "bundle-offer"})
"""Kinds that sell something: marking one done asks how it ended (won / lost / no decision)."""


@dataclass(slots=True)
class TodoRow:
    """The fields of a to-do the screen shows, plus its account's name, owner and ARR."""

    todo_id: str
    account_id: str
    name: str = ""
    owner: str = ""
    kind: str = ""
    product_id: str = ""
    quadrant: str = ""
    title: str = ""
    reason: str = ""
    priority: int = 0
    below_line: bool = False
    due: str = ""
    playbook: str = ""
    status: str = "open"
    snoozed_until: str = ""
    note: str = ""
    outcome: str = ""
    arr: float = 0.0

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TodoRow:
        """A row from a query record; missing values become '' / 0 so rendering never meets None."""
        values: dict[str, Any] = {}
        for spec in fields(cls):
            value = record.get(spec.name)
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            if spec.name in ("priority",):
                values[spec.name] = 0 if missing else int(value)
            elif spec.name == "below_line":
                values[spec.name] = False if missing else bool(int(value))
            elif spec.name == "arr":
                values[spec.name] = 0.0 if missing else float(value)
            else:
                values[spec.name] = "" if missing else str(value)
        return cls(**values)

    def with_state(self, state: dict[str, Any]) -> TodoRow:
        """This row after a store change: status, snooze, note and outcome from the returned to-do."""
        changed = TodoRow.from_record(
            {
                **{f.name: getattr(self, f.name) for f in fields(self)},
                **{
                    key: state.get(key)
                    for key in ("status", "snoozed_until", "note", "outcome")
                    if key in state
                },
            }
        )
        return changed

    @property
    def is_open(self) -> bool:
        return self.status == "open"


KIND_LABELS = {
    "renewal-call": "renewal",
    "usage-recovery": "usage",
    "executive-sponsor": "exec sponsor",
    "add-decision-maker": "new contact",
    "seat-upsell": "seats",
    "cross-sell": "cross-sell",
    "bundle-offer": "bundle",
    "qbr": "QBR",
}
"""Short names that fit the kind column; the title says the rest."""


def _layout(width: int) -> tuple[int, int, int]:
    """(name, kind, due) column widths for a line ``width`` cells wide; kind 0 = hidden."""
    if width >= 90:
        return 22, 13, 10
    if width >= 70:
        return 18, 12, 10
    if width >= 52:
        return 16, 12, 5
    if width >= 44:
        return 16, 0, 5
    return 12, 0, 5


def render_todo_row(row: TodoRow, width: int, today: date | None = None) -> Text:
    """The row as one line of exactly ``width`` cells: status, name, kind, title, due (CJK-aware)."""
    name_w, kind_w, due_w = _layout(width)
    glyph = STATUS_GLYPHS.get(row.status, "?")
    marker = "✎" if row.note else " "
    title_w = max(0, width - 2 - 1 - name_w - 1 - (kind_w + 1 if kind_w else 0) - 1 - due_w)
    closed = row.status in ("done", "dismissed")
    base = "dim" if row.below_line or not row.is_open else ""
    line = Text(style=base, no_wrap=True, overflow="crop", end="")
    line.append(glyph, style="bold green" if row.status == "done" else "")
    line.append(marker + " ")
    line.append(fit(clean(row.name), name_w) + " ", style="bold" if row.is_open else "")
    if kind_w:
        line.append(fit(KIND_LABELS.get(row.kind, clean(row.kind)), kind_w) + " ", style="italic")
    line.append(fit(clean(row.title), title_w) + " ", style="strike" if closed else "")
    due = row.snoozed_until if row.status == "snoozed" and row.snoozed_until else row.due
    due_text = due[:10] if due_w >= 10 else due[5:10]
    overdue = bool(today and row.is_open and due and due[:10] < today.isoformat())
    line.append(
        fit(due_text, due_w), style="bold red" if overdue else ("italic" if row.status == "snoozed" else "")
    )
    line.truncate(width, pad=True)
    return line
