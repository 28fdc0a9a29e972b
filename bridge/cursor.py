"""Cursors: Redis stream ids (`<ms>-<seq>`), unique and increasing within an endpoint."""

from __future__ import annotations

import re

from bridge.errors import InvalidInput

# ASCII digits only (`\d` takes any script's digits, and int() reads them), checked as a
# whole string (no trailing newline), each part within the 64 bits of a stream id.
CURSOR_PATTERN = "([0-9]{1,20})(?:-([0-9]{1,20}))?"
_CURSOR = re.compile(CURSOR_PATTERN)
_LARGEST = 2**64 - 1

Cursor = tuple[int, int]
ZERO: Cursor = (0, 0)


def parse(raw: str, field: str = "since") -> Cursor:
    """`"1732590000000-3"` to `(1732590000000, 3)`; a bare number means `<ms>-0`."""
    match = _CURSOR.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise InvalidInput(field, "expected a cursor like 1732590000000-0")
    ms, seq = int(match.group(1)), int(match.group(2) or 0)
    if ms > _LARGEST or seq > _LARGEST:
        raise InvalidInput(field, "cursor out of range: each part is at most 2^64-1")
    return ms, seq


def text(cursor: Cursor) -> str:
    return f"{cursor[0]}-{cursor[1]}"
