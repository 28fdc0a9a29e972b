"""The orchestrator's own HTTP on loopback: a free port, one request on a fresh connection."""

from __future__ import annotations

import http.client
import os
import socket

# "first-last": ports this process tree alone hands out (tests/conftest.py reserves a range for
# each process of a parallel test run). Children inherit it; a bench run under the tests uses it
# while the test that started it waits, so the two never hand out ports at the same time.
PORTS_ENV = "WEBHOOK_BRIDGE_PORTS"

_handed_out = 0


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A loopback port nothing listens on, for a server about to start.

    Without a reserved range the kernel picks one (bind to 0, close). In a range, the next port
    of it that is free: the kernel's pick may be handed to another process as soon as it is
    closed, and its ephemeral range is where every outgoing connection takes its local port.
    """
    span = os.environ.get(PORTS_ENV)
    if not span:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])
    global _handed_out
    first, last = (int(end) for end in span.split("-"))
    size = last - first + 1
    for _ in range(size):
        port = first + _handed_out % size
        _handed_out += 1
        if _bindable(port):
            return port
    raise RuntimeError(f"no free port left in {PORTS_ENV}={span}")


def request(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """One HTTP request on a fresh connection (TCP_NODELAY): (status, body)."""
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.request(method, "/" + path, body=body, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()
