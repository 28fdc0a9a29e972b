"""URL-encoded form bodies from strangers, decoded as `urllib.parse.parse_qsl` decodes them
(blank values kept, `+` as a space, escapes as UTF-8 with replacement) in bounded memory.

Twilio signs every field and Mailgun puts its signature in fields, so both decode a form
before anything is verified. `urllib.parse.unquote` splits a value at every `%`: a 20 MB
value of escapes became some 10 million small strings at once, ~1.2 GB of one worker for one
request. Here a long value is decoded in slices, cut only where no escape sequence spans the
cut, so the result is the same, character for character.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import unquote

from bridge.providers.headers import MAX_FORM_FIELDS

SLICE = 64 * 1024  # characters decoded at once


def pairs(text: str, *, decode: Collection[str] | None = None) -> list[tuple[str, str]]:
    """`parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)`, with only
    the values of fields named in `decode` decoded (all where it is None; the others are "").
    ValueError for more than MAX_FORM_FIELDS fields, counted before any is decoded."""
    if 1 + text.count("&") > MAX_FORM_FIELDS:
        raise ValueError(f"more than {MAX_FORM_FIELDS} form fields")
    found: list[tuple[str, str]] = []
    for piece in text.split("&") if text else ():
        if not piece:
            continue
        raw_name, _, raw_value = piece.partition("=")
        name = unquote_plus(raw_name)
        wanted = decode is None or name in decode
        found.append((name, unquote_plus(raw_value) if wanted else ""))
    return found


def unquote_plus(text: str, *, size: int = SLICE) -> str:
    """`urllib.parse.unquote_plus(text)`, a slice of about `size` characters at a time."""
    if len(text) <= size:
        return unquote(text.replace("+", " "))
    decoded: list[str] = []
    start = 0
    while start < len(text):
        end = _cut(text, start + size)
        decoded.append(unquote(text[start:end].replace("+", " ")))
        start = end
    return "".join(decoded)


def _cut(text: str, at: int) -> int:
    """The first index from `at` where the text can be cut without changing its decoding:
    at a character outside any escape, or at an escape that no UTF-8 sequence crosses (one
    that starts a character, or the fourth after three continuation bytes: no sequence is
    longer). Within every 12 characters of escapes there is one."""
    while at < len(text):
        if not _escape_at(text, at - 1) and not _escape_at(text, at - 2):
            if not _escape_at(text, at):
                return at  # a plain character: any run of escapes ended before it
            byte = int(text[at + 1 : at + 3], 16)
            if byte & 0xC0 != 0x80 or all(_continuation(text, at - 3 * k) for k in (1, 2, 3)):
                return at
        at += 1
    return len(text)


def _escape_at(text: str, index: int) -> bool:
    """Whether a valid `%XX` escape starts at `index`."""
    return (
        index >= 0
        and text.startswith("%", index)
        and len(text) >= index + 3
        and all(c in "0123456789abcdefABCDEF" for c in text[index + 1 : index + 3])
    )


def _continuation(text: str, index: int) -> bool:
    """Whether a `%XX` escape of a UTF-8 continuation byte (0x80-0xBF) starts at `index`."""
    return _escape_at(text, index) and int(text[index + 1 : index + 3], 16) & 0xC0 == 0x80
