"""A socket's outbox: the bounded queue between the hub and the one writer of a socket.

The hub calls `put()` from its listener and must never block there, so `put()` only appends
or refuses. A socket whose backlog reaches the bound is a slow consumer: rather than grow
without limit (and hold every event in memory for a client that may never read again), the
outbox is closed with a reason, the writer sends that close code, and the client resumes
later with `since`.
"""

from __future__ import annotations

import threading
from collections import deque


class Outbox:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._frames: deque[str] = deque()
        self._ready = threading.Event()
        self._room = threading.Event()
        self.closed: tuple[int, str] | None = None

    def put(self, frame: str) -> bool:
        """Queue a frame; on overflow close the outbox as a slow consumer. Never blocks."""
        if self.closed is not None:
            return False
        if len(self._frames) >= self.limit:
            self.close(4008, "slow consumer: resume with since", discard=True)
            return False
        self._frames.append(frame)
        self._ready.set()
        return True

    def put_backlog(self, frame: str, timeout: float) -> bool:
        """Queue a backlog frame, waiting while the outbox is half full.

        A backlog can be far longer than the bound; the writer drains it at the client's
        pace, and half the bound stays free for live events meanwhile.
        """
        while len(self._frames) >= self.limit // 2 and self.closed is None:
            self._room.clear()
            if not self._room.wait(timeout):
                self.close(4008, "slow consumer: resume with since", discard=True)
        return self.put(frame)

    def close(self, code: int, reason: str, *, discard: bool = False) -> None:
        """Refuse further frames; the writer sends what is queued (unless `discard`), then
        the close frame with `code`."""
        if self.closed is None:
            self.closed = (code, reason)
            if discard:
                self._frames.clear()
        self._ready.set()
        self._room.set()

    def take(self, timeout: float | None = None) -> list[str]:
        """Wait for frames and return all that are queued (the writer sends them as a batch)."""
        self._ready.wait(timeout)
        self._ready.clear()
        frames = list(self._frames)
        self._frames.clear()
        self._room.set()
        return frames

    def __len__(self) -> int:
        return len(self._frames)
