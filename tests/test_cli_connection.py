"""The CLI's socket (bridge/cli/connection.py) against a hostile server: what it sends is
read as frames from a stranger, never as trusted JSON."""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading

import pytest

from bridge.cli.connection import Connection, Unreadable
from bridge.client import AdminToken

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def server_frame(payload: bytes) -> bytes:
    """An unmasked text frame (RFC 6455 5.2) of any length."""
    if len(payload) < 126:
        return bytes([0x81, len(payload)]) + payload
    if len(payload) < 1 << 16:
        return bytes([0x81, 126]) + struct.pack("!H", len(payload)) + payload
    return bytes([0x81, 127]) + struct.pack("!Q", len(payload)) + payload


def test_frame_nested_100000_deep_is_unreadable_not_a_recursion_error() -> None:
    """A server's frame of 100,000 nested brackets raises Unreadable, naming the depth."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    deep = b"[" * 100_000 + b"]" * 100_000

    def serve() -> None:
        with listener, listener.accept()[0] as conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            key = next(
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())  # noqa: S324
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            conn.sendall(server_frame(deep))
            conn.settimeout(10)
            conn.recv(4096)  # until the client closes

    listener.settimeout(10)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    connection = Connection(f"http://127.0.0.1:{port}", AdminToken("t" * 32, "test"), {})
    try:
        with pytest.raises(Unreadable, match="nested more than"):
            connection.next(10)
    finally:
        connection.close()
    thread.join(10)
