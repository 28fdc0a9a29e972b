"""Numbers from outside (query parameters, settings, CLI arguments, URL options), read one
way: ASCII digits, an optional leading `-`, for a decimal one point; nothing else.

int() alone also takes " 5\\n", "+5", "1_0", and Arabic-Indic or fullwidth digits, none of
which anyone means as a number here; on thousands of digits it takes quadratic time, then
refuses past 4,300 with a message about Python. The `-` is read as a sign, so that "-5" is
told it is below the least allowed rather than not a number.
"""

from __future__ import annotations

import re

WHOLE = re.compile(r"-?[0-9]+")
# float() also takes "1e400", "inf", "nan" and " 1_0.5 "; a setting or an argument is written
# as a plain decimal, and a longer one than this is no measure of seconds or bytes.
DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
MAX_DECIMAL = 32
# The most any caller without a limit of its own takes: a signed 64-bit number (Redis's).
MOST = 2**63 - 1
_SHOWN = 24  # characters of a refused value quoted back


def whole(text: str, least: int = 0, most: int = MOST) -> int:
    """`text` as an int from `least` to `most`; ValueError saying what is taken otherwise."""
    if not isinstance(text, str) or WHOLE.fullmatch(text) is None:
        raise ValueError(f"expected a whole number, got {shown(text)}")
    digits = text.removeprefix("-").lstrip("0")
    # Longer than either bound: out of range, known without int() reading every digit.
    if len(digits) > max(len(str(abs(least))), len(str(abs(most)))):
        raise ValueError(f"{_range(least, most, text.startswith('-'))}, got {shown(text)}")
    value = int(text)
    if not least <= value <= most:
        raise ValueError(f"{_range(least, most, value < least)}, got {value}")
    return value


def decimal(text: str) -> float:
    """`text` as a float, if it is a plain decimal (`2.5`, `10`, `.5`); ValueError otherwise.
    The caller checks the range: its units are its own."""
    if not isinstance(text, str) or len(text) > MAX_DECIMAL or not DECIMAL.fullmatch(text):
        raise ValueError(f"expected a number, got {shown(text)}")
    return float(text)


def _range(least: int, most: int, below: bool) -> str:
    if most != MOST:
        return f"must be between {least} and {most}"
    if not below:
        return f"must be at most {most}"
    return "must be 0 or more" if least == 0 else f"must be at least {least}"


def shown(value: object) -> str:
    """A refused value as the message quotes it: its repr, cut short."""
    text = repr(value)
    return (
        text if len(text) <= _SHOWN else f"{text[: _SHOWN - 4]}...' ({len(str(value))} characters)"
    )
