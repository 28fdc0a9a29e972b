"""A delivery's body is parsed once per request (bridge/providers/base.py, WebhookRequest),
and what each reader gets from that parse is what it got from its own; before verification a
stranger's large Mailgun body is parsed only for its signature (jsontext.loads `keep`)."""

from __future__ import annotations

import json
import re

import pytest
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge import envelope, jsontext
from bridge.endpoints import Endpoint
from bridge.errors import VerificationError
from bridge.providers import get
from bridge.providers.base import Identity, Secret, WebhookRequest
from bridge.providers.mailgun import FIELDS, WHOLE_TREE, fields_of
from tests.ingest_support import create, deliver, history
from tests.provider_cases import MAILGUN_KEY, NOW, make_request


def test_every_reader_of_a_request_shares_one_parse() -> None:
    """json() and parsed() return the same tree however often they are asked."""
    request = WebhookRequest(body=b'{"id": "evt_1", "data": {"n": 1}}', headers={})
    first = request.json()
    assert first == {"id": "evt_1", "data": {"n": 1}}
    assert request.json() is first
    assert request.parsed().value is first


@pytest.mark.parametrize(
    ("body", "kind", "value"),
    [
        (b'{"a": [1, 2]}', "json", {"a": [1, 2]}),
        (b"a=1&b=2", "text", "a=1&b=2"),
        (b'{"n": 1e400}', "text", '{"n": 1e400}'),
        (b'{"n": NaN}', "text", '{"n": NaN}'),
        (b'\xef\xbb\xbf{"n": 1}', "text", '\ufeff{"n": 1}'),
        (b"\xff\xfe{\x00}\x00", "bytes", None),
        (b"[" * 200 + b"]" * 200, "text", "[" * 200 + "]" * 200),
    ],
)
def test_a_body_is_json_text_or_bytes_as_the_envelope_carries_it(
    body: bytes, kind: str, value: object
) -> None:
    """Strict UTF-8 JSON with finite numbers is a tree; other UTF-8 is text; the rest bytes."""
    parsed = jsontext.parse_body(body)
    assert (parsed.kind, parsed.value) == (kind, value)


def test_identify_still_reads_a_body_the_envelope_carries_as_text() -> None:
    """A BOM or a 1e400 keeps the body text in the envelope, yet json() still parses it."""
    assert WebhookRequest(body=b'\xef\xbb\xbf{"id": "evt_1"}', headers={}).json() == {"id": "evt_1"}
    assert WebhookRequest(body=b'{"id": "evt_2", "n": 1e400}', headers={}).json() == {
        "id": "evt_2",
        "n": float("inf"),
    }
    assert WebhookRequest(body=b"a=1", headers={}).json() is None


def test_masking_the_envelope_leaves_the_shared_parse_as_received() -> None:
    """An endpoint's mask changes the envelope's body, not the tree identify read."""
    request = WebhookRequest(body=b'{"id": "evt_1", "card": {"number": "4242"}}', headers={})
    seen = request.json()
    endpoint = Endpoint("e", "stripe", (), options={"mask": ["card.number"]})
    arrival = envelope.Arrival(
        event_id="evt_1",
        event_type=None,
        received_at=0.0,
        headers={},
        body=request.body,
        trace="t",
        parsed=request.parsed(),
    )
    built = json.loads(envelope.tail(endpoint, arrival, verified=True, verification={}))
    assert built["body"]["card"]["number"] == "***"
    assert seen == {"id": "evt_1", "card": {"number": "4242"}}
    assert request.json() is seen


def test_a_bom_body_keeps_its_provider_id_and_is_stored_as_text(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A Stripe event behind a UTF-8 BOM is identified by its id and carried as its text."""
    create(client, auth, uid, "stripe")
    body = b'\xef\xbb\xbf{"id": "evt_bom", "type": "invoice.paid"}'
    assert deliver(client, uid, body, provider_name="stripe").status_code == 202
    (event,) = history(client, auth, uid)
    assert (event["event_id"], event["event_type"]) == ("evt_bom", "invoice.paid")
    assert event["body"] == body.decode("utf-8")


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from('ab"\\{}[],: \u00e9\n')),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["signature", "a", "{", '"']), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["signature", "event-data", "x"]), JSON, max_size=4))
def test_member_is_the_value_json_loads_gives_the_outermost_object(
    document: dict[str, object],
) -> None:
    """The named member of an object, found without parsing the rest, is the one loads keeps."""
    for text in (json.dumps(document), json.dumps(document, indent=2, ensure_ascii=False)):
        found = jsontext.member(text.encode(), "signature", max_bytes=10**6)
        assert found == document.get("signature", jsontext.MISSING)


@pytest.mark.parametrize(
    ("body", "found"),
    [
        (b'{"signature": 1, "signature": 2}', 2),
        (b'{"sig\\u006eature": "escaped name"}', "escaped name"),
        (b'{"a": {"signature": 1}, "b": ["]", "}", "\\""]}', jsontext.MISSING),
        (b'{"signature": "' + b"x" * 100 + b'"}', jsontext.MISSING),
        (b" {} ", jsontext.MISSING),
    ],
)
def test_member_finds_the_last_of_its_name_at_the_outermost_level_only(
    body: bytes, found: object
) -> None:
    """Duplicates, escaped names, nested members, brackets in strings and a size bound."""
    assert jsontext.member(body, "signature", max_bytes=64) == found


@pytest.mark.parametrize(
    ("body", "found"),
    [
        (b'{"\\u0073ignature": 1, "x": 2}', 1),
        (b'{"SIG\\u006Eature": 1, "sig\\u006Eature": 2, "x": 0}', 2),
        (b'{"\\u0073\\u0069\\u0067\\u006e\\u0061\\u0074\\u0075\\u0072\\u0065": [3], "x": 0}', [3]),
        (b'{"signature\\u0000": 1, "signaturE": 2, "signatur": 3, "x": 0}', jsontext.MISSING),
        (b'{"a": "\\"signature\\": 1, ", "b": {"c": {"signature": 2}}, "x": 0}', jsontext.MISSING),
        (b'{"a": ["\\\\", "{\\"signature\\": 1}"], "signature" : "s", "b": 1}', "s"),
        (b'{"signature": 1, "signature": "' + b"x" * 100 + b'", "x": 0}', jsontext.MISSING),
        (b'{"signature": "' + b"x" * 100 + b'", "signature": 1, "x": 0}', 1),
        (b'{"a": [[[[[[{"signature": 1}]]]]]], "signature": [[[[[[2]]]]]], "x": 0}', [[[[[[2]]]]]]),
    ],
)
def test_member_is_found_by_its_spelling_at_the_outermost_level_only(
    body: bytes, found: object
) -> None:
    """A name spelt with escapes counts, nothing in a string or nested object does, last wins."""
    assert jsontext.member(body, "signature", max_bytes=64) == found
    assert json.loads(body).get("signature", jsontext.MISSING) in (found, "x" * 100)


def test_member_finds_the_last_of_its_name_among_thousands() -> None:
    """Thousands of members, named alike or not, leave the last of the name the one found."""
    members = [f'"m{n}": {n}' for n in range(5000)]
    members[10] = '"signature": "first"'
    members[2500] = '"sig\\u006eature": {"n": [1, {"a": "]"}]}'
    members[4000] = '"signature": "later"'
    body = ("{" + ", ".join(members) + "}").encode()
    assert jsontext.member(body, "signature", max_bytes=64) == "later"
    assert jsontext.member(
        body[: body.index(b'"m3000"')] + b'"z": 0}', "signature", max_bytes=64
    ) == {"n": [1, {"a": "]"}]}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"a": "\xff", "signature": 1}', "not UTF-8"),
        (b'{"\xc3": 1}', "not UTF-8"),
        (b'{"\\U0073": 1}', "Invalid \\escape"),
        (b'{"a\tb": 1}', "Invalid control character"),
    ],
)
def test_member_of_an_object_json_loads_refuses_for_its_text_is_a_value_error(
    body: bytes, problem: str
) -> None:
    """Bytes that are not UTF-8, a bad escape or a control character in a name: ValueError."""
    with pytest.raises((UnicodeDecodeError, json.JSONDecodeError)):
        jsontext.loads(body)
    with pytest.raises(ValueError, match=re.escape(problem)):
        jsontext.member(body, "signature", max_bytes=64)


def chain(levels: int, inner: str = "0") -> str:
    """`levels` arrays each holding a 0 before the next: `[0, [0, [... inner ...]]]`."""
    return "[0, " * levels + inner + "]" * levels


@pytest.mark.parametrize(
    "value",
    [
        *("[" * n + "0" + "]" * n for n in range(jsontext.NESTED - 1, jsontext.NESTED + 3)),
        "["
        + ", ".join(["[" * (jsontext.NESTED + 1) + "0" + "]" * (jsontext.NESTED + 1)] * 3)
        + "]",
        chain(100),
        chain(60, '{"signature": ' + chain(20) + "}"),
        json.dumps([{"x": [{"y": [{"z": [{"signature": [[["]"]]]}]}]}]}, "[", {"k": "}"}]),
        '{"a": ' + chain(jsontext.NESTED + 2, '"\\"]}"') + ', "signature": 0}',
    ],
)
def test_member_steps_over_values_nested_deeper_than_one_match_reaches(value: str) -> None:
    """Values nested past NESTED levels, chains and brackets in strings: what loads gives."""
    for text in (f'{{"a": {value}, "signature": 1}}', f'{{"signature": 1, "a": {value}}}'):
        found = jsontext.member(text.encode(), "signature", max_bytes=64)
        assert found == json.loads(text)["signature"] == 1
    text = f'{{"signature": [{value}], "b": {value}}}'
    assert (
        jsontext.member(text.encode(), "signature", max_bytes=10**4)
        == json.loads(text)["signature"]
    )


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('{"a": ' + chain(30, "{0]") + "]}", "a container closed with ]"),
        ('{"a": ' + chain(30)[:-5] + "}}]]]}", "a container closed with }"),
        ('{"a": ' + chain(30)[:-1] + ', "signature": 1}', "a container closed with }"),
        ('{"a": ' + chain(30) + "]}", "expected ',' or '}'"),
        ('{"a": ' + chain(30)[:-1], "a container is not closed"),
    ],
)
def test_member_of_a_chain_closed_wrongly_is_the_value_error_of_each_bracket(
    body: str, problem: str
) -> None:
    """Brackets taken many at a time still name the first that does not match its opener."""
    with pytest.raises(ValueError, match=re.escape(problem)):
        jsontext.member(body.encode(), "signature", max_bytes=64)


NAMES = st.sampled_from(["signature", "sig\\u006eature", "\\u0073ignature", "signaturE", "x", ""])
NESTED = st.recursive(
    st.sampled_from(["0", '"s"', '"]\\"["', "true", '"signature"']),
    lambda inner: (
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]")
        | st.lists(st.tuples(NAMES, inner), max_size=3).map(
            lambda pairs: "{" + ",".join(f'"{k}":{v}' for k, v in pairs) + "}"
        )
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(NAMES, NESTED), max_size=12), st.sampled_from(["", " ", "\n  "]))
def test_member_of_members_named_twice_is_the_last_json_loads_keeps(
    pairs: list[tuple[str, str]], space: str
) -> None:
    """With names repeated, spelt with escapes, values nested past NESTED: the one loads keeps."""
    body = (
        "{" + f",{space}".join(f'{space}"{k}"{space}:{space}{v}' for k, v in pairs) + "}"
    ).encode()
    found = jsontext.member(body, "signature", max_bytes=10**6)
    assert found == json.loads(body).get("signature", jsontext.MISSING)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"[1]", "not a JSON object"),
        (b"", "not a JSON object"),
        (b'{"a": [1, 2}', "a container closed with }"),
        (b'{"a": [1, 2', "a container is not closed"),
        (b'{"a": 1', "expected ',' or '}'"),
        (b'{"a": 1} x', "text after the object"),
        (b'{"a": 1, "b": [2] } {}', "text after the object"),
        (b'{"a": 1, "b": 2,}', "expected a member name"),
        (b'{"a" 1}', "expected ':'"),
        (b"{1: 2}", "expected a member name"),
        (b'{"a": }', "expected a value"),
    ],
)
def test_member_of_what_is_no_json_object_is_a_value_error(body: bytes, problem: str) -> None:
    """A body that is not one well-formed JSON object raises ValueError naming what is wrong."""
    with pytest.raises(ValueError, match=re.escape(problem)):
        jsontext.member(body, "signature", max_bytes=64)


@pytest.mark.parametrize("inner", [b"", b"{}", b"[1]", b'{"a": "[{"}'])
@pytest.mark.parametrize("levels", [jsontext.MAX_DEPTH - 2, jsontext.MAX_DEPTH - 1])
def test_member_counts_levels_as_loads_does(levels: int, inner: bytes) -> None:
    """An object nested exactly past MAX_DEPTH is TooDeep for member as for loads."""
    body = b'{"a": ' + b"[" * levels + inner + b"]" * levels + b', "signature": 1}'
    try:
        jsontext.loads(body)
    except jsontext.TooDeep:
        with pytest.raises(jsontext.TooDeep):
            jsontext.member(body, "signature", max_bytes=64)
    else:
        assert jsontext.member(body, "signature", max_bytes=64) == 1


def padded(head: str) -> bytes:
    """`head` (the text of a JSON object's first members) followed by members past WHOLE_TREE."""
    filler = json.dumps([{"n": n, "token": "x"} for n in range(WHOLE_TREE // 20)])
    return f'{{{head}"event-data": {{"event": "opened", "items": {filler}}}}}'.encode()


@pytest.mark.parametrize(
    "head",
    [
        '"signature": {"timestamp": "1700000000", "token": "t1", "signature": "ab"}, ',
        '"signature": {"timestamp": 1700000000, "token": "t1", "signature": "ab", "x": [{}]}, ',
        '"signature": {"signature": {"timestamp": "1"}}, ',
        '"signature": "not an object", ',
        '"signature": {"token": "a"}, "signature": {"token": "b"}, ',
        '"nested": {"signature": {"timestamp": "1", "token": "t", "signature": "ab"}}, ',
        '"text": "a&signature=ab&timestamp=1&token=t&", ',
        "",
    ],
)
def test_a_large_mailgun_body_yields_the_signature_fields_the_whole_tree_holds(head: str) -> None:
    """Searched for its signature only, a large body gives the same fields as parsed whole."""
    request = make_request(padded(head), {"Content-Type": "application/json"})
    assert len(request.body) > WHOLE_TREE
    whole = fields_of(request)
    searched = fields_of(request, verifying=True)
    assert {f: searched.get(f) for f in FIELDS} == {f: whole.get(f) for f in FIELDS}


def test_a_large_signed_mailgun_body_verifies_and_is_identified_from_the_whole_tree() -> None:
    """A large Mailgun event signed with the key verifies, with its token and event type."""
    mailgun = get("mailgun")
    body = mailgun.sign_body(padded(""), MAILGUN_KEY, now=NOW, event_id="tok-large")
    request = make_request(body, {"Content-Type": "application/json"})
    assert len(body) > WHOLE_TREE
    assert mailgun.verify(request, [Secret("s", MAILGUN_KEY)]).verified
    assert mailgun.identify(request) == Identity("tok-large", "opened")
    with pytest.raises(VerificationError) as refused:
        mailgun.verify(request, [Secret("s", "key-" + "0" * 32)])
    assert refused.value.reason == "bad_signature"
