"""Form bodies from strangers, in bounded memory: URL-encoded ones decoded as
`urllib.parse.parse_qsl` decodes them (blank values kept, `+` as a space, escapes as UTF-8
with replacement), multipart ones read with werkzeug's streaming decoder, named fields only.

Twilio signs every field and Mailgun puts its signature in fields, so both decode a form
before anything is verified. `urllib.parse.unquote` splits a value at every `%`: a 20 MB
value of escapes became some 10 million small strings at once, ~1.2 GB of one worker for one
request. Here a long value is decoded in slices, cut only where no escape sequence spans the
cut, so the result is the same, character for character. Nor is it decoded a `%` at a time:
`unquote` cost ~0.2 us for each `%` not starting an escape (0.2 s a MB of them, before any
signature is checked); a slice is decoded by a few passes of C over its bytes (translate,
replace, one XOR, the escape codec), whatever the body holds. The email package's parser
held a 20 MB multipart body several times over (340 MB); werkzeug's decoder is fed it in
pieces.
"""

from __future__ import annotations

import codecs
from collections.abc import Collection
from urllib.parse import unquote

from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

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


def multipart(body: bytes, content_type: str, names: Collection[str]) -> dict[str, str]:
    """The fields named in `names` of a multipart/form-data body (the first of each name,
    as UTF-8 with replacement), as far as the body parses: a part without Content-Disposition
    or a body cut short ends it. A Content-Transfer-Encoding is not undone (RFC 7578 4.7:
    senders must not use one)."""
    boundary = parse_options_header(content_type)[1].get("boundary", "")
    if not boundary:
        return {}
    decoder = MultipartDecoder(boundary.encode("utf-8", "replace"), max_parts=MAX_FORM_FIELDS)
    fields: dict[str, str] = {}
    reading: list[bytes] | None = None  # the pieces of a wanted part, while in one
    name = ""
    pieces = [body[at : at + SLICE] for at in range(0, len(body), SLICE)]
    try:
        for piece in [*pieces, None]:
            decoder.receive_data(piece)
            while not isinstance(event := decoder.next_event(), NeedData | Epilogue):
                if isinstance(event, Field | File):
                    name = event.name
                    reading = [] if name in names and name not in fields else None
                elif isinstance(event, Data) and reading is not None:
                    reading.append(event.data)
                    if not event.more_data:
                        fields[name] = b"".join(reading).decode("utf-8", "replace")
                        reading = None
            if isinstance(event, Epilogue):
                break
    except (ValueError, HTTPException):  # broken parts, or more than MAX_FORM_FIELDS of them
        pass
    return fields


def unquote_plus(text: str, *, size: int = SLICE) -> str:
    """`urllib.parse.unquote_plus(text)`, a slice of about `size` characters at a time."""
    if len(text) <= size:
        return unquote_text(text.replace("+", " "))
    decoded: list[str] = []
    start = 0
    while start < len(text):
        end = _cut(text, start + size)
        decoded.append(unquote_text(text[start:end].replace("+", " ")))
        start = end
    return "".join(decoded)


def unquote_text(text: str) -> str:
    """`urllib.parse.unquote(text)`: each `%XX` escape a byte, runs of them (and the ASCII
    between them) read as UTF-8 with replacement, every other character kept as it is."""
    if "%" not in text:
        return text
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, kept as it is by unquote; not from a body
        return unquote(text)
    shape = raw.translate(_SHAPE)  # byte for byte: `%`, `h` for a hex digit, `o` otherwise
    if b"%hh" not in shape:
        return text  # no escape: every % stays
    # The % of each escape made 0xFF (a byte no UTF-8 holds), the others left as they are,
    # all at once: XOR with a mask holding 0xDA (0x25 ^ 0xFF) where an escape starts.
    mask = shape.replace(b"%hh", b"\xdahh").translate(_MASK)
    marked = int.from_bytes(raw, "big") ^ int.from_bytes(mask, "big")
    escaped = marked.to_bytes(len(raw), "big").replace(b"\\", b"\\\\").replace(b"\xff", b"\\x")
    # What comes out of the escapes and the text around them is read as UTF-8 in one: a
    # character that is not ASCII (kept as it is by unquote) is a whole UTF-8 sequence, which
    # ends an unfinished one before it as an ASCII character does, so it reads the same.
    # codecs.escape_decode (undocumented, long-standing: pickle.py reads protocol 0 with it)
    # undoes Python's bytes escapes; with every backslash doubled, only `\\` and `\xHH` are
    # left, and every other byte is copied.
    return codecs.escape_decode(escaped)[0].decode("utf-8", "replace")


_HEX = b"0123456789abcdefABCDEF"
_SHAPE = bytes(
    ord("h") if byte in _HEX else ord("%") if byte == ord("%") else ord("o") for byte in range(256)
)
_MASK = bytes(0xDA if byte == 0xDA else 0 for byte in range(256))


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
