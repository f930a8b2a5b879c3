"""How numbers, dates and durations read on screen: one place, so every screen agrees.

Money goes through :func:`format_money`, a thin wrapper over ``core.money`` (whole
units on screen), so the screens and the exports never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime

from rich.cells import cell_len, set_cell_size

from core.money import CURRENCY_SYMBOLS, MISSING
from core.money import format_money as _core_format_money


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def format_money(value: float | int | None, currency: str = "USD", decimals: int = 0) -> str:
    """``$12,345`` or ``CHF 12,345``: whole units on screen unless asked; a missing value is a dash."""
    return _core_format_money(value, currency, decimals)


def format_money_column(values: Iterable[float | None], currency: str = "USD") -> list[str]:
    """Many whole-unit amounts at once (a book's ARR column), as :func:`format_money` writes them, fast."""
    symbol = CURRENCY_SYMBOLS.get((currency or "USD").strip().upper())
    if symbol is None:
        return [format_money(v, currency) for v in values]
    out = []
    for v in values:
        if v is None or v != v or v < 0:
            out.append(format_money(v, currency))
        else:
            out.append(f"{symbol}{math.floor(v + 0.5):,}")
    return out


def format_signed_money(value: float | None, currency: str = "USD") -> str:
    """A change in money with its sign always shown: ``+$1,200`` / ``-$300``."""
    if _is_missing(value):
        return MISSING
    text = format_money(value, currency)
    return text if float(value) < 0 else f"+{text}"  # type: ignore[arg-type]


def format_pct(value: float | None, decimals: int = 0, fraction: bool = True) -> str:
    """A share as a percentage; ``fraction`` says whether 0.42 or 42 means 42 %."""
    if _is_missing(value):
        return MISSING
    number = float(value) * (100 if fraction else 1)  # type: ignore[arg-type]
    return f"{number:.{decimals}f}%"


def format_score(value: float | None) -> str:
    """A 0-100 score as a whole number out of 100."""
    if _is_missing(value):
        return MISSING
    return f"{float(value):.0f}"  # type: ignore[arg-type]


def format_days(days: int | None) -> str:
    """Days until a date, as a person says it: ``today``, ``in 1 day``, ``3 days ago``."""
    if _is_missing(days):
        return MISSING
    days = int(days)  # type: ignore[arg-type]
    if days == 0:
        return "today"
    unit = "day" if abs(days) == 1 else "days"
    return f"in {days:,} {unit}" if days > 0 else f"{-days:,} {unit} ago"


def format_ago(then: datetime | str | None, now: datetime) -> str:
    """How long ago a moment was: ``just now``, ``7 min ago``, ``3 h ago``, ``2 days ago``."""
    if then is None or then == "":
        return "never"
    if isinstance(then, str):
        then = datetime.fromisoformat(then)
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    seconds = max(0.0, (now - then).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days != 1 else ''} ago"


def format_date(value: date | datetime | str | None) -> str:
    """An ISO date, or a dash when there is none."""
    if value is None or value == "" or _is_missing(value):
        return MISSING
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def fit(text: str, width: int) -> str:
    """``text`` cropped or padded to exactly ``width`` terminal cells (CJK counts two)."""
    if cell_len(text) > width and width > 1:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)
