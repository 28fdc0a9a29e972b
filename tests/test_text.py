"""Text from outside made safe to write to a log line or a terminal."""

from __future__ import annotations

import pytest

from bridge.text import escaped

# The bidirectional controls (embeddings, overrides, isolates, marks) and the separators.
REORDERING = [
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
    "\u200e",
    "\u200f",
    "\u061c",
    "\u2028",
    "\u2029",
]


@pytest.mark.parametrize("char", REORDERING, ids=lambda c: f"U+{ord(c):04X}")
def test_what_reorders_or_splits_a_line_is_escaped(char: str) -> None:
    """Each bidirectional control and line or paragraph separator is written as `\\uXXXX`."""
    assert escaped(f"invoice{char}fdp.exe") == f"invoice\\u{ord(char):04x}fdp.exe"


def test_control_characters_keep_their_short_escape() -> None:
    """C0, DEL and C1 controls are written `\\xNN`, as before."""
    assert escaped("a\x1b[2Jb\n\x7f\x85") == "a\\x1b[2Jb\\x0a\\x7f\\x85"


@pytest.mark.parametrize("text", ["plain", "café", "שלום עולם", "مرحبا", "日本語", "😀"])
def test_other_text_is_left_as_it_is(text: str) -> None:
    """Letters of any script, right-to-left ones included, and emoji pass unchanged."""
    assert escaped(text) == text
