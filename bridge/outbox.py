"""A socket's outbox: the bounded queue between the hub and the one writer of a socket.

The hub calls `put()` from its listener and must never block there, so `put()` only appends
or refuses. A socket whose backlog reaches the bound (frames, bytes, or the age of its oldest
frame, whichever comes first) is a slow consumer: rather than grow without limit (and hold
every event in memory for a client that may never read again), the outbox is closed with a
reason, the writer sends that close code, and the client resumes later with `since`. The
count alone is not a bound on memory (events may be megabytes each), and neither count nor
bytes bounds how late a client is; the age does.

The fast path: when nothing is queued and nothing is being written, `put()` hands the frame
to the kernel at once through `direct` (a non-blocking send; see session.py), so a socket
that keeps up needs no writer greenlet and no wake-up per event. Only what the kernel does
not take is queued, and `wake` starts the writer for it. This relies on gevent's cooperative
switching (no switch between the checks and the send); the bridge runs only on gevent workers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from bridge import metrics

# The close code for a socket whose client does not keep up (docs/protocol.md).
SLOW_CONSUMER = 4008


class Outbox:
    def __init__(
        self,
        limit: int,
        max_bytes: float = math.inf,
        max_age: float = math.inf,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._clock = clock
        self._bytes = 0  # queued, not yet taken by the writer
        self._since = 0.0  # when the oldest queued frame was queued
        # A list, not a deque: the writer takes all of it at once, and an empty deque costs
        # ~600 bytes more per idle socket.
        self._frames: list[bytes] = []
        self._ready = threading.Event()
        self._room = threading.Event()
        self.closed: tuple[int, str] | None = None
        # Set by the session: writes what it can now without ever blocking; returns bytes written.
        self.direct: Callable[[bytes], int] | None = None
        self.writing = False  # the writer holds frames it took and has not finished sending
        # Called when a frame has to wait, or at close: the session starts its writer then.
        self.wake: Callable[[], None] | None = None
        # Set by the session: sends the close frame now without blocking; returns the bytes
        # the kernel did not take (the writer sends those).
        self.close_now: Callable[[int, str], bytes] | None = None

    def put(self, frame: bytes) -> bool:
        """Queue a frame; on overflow close the outbox as a slow consumer. Never blocks."""
        if self.closed is not None:
            return False
        if not self._frames and not self.writing and self.direct is not None:
            written = self.direct(frame)
            if written == len(frame):
                return True
            frame = frame[written:]  # the rest goes first to the writer, in order
        # A frame always fits an empty queue: one event larger than max_bytes still goes out.
        if self._frames and self._full(len(frame)):
            self.overflow()
            return False
        if not self._frames:
            self._since = self._clock()
        self._frames.append(frame)
        self._bytes += len(frame)
        self._ready.set()
        if self.wake is not None:
            self.wake()
        return True

    def put_backlog(self, frame: bytes, timeout: float) -> bool:
        """Queue a backlog frame, waiting while the outbox is half full.

        A backlog can be far longer than the bound; the writer drains it at the client's
        pace, and half the bound stays free for live events meanwhile.
        """
        while self._half_full() and self.closed is None:
            self._room.clear()
            if not self._room.wait(timeout):
                self.overflow()
        return self.put(frame)

    def _full(self, extra: int) -> bool:
        return (
            len(self._frames) >= self.limit
            or self._bytes + extra > self.max_bytes
            or self._clock() - self._since > self.max_age
        )

    def _half_full(self) -> bool:
        return len(self._frames) >= self.limit // 2 or self._bytes >= self.max_bytes / 2

    def overflow(self) -> None:
        """Close as a slow consumer: drop what is queued; the client resumes with `since`.

        Counted here, when the bridge gives up on the client: the close frame itself may only
        go out once a write stuck on the client ends (or the reaper cuts it).
        """
        if self.closed is None:
            metrics.SLOW_CLOSES.inc()
        self.close(SLOW_CONSUMER, "slow consumer: resume with since", discard=True)

    def close(self, code: int, reason: str, *, discard: bool = False) -> None:
        """Refuse further frames; what is queued goes first (unless `discard`), then the
        close frame with `code`. Only the first close counts.

        With nothing queued or being written, the close frame goes straight to the kernel
        (`close_now`), like `put`'s fast path: closing 20,000 idle sockets at shutdown then
        starts no writer greenlet at all.
        """
        if self.closed is not None:
            return
        self.closed = (code, reason)
        if discard:
            self._frames.clear()
            self._bytes = 0
        self._ready.set()
        self._room.set()
        if not self._frames and not self.writing and self.close_now is not None:
            rest = self.close_now(code, reason)
            if not rest:
                return
            self._frames.append(rest)  # the writer sends the rest (past every bound: it is last)
        if self.wake is not None:
            self.wake()

    def take(self, timeout: float | None = None) -> list[bytes]:
        """Wait for frames and return all that are queued (the writer sends them as a batch)."""
        self._ready.wait(timeout)
        self._ready.clear()
        frames = list(self._frames)
        self._frames.clear()
        self._bytes = 0
        self.writing = bool(frames)
        self._room.set()
        return frames

    def __len__(self) -> int:
        return len(self._frames)
