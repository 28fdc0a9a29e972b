"""A socket's queue: the bounded list of frames between the hub and the socket's writer.

The hub offers from its listener and must never block there, so `put()` only appends or
refuses. A socket whose backlog reaches the bound (frames, bytes, or the age of its oldest
frame, whichever comes first) is a slow consumer: rather than grow without limit (and hold
every event in memory for a client that may never read again), `put()` refuses, the
connection closes with a reason, and the client resumes later with `since`. The count alone
is not a bound on memory (events may be megabytes each), and neither count nor bytes bounds
how late a client is; the age does.

A subscription may choose another policy than closing (the subscribe frame's `on_slow`); its
event frames are then queued with a `Tag`:
- `drop_oldest`: past a bound, its oldest queued events are dropped (down to half the bound)
  and one `dropped` frame takes their place, `{"channel", "count", "after"}`, `after` being
  the last of its events handed on before them: the client fetches the gap from history;
- `latest`: a newer event of the channel replaces its queued one, so a slow client gets the
  newest of each channel (a status board), and no `dropped` frame.
Only what is queued can be dropped: a frame the kernel took, in part or whole, goes out.

No I/O here: connection.py writes (its fast path sends straight to the kernel while nothing
is queued) and sends the close frame.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from gevent.event import Event

from bridge import closecodes, cursor, metrics
from bridge.cursor import Cursor
from bridge.wire.frames import json_frame

SLOW_CONSUMER = closecodes.SLOW_CONSUMER.code
# Slow-client policies (`on_slow`); `close` is the default and queues untagged frames.
CLOSE, DROP_OLDEST, LATEST = "close", "drop_oldest", "latest"
POLICIES = (CLOSE, DROP_OLDEST, LATEST)


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
        return json_frame({"type": "dropped", "channel": channel, "count": self.count,
                           "after": cursor.text(self.after)})  # fmt: skip


class Outbox:
    __slots__ = ("_bytes", "_clock", "_frames", "_ready", "_room", "_since", "_started", "_tags",
                 "closed", "limit", "max_age", "max_bytes")  # fmt: skip

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
        self._started = False  # the first queued frame is the rest of one the kernel began
        self._ready = Event()  # something to take
        self._room = Event()  # the writer took what was queued
        self.closed: tuple[int, str] | None = None

    def put(self, frame: bytes, tag: Tag | None = None) -> bool:
        """Queue a frame, applying its tag's policy; False when the queue is closed, or full
        with nothing the policy may drop (the caller closes it as a slow consumer)."""
        if self.closed is not None:
            return False
        if tag is not None and tag.policy == LATEST:
            self._remove(lambda t: t.owner is tag.owner and not t.count)
        # A frame always fits an empty queue: one event larger than max_bytes still goes out.
        if self._frames and self._full(len(frame)) and not self._made_room(tag, len(frame)):
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
        return True

    def put_rest(self, rest: bytes) -> None:
        """Queue the rest of a frame the kernel took in part, into an empty queue: it goes
        out whole even if the queue is discarded (the peer would read the close frame's
        bytes as that frame's payload)."""
        assert not self._frames, "the rest of a begun frame goes first"
        self._started = self.put(rest)

    def put_last(self, frame: bytes) -> None:
        """Queue the rest of the close frame, past every bound: nothing comes after it."""
        self._frames.append(frame)
        self._ready.set()

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

    def half_full(self) -> bool:
        """Past half the bound: a backlog waits here, leaving the other half to live events."""
        return len(self._frames) >= self.limit // 2 or self._bytes >= self.max_bytes / 2

    def wait_for_room(self, timeout: float) -> bool:
        """Wait until the writer takes what is queued (or the queue closes); False on timeout."""
        self._room.clear()
        return bool(self._room.wait(timeout))

    def close(self, code: int, reason: str, *, discard: bool = False) -> bool:
        """Refuse further frames; what is queued stays for the writer (unless `discard`),
        the close frame goes after it. Only the first close counts: True for that one."""
        if self.closed is not None:
            return False
        self.closed = (code, reason)
        if discard:
            del self._frames[1 if self._started else 0 :]
            self._tags = None
            self._bytes = sum(map(len, self._frames))
        self._ready.set()
        self._room.set()
        return True

    def take(self, timeout: float | None = None) -> list[bytes]:
        """Wait for frames and return all that are queued (the writer sends them as a batch)."""
        self._ready.wait(timeout)
        self._ready.clear()
        frames = list(self._frames)
        self._frames.clear()
        self._tags = None
        self._started = False
        self._bytes = 0
        self._room.set()
        return frames

    def __len__(self) -> int:
        return len(self._frames)
