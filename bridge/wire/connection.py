"""One connected WebSocket, below the JSON protocol: what the hub and the session hold.

The hub `offer()`s ready frame bytes and never blocks there. When nothing is queued and
nothing is being written, the bytes go to the kernel at once (a non-blocking send), so a
socket that keeps up needs no writer greenlet and no wake-up per event. Only what the kernel
does not take is queued (queue.py), and the socket's writer greenlet starts then and drains
the queue in batches. This relies on gevent's cooperative switching: nothing switches
between the checks and the send.

Closing takes the same fast path: with nothing queued, the close frame goes straight to the
kernel, so closing 20,000 idle sockets at shutdown starts no greenlet. The session's reading
(`receive()`) sees the peer's answer and ends; the reaper (web/ws.py) cuts a peer that does
not answer within CLOSE_ANSWER_WAIT, or whose one write has taken over the send timeout.
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

import gevent
from wsproto.events import CloseConnection
from wsproto.utilities import LocalProtocolError

from bridge import metrics
from bridge.wire.queue import SLOW_CONSUMER, Outbox, Tag
from bridge.wire.reader import FrameReader, Gate
from bridge.wire.writer import WriterSocket

CLOSE_ANSWER_WAIT = 2.0  # seconds a peer has to answer our close frame before it is cut


class Connection:
    """`ws` is flask-sock's upgraded simple-websocket server (its reader thread never
    started: see adapter.NoThread). The queue's bounds are `queue_frames`, `queue_bytes`
    and `queue_age`; `send_buffer` (bytes, 0 for the kernel's own) bounds what the kernel
    holds for a client that stopped reading; the reader pings every `ping_interval`; a
    write may take `send_timeout` seconds before the reaper cuts the socket. `gate`, if
    given, is asked about each ping, pong and non-final fragment the client sends (the rate
    limit, reader.Gate); one it refuses is dropped unanswered."""

    __slots__ = ("_close_sent_at", "_queue", "_reader", "_reading", "_send_timeout", "_sock",
                 "_writer", "_writing", "_ws")  # fmt: skip

    def __init__(
        self,
        ws: Any,
        *,
        queue_frames: int,
        queue_bytes: float,
        queue_age: float,
        send_buffer: int,
        ping_interval: float | None,
        send_timeout: float,
        gate: Gate | None = None,
    ) -> None:
        self._ws = ws
        self._queue = Outbox(queue_frames, queue_bytes, queue_age)
        if send_buffer:
            # Left to autotuning, the kernel holds up to 4 MB for a client that stopped
            # reading, unseen by the queue's bounds: the slow consumer is then cut only
            # once those megabytes are full, tens of seconds late (docs/protocol.md).
            with contextlib.suppress(OSError):
                ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        self._sock = WriterSocket(ws.sock)
        ws.sock = self._sock  # simple-websocket's own writes (pongs, its close) go through it
        self._reader = FrameReader(ws, ping_interval, gate)
        self._send_timeout = send_timeout
        self._writer: gevent.Greenlet[[], None] | None = None
        self._writing = False  # the writer holds frames it took and has not finished sending
        self._reading = True  # until the session stops reading
        self._close_sent_at = 0.0  # when our close frame went out (the reaper times the answer)

    # -- what the hub and the session send -----------------------------------------------

    @property
    def limit(self) -> int:
        return self._queue.limit

    @property
    def max_bytes(self) -> float:
        return self._queue.max_bytes

    @property
    def closed(self) -> tuple[int, str] | None:
        """(code, reason) once closing began, by the bridge; else None."""
        return self._queue.closed

    @property
    def writer_started(self) -> bool:
        """Whether this socket ever needed its writer greenlet (one that keeps up never does)."""
        return self._writer is not None

    def __len__(self) -> int:
        """Frames waiting for the writer."""
        return len(self._queue)

    def offer(self, frame: bytes, tag: Tag | None = None) -> bool:
        """Send a frame, now if the kernel takes it, else after what is queued. Past the
        queue's bounds (and its tag's policy), close as a slow consumer. Never blocks."""
        queue = self._queue
        if queue.closed is not None:
            return False
        if not len(queue) and not self._writing:
            written = self._sock.send_now(frame)
            if written == len(frame):
                return True
            if written:
                queue.put_rest(frame[written:])  # first to the writer, whole, in order
                self._start_writer()
                return True
        if not queue.put(frame, tag):
            self.overflow()
            return False
        self._start_writer()
        return True

    def offer_backlog(self, frame: bytes, timeout: float) -> bool:
        """Send a backlog frame, waiting while the queue is half full.

        A backlog can be far longer than the bound; the writer drains it at the client's
        pace, and half the bound stays free for live events meanwhile.
        """
        queue = self._queue
        while queue.half_full() and queue.closed is None:
            if not queue.wait_for_room(timeout):
                self.overflow()
        return self.offer(frame)

    def overflow(self) -> None:
        """Close as a slow consumer: drop what is queued; the client resumes with `since`.

        Counted here, when the bridge gives up on the client: the close frame itself may only
        go out once a write stuck on the client ends (or the reaper cuts it).
        """
        if self._queue.closed is None:
            metrics.SLOW_CLOSES.inc()
        self.close(SLOW_CONSUMER, "slow consumer: resume with since", discard=True)

    def close(self, code: int, reason: str, *, discard: bool = False) -> None:
        """Refuse further frames; what is queued goes first (unless `discard`), then the
        close frame with `code`. Only the first close counts."""
        queue = self._queue
        if not queue.close(code, reason, discard=discard):
            return
        if not len(queue) and not self._writing:
            frame = self._close_frame(code, reason)
            rest = frame[self._sock.send_now(frame) :] if frame else b""
            if not rest:
                return
            queue.put_last(rest)
        self._start_writer()

    # -- what the session reads ----------------------------------------------------------

    def allow_messages_of(self, size: int) -> None:
        """Take messages of up to `size` bytes from now on (never fewer than configured)."""
        self._ws.max_message_size = max(self._ws.max_message_size, size)

    def receive(self, timeout: float | None = None) -> str | bytes | None:
        """The next client message; None after `timeout` seconds without one.

        Raises SocketClosed once the connection is closed, by either side.
        """
        return self._reader.receive(timeout)

    def finish(self) -> None:
        """The session stopped reading: close (1000 unless closing already), let the writer
        send what is queued within the send timeout, and close the TCP connection."""
        self._reading = False
        self.close(1000, "bye")
        if self._writer is not None:
            self._writer.join(self._send_timeout + 1)
        self._sock.close()

    # -- what the reaper checks ----------------------------------------------------------

    def stalled(self, now: float) -> bool:
        """One write has taken longer than the send timeout: the peer stopped reading."""
        since = self._sock.sending_since
        return bool(since) and now - since > self._send_timeout

    def close_unanswered(self, now: float) -> bool:
        """Our close frame went out over CLOSE_ANSWER_WAIT ago and the peer never answered."""
        sent = self._close_sent_at
        return bool(sent) and self._reading and now - sent > CLOSE_ANSWER_WAIT

    def abort(self) -> None:
        """The peer stopped reading: drop the queue and cut the TCP connection."""
        self.overflow()
        self.cut()

    def cut(self) -> None:
        """Cut the TCP connection; the session's reading ends with SocketClosed."""
        self._sock.abort()

    # -- the writer ----------------------------------------------------------------------

    def _start_writer(self) -> None:
        if self._writer is None:
            self._writer = gevent.spawn(self._write)

    def _write(self) -> None:
        queue = self._queue
        try:
            while True:
                frames = queue.take()
                self._writing = bool(frames)  # before any switch: offer() must not overtake
                if frames:
                    self._sock.send(b"".join(frames))
                    self._writing = False
                if queue.closed is not None and not len(queue):
                    break
        except OSError:
            return
        assert queue.closed is not None
        frame = self._close_frame(*queue.closed)
        if frame:
            with contextlib.suppress(OSError):
                self._sock.send(frame)

    def _close_frame(self, code: int, reason: str) -> bytes:
        """Our close frame (wsproto moves to closing), or b"" when the connection is closed or
        closing already."""
        ws = self._ws
        if not ws.connected:
            return b""
        try:
            frame: bytes = ws.ws.send(CloseConnection(code, reason))
        except LocalProtocolError:
            return b""
        ws.connected = False
        self._close_sent_at = time.monotonic()
        return frame
