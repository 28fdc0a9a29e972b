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

A subscription may choose another policy than closing (the subscribe frame's `on_slow`); its
event frames are then queued with a `Tag`:
- `drop_oldest`: past a bound, its oldest queued events are dropped (down to half the bound)
  and one `dropped` frame takes their place, `{"channel", "count", "after"}`, `after` being
  the last of its events handed on before them: the client fetches the gap from history;
- `latest`: a newer event of the channel replaces its queued one, so a slow client gets the
  newest of each channel (a status board), and no `dropped` frame.
Only what is queued can be dropped: a frame the kernel took, in part or whole, goes out.
"""

from __future__ import annotations

import json
import math
import struct
import threading
import time
from collections.abc import Callable

from bridge import closecodes, cursor, metrics
from bridge.cursor import Cursor

SLOW_CONSUMER = closecodes.SLOW_CONSUMER.code
# Slow-client policies (`on_slow`); `close` is the default and queues untagged frames.
CLOSE, DROP_OLDEST, LATEST = "close", "drop_oldest", "latest"
POLICIES = (CLOSE, DROP_OLDEST, LATEST)


def wire_frame(text: str) -> bytes:
    """A whole, unmasked WebSocket text frame (RFC 6455 5.2): what a server writes. Every
    socket gets the same bytes, so each event is framed once per process (no
    permessage-deflate: ws.py refuses it)."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


class Tag:
    """A queued frame of a `drop_oldest` or `latest` channel: whose (`owner`, the channel's
    subscription, with a `channel` name), which event, and the one handed on before it.
    `count` > 0 marks the channel's `dropped` frame instead."""

    __slots__ = ("after", "count", "event_id", "owner", "policy")

    def __init__(self, owner: object, policy: str, event_id: Cursor, after: Cursor) -> None:
        self.owner = owner
        self.policy = policy
        self.event_id = event_id
        self.after = after
        self.count = 0

    def notice(self) -> bytes:
        channel = getattr(self.owner, "channel", "")
        frame = {"type": "dropped", "channel": channel, "count": self.count,
                 "after": cursor.text(self.after)}  # fmt: skip
        return wire_frame(json.dumps(frame, separators=(",", ":")))


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
        self._tags: list[Tag | None] | None = None  # beside _frames once a tagged one queues
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

    def put(self, frame: bytes, tag: Tag | None = None) -> bool:
        """Queue a frame; past a bound, close the outbox as a slow consumer, or apply the
        frame's policy (see the module docstring). Never blocks."""
        if self.closed is not None:
            return False
        if not self._frames and not self.writing and self.direct is not None:
            written = self.direct(frame)
            if written == len(frame):
                return True
            if written:
                tag = None  # the rest of a frame the kernel began: it must go out whole
            frame = frame[written:]  # the rest goes first to the writer, in order
        if tag is not None and tag.policy == LATEST:
            self._remove(lambda t: t.owner is tag.owner and not t.count)
        # A frame always fits an empty queue: one event larger than max_bytes still goes out.
        if self._frames and self._full(len(frame)) and not self._made_room(tag, len(frame)):
            self.overflow()
            return False
        if not self._frames:
            self._since = self._clock()
        if tag is not None and self._tags is None:
            self._tags = [None] * len(self._frames)
        if self._tags is not None:
            self._tags.append(tag)
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

    def _remove(self, doomed: Callable[[Tag], bool]) -> list[int]:
        """Take the queued frames whose tag is `doomed` out of the queue; their old places."""
        if self._tags is None:
            return []
        places = [i for i, t in enumerate(self._tags) if t is not None and doomed(t)]
        for i in reversed(places):
            self._bytes -= len(self._frames[i])
            del self._frames[i], self._tags[i]
        return places

    def _made_room(self, tag: Tag | None, extra: int) -> bool:
        return tag is not None and tag.policy == DROP_OLDEST and self._drop_oldest(tag, extra)

    def _drop_oldest(self, tag: Tag, extra: int) -> bool:
        """Make room by dropping the channel's oldest queued events, down to half the bound;
        the first of them gives its place to the channel's `dropped` frame, or an earlier one
        still queued (the same gap, grown) counts them. False when the channel has nothing
        queued to drop, or dropping it is not enough."""
        tags = self._tags or []
        mine = [(i, t) for i, t in enumerate(tags) if t is not None and t.owner is tag.owner]
        events = [i for i, t in mine if not t.count]
        if not events:
            return False
        chosen: list[int] = []
        frames_left, bytes_left = len(self._frames) + 1, self._bytes + extra
        for i in events:
            if chosen and frames_left <= self.limit // 2 and bytes_left <= self.max_bytes / 2:
                break
            chosen.append(i)
            frames_left -= 1
            bytes_left -= len(self._frames[i])
        metrics.EVENTS_DROPPED.inc(len(chosen))
        gone = {id(tags[i]) for i in chosen}
        notice = next((t for _, t in mine if t.count), None)
        if notice is None:
            first = tags[chosen[0]]
            assert first is not None
            notice = Tag(tag.owner, DROP_OLDEST, first.event_id, first.after)
            gone.discard(id(first))  # its place becomes the notice's
            at = chosen[0]
        else:
            at = next(i for i, t in mine if t is notice)  # the gap began there already
        self._bytes += -len(self._frames[at])
        notice.count += len(chosen)
        self._frames[at] = notice.notice()
        tags[at] = notice
        self._bytes += len(self._frames[at])
        self._remove(lambda t: id(t) in gone)
        return not self._full(extra)

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
            self._tags = None
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
        self._tags = None
        self._bytes = 0
        self.writing = bool(frames)
        self._room.set()
        return frames

    def __len__(self) -> int:
        return len(self._frames)
