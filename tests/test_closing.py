"""When the bridge ends a connection with request bytes still unread, it closes it as RFC
9112 section 9.6 says (FIN, then drain a while), so the client reads the whole answer and a
clean end instead of a reset (a real bridge, raw sockets)."""

from __future__ import annotations

import pytest

from tests.support import BridgeProcess, exchange

UNREAD = b"x" * (256 * 1024)  # sent before the answer is read, and never read by the bridge


def assert_whole(received: bytes, status: bytes) -> None:
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 " + status + b" "), received[:300]
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    assert len(body) == length, received[-300:]


def test_a_413_for_a_declared_length_ends_cleanly_while_its_body_comes(
    bridge: BridgeProcess, uid: str
) -> None:
    """A body declared over the limit is answered 413 unread; the body already sent does
    not turn the close into a reset."""
    bridge.create_endpoint(uid)
    head = (
        f"POST /hooks/{uid} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {10**9}\r\n\r\n"
    ).encode()
    received = exchange(bridge, head + UNREAD)
    assert_whole(received, b"413")


def test_a_request_gunicorn_cannot_parse_ends_cleanly_with_bytes_after_it(
    bridge: BridgeProcess,
) -> None:
    """gunicorn's own 400 for a broken request line is read whole, then a clean end."""
    received = exchange(bridge, b"GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n" + UNREAD)
    assert_whole(received, b"400")


@pytest.mark.parametrize(
    "request_head",
    [
        # No endpoint: the hooks route answers 404 before reading a chunked body.
        b"POST /hooks/no-such-endpoint HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n",
        # A route that reads no body, given 1 MB of one.
        b"GET /healthz HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n",
    ],
)
def test_an_answer_given_before_the_body_was_read_closes_the_connection(
    bridge: BridgeProcess, request_head: bytes
) -> None:
    """Kept alive, gunicorn read the rest of the body as fast as it came without yielding (two
    such senders stalled a bridge for seconds); the answer says `Connection: close`, and the
    bridge hangs up."""
    body = b"4000\r\n" + b"x" * 0x4000 + b"\r\n" if b"chunked" in request_head else UNREAD
    # Read until the bridge hangs up: kept alive, this waited out the keep-alive timeout.
    head = exchange(bridge, request_head + b"\r\n" + body).partition(b"\r\n\r\n")[0]
    assert b"\r\nConnection: close" in head, head
    assert head.split(b" ", 2)[1] in (b"404", b"200"), head
