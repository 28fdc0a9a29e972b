"""One socket-client process's sockets: both protocols' frames parsed, receipts recorded.

Sockets are picows connections (a Cython WebSocket client: callbacks per frame, no task per
message), with TCP_NODELAY, and every client frame is one write. On receipt a frame costs a
`find` for the bench mark and a few appends, so a client process can take tens of thousands
of frames per second without distorting the figure.

Two protocols over the same client:
- `bridge`: the bridge's own (docs/protocol.md): `Authorization` header, `subscribe` frames,
  `event` frames.
- `sio`: Socket.IO v5 over the Engine.IO v4 websocket transport, spoken directly
  (`/socket.io/?EIO=4&transport=websocket`): server `0{...}` (open), client `40{auth}`
  (connect), server `40{...}`; client `42N["subscribe",{...}]` with ack id N, server
  `43N[...]`; events `42["event",{...}]`; server ping `2`, client pong `3`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from collections import Counter

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from bench.common import cpu_seconds, read_mark

now = time.monotonic


class Pool:
    """Every socket of this process, and what they received."""

    def __init__(self) -> None:
        self.conns: set[Conn] = set()
        # Every client opened here, connected or not: a storm brings back each of them,
        # also those whose server died before the storm began (their conns are gone).
        self.followers: list[Follower] = []
        self.reset()
        self.last_disconnect = 0.0
        self.closes: Counter[int] = Counter()

    def reset(self) -> None:
        self.latencies: list[float] = []
        self.seqs: dict[int, list[float]] = {}  # seq -> [count, first receipt, last receipt]
        self.dups = 0
        self.disorder = 0  # tracked sockets: an event whose cursor is not above the last one
        self.other: Counter[str] = Counter()
        self.cpu_mark = cpu_seconds()
        self.wall_mark = now()

    def record(self, conn: Conn, payload: bytes, at: float) -> None:
        mark = read_mark(payload)
        if mark is None:
            self.other["event without mark"] += 1
            return
        seq, sent = mark
        # Events may be stored (and so delivered) in another order than sent, when two sends
        # overlap: a set, not the last seq, tells a duplicate.
        follower = conn.follower
        if seq in follower.seen:
            self.dups += 1
            return
        follower.seen.add(seq)
        if follower.track:  # a tracked socket follows one channel: its cursors only rise
            cursor = read_id(payload)
            if cursor is not None:
                if follower.last is not None and _order(cursor) <= _order(follower.last):
                    self.disorder += 1
                follower.last = cursor
        self.latencies.append(at - sent)
        entry = self.seqs.get(seq)
        if entry is None:
            self.seqs[seq] = [1, at, at]
        else:
            entry[0] += 1
            entry[2] = at


class Follower:
    """One client across its connections: the events it has seen (a duplicate after a
    reconnect counts as one) and, when `track`, the cursor it resumes from (`since`)."""

    __slots__ = ("channels", "last", "seen", "track")

    def __init__(self, channels: list[str], track: bool = False) -> None:
        self.channels = channels
        self.seen: set[int] = set()
        self.last: str | None = None
        self.track = track


def read_id(payload: bytes) -> str | None:
    """The event's cursor: the envelope's first field (bridge/store.py writes it first)."""
    at = payload.find(b'"event":{"id":"')
    if at < 0:
        return None
    start = at + 15
    return payload[start : payload.index(b'"', start)].decode()


class Conn(WSListener):
    def __init__(
        self,
        pool: Pool,
        proto: str,
        channels: list[str],
        token: str,
        follower: Follower | None = None,
    ) -> None:
        super().__init__()
        self.pool = pool
        self.proto = proto
        self.channels = channels
        self.token = token
        self.pending = len(channels)
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.follower = follower or Follower(channels)
        self.transport: WSTransport | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.pool.conns.add(self)
        if self.proto == "bridge":
            since = self.follower.last
            for channel in self.channels:
                subscribe = {"type": "subscribe", "channel": channel}
                if since is not None:  # the storm's followers follow one channel
                    subscribe["since"] = since
                transport.send(WSMsgType.TEXT, json.dumps(subscribe).encode())
            if not self.channels:
                self._set_ready()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        at = now()
        kind = frame.msg_type
        if kind == WSMsgType.TEXT:
            payload = frame.get_payload_as_bytes()
            if self.proto == "bridge":
                self._bridge_frame(transport, payload, at)
            else:
                self._sio_frame(transport, payload, at)
        elif kind == WSMsgType.CLOSE:
            code: int = frame.get_close_code().value  # any code, not only the named ones
            self.pool.closes[code] += 1
            transport.send_close(WSCloseCode(code) if code in _CODES else WSCloseCode.OK)
            transport.disconnect()

    def _bridge_frame(self, transport: WSTransport, payload: bytes, at: float) -> None:
        if payload.startswith(b'{"type":"event"'):
            self.pool.record(self, payload, at)
        elif payload.startswith(b'{"type":"subscribed"'):
            self.pending -= 1
            if self.pending == 0:
                self._set_ready()
        else:
            self.pool.other[payload[:60].decode(errors="replace")] += 1
            if not self.ready.done():
                self.ready.set_exception(RuntimeError(payload[:200].decode(errors="replace")))

    def _sio_frame(self, transport: WSTransport, payload: bytes, at: float) -> None:
        if payload.startswith(b"42"):
            self.pool.record(self, payload, at)
        elif payload == b"2":
            transport.send(WSMsgType.TEXT, b"3")
        elif payload.startswith(b"43"):
            self.pending -= 1
            if self.pending == 0:
                self._set_ready()
        elif payload.startswith(b"40"):
            for ack, channel in enumerate(self.channels):
                frame = f"42{ack}" + json.dumps(["subscribe", {"channel": channel}])
                transport.send(WSMsgType.TEXT, frame.encode())
            if not self.channels:
                self._set_ready()
        elif payload.startswith(b"0{"):
            transport.send(WSMsgType.TEXT, b"40" + json.dumps({"token": self.token}).encode())
        else:
            self.pool.other[payload[:60].decode(errors="replace")] += 1
            if not self.ready.done():
                self.ready.set_exception(RuntimeError(payload[:200].decode(errors="replace")))

    def _set_ready(self) -> None:
        if not self.ready.done():
            self.ready.set_result(None)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.pool.conns.discard(self)
        self.pool.last_disconnect = now()
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("disconnected before subscribed"))

    def abort(self) -> None:
        """Drop the connection with a reset: no TIME_WAIT left behind for the next scenario."""
        if self.transport is None:
            return
        raw = self.transport.underlying_transport
        sock = raw.get_extra_info("socket")
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.abort()


_CODES: set[int] = {c.value for c in WSCloseCode}


def _order(cursor: str) -> tuple[int, int]:
    ms, _, seq = cursor.partition("-")
    return int(ms), int(seq)
