"""The one place that bends simple-websocket, wsproto and gevent below their public APIs.

Checked against simple-websocket 1.1.0, wsproto 1.3.2 and gevent 26.9.0, the versions pinned
in requirements.txt. flask-sock stays the route layer; what its stack cannot do publicly, and
the bridge needs (reading in the request greenlet, framing once per event):

- simple-websocket would start a reader thread per socket. `NoThread`, passed through its
  public `thread_class`, keeps it from starting, and `handle_events` calls its private
  `Base._handle_events` (answer pings and close frames, enforce the message size, fill
  `input_buffer`) from the request greenlet instead (bridge/wire/reader.py).
- Its per-connection state is used as the instance attributes in `SERVER_ATTRIBUTES`
  (simple-websocket documents only send, receive and close).
- After the upgrade, `adopt` swaps simple-websocket's `ws.ws`, a `wsproto.WSConnection` that
  keeps its HTTP/1.1 handshake parser, the upgrade request and an event queue for the life of
  the socket (~3 KB each), for the public low-level `wsproto.connection.Connection` it wraps:
  same `send`, `receive_data` and `events`, no handshake.
- simple-websocket's `_handle_events` iterates `ws.ws.events()`; `filter_events` makes that
  connection a `_Filtered` (its class swapped, no state but its keeper) whose `events()`
  drops what the bridge's inbound rate limit refuses (pings, pongs, fragments), unanswered,
  and gives the close wsproto makes for text that is not UTF-8 (1007) a fixed reason.
- wsproto's frame decoder (`Connection._proto._frame_decoder`, its `header` and
  `payload_consumed`) is read to refuse a frame by its declared length as soon as its header
  arrives; wsproto has no public way to see a frame before its payload.

gevent is used through its public API only: `wait_read`, and `send(data, 0, timeout=0.0)`,
a send that never waits (gevent's sockets take a `timeout`).

`check` raises `LibraryChanged` naming the first attribute an upgrade moved; `adopt` runs it on
every socket (a few getattr calls), `check_gevent` runs at import, and
tests/test_wire_adapter.py runs both on a real handshake.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from typing import Any, Protocol, cast

from gevent import socket as gevent_socket
from wsproto.connection import Connection
from wsproto.events import CloseConnection, Event
from wsproto.frame_protocol import CloseReason, FrameDecoder

from bridge.errors import LibraryChanged

# What the bridge reads or writes on a simple_websocket.Server (bridge/wire/reader.py,
# connection.py): the socket, wsproto's connection, and the state _handle_events keeps.
SERVER_ATTRIBUTES = (
    "sock",
    "ws",
    "connected",
    "input_buffer",
    "incoming_message",
    "incoming_message_len",
    "max_message_size",
    "receive_bytes",
    "pong_received",
    "close_reason",
    "close_message",
    "_handle_events",
)
DECODER_ATTRIBUTES = ("header", "payload_consumed")


class NoThread:
    """A thread class for simple-websocket that never starts: FrameReader does the reading."""

    def __init__(self, target: Callable[[], None]) -> None:
        self.name = "(_thread)"  # simple-websocket renames its thread

    def start(self) -> None:
        pass


def _get(owner: object, name: str, where: str) -> Any:
    try:
        return getattr(owner, name)
    except AttributeError:
        raise LibraryChanged(f"{where}.{name}") from None


def check(ws: Any) -> None:
    """Every internal the bridge relies on is where it was, on this upgraded socket."""
    for name in SERVER_ATTRIBUTES:
        _get(ws, name, "simple_websocket.Server")
    connection = ws.ws
    if not isinstance(connection, Connection):
        connection = _get(connection, "connection", "wsproto.WSConnection")
    if not isinstance(connection, Connection):
        raise LibraryChanged("wsproto.WSConnection.connection (a wsproto.connection.Connection)")
    _decoder(connection)


def check_gevent() -> None:
    """gevent's socket still takes the `timeout` that send_nowait passes."""
    if "timeout" not in inspect.signature(gevent_socket.socket.send).parameters:
        raise LibraryChanged("gevent.socket.socket.send(timeout=)")


check_gevent()  # once, at import: a worker that would misbehave does not start


def _decoder(connection: Connection) -> FrameDecoder:
    protocol = _get(connection, "_proto", "wsproto.connection.Connection")
    decoder = _get(protocol, "_frame_decoder", "wsproto.frame_protocol.FrameProtocol")
    if not isinstance(decoder, FrameDecoder):
        raise LibraryChanged("wsproto.frame_protocol.FrameProtocol._frame_decoder")
    for name in DECODER_ATTRIBUTES:
        _get(decoder, name, "wsproto.frame_protocol.FrameDecoder")
    return decoder


def adopt(ws: Any) -> FrameDecoder:
    """After the upgrade: keep wsproto's connection, drop its handshake; the frame decoder."""
    check(ws)
    if not isinstance(ws.ws, Connection):
        ws.ws = ws.ws.connection
    return _decoder(ws.ws)


def handle_events(ws: Any) -> bool:
    """simple-websocket's handling of what wsproto parsed; False once the socket closes."""
    return bool(ws._handle_events())


class Keeper(Protocol):
    def keep(self, event: Event) -> bool: ...


class _Filtered(Connection):
    """wsproto's connection, whose `events()` yields only what its `keeper` keeps. Swapped in
    as the class of a socket's connection: a closure per socket cost an idle one 0.8 KB."""

    keeper: Keeper

    def events(self) -> Generator[Event, None, None]:
        keep = self.keeper.keep
        for event in super().events():
            if isinstance(event, CloseConnection):
                event = _fixed_reason(event)
            if keep(event):
                yield event


# wsproto closes a socket whose text frame (or close reason) is not UTF-8 with 1007 and
# Python's decode error as the reason, which simple-websocket sends the client: "'utf-8'
# codec can't decode byte 0xff in position 25: invalid start byte" says how we parse.
_DECODE_ERROR = "codec can't decode"
_CLOSE_REASON_ERROR = "Error decoding CLOSE reason"


def _fixed_reason(event: CloseConnection) -> CloseConnection:
    reason = event.reason or ""
    if event.code != CloseReason.INVALID_FRAME_PAYLOAD_DATA or _DECODE_ERROR not in reason:
        return event
    where = "a close reason" if reason.startswith(_CLOSE_REASON_ERROR) else "a text frame"
    return CloseConnection(event.code, f"invalid UTF-8 in {where}")


def filter_events(ws: Any, keeper: Keeper) -> None:
    """From now on simple-websocket's event handling (`handle_events`) sees only the wsproto
    events of this socket that `keeper.keep` lets through; the others are dropped unanswered."""
    connection = ws.ws
    _get(connection, "events", "wsproto.connection.Connection")
    if type(connection) is not Connection:
        raise LibraryChanged(f"the socket's connection is a {type(connection).__name__}")
    connection.__class__ = _Filtered
    cast(_Filtered, connection).keeper = keeper


def send_nowait(sock: Any, data: bytes) -> int:
    """Write what the kernel takes right now; BlockingIOError when it takes nothing."""
    return int(sock.send(data, 0, timeout=0.0))
