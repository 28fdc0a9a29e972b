"""A request body that stalls or trickles is cut with a 408, and its connection closed; a
slow but steady one is not (BRIDGE_BODY_TIMEOUT, BRIDGE_BODY_MIN_RATE; a real bridge)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from bridge.embedded import EmbeddedRedis
from bridge.providers import get as provider
from tests.support import ADMIN_TOKEN, BridgeProcess

GRACE = "1"
MIN_RATE = "1000"  # bytes a second, after the grace


@pytest.fixture(scope="module")
def bridge(
    tmp_path_factory: pytest.TempPathFactory, redis_server: EmbeddedRedis
) -> Iterator[BridgeProcess]:
    process = BridgeProcess(
        tmp_path_factory.mktemp("slow-body"),
        redis_server.url,
        BRIDGE_BODY_TIMEOUT=GRACE,
        BRIDGE_BODY_MIN_RATE=MIN_RATE,
    ).start()
    yield process
    process.stop()


def head(path: str, *lines: str) -> bytes:
    fields = "".join(f"{line}\r\n" for line in lines)
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{fields}\r\n".encode("latin-1")


def until_closed(conn: socket.socket) -> bytes:
    """Everything the bridge sends until it closes the connection (10 s a read at most)."""
    conn.settimeout(10)
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received


def assert_too_slow(received: bytes) -> None:
    assert received.startswith(b"HTTP/1.1 408 "), received[:300]
    assert b"\r\nConnection: close\r\n" in received.partition(b"\r\n\r\n")[0]
    assert b'"error":"body_too_slow"' in received
    assert b"bytes/s" in received


def test_body_that_stops_coming_is_408_and_the_connection_closes(
    bridge: BridgeProcess, uid: str
) -> None:
    """A declared body of which 2 bytes came is answered 408, and the bridge hangs up."""
    bridge.create_endpoint(uid)
    with socket.create_connection(("127.0.0.1", bridge.port)) as conn:
        conn.sendall(head(f"/hooks/{uid}", "Content-Length: 1000") + b"{}")
        assert_too_slow(until_closed(conn))


def test_chunked_body_that_stops_coming_is_408(bridge: BridgeProcess, uid: str) -> None:
    """A chunked body whose next chunk never comes is answered 408 too."""
    bridge.create_endpoint(uid)
    with socket.create_connection(("127.0.0.1", bridge.port)) as conn:
        conn.sendall(head(f"/hooks/{uid}", "Transfer-Encoding: chunked") + b"2\r\n{}\r\n")
        assert_too_slow(until_closed(conn))


def test_a_408_closes_the_connection_with_the_answer(bridge: BridgeProcess, uid: str) -> None:
    """A chunk declared 2**80 bytes long of which none comes is answered 408 saying
    `Connection: close`, and the bridge hangs up with it, not a keep-alive timeout later."""
    bridge.create_endpoint(uid)
    with socket.create_connection(("127.0.0.1", bridge.port)) as conn:
        conn.sendall(head(f"/hooks/{uid}", "Transfer-Encoding: chunked") + b"F" * 20 + b"\r\n")
        conn.settimeout(10)
        first = conn.recv(65536)
        answered = time.monotonic()
        received = first + until_closed(conn)
        assert time.monotonic() - answered < 1
    assert_too_slow(received)


def test_admin_request_body_that_stops_coming_is_408(bridge: BridgeProcess) -> None:
    """Every route's body is paced, not only the webhooks'."""
    with socket.create_connection(("127.0.0.1", bridge.port)) as conn:
        lines = (f"Authorization: Bearer {ADMIN_TOKEN}", "Content-Type: application/json")
        conn.sendall(head("/api/endpoints", *lines, "Content-Length: 500") + b'{"id": ')
        assert_too_slow(until_closed(conn))


def test_trickled_body_is_cut_long_before_it_would_end(bridge: BridgeProcess, uid: str) -> None:
    """A body sent a byte every 0.2 s (5 bytes/s) is cut while most of it is still unsent."""
    bridge.create_endpoint(uid)
    body = b"x" * 200  # 40 s at this pace
    sent = 0
    with socket.create_connection(("127.0.0.1", bridge.port)) as conn:
        conn.sendall(head(f"/hooks/{uid}", f"Content-Length: {len(body)}"))
        answered = threading.Event()

        def trickle() -> None:
            nonlocal sent
            for byte in body:
                if answered.wait(0.2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:  # the bridge hung up
                    return
                sent += 1

        sender = threading.Thread(target=trickle)
        sender.start()
        try:
            first = conn.recv(65536)
        finally:
            answered.set()
            sender.join()
        # The head and the body may come in two reads; the bridge hangs up after them.
        assert_too_slow(first + until_closed(conn))
    assert sent < len(body) // 2


def test_steady_body_longer_than_the_grace_but_above_the_rate_is_stored(
    bridge: BridgeProcess, uid: str
) -> None:
    """4,000 bytes at ~2,000 bytes/s take twice the grace and are stored all the same."""
    bridge.create_endpoint(uid)
    body = b'{"padding": "' + b"a" * 3980 + b'"}'
    signed = provider("github").sign(
        body, "test-secret-123456", now=time.time(), event_id=f"{uid}-steady", event_type="push"
    )
    lines = [f"{name}: {value}" for name, value in signed.items()]
    with socket.create_connection(("127.0.0.1", bridge.port)) as conn:
        conn.sendall(head(f"/hooks/{uid}", *lines, f"Content-Length: {len(body)}"))
        started = time.monotonic()
        for offset in range(0, len(body), 200):
            conn.sendall(body[offset : offset + 200])
            time.sleep(0.1)
        took = time.monotonic() - started
        conn.settimeout(10)
        answer = conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 202 "), answer[:300]
    assert took > float(GRACE)  # else this proved only the grace
