"""Exact money: integer minor units for arithmetic, one formatter for every screen and export.

Prices arrive as floats (SQLite REAL, CSV decimals). Summing and discounting them as floats
drifts by fractions of a cent, which an invoice or a quote cannot show. Every amount is
therefore read once into integers (cents, or finer "ticks" for per-unit prices), computed with
integer arithmetic that rounds half away from zero, and only turned back into a float or a
:class:`~decimal.Decimal` at the very end.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import numpy as np

CENTS = 100
MISSING = "—"
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "¥", "JPY": "¥", "INR": "₹", "KRW": "₩"}
MINOR_DIGITS = {"JPY": 0, "KRW": 0}
_EXTRA_DIGITS = 4
_SAFE_FLOAT = 2.0**52
_SAFE_INT = 2**62


def _decimal(value: Any) -> Decimal:
    """A Decimal read from ``value`` the way a person reads it: floats by their shortest repr."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float | np.floating):
        return Decimal(repr(float(value)))
    if isinstance(value, str):
        value = value.replace(",", "").strip()
    try:
        return Decimal(str(value) if isinstance(value, str) else int(value))
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"not an amount of money: {value!r}") from None


def decimal_to_minor(value: Any, decimals: int = 2) -> int:
    """One amount as an integer count of ``10**-decimals`` units, rounded half away from zero."""
    amount = _decimal(value)
    if not amount.is_finite():
        raise ValueError(f"not an amount of money: {value!r}")
    return int(amount.scaleb(decimals).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_minor(values: Any, decimals: int = 2) -> np.ndarray:
    """Amounts as int64 counts of ``10**-decimals`` units (cents for 2), rounded half away from zero.

    Why: floats like 1.005 are really 1.00499999...; a person who typed "1.005" means half a
    cent, so floats are read by their shortest decimal representation. Vectorised for floats
    (exact while ``|value| * 10**(decimals + 4) < 2**52``, with a per-element Decimal fallback
    beyond); Decimals and strings go element by element.

    Raises:
        ValueError: on a missing, infinite or unreadable amount.
    """
    array = np.asarray(values)
    if array.dtype.kind in "iub":
        return array.astype("int64") * 10**decimals
    if array.dtype.kind != "f":
        flat = [decimal_to_minor(v, decimals) for v in array.ravel()]
        return np.asarray(flat, dtype="int64").reshape(array.shape)
    if not np.isfinite(array).all():
        raise ValueError("amounts of money must be finite numbers, not NaN or infinity")
    scaled = array * 10.0 ** (decimals + _EXTRA_DIGITS)
    big = np.abs(scaled) >= _SAFE_FLOAT
    ticks = np.rint(np.where(big, 0.0, scaled)).astype("int64")
    result = round_div(ticks, np.int64(10**_EXTRA_DIGITS))
    if big.any():
        result[big] = [decimal_to_minor(v, decimals) for v in array[big]]
    return result


def round_div(numerator: Any, denominator: Any) -> np.ndarray:
    """Integer division rounded half away from zero (elementwise; denominators must be positive)."""
    num = np.asarray(numerator)
    den = np.asarray(denominator)
    if (den <= 0).any():
        raise ValueError("round_div needs positive denominators")
    if num.dtype != object and (num >= 0).all():
        return (num * 2 + den) // (den * 2)
    magnitude = (np.abs(num) * 2 + den) // (den * 2)
    return np.where(num < 0, -magnitude, magnitude)


def mul_div(a: Any, b: Any, c: Any) -> np.ndarray:
    """``round(a * b / c)`` for integers, exactly: int64 when the product is safe, Python ints otherwise."""
    a, b, c = np.asarray(a, dtype="int64"), np.asarray(b, dtype="int64"), np.asarray(c, dtype="int64")
    biggest = int(np.abs(a).max(initial=0)) * int(np.abs(b).max(initial=0)) * 2 + int(
        np.abs(c).max(initial=0)
    )
    if biggest < _SAFE_INT:
        return round_div(a * b, c)
    wide = round_div(a.astype(object) * b.astype(object), c.astype(object))
    try:
        return np.asarray(wide, dtype="int64")
    except OverflowError:
        raise ValueError("an amount of money is too large to hold in 64-bit cents") from None


def percent_to_basis_points(pct: Any) -> np.ndarray:
    """Percentages (20.0, 12.5) as exact int64 basis points (2000, 1250)."""
    return to_minor(pct, 2)


def apply_discount(cents: Any, pct: Any) -> np.ndarray:
    """What remains of ``cents`` after ``pct`` percent off, rounded to the cent half away from zero."""
    points = percent_to_basis_points(pct)
    if ((points < 0) | (points > 10_000)).any():
        raise ValueError(f"a discount must lie between 0 and 100 percent, got {pct!r}")
    return mul_div(cents, 10_000 - points, 10_000)


def cents_to_float(cents: Any) -> np.ndarray:
    """Cents as floats in currency units: each the nearest double to the exact 2-decimal value.

    ``repr`` of the result prints exactly two decimals' worth (12.3 for 1230 cents), so a float
    column stored in SQLite or written to CSV carries the exact amount.
    """
    return np.asarray(cents, dtype="int64") / CENTS


def cents_to_decimal(cents: int) -> Decimal:
    """One amount in cents as a Decimal in currency units (1234 -> Decimal('12.34'))."""
    return Decimal(int(cents)).scaleb(-2)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, Decimal):
        return value.is_nan()
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def format_money(value: Any, currency: str = "USD", decimals: int | None = None) -> str:
    """An amount with its currency and thousands separators: ``$12,345.00``, ``€9.50``, ``-¥1,200``.

    Currencies without a known symbol read ``CHF 12,345.00``. ``decimals`` defaults to the
    currency's minor unit (2; 0 for JPY and KRW); rounding is half away from zero on the
    amount as written, never on float noise. A missing amount (None, NaN) reads as a dash.
    """
    if _is_missing(value):
        return MISSING
    code = (currency or "USD").strip().upper()
    digits = MINOR_DIGITS.get(code, 2) if decimals is None else int(decimals)
    amount = _decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    number = f"{abs(amount):,.{digits}f}"
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{code} {number}"


def format_cents(cents: int, currency: str = "USD") -> str:
    """An amount held in integer cents, formatted by :func:`format_money`."""
    return format_money(cents_to_decimal(cents), currency)


def format_many_cents(cents: Any, currency: str = "USD") -> list[str]:
    """Many amounts held in integer cents, formatted as :func:`format_money` would, but fast.

    Why: notes on 100,000 quotes cannot afford a Decimal per amount; integer cents need none.
    """
    code = (currency or "USD").strip().upper()
    symbol = CURRENCY_SYMBOLS.get(code)
    prefix = symbol if symbol else f"{code} "
    values = np.asarray(cents, dtype="int64")
    if MINOR_DIGITS.get(code, 2) == 0:
        units = round_div(values, np.int64(CENTS))  # the sign of what is shown: -1 cent of yen reads ¥0
        signs = np.where(units < 0, "-", "").tolist()
        return [f"{s}{prefix}{w:,}" for s, w in zip(signs, np.abs(units).tolist(), strict=True)]
    signs = np.where(values < 0, "-", "").tolist()
    whole, part = np.divmod(np.abs(values), CENTS)
    return [f"{s}{prefix}{w:,}.{p:02d}" for s, w, p in zip(signs, whole.tolist(), part.tolist(), strict=True)]
