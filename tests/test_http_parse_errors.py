"""Requests gunicorn cannot parse, sent over a raw socket to a real bridge: the answer gunicorn
gives before the app sees them is JSON naming the problem, like every other error, not
gunicorn's HTML page."""

from __future__ import annotations

import json
import socket
import struct
import time

import pytest

from bridge.providers import get as provider
from tests.support import BridgeProcess, exchange

pytestmark = pytest.mark.gunicorn

CLOSE = b"Connection: close\r\n\r\n"
BROKEN = {
    "header over the size limit": (
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"a" * 20_000 + b"\r\n"
        + CLOSE, 431, "headers_too_large",
    ),
    "too many headers": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + CLOSE, 431, "headers_too_large",
    ),
    # Over the 4,094-byte limit, yet read whole in gunicorn's first 8 KB: left unread, the
    # rest would make its close a reset that may discard the answer before it is read.
    "request line too long": (
        b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n" + CLOSE, 414, "uri_too_long",
    ),
    "unknown HTTP version": (b"GET / HTTP/9.9\r\nHost: x\r\n" + CLOSE, 400, "bad_request"),
    "TLS hello on the plain port": (
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, "bad_request",
    ),
    "Content-Length not a number": (
        b"POST /hooks/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n" + CLOSE, 400,
        "bad_request",
    ),
    "Content-Length beside chunked": (
        b"POST /hooks/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n" + CLOSE + b"0\r\n\r\n", 400, "bad_request",
    ),
    "header name with a space": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n" + CLOSE, 400, "bad_request",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("request_bytes", "status", "code"), BROKEN.values(), ids=list(BROKEN))
def test_an_unparsable_request_gets_a_json_error_naming_it(
    bridge: BridgeProcess, request_bytes: bytes, status: int, code: str
) -> None:
    """gunicorn's refusal of a request it cannot parse is a JSON error with its status and a
    code for the problem, complete (Content-Length) and closing the connection."""
    head, _, body = exchange(bridge, request_bytes).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith(f"HTTP/1.1 {status} "), lines[0]
    headers = {name.lower(): value for name, _, value in (h.partition(": ") for h in lines[1:])}
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)
    answer = json.loads(body)
    assert answer["error"] == code
    assert 0 < len(answer["message"]) <= 200


def test_the_bridge_still_answers_after_unparsable_requests(bridge: BridgeProcess) -> None:
    """After every kind of broken request, a well-formed one is answered as usual."""
    for request_bytes, _, _ in BROKEN.values():
        exchange(bridge, request_bytes)
    head, _, body = exchange(bridge, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + CLOSE).partition(
        b"\r\n\r\n"
    )
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(body) == {"status": "ok"}


# A body gunicorn cannot parse comes to light only once the app reads it (chunked framing).
BROKEN_BODIES = {
    "chunk size not hex": (b"zz\r\nab\r\n0\r\n\r\n", "Invalid chunk size"),
    "negative chunk size": (b"-1\r\nab\r\n0\r\n\r\n", "Invalid chunk size"),
    # All of it sent: gunicorn waited for a CRLF that was never coming (a 408 after grace).
    "chunk lines ended by bare LFs": (b"2\nab\n0\n\n", "bare LF"),
    "chunk without its CRLF": (b"2\r\nabXX0\r\n\r\n", "chunk terminator"),
    "control character in a chunk extension": (b"1;a=\x01\r\n{\r\n0\r\n\r\n", "extension"),
    # 8,192 bytes and no CRLF, all of it read (a close with bytes unread would be a reset).
    "chunk-size line over 8 KiB": (b"2;" + b"a" * 8190, "chunk size"),
    "trailer of too many fields": (
        b"2\r\nab\r\n0\r\n" + b"X-T: y\r\n" * 200 + b"\r\n", "trailer",
    ),
}  # fmt: skip
BODY_ROUTES = {
    "a webhook": b"POST /hooks/{endpoint} HTTP/1.1\r\nHost: x\r\n",
    "the admin API": b"POST /api/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",
}


@pytest.mark.parametrize("route", BODY_ROUTES.values(), ids=list(BODY_ROUTES))
@pytest.mark.parametrize(("chunks", "named"), BROKEN_BODIES.values(), ids=list(BROKEN_BODIES))
def test_a_body_of_broken_chunks_is_a_400_naming_it_and_closes_the_connection(
    bridge: BridgeProcess, uid: str, route: bytes, chunks: bytes, named: str
) -> None:
    """A chunked body whose framing is broken is a 400 bad_request naming the problem, the
    only answer on that connection, and no traceback in the log."""
    bridge.create_endpoint(uid)
    logged = len(bridge.log())
    request = route.replace(b"{endpoint}", uid.encode())
    request += f"Authorization: Bearer {bridge.token}\r\n".encode()
    answer = exchange(bridge, request + b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 400 "), answer[:300]
    headers = {name.lower(): value for name, _, value in (h.partition(": ") for h in lines[1:])}
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body), answer[:600]  # nothing after it
    error = json.loads(body)
    assert error["error"] == "bad_request"
    assert named.lower() in error["message"].lower(), error
    assert "Traceback" not in bridge.log()[logged:]


def test_a_chunked_body_cut_off_by_the_sender_is_a_400_naming_it(
    bridge: BridgeProcess, uid: str
) -> None:
    """A chunked body whose sender ends its side of the connection before the last chunk is
    a 400 bad_request saying so, not a stored delivery and not a traceback."""
    bridge.create_endpoint(uid)
    logged = len(bridge.log())
    request = f"POST /hooks/{uid} HTTP/1.1\r\nHost: x\r\n".encode()
    answer = exchange(
        bridge, request + b"Transfer-Encoding: chunked\r\n\r\n5\r\nab", half_close=True
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer[:300]
    error = json.loads(body)
    assert error["error"] == "bad_request"
    assert "before the last chunk" in error["message"], error
    assert "Traceback" not in bridge.log()[logged:]


@pytest.mark.parametrize("route", [b"", b"Upgrade: h2c\r\n"], ids=["HookRoute", "Flask"])
def test_a_sender_that_resets_mid_body_is_a_400_in_the_log_not_a_500(
    bridge: BridgeProcess, uid: str, route: bytes
) -> None:
    """A sender that resets the connection (RST) in the middle of its body is logged as a
    400, with no 500 and no traceback in the log."""
    bridge.create_endpoint(uid)
    logged = len(bridge.log())
    head = f"POST /hooks/{uid} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n".encode()
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=10) as conn:
        conn.sendall(head + route + b"Expect: 100-continue\r\n\r\n")
        answered = b""
        while b"\r\n\r\n" not in answered:  # its headers are parsed: the app reads the body
            answered += conn.recv(4096)
        assert answered.startswith(b"HTTP/1.1 100 "), answered
        conn.sendall(b'{"cut": ')
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    line = f'"POST /hooks/{uid}" '
    deadline = time.monotonic() + 10
    while line not in bridge.log()[logged:] and time.monotonic() < deadline:
        time.sleep(0.05)
    written = bridge.log()[logged:]
    assert f"{line}400 " in written, written[-2000:]
    assert "Traceback" not in written, written[-2000:]
    assert "unhandled error" not in written, written[-2000:]


def test_a_body_cut_short_of_its_content_length_is_a_400_and_not_stored(
    bridge: BridgeProcess, uid: str
) -> None:
    """A correctly signed delivery whose sender closes its side before the Content-Length it
    declared has arrived is a 400 bad_request saying so, and nothing is stored: it was
    taken whole (a 202), and where the signature does not cover the body (Mailgun) a cut
    body would verify."""
    bridge.create_endpoint(uid)
    body = b'{"zen": "cut"}'
    signed = provider("github").sign(
        body, "test-secret-123456", now=time.time(), event_id="cut", event_type="push"
    )
    head = f"POST /hooks/{uid} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body) + 50}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in signed.items())
    answer = exchange(bridge, head.encode() + b"\r\n" + body, half_close=True)
    status, _, rest = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 400 "), answer[:300]
    error = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert error["error"] == "bad_request"
    assert "Content-Length" in error["message"], error
    events = bridge.api("GET", f"/api/endpoints/{uid}/events").json()["events"]
    assert events == []


@pytest.mark.parametrize("coding", ["gzip", "deflate", "compress"])
def test_a_transfer_coding_besides_chunked_is_a_501_naming_it(
    bridge: BridgeProcess, uid: str, coding: str
) -> None:
    """A body sent with `Transfer-Encoding: gzip, chunked` (or deflate, compress) is a 501
    not_implemented naming the coding, and the connection closes: gunicorn de-chunks it but
    hands the coded bytes on, which were taken for the body itself (a 401, or for provider
    `none` the compressed bytes stored as the event)."""
    bridge.create_endpoint(uid)
    request = (
        f"POST /hooks/{uid} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: {coding}, chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n"
    )
    head, _, body = exchange(bridge, request.encode()).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 501 "), lines[0]
    headers = {name.lower(): value for name, _, value in (h.partition(": ") for h in lines[1:])}
    assert headers["connection"] == "close"
    error = json.loads(body)
    assert error["error"] == "not_implemented"
    assert coding in error["message"], error


@pytest.mark.parametrize("minor", ["2", "9"])
def test_an_http_1x_past_1_1_is_answered_as_1_1(bridge: BridgeProcess, minor: str) -> None:
    """RFC 9110 2.5: `HTTP/1.<minor>` is answered `HTTP/1.1` (gunicorn echoed the version),
    and held to HTTP/1.1's rules: without a Host it is a 400."""
    with_host = f"GET /healthz HTTP/1.{minor}\r\nHost: a\r\nConnection: close\r\n\r\n"
    assert exchange(bridge, with_host.encode()).startswith(b"HTTP/1.1 200 ")
    without = f"GET /healthz HTTP/1.{minor}\r\nConnection: close\r\n\r\n"
    assert exchange(bridge, without.encode()).startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize(
    ("request_bytes", "message"),
    [
        (b"get /healthz HTTP/1.1\r\nHost: x\r\n" + CLOSE, "Invalid HTTP method: 'get'"),
        (b"GET / HTTP/9.9\r\nHost: x\r\n" + CLOSE, "Invalid HTTP Version: (9, 9)"),
    ],
)
def test_an_unparsable_request_is_named_once_not_wrapped_twice(
    bridge: BridgeProcess, request_bytes: bytes, message: str
) -> None:
    """gunicorn's sentence is the message, not wrapped in a second one with its quotes
    doubled, and written as the app writes JSON (compact, a newline after)."""
    body = exchange(bridge, request_bytes).partition(b"\r\n\r\n")[2]
    assert (
        body
        == json.dumps({"error": "bad_request", "message": message}, separators=(",", ":")).encode()
        + b"\n"
    )


def test_a_501_from_gunicorn_says_not_implemented(bridge: BridgeProcess) -> None:
    """The status line's reason is the status's own phrase (gunicorn's 501 said Bad Request)."""
    answer = exchange(
        bridge, b"POST /hooks/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n" + CLOSE
    )
    assert answer.startswith(b"HTTP/1.1 501 Not Implemented\r\n"), answer[:200]
