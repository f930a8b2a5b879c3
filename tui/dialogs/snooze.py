"""Ask until when to snooze a to-do: a typed date, or +1 day / +1 week / +1 month."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


def add_month(day: date) -> date:
    """The same day next month, or that month's last day when it is shorter (Jan 31 -> Feb 28)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def parse_snooze_date(text: str, today: date) -> date:
    """The date typed, which must be after ``today``; raises ValueError with a message for the user."""
    try:
        chosen = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"Type a date as YYYY-MM-DD, e.g. {(today + timedelta(days=7)).isoformat()}."
        ) from None
    if chosen <= today:
        raise ValueError(f"Pick a date after {today.isoformat()}.")
    return chosen


class SnoozeDialog(ModalScreen[date | None]):
    """Dismisses with the chosen date (Enter or a quick pick), or None (Escape)."""

    DEFAULT_CSS = """
    SnoozeDialog { align: center middle; }
    SnoozeDialog > Vertical {
        width: 60; max-width: 95%; height: auto; padding: 1 2; border: thick $accent; background: $surface;
    }
    SnoozeDialog #snooze-title { text-style: bold; margin-bottom: 1; }
    SnoozeDialog #snooze-error { color: $error; height: auto; }
    SnoozeDialog Horizontal { height: auto; margin-top: 1; }
    SnoozeDialog Button { min-width: 10; margin-right: 1; }
    SnoozeDialog #snooze-hint { color: $text-muted; margin-top: 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, today: date) -> None:
        super().__init__()
        self.title_text = title
        self.today = today
        self.picks = {
            "snooze-day": today + timedelta(days=1),
            "snooze-week": today + timedelta(days=7),
            "snooze-month": add_month(today),
        }

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="snooze-title", markup=False)
            yield Input(
                value=self.picks["snooze-week"].isoformat(), placeholder="YYYY-MM-DD", id="snooze-input"
            )
            yield Static("", id="snooze-error", markup=False)
            with Horizontal():
                yield Button("+1 day", id="snooze-day")
                yield Button("+1 week", id="snooze-week", variant="primary")
                yield Button("+1 month", id="snooze-month")
            yield Static(
                "Enter to snooze until the date typed · Tab to the quick picks · Escape to cancel",
                id="snooze-hint",
                markup=False,
            )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self.picks[str(event.button.id)])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            chosen = parse_snooze_date(event.value, self.today)
        except ValueError as error:
            self.query_one("#snooze-error", Static).update(str(error))
            return
        self.dismiss(chosen)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#snooze-error", Static).update("")

    def action_cancel(self) -> None:
        self.dismiss(None)
