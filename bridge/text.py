"""Text from outside, made safe to write out: its control characters escaped (for a log
line, a terminal), and whether a string is Unicode at all (and made so).

C0, DEL and C1: a newline in a logged path forges a line of its own; ESC (and CSI, 0x9b)
begins the sequences that clear a terminal or set its title. A JSON string can escape a
lone surrogate ("\\ud800"), which no UTF-8 holds: Redis, a terminal and every JSON writer
with `ensure_ascii=False` refuse it.
"""

from __future__ import annotations

import re

CONTROL_CLASS = r"\x00-\x1f\x7f-\x9f"  # as a regex character class, without its brackets
CONTROL = re.compile(f"[{CONTROL_CLASS}]")


def escaped(text: str) -> str:
    """`text` with every control character written as its escape (`\\x1b`)."""
    if CONTROL.search(text) is None:
        return text
    return CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


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
