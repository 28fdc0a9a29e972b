"""bridge/providers/forms.py decodes a URL-encoded form exactly as urllib.parse does, slice
by slice: hypothesis compares the two on escapes, UTF-8 sequences cut anywhere and `+`."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote
from urllib.parse import unquote_plus as stdlib_unquote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.providers import forms
from bridge.providers.headers import MAX_FORM_FIELDS

# Escapes of every kind of UTF-8 byte (ASCII, continuation, 2-, 3- and 4-byte leads, never
# valid), broken escapes, the characters a form gives meaning to, and those the fast decode
# works with: backslashes (the escape codec's), U+00FF and U+00DA (bytes of its marks).
PIECES = st.one_of(
    st.sampled_from(["%41", "%C3", "%A9", "%E2", "%82", "%AC", "%F0", "%9F", "%98", "%80"]),
    st.sampled_from(["%BF", "%FF", "%C0", "%ED", "%a9", "%", "%4", "%zz", "+", "=", "&", "é"]),
    st.sampled_from(["%%", "\\", "\\x41", "\\xff", "\ufffd", "\xda", "\xff", "\x00", "😀", "%4é"]),
    st.integers(0, 255).map(lambda b: f"%{b:02X}"),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x24F), max_size=2),
)
TEXT = st.lists(PIECES, max_size=60).map("".join)


@settings(max_examples=400, deadline=None)
@given(TEXT, st.integers(1, 12))
def test_slices_decode_as_one_value_does(text: str, size: int) -> None:
    """Decoded in slices of any size, a value reads as unquote_plus reads it whole."""
    assert forms.unquote_plus(text, size=size) == stdlib_unquote_plus(text)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_fields_are_the_ones_parse_qsl_finds(text: str) -> None:
    """Every field and value is the one parse_qsl gives with blank values kept."""
    assert forms.pairs(text) == parse_qsl(text, keep_blank_values=True)


def test_only_the_named_values_are_decoded() -> None:
    """With `decode`, other fields keep their names and an empty value."""
    text = "token=a%20b&body=" + "%41" * 10 + "&signature=c+d"
    assert forms.pairs(text, decode={"token", "signature"}) == [
        ("token", "a b"),
        ("body", ""),
        ("signature", "c d"),
    ]


def test_too_many_fields_are_refused_before_any_is_decoded() -> None:
    """More than MAX_FORM_FIELDS fields is a ValueError, as parse_qsl's max_num_fields."""
    with pytest.raises(ValueError, match="form fields"):
        forms.pairs("a=1&" * MAX_FORM_FIELDS)


def test_a_long_value_of_escapes_decodes_whole() -> None:
    """A value of 300,000 escapes, cut into default slices, is the same text."""
    text = "%E2%82%AC" * 100_000 + "%C3" + "x%A9%41" * 1_000
    assert forms.unquote_plus(text) == stdlib_unquote_plus(text)


@pytest.mark.parametrize(
    "text",
    [
        "%",
        "a%",
        "%4",
        "a%4",
        "%zz",
        "%41",
        "%4%41",
        "%%41",
        "%%%",
        "+%+",
        "%2B+%20",
        "%E2%82%AC%E2%82",
        "%C3é%A9",
        "\\x41%41\\",
        "\\xff%ff",
        "%F0%9F%98%80😀%F0",
        "%" * 100_000 + "%41",
        "%4x" * 30_000 + "%C3%A9",
    ],
)
def test_a_value_decodes_as_unquote_plus_decodes_it(text: str) -> None:
    """Escapes, lone or cut-short %, +, backslashes and characters that are not ASCII."""
    assert forms.unquote_plus(text) == stdlib_unquote_plus(text)
    assert forms.unquote_text(text) == unquote(text)


def test_a_body_that_is_not_utf8_decodes_as_parse_qsl_reads_its_text() -> None:
    """Bytes that are not UTF-8 (replacement characters in the text) beside escapes and %."""
    text = b"a=\xff%41\xc3%&b=%C3\xa9\xe2%82%&\xc3=%".decode("utf-8", "replace")
    assert forms.pairs(text) == parse_qsl(text, keep_blank_values=True)


def test_a_value_of_lone_percent_signs_stays_as_it_is() -> None:
    """A million % that start no escape decode to themselves, with the escapes among them."""
    text = "%" * 1_000_000
    assert forms.unquote_plus(text) == text
    assert forms.unquote_plus(text + "%41%" + text) == text + "A%" + text


def test_a_lone_surrogate_is_kept_as_unquote_keeps_it() -> None:
    """Text no body decodes to (a lone surrogate) still reads as unquote reads it."""
    assert forms.unquote_text("\ud800%41%") == unquote("\ud800%41%") == "\ud800A%"


NAMES = {"timestamp", "token", "signature"}
MULTIPART = "multipart/form-data; boundary=B"


def part(name: str, value: bytes, disposition: str = "") -> bytes:
    head = f'--B\r\nContent-Disposition: form-data; name="{name}"{disposition}\r\n\r\n'
    return head.encode() + value + b"\r\n"


def test_multipart_gives_the_first_of_each_named_field() -> None:
    """Named fields (files too) come as UTF-8 text, the first of a name, others left out."""
    body = (
        part("timestamp", b"1")
        + part("body-plain", b"x" * 200_000)
        + part("token", "é".encode(), '; filename="t.txt"')
        + part("timestamp", b"2")
        + part("signature", b"\xff")
        + b"--B--\r\n"
    )
    assert forms.multipart(body, MULTIPART, NAMES) == {
        "timestamp": "1",
        "token": "é",
        "signature": "\ufffd",
    }


def test_a_multipart_body_cut_short_keeps_the_fields_before_the_cut() -> None:
    """Parts completed before a truncation or a part without Content-Disposition are kept."""
    whole = part("timestamp", b"1") + part("token", b"t")
    cut = whole + b"--B\r\nContent-Disposi"
    assert forms.multipart(cut, MULTIPART, NAMES) == {"timestamp": "1", "token": "t"}
    broken = part("timestamp", b"1") + b"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    assert forms.multipart(broken + part("token", b"t"), MULTIPART, NAMES) == {"timestamp": "1"}


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", 'multipart/form-data; boundary=""', "text/plain"]
)
def test_multipart_without_a_boundary_has_no_fields(content_type: str) -> None:
    """A content type naming no boundary gives no fields rather than an error."""
    assert forms.multipart(part("token", b"t") + b"--B--\r\n", content_type, NAMES) == {}


def test_multipart_with_more_parts_than_a_form_has_stops_there() -> None:
    """Past MAX_FORM_FIELDS parts the decoder stops, keeping what came before."""
    body = part("token", b"t") + part("x", b"") * MAX_FORM_FIELDS + part("signature", b"s")
    assert forms.multipart(body + b"--B--\r\n", MULTIPART, NAMES) == {"token": "t"}
