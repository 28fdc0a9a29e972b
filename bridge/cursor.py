"""Cursors: Redis stream ids (`<ms>-<seq>`), unique and increasing within an endpoint."""

from __future__ import annotations

import re

from bridge.errors import InvalidInput

# ASCII digits only (`\d` would take any Unicode digit), and at most 19 of them: Redis ids are
# two unsigned 64-bit numbers, and 19 digits always fit, where 20 may overflow.
PATTERN = "([0-9]{1,19})(?:-([0-9]{1,19}))?"
_CURSOR = re.compile(PATTERN + r"\Z")
SCHEMA = {"type": "string", "pattern": f"^{PATTERN}$"}  # what parse() takes, for OpenAPI

Cursor = tuple[int, int]
ZERO: Cursor = (0, 0)


def parse(raw: str, field: str = "since") -> Cursor:
    """`"1732590000000-3"` to `(1732590000000, 3)`; a bare number means `<ms>-0`."""
    match = _CURSOR.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise InvalidInput(field, "expected a cursor like 1732590000000-0")
    return int(match.group(1)), int(match.group(2) or 0)


def text(cursor: Cursor) -> str:
    return f"{cursor[0]}-{cursor[1]}"
