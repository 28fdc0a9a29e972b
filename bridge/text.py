"""Text from outside, made safe to write out: its control characters escaped (for a log
line, a terminal), and whether a string is Unicode at all (and made so).

C0, DEL and C1: a newline in a logged path forges a line of its own; ESC (and CSI, 0x9b)
begins the sequences that clear a terminal or set its title. The bidirectional controls
(U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates, the U+200E, U+200F and
U+061C marks) let a stranger's text reorder the rest of the line as it is shown ("Trojan
Source"), and U+2028 / U+2029 end a line in some terminals and viewers. A JSON string can
escape a lone surrogate ("\\ud800"), which no UTF-8 holds: Redis, a terminal and every JSON writer
with `ensure_ascii=False` refuse it.
"""

from __future__ import annotations

import re

CONTROL_CLASS = r"\x00-\x1f\x7f-\x9f"  # as a regex character class, without its brackets
CONTROL = re.compile(f"[{CONTROL_CLASS}]")
# What `escaped` writes out: the controls, and what reorders or splits a line when shown.
UNSAFE_CLASS = f"{CONTROL_CLASS}\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
UNSAFE = re.compile(f"[{UNSAFE_CLASS}]")
# Whitespace spelled out, as a character class without its brackets: Python's `\s` (and
# str.strip) and ECMAScript's (the OpenAPI document's regex dialect) differ (\x1c-\x1f,
# \x85, \ufeff), and a pattern the document states must refuse in both what the server does.
SPACE_CLASS = (
    r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
    r"\u3000\ufeff"
)
_SPACES = re.compile(f"[{SPACE_CLASS}]*")


def stripped(text: str) -> str:
    """`text` without SPACE_CLASS's whitespace at either end (str.strip leaves a BOM).
    Each end matched from the start of a string, the far end's on the text reversed: a
    search for trailing space (`[...]+\\Z`) retried the whole run from each of its places,
    5 s for `x` + 40,000 spaces + `x`, in an option value before its length was checked."""
    start = _SPACES.match(text).end()  # type: ignore[union-attr]  # `*` always matches
    end = len(text) - _SPACES.match(text[::-1]).end()  # type: ignore[union-attr]
    return text[start : max(start, end)]


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escaped(text: str) -> str:
    """`text` with every control character written as its escape (`\\x1b`), and every
    bidirectional control and line or paragraph separator too (`\\u202e`)."""
    if UNSAFE.search(text) is None:
        return text
    return UNSAFE.sub(_escape, text)


def is_unicode(text: str) -> bool:
    """Whether UTF-8 can encode `text` (it holds no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def replaced_surrogates(text: str) -> str:
    """`text` with each lone surrogate as one U+FFFD (a high one followed by a low one, a
    pair, as the character they make). Through UTF-16, whose decoder replaces one code unit
    per error: UTF-8's replaces each of the three bytes of a surrogate, three U+FFFD."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
