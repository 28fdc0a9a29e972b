"""Reading a WebSocket's client frames in the request greenlet, not in a thread of its own.

simple-websocket starts a reader thread per socket (`Base._thread`) that parses frames into a
buffer for `receive()`. Under gevent that is one more blocked greenlet per idle socket, about
11 KB with its thread object and selector, while the request greenlet only sits waiting for
that buffer. `NoThread` (passed as simple-websocket's `thread_class`) keeps the thread from
starting, and `FrameReader.receive()` does its work on demand in the caller: wait for the
socket to be readable, parse with the connection's own wsproto state and event handling
(`_handle_events`: answers pings and close frames, enforces the message size), send pings on
schedule, and close the socket when a pong is overdue.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from gevent.socket import wait_read
from simple_websocket import ConnectionClosed
from wsproto.events import Ping
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import ProtocolError

# Raised by every timed-out wait: gevent would otherwise make an exception object for each
# wait up front and keep it, with the wait, for as long as the socket sits idle.
_WAITED = TimeoutError("no client frame yet")


class NoThread:
    """A thread class for simple-websocket that never starts: FrameReader does the reading."""

    def __init__(self, target: Callable[[], None]) -> None:
        self.name = "(_thread)"  # simple-websocket renames its thread

    def start(self) -> None:
        pass


class FrameReader:
    def __init__(self, ws: Any, ping_interval: float | None) -> None:
        self.ws = ws
        # The upgrade is done: wsproto uses its HTTP/1.1 parser, the upgrade request and the
        # handshake's event queue only before it, yet keeps them for the life of the socket
        # (~3 KB per idle socket). An empty tuple reads as an empty queue to events().
        handshake = ws.ws.handshake
        handshake._h11_connection = None
        handshake._initiating_request = None
        handshake._events = ()
        self.ping_interval = ping_interval or math.inf
        self.next_ping = time.monotonic() + self.ping_interval

    def receive(self, timeout: float | None = None) -> str | bytes | None:
        """The next client message; None after `timeout` seconds without one.

        Raises ConnectionClosed once the connection is closed, by either side.
        """
        ws = self.ws
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        while not ws.input_buffer:
            if not ws.connected:
                raise ConnectionClosed(ws.close_reason, ws.close_message)
            now = time.monotonic()
            if now >= self.next_ping:
                self._ping(now)
            elif now >= deadline:
                return None
            elif self._readable(min(self.next_ping, deadline) - now):
                self._read()
        message: str | bytes = ws.input_buffer.pop(0)
        return message

    def _readable(self, wait: float) -> bool:
        # gevent's own wait: it parks this greenlet only, and unlike select.select (which
        # gevent checks with the real select() first) it takes descriptors past 1024.
        try:
            timeout = None if wait == math.inf else wait  # no pings and no deadline
            wait_read(self.ws.sock.fileno(), timeout=timeout, timeout_exc=_WAITED)
        except TimeoutError:
            return False
        return True

    def _read(self) -> None:
        ws = self.ws
        try:
            data = ws.sock.recv(ws.receive_bytes)
            if not data:
                raise ConnectionResetError
            ws.ws.receive_data(data)
            ws.connected = ws._handle_events()
        except (OSError, ProtocolError):
            ws.connected = False

    def _ping(self, now: float) -> None:
        ws = self.ws
        if not ws.pong_received:
            try:
                ws.close(reason=CloseReason.POLICY_VIOLATION, message="Ping/Pong timeout")
            except OSError:
                ws.connected = False
            return
        ws.pong_received = False
        try:
            ws.sock.send(ws.ws.send(Ping()))
        except OSError:
            ws.connected = False
        self.next_ping = max(now, self.next_ping) + self.ping_interval
