"""A real simple-websocket upgrade over a socket pair, for the socket room's own tests
(bridge/wire/): no HTTP server, the same handshake and wsproto state a worker has."""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import struct
from collections.abc import Callable, Iterator

import gevent
import simple_websocket
from gevent import socket as gevent_socket

from bridge.wire import adapter
from bridge.wire.connection import Connection


def upgrade(server_end: socket.socket, client_end: socket.socket) -> simple_websocket.Server:
    """The server side after a real handshake (its reader thread never started, as in a
    worker); the 101 answer is read off the client's end."""
    environ = {
        "werkzeug.socket": server_end,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "Upgrade",
        "HTTP_SEC_WEBSOCKET_KEY": base64.b64encode(os.urandom(16)).decode(),
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
    }
    ws = simple_websocket.Server(environ, thread_class=adapter.NoThread)
    client_end.settimeout(5)
    assert client_end.recv(4096).startswith(b"HTTP/1.1 101 ")
    return ws


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (RFC 6455 5.2), payload under 126 bytes."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + mask + masked


Pair = tuple[Connection, socket.socket]


OpenWire = Callable[..., Pair]


def connections() -> Iterator[OpenWire]:
    """wire(limit, max_bytes, stuck=False): a Connection on the server end of a fresh
    upgrade, and the client's end; each is cut after the test. `stuck`: the client stopped
    reading and the kernel's buffers are full, so each frame offered queues (and the
    writer, once started, waits in its send)."""
    pairs: list[Pair] = []
    server_ends: list[socket.socket] = []

    def make(limit: int = 1000, max_bytes: float = 10_000, *, stuck: bool = False) -> Pair:
        server_end, client_end = gevent_socket.socketpair()
        ws = upgrade(server_end, client_end)
        if stuck:
            client_end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            with contextlib.suppress(OSError):
                while True:
                    adapter.send_nowait(server_end, b"\0" * 65536)
        connection = Connection(ws, queue_frames=limit, queue_bytes=max_bytes, queue_age=60.0,
                                send_buffer=4096, ping_interval=None, send_timeout=5.0)  # fmt: skip
        pairs.append((connection, client_end))
        server_ends.append(server_end)
        return connection, client_end

    yield make
    for connection, client_end in pairs:
        client_end.close()
        connection.cut()
    gevent.sleep(0.01)  # a writer waiting in its send meets the cut and ends
    for server_end in server_ends:
        server_end.close()


def read_frame(client_end: socket.socket) -> tuple[int, bytes]:
    """The next server frame on the client's end: (opcode, payload)."""

    def exactly(n: int) -> bytes:
        got = b""
        while len(got) < n:
            chunk = client_end.recv(n - len(got))
            assert chunk, "the server closed the connection"
            got += chunk
        return got

    first, second = exactly(2)
    n = second & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", exactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", exactly(8))
    return first & 0x0F, exactly(n)
