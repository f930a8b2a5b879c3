"""Exact money: integer cents in, the amount a person wrote out, formatted with currency and separators."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.money import (
    apply_discount,
    cents_to_decimal,
    cents_to_float,
    format_cents,
    format_many_cents,
    format_money,
    mul_div,
    round_div,
    to_minor,
)


def decimal_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        (1.005, 101),  # the float is 1.00499999..., but a person wrote half a cent
        (2.675, 268),
        (-1.005, -101),
        (0.1 + 0.2, 30),
        (12.3449, 1234),
        (12.345, 1235),
        (0.0, 0),
        (1e12, 100_000_000_000_000),
    ],
)
def test_to_minor_reads_floats_as_written_and_rounds_half_away_from_zero(value: float, cents: int) -> None:
    assert to_minor(np.array([value]), 2).tolist() == [cents]


def test_to_minor_takes_decimals_strings_and_ints_and_finer_units() -> None:
    assert to_minor([Decimal("1.005"), Decimal("-0.015")], 2).tolist() == [101, -2]
    assert to_minor(np.array(["1,234.50", "7"], dtype=object), 2).tolist() == [123450, 700]
    assert to_minor(np.array([3, 4]), 2).tolist() == [300, 400]
    assert to_minor(np.array([0.0015, 0.00125]), 4).tolist() == [15, 13]


def test_to_minor_refuses_missing_and_unreadable_amounts() -> None:
    with pytest.raises(ValueError, match="finite"):
        to_minor(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="not an amount"):
        to_minor(np.array(["twelve"], dtype=object))


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False, allow_infinity=False))
def test_to_minor_of_a_float_matches_decimal_rounding_of_what_it_prints(value: Decimal) -> None:
    as_float = float(value)
    expected = decimal_half_up(Decimal(repr(as_float)) * 100)
    assert to_minor(np.array([as_float]), 2).tolist() == [expected]


@given(st.integers(-(10**15), 10**15), st.integers(1, 10**6))
def test_round_div_is_decimal_half_up_division(numerator: int, denominator: int) -> None:
    expected = decimal_half_up(Decimal(numerator) / Decimal(denominator))
    assert round_div(np.array([numerator]), np.array([denominator])).tolist() == [expected]


def test_mul_div_is_exact_past_int64_intermediates() -> None:
    a, b, c = 2**40 + 7, 2**35 + 3, 2**30 + 1
    expected = decimal_half_up(Decimal(a) * Decimal(b) / Decimal(c))
    assert mul_div([a], [b], [c]).tolist() == [expected]
    with pytest.raises(ValueError, match="too large"):
        mul_div([2**62], [2**62], [1])


def test_apply_discount_rounds_each_amount_to_the_cent() -> None:
    # 12.5% off 9.99 = 8.74125 -> 8.74; off 0.01 = 0.00875 -> 0.01; off 10.00 = 8.75 exactly
    assert apply_discount([999, 1, 1000, -999], 12.5).tolist() == [874, 1, 875, -874]
    assert apply_discount([12345], 0).tolist() == [12345]
    assert apply_discount([12345], 100).tolist() == [0]
    with pytest.raises(ValueError, match="between 0 and 100"):
        apply_discount([100], 120)


def test_cents_leave_as_exact_two_decimal_values() -> None:
    floats = cents_to_float([30, 123456789, -5])
    assert [repr(float(f)) for f in floats] == ["0.3", "1234567.89", "-0.05"]
    assert cents_to_decimal(123456789) == Decimal("1234567.89")


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ((12345,), "$12,345.00"),
        ((12345.5, "usd"), "$12,345.50"),
        ((1.005, "EUR"), "€1.01"),
        ((Decimal("-1234567.891"), "GBP"), "-£1,234,567.89"),
        ((1234.5, "CNY"), "¥1,234.50"),
        ((1200.5, "JPY"), "¥1,201"),
        ((12345, "CHF"), "CHF 12,345.00"),
        ((-0.5, "XYZ"), "-XYZ 0.50"),
        ((1234.567, "USD", 0), "$1,235"),
        ((None,), "—"),
        ((float("nan"), "EUR"), "—"),
    ],
)
def test_format_money_shows_currency_and_thousands_separators(args: tuple, text: str) -> None:
    assert format_money(*args) == text


@example(cents=-1, currency="JPY")  # rounds to zero: no minus sign on ¥0
@given(st.integers(-(10**13), 10**13), st.sampled_from(["USD", "EUR", "JPY", "CHF", "INR"]))
def test_format_many_cents_agrees_with_format_money(cents: int, currency: str) -> None:
    assert format_many_cents(np.array([cents]), currency) == [format_cents(cents, currency)]
