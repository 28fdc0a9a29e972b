"""Reading a WebSocket's client frames in the request greenlet, not in a thread of its own.

simple-websocket starts a reader thread per socket (`Base._thread`) that parses frames into a
buffer for `receive()`. Under gevent that is one more blocked greenlet per idle socket, about
11 KB with its thread object and selector, while the request greenlet only sits waiting for
that buffer. `adapter.NoThread` (passed as simple-websocket's `thread_class`) keeps the
thread from starting, and `FrameReader.receive()` does its work on demand in the caller: wait
for the socket to be readable, parse with the connection's own wsproto state and
simple-websocket's event handling (answers pings and close frames, enforces the message
size), send pings on schedule, and close the socket when a pong is overdue. Every internal of
those libraries that this needs is reached through bridge/wire/adapter.py.

Two limits simple-websocket does not keep, kept here from wsproto's frame decoder
(`adapter.adopt` hands it over, and fails naming the attribute if an upgrade moved it): a
frame whose header declares more than the message limit is refused with 1009 as soon as the
header is read, not after the payload (a header can announce 2^63 bytes and then send
nothing); and a frame, or a fragmented message, that is not complete
within one ping interval of its start is dropped with 1008, since a peer that stalls inside a
frame cannot answer pings but one that stalls between fragments could, forever.
"""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

from gevent.socket import wait_read
from wsproto.events import Event, Message, Ping, Pong
from wsproto.frame_protocol import CloseReason, FrameDecoder
from wsproto.utilities import ProtocolError

from bridge.errors import SocketClosed
from bridge.wire import adapter

# Raised by every timed-out wait: gevent would otherwise make an exception object for each
# wait up front and keep it, with the wait, for as long as the socket sits idle.
_WAITED = TimeoutError("no client frame yet")


class Gate(Protocol):
    """The rate limit as the reader asks it about the frames that never reach the session
    (see `counted`): `admit` while one read's frames are handled, `settle` after them, so
    what a verdict sends (a warning, a close frame) follows the pongs answered before it."""

    def admit(self) -> bool: ...
    def settle(self) -> None: ...


class FrameReader:
    def __init__(self, ws: Any, ping_interval: float | None, gate: Gate | None = None) -> None:
        self.ws = ws
        # The upgrade is done: from here on wsproto's connection without its handshake.
        self._decoder: FrameDecoder = adapter.adopt(ws)
        self._gate = gate
        if gate is not None:
            adapter.filter_events(ws, self)
        self.ping_interval = ping_interval or math.inf
        self.next_ping = time.monotonic() + self.ping_interval
        self.partial_deadline = math.inf  # a frame or message under way must end by then
        self._dropping = False  # the rest of a message one of whose fragments was dropped

    def receive(self, timeout: float | None = None) -> str | bytes | None:
        """The next client message; None after `timeout` seconds without one.

        Raises SocketClosed once the connection is closed, by either side.
        """
        ws = self.ws
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        while not ws.input_buffer:
            if not ws.connected:
                raise SocketClosed(ws.close_reason, ws.close_message)
            now = time.monotonic()
            if now >= self.next_ping:
                self._ping(now)
            elif now >= self.partial_deadline:
                self._close(CloseReason.POLICY_VIOLATION, "frame incomplete")
            elif now >= deadline:
                return None
            elif self._readable(min(self.next_ping, self.partial_deadline, deadline) - now):
                self._read()
                self._check_partial()
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
            ws.connected = adapter.handle_events(ws)
        except (OSError, ProtocolError):
            ws.connected = False
        if self._gate is not None:
            self._gate.settle()

    def keep(self, event: Event) -> bool:
        """adapter.Keeper: whether a client frame goes on to simple-websocket (the gate's).

        A fragment past the limit takes its whole message with it: what was kept of it is
        dropped, and so is the rest, the final fragment too. Dropped alone, the message was
        assembled from the fragments around it: one the client never sent (a `since` cut
        to another valid cursor)."""
        if self._gate is None:
            return True
        admitted = not counted(event) or self._gate.admit()
        if not isinstance(event, Message):
            return admitted
        if self._dropping:
            self._dropping = not event.message_finished
            return False
        if admitted:
            return True
        self.ws.incoming_message, self.ws.incoming_message_len = None, 0
        self._dropping = True  # a counted fragment never ends its message
        return False

    def _check_partial(self) -> None:
        """Refuse a frame by its declared length; time a frame or message left unfinished."""
        ws, header = self.ws, self._decoder.header
        if header is None and ws.incoming_message is None and not self._dropping:
            self.partial_deadline = math.inf
            return
        if header is not None and not header.opcode.iscontrol() and ws.max_message_size:
            declared = ws.incoming_message_len + header.payload_len - self._decoder.payload_consumed
            if declared > ws.max_message_size:
                self._close(CloseReason.MESSAGE_TOO_BIG, "Message is too big")
                return
        if self.partial_deadline == math.inf:
            self.partial_deadline = time.monotonic() + self.ping_interval

    def _close(self, code: CloseReason, message: str) -> None:
        if not self.ws.connected:
            return
        try:
            self.ws.close(reason=code, message=message)
        except OSError:
            self.ws.connected = False

    def _ping(self, now: float) -> None:
        ws = self.ws
        if not ws.pong_received:
            self._close(CloseReason.POLICY_VIOLATION, "Ping/Pong timeout")
            return
        ws.pong_received = False
        try:
            ws.sock.send(ws.ws.send(Ping()))
        except OSError:
            ws.connected = False
        self.next_ping = max(now, self.next_ping) + self.ping_interval


def counted(event: Event) -> bool:
    """Whether a client frame is one the reader puts to the rate limit: a ping or a pong, or a
    fragment that does not end its message. A whole message is the session's to count; these
    never reach it, and each costs a worker as much: 2,000,000 pings (12 MB) held one for
    18 s answering them, 1,000,000 empty fragments of one message for 12 s."""
    if isinstance(event, Ping | Pong):
        return True
    return isinstance(event, Message) and event.frame_finished and not event.message_finished
