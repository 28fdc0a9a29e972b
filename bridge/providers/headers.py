"""Parsing attacker-controlled signature header values: none of these raises.

Whatever bytes a stranger puts in a header, a provider gets a value it can compare (b""
matches no digest) or None, and answers `VerificationError`, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

# An HTTP field name (RFC 9110 5.1, a token) as the bridge takes one: anything else can never
# arrive as a header, and a name far past any provider's fills gunicorn's 8,190-byte line.
MAX_HEADER_NAME = 256
HEADER_NAME = f"[!#$%&'*+.^_`|~0-9A-Za-z-]{{1,{MAX_HEADER_NAME}}}"


def to_bytes(text: str) -> bytes:
    """Header text as the bytes a sender signed (UTF-8); lone surrogates pass rather than raise."""
    return text.encode("utf-8", "surrogatepass")


def encode_signature(digest: bytes, encoding: str) -> str:
    """`digest` as lower-case hex or standard padded base64."""
    if encoding == "base64":
        return base64.b64encode(digest).decode("ascii")
    return digest.hex()


# HTTP's optional whitespace (RFC 9110 5.6.3): the only whitespace a signature header may
# carry around its parts. str.strip() and bytes.fromhex() would also skip NEL, NBSP, the
# C0 separators or a newline inside a digest, which no sender writes and no spec allows.
OWS = " \t"
# Form fields a provider that signs (or carries its signature in) a form body may send: Twilio
# and Mailgun send a few dozen. Parsing is done before the signature is known good, so a
# stranger's 25 MB of `a=1&` (over a million fields) would cost a worker seconds of CPU.
MAX_FORM_FIELDS = 1000
# Unix seconds as providers write them: ASCII digits, at most 19 (an int64).
UNIX_SECONDS = re.compile(r"[0-9]{1,19}")
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def decode_signature(text: str, encoding: str) -> bytes:
    """A candidate signature's bytes; b"" (which matches no digest) when it does not decode.

    Surrounding OWS (space, tab) is ignored; hex is case-insensitive, digits only; base64
    is the standard alphabet, padding optional.
    """
    text = text.strip(OWS)
    try:
        if encoding == "base64":
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        if not HEX_DIGITS.issuperset(text):
            return b""
        return bytes.fromhex(text)
    except (ValueError, binascii.Error):  # also non-ASCII text
        return b""


def decode_key(text: str, encoding: str) -> bytes:
    """A key pasted by a user (hex or base64) as bytes, b"" when it does not decode; unlike a
    received signature, any surrounding whitespace (a copied newline) is ignored."""
    return decode_signature(text.strip(), encoding)


def parse_pairs(header: str, sep: str = ",") -> list[tuple[str, str]]:
    """`k=v<sep>k=v` as (key, value) pairs in order, keys repeated as sent; junk gives ("", x)."""
    pairs = []
    for item in header.split(sep):
        key, eq, value = item.partition("=")
        pairs.append((key.strip(OWS), value.strip(OWS)) if eq else ("", item.strip(OWS)))
    return pairs


def json_value(data: Any, *path: str) -> Any:
    """The value at `path` inside parsed JSON objects, or None where any step is missing."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def json_str(data: Any, *path: str) -> str | None:
    """The string at `path` inside parsed JSON objects, or None where any step is missing."""
    value = json_value(data, *path)
    return value if isinstance(value, str) else None
