"""What a stranger can send from outside, and what the bridge answers: never a 5xx, never a
traceback in the log, never an input taken for something it is not."""

from __future__ import annotations

import gc
import json
import logging
import math
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from bridge import cursor, jsontext
from bridge.errors import InvalidInput
from bridge.identifiers import is_endpoint_id
from bridge.providers import get as provider
from tests.ingest_support import create, deliver, history
from tests.support import BridgeProcess, wait_until

DEEP = jsontext.MAX_DEPTH


@pytest.fixture
def no_error_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails the test if anything logged an error (a traceback is logged as one)."""
    with caplog.at_level(logging.WARNING):
        yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


def nested(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


# -- deeply nested bodies ------------------------------------------------------------------


def test_unsigned_body_of_a_thousand_brackets_is_refused_401(
    client: FlaskClient, auth: dict[str, str], uid: str, no_error_logged: None
) -> None:
    """A body of 1,000 `[` with a junk signature is a plain 401, and the rejection is kept."""
    create(client, auth, uid, "github")
    answer = client.post(
        f"/hooks/{uid}",
        data=b"[" * 1000,
        headers={"X-Hub-Signature-256": "sha256=" + "0" * 64, "Content-Type": "application/json"},
    )
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert answer.get_json()["reason"] == "bad_signature"
    kept = client.get(f"/api/endpoints/{uid}/rejections", headers=auth).get_json()
    assert [r["body_bytes"] for r in kept["rejections"]] == [1000]


@pytest.mark.parametrize("depth", [DEEP + 1, 990, 5000, 100_000])
def test_signed_body_nested_too_deep_is_accepted_and_carried_as_text(
    client: FlaskClient, auth: dict[str, str], uid: str, depth: int, no_error_logged: None
) -> None:
    """A validly signed JSON body nested past the limit gets 202 and is carried as its text."""
    create(client, auth, uid, "github")
    body = nested(depth)
    answer = deliver(client, uid, body, event_id=f"deep-{depth}")
    assert answer.status_code == 202, answer.get_data(as_text=True)
    (event,) = history(client, auth, uid)
    assert event["body"] == body.decode()


# A JSON escape of a lone surrogate: valid JSON, but no character UTF-8 can hold.
LONE = "\\ud800"


def test_an_event_type_with_a_lone_surrogate_is_stored(
    unverified_app: Flask, auth: dict[str, str], uid: str, no_error_logged: None
) -> None:
    """A body whose `type` is a lone surrogate escape is 202, typed with a replacement
    character: redis-py could not encode it (a 500 and a traceback)."""
    client = unverified_app.test_client()
    create(client, auth, uid, "none", secret=None)
    body = ('{"type": "payment.' + LONE + '"}').encode()
    answer = client.post(f"/hooks/{uid}", data=body, content_type="application/json")
    assert answer.status_code == 202, answer.get_data(as_text=True)
    (event,) = history(client, auth, uid)
    assert event["event_type"] == "payment.\ufffd"
    assert event["body"] == {"type": "payment.\ud800"}


@pytest.mark.parametrize(
    ("action", "event_type"),
    [
        pytest.param(LONE, "push.\ufffd", id="one"),
        pytest.param(
            "a\\ud800b\\udc00\\udc00\\ud800", "push.a\ufffdb\ufffd\ufffd\ufffd", id="several"
        ),
        pytest.param("\\ud83d\\ude00", "push.\U0001f600", id="a-pair"),
        pytest.param(
            "\\udfff\\ud83d\\ude00\\ud800", "push.\ufffd\U0001f600\ufffd", id="pair-among-lone"
        ),
    ],
)
def test_each_lone_surrogate_in_an_event_type_reads_as_one_replacement_character(
    client: FlaskClient,
    auth: dict[str, str],
    uid: str,
    action: str,
    event_type: str,
    no_error_logged: None,
) -> None:
    """A signed GitHub `action` gets one U+FFFD per lone surrogate escape in its event type
    (not three: the bytes of its UTF-8 encoding), and a surrogate pair stays its character."""
    create(client, auth, uid, "github")
    answer = deliver(client, uid, ('{"action": "' + action + '"}').encode(), event_id=uid)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    (event,) = history(client, auth, uid)
    assert event["event_type"] == event_type


def test_a_signed_event_id_with_a_lone_surrogate_falls_back_to_the_body_hash(
    client: FlaskClient, auth: dict[str, str], uid: str, no_error_logged: None
) -> None:
    """A signed Stripe event whose `id` is a lone surrogate escape is stored under the body's
    hash (a redelivery is a duplicate, another body a new event), never a 500."""
    create(client, auth, uid, "stripe")
    bodies = [f'{{"id": "evt_{LONE}", "type": "a", "n": {n}}}'.encode() for n in (1, 2)]
    answers = [deliver(client, uid, body, provider_name="stripe") for body in (*bodies, bodies[0])]
    assert [a.status_code for a in answers] == [202, 202, 200], answers[0].get_data(as_text=True)
    events = history(client, auth, uid)
    assert [e["event_id"][:7] for e in events] == ["sha256:", "sha256:"]
    assert answers[2].get_json()["id"] == answers[0].get_json()["id"]


def test_signed_body_at_the_limit_is_carried_as_a_tree(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A body nested exactly MAX_DEPTH levels is still parsed JSON in the envelope."""
    create(client, auth, uid, "github")
    assert deliver(client, uid, nested(DEEP), event_id="at-limit").status_code == 202
    (event,) = history(client, auth, uid)
    value = event["body"]
    for _ in range(DEEP):
        assert isinstance(value, list)
        (value,) = value
    assert value == 1


def test_deep_body_through_a_live_bridge_is_stored_without_a_traceback(
    bridge: BridgeProcess, uid: str
) -> None:
    """Through gunicorn: an unsigned deep body is 401, a signed one 202, and the log is clean."""
    bridge.create_endpoint(uid)
    deep = nested(50_000)
    refused = requests.post(
        f"{bridge.url}/hooks/{uid}",
        data=deep,
        headers={"X-Hub-Signature-256": "sha256=" + "0" * 64},
        timeout=10,
    )
    accepted = bridge.post_signed(uid, deep, event_id="deep-live")
    assert (refused.status_code, accepted.status_code) == (401, 202)
    events = bridge.api("GET", f"/api/endpoints/{uid}/events").json()["events"]
    assert [e["body"] for e in events] == [deep.decode()]
    assert "Traceback" not in bridge.log_path.read_text()


@pytest.mark.parametrize(
    "number", [b"1e400", b"-1E999", b"1" * 400 + b".0"], ids=["e400", "e999", "long"]
)
def test_signed_body_with_a_number_past_a_float_is_carried_as_text(
    bridge: BridgeProcess, uid: str, number: bytes
) -> None:
    """A signed body holding a number no float can hold gets 202 and is carried as its text,
    so the history stays JSON that a strict parser (a browser's JSON.parse) reads."""
    bridge.create_endpoint(uid)
    body = b'{"amount": ' + number + b"}"
    assert bridge.post_signed(uid, body, event_id=f"big-{uid}").status_code == 202
    answer = bridge.api("GET", f"/api/endpoints/{uid}/events")
    strict = json.loads(answer.text, parse_constant=_no_constant)
    assert [e["body"] for e in strict["events"]] == [body.decode()]


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


@pytest.mark.parametrize(
    "route",
    ["/api/endpoints", "/api/tokens", "/api/endpoints/{uid}/secrets"],
)
def test_admin_api_answers_400_to_a_deeply_nested_body(
    client: FlaskClient, auth: dict[str, str], uid: str, route: str, no_error_logged: None
) -> None:
    """A JSON body 100,000 levels deep on an admin route is 400 saying it is too deep."""
    create(client, auth, uid, "github")
    answer = client.post(
        route.format(uid=uid),
        data=b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        headers={**auth, "Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["message"] == (
        "expected a JSON object: JSON nested more than 128 levels deep"
    )


# -- the secrets route ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", ": not JSON at line 1 column 2 (Expecting property name enclosed in"),
        (b"[1, 2]", ""),
        (b'"text"', ""),
        (b"null", ""),
        (b"{", ": not JSON at line 1 column 2 (Expecting property name enclosed in"),
    ],
)
def test_malformed_json_on_add_secret_is_400_and_adds_nothing(
    client: FlaskClient, auth: dict[str, str], uid: str, body: bytes, why: str
) -> None:
    """Anything but a JSON object on POST .../secrets is 400, and no secret is generated."""
    create(client, auth, uid, "github")
    answer = client.post(
        f"/api/endpoints/{uid}/secrets",
        data=body,
        headers={**auth, "Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.get_data(as_text=True)
    error = answer.get_json()
    assert (error["error"], error["field"]) == ("invalid_request", "body")
    assert error["message"].startswith("expected a JSON object" + why)
    shown = client.get(f"/api/endpoints/{uid}", headers=auth).get_json()
    assert [s["id"] for s in shown["secrets"]] == ["s1"]


def test_add_secret_with_no_body_generates_one(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """An empty body on POST .../secrets still means "generate the new secret for me"."""
    create(client, auth, uid, "github")
    answer = client.post(f"/api/endpoints/{uid}/secrets", headers=auth)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert len(answer.get_json()["endpoint"]["secrets"]) == 2


@pytest.mark.parametrize("grace", ["²", "١٢", "-1", "1e3", " 5", "5\n", "99999999999999999999"])
def test_grace_seconds_that_are_not_ascii_digits_are_400(
    client: FlaskClient, auth: dict[str, str], uid: str, grace: str, no_error_logged: None
) -> None:
    """`grace_seconds` of superscripts, other scripts' digits, signs or whitespace is 400."""
    create(client, auth, uid, "github")
    answer = client.delete(
        f"/api/endpoints/{uid}/secrets/s1", query_string={"grace_seconds": grace}, headers=auth
    )
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["field"] == "grace_seconds"


# -- identifiers: a full match, never one that stops before a final newline ----------------


@pytest.mark.parametrize("value", ["x\n", "demo\n", "\ndemo", "demo\r", "demo ", "Demo", "-x", ""])
def test_endpoint_id_validator_refuses_anything_after_the_id(value: str) -> None:
    """The endpoint-id check is a full match: a trailing newline or any extra is refused."""
    assert not is_endpoint_id(value)
    assert is_endpoint_id(value.strip().lower().lstrip("-") or "x")


def test_endpoint_with_a_trailing_newline_in_its_id_is_not_created(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """`"demo\\n"` as an endpoint id is 400 naming `id`, and nothing is created."""
    answer = client.post(
        "/api/endpoints", json={"id": f"{uid}\n", "provider": "github"}, headers=auth
    )
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["field"] == "id"
    listed = client.get("/api/endpoints", headers=auth).get_json()["endpoints"]
    assert uid not in [e["id"].strip() for e in listed]


def test_hook_and_api_paths_with_a_trailing_newline_are_unknown(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """`/hooks/<id>%0A` and `/api/endpoints/<id>%0A` are 404, not the endpoint `<id>`."""
    create(client, auth, uid, "github")
    assert client.post(f"/hooks/{uid}%0A", data=b"{}").status_code == 404
    assert client.get(f"/api/endpoints/{uid}%0A", headers=auth).status_code == 404


@pytest.mark.parametrize("channel", ["x\n", "{uid}\n", "{uid} ", "UPPER", ""])
def test_token_channels_are_full_endpoint_ids(
    client: FlaskClient, auth: dict[str, str], uid: str, channel: str
) -> None:
    """A subscriber token for a channel that is not exactly an endpoint id is 400."""
    create(client, auth, uid, "github")
    answer = client.post(
        "/api/tokens", json={"channels": [uid, channel.format(uid=uid)], "ttl": 60}, headers=auth
    )
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["field"] == "channels"


def test_token_for_too_many_channels_is_400(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A subscriber token naming more channels than a socket may subscribe to is 400."""
    names = [f"{uid}-{i}" for i in range(101)]
    answer = client.post("/api/tokens", json={"channels": names, "ttl": 60}, headers=auth)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert "at most 100" in answer.get_json()["message"]


@pytest.mark.parametrize(
    "raw",
    ["1-0\n", "1\n", "١٢-0", "1-٣", "18446744073709551616-0", "1-18446744073709551616", " 1-0"],
)
def test_cursor_parser_refuses_newlines_other_digits_and_ids_past_64_bits(raw: str) -> None:
    """A cursor is ASCII digits only, as a whole string, each part within 64 bits."""
    with pytest.raises(InvalidInput):
        cursor.parse(raw)


def test_nineteen_digit_cursor_is_accepted() -> None:
    """Each part may have 19 digits, which always fit the 64 bits of a stream id."""
    assert cursor.parse("9999999999999999999-9999999999999999999") == (10**19 - 1, 10**19 - 1)


@pytest.mark.parametrize("since", ["1-0\n", "99999999999999999999-0", "\u0661-0"])
def test_history_with_a_bad_since_is_400_not_500(
    client: FlaskClient, auth: dict[str, str], uid: str, since: str, no_error_logged: None
) -> None:
    """History with a cursor Redis would refuse is a 400 naming `since`."""
    create(client, auth, uid, "github")
    answer = client.get(f"/api/endpoints/{uid}/events", query_string={"since": since}, headers=auth)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["field"] == "since"


# -- the JSON parser every network input goes through ----------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "[" * (DEEP + 1) + "]" * (DEEP + 1),
        '{"a":' * (DEEP + 1) + "1" + "}" * (DEEP + 1),
        "NaN",
        "[Infinity]",
        "1" * 5000,
        "\ud800",
    ],
)
def test_jsontext_refuses_with_value_error_only(text: str) -> None:
    """Too deep, non-finite, over-long integers and broken text all raise ValueError, and
    the garbage collector, paused while a large tree is parsed, runs again afterwards."""
    with pytest.raises(ValueError):  # noqa: PT011 - ValueError is the whole promise here
        jsontext.loads(text)
    with pytest.raises(ValueError):  # noqa: PT011
        jsontext.loads(text.encode("utf-8", "surrogatepass"))
    assert gc.isenabled()


@pytest.mark.parametrize("text", ["[1e400]", '{"a": -1E999}'])
def test_jsontext_refuses_a_number_past_a_float_only_when_asked(text: str) -> None:
    """`finite=True` (an envelope's body) refuses 1e400; a client frame's stray one is inf."""
    with pytest.raises(ValueError):  # noqa: PT011
        jsontext.loads(text, finite=True)
    assert jsontext.loads(text) in ([math.inf], {"a": -math.inf})


def test_jsontext_counts_depth_not_brackets() -> None:
    """Many brackets side by side, or inside strings, are not depth."""
    wide = json.dumps([[i] for i in range(10_000)] + ["[" * 10_000])
    assert len(jsontext.loads(wide)) == 10_001


# -- what gunicorn would do before the app sees a request ----------------------------------


def raw_exchange(bridge: BridgeProcess, head: str, body: bytes = b"") -> bytes:
    """Send a request head (and maybe a body) on a raw socket; everything until it closes."""
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=10) as conn:
        conn.sendall(head.encode("latin-1") + body)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received


def test_expect_continue_over_the_limit_is_413_at_once_and_reads_nothing(
    bridge: BridgeProcess, uid: str
) -> None:
    """`Expect: 100-continue` with a length over the limit is answered 413, never 100, and
    the bridge closes the connection without waiting for a byte of the body."""
    bridge.create_endpoint(uid)
    head = (
        f"POST /hooks/{uid} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {25 * 1024 * 1024 + 1}\r\nExpect: 100-continue\r\n\r\n"
    )
    received = raw_exchange(bridge, head)  # returns only once the bridge closes
    status_line = received.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 413 "), received[:300]
    assert b"100 Continue" not in received
    assert b'"payload_too_large"' in received


def test_expect_continue_within_the_limit_is_continued_and_stored(
    bridge: BridgeProcess, uid: str
) -> None:
    """`Expect: 100-continue` with an acceptable length gets `100 Continue`, then 202."""
    bridge.create_endpoint(uid)
    body = b'{"ok":true}'
    headers = provider("github").sign(body, "test-secret-123456", now=time.time(), event_id="ec")
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = (
        f"POST /hooks/{uid} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{lines}"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    )
    received = raw_exchange(bridge, head, body)
    assert received.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 "), received[:200]


def test_port_in_use_is_one_line_naming_it_and_the_way_out(tmp_path: Path) -> None:
    """A bridge whose port is taken exits non-zero with one line: the port, and `PORT=`."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        second = BridgeProcess(tmp_path / "data", None, port=port)
        with pytest.raises(AssertionError, match="exited 1"):
            second.start()
    lines = second.log().strip().splitlines()
    assert lines == [
        f"bridge: port {port} is already in use on 127.0.0.1; choose another with PORT=<port>"
    ]


# -- form bodies parsed before their signature is checked ----------------------------------


FORM = "application/x-www-form-urlencoded"


def test_a_twilio_form_of_too_many_fields_is_refused_before_it_is_parsed(
    bridge: BridgeProcess, uid: str
) -> None:
    """A forged Twilio form of 1,001 fields is 401 saying so: Twilio sends a few dozen, and
    parsing a stranger's million held a worker for seconds before the signature was known."""
    bridge.create_endpoint(uid, "twilio", "t" * 32)
    body = "&".join(f"f{n}={n}" for n in range(1001))
    headers = {"Content-Type": FORM, "X-Twilio-Signature": "AAAA"}
    answer = requests.post(f"{bridge.url}/hooks/{uid}", data=body, headers=headers, timeout=10)
    assert answer.json() == {"error": "invalid_signature", "reason": "bad_signature"}
    (kept,) = bridge.api("GET", f"/api/endpoints/{uid}/rejections").json()["rejections"]
    assert kept["diagnosis"]["detail"] == "over 1000 form fields"


def test_a_mailgun_form_of_too_many_fields_is_not_looked_into(
    bridge: BridgeProcess, uid: str
) -> None:
    """A Mailgun form of over 1,000 fields is 401 missing_signature even with a signature in it:
    its fields are counted before any is parsed, and Mailgun sends a few dozen."""
    secret = "m" * 32
    bridge.create_endpoint(uid, "mailgun", secret)
    mailgun = provider("mailgun")
    small = mailgun.sign_body(b"event=delivered", secret, now=time.time())
    large = mailgun.sign_body(
        "&".join(f"f{n}={n}" for n in range(999)).encode(), secret, now=time.time()
    )
    answers = [
        requests.post(
            f"{bridge.url}/hooks/{uid}", data=body, headers={"Content-Type": FORM}, timeout=10
        )
        for body in (small, large)
    ]
    assert [a.status_code for a in answers] == [202, 401]
    assert answers[1].json()["reason"] == "missing_signature"


# -- the access log ------------------------------------------------------------------------


@pytest.mark.gunicorn
def test_control_characters_in_a_path_are_escaped_in_the_access_log(
    bridge: BridgeProcess, uid: str
) -> None:
    """A path whose percent-escapes decode to a line break or a terminal escape is logged on
    one line, each such character as `\\xNN`: `%0a` wrote a forged line into the log."""
    path = f"/hooks/{uid}%0a127.0.0.1%20forged%1b[31m%9b"
    assert requests.post(bridge.url + path, data=b"{}", timeout=10).status_code == 404
    line = wait_until(lambda: next((x for x in bridge.log().splitlines() if uid in x), None))
    assert f'"POST /hooks/{uid}\\x0a127.0.0.1 forged\\x1b[31m\\x9b" 404' in line
    assert not any(
        "\x1b" in x or x.startswith("127.0.0.1 forged") for x in bridge.log().splitlines()
    )


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("10.9.9.9", "10.9.9.9 is not an address of this machine"),  # TEST-NET-ish, not ours
        ("no-such-host.invalid", "cannot listen on no-such-host.invalid:"),
    ],
)
def test_a_host_the_bridge_cannot_listen_on_names_bridge_host_not_port(
    tmp_path: Path, host: str, problem: str
) -> None:
    """An address not of this machine, or a name that does not resolve, is one line whose
    way out is BRIDGE_HOST (it told the operator to change PORT)."""
    bridge = BridgeProcess(tmp_path / "data", None, BRIDGE_HOST=host)
    with pytest.raises(AssertionError, match="exited 1"):
        bridge.start()
    (line,) = bridge.log().strip().splitlines()
    assert line.startswith(f"bridge: {problem}"), line
    assert line.endswith("; set BRIDGE_HOST to an address of this machine (127.0.0.1, 0.0.0.0)")
