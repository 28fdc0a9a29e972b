"""Whole numbers from outside: ASCII digits only, in range, at a cost bounded by the range."""

from __future__ import annotations

import time

import pytest

from bridge.numbers import MOST, decimal, whole
from tests.support import NOT_WHOLE


@pytest.mark.parametrize("text", ["0", "7", "007", "1000", "0" * 500 + "5"])
def test_ascii_digits_in_range_are_read(text: str) -> None:
    """ASCII digits within the range are their number, leading zeros and all."""
    assert whole(text, 0, 1000) == int(text)


@pytest.mark.parametrize("text", [*NOT_WHOLE, "", "-", "1.5", "0x10", "1e3", "ten", "5 5", "--5"])
def test_anything_else_is_refused_saying_what_is_taken(text: str) -> None:
    """Non-ASCII digits, separators, whitespace, signs but `-` and huge numbers are refused."""
    with pytest.raises(ValueError, match=r"^(expected a whole number|must be between 0 and 10)"):
        whole(text, 0, 10)


def test_a_minus_is_read_as_a_sign_and_told_the_least() -> None:
    """-5 is below the least allowed, not "not a number"."""
    with pytest.raises(ValueError, match=r"^must be 0 or more, got -5$"):
        whole("-5")
    with pytest.raises(ValueError, match=r"^must be at least 1, got 0$"):
        whole("0", 1)


def test_a_huge_number_is_refused_at_once_and_quoted_short() -> None:
    """A million digits is refused without int() reading them, the message quoting a few."""
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"\(1000000 characters\)$") as caught:
        whole("9" * 1_000_000)
    assert time.monotonic() - started < 0.5
    assert len(str(caught.value)) < 100


def test_the_default_most_is_a_signed_64_bit_number() -> None:
    """Without a range of its own, a caller takes what Redis's signed 64-bit numbers hold."""
    assert whole(str(MOST)) == 2**63 - 1
    with pytest.raises(ValueError, match=f"^must be at most {MOST}, got {MOST + 1}$"):
        whole(str(MOST + 1))


@pytest.mark.parametrize(("text", "value"), [("2.5", 2.5), ("10", 10.0), (".5", 0.5), ("5.", 5.0)])
def test_a_plain_decimal_is_read(text: str, value: float) -> None:
    """Digits with at most one point are their number."""
    assert decimal(text) == value


@pytest.mark.parametrize(
    "text", [*NOT_WHOLE, "1_0.5", "1e3", "inf", "nan", "", ".", "1.2.3", "0x1p3", "\u0661.5"]
)
def test_what_float_would_take_besides_a_decimal_is_refused(text: str) -> None:
    """float() takes exponents, inf, nan, separators, whitespace and other scripts' digits;
    a setting or argument is a plain decimal."""
    with pytest.raises(ValueError, match=r"^expected a number, got "):
        decimal(text)
