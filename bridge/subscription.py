"""What a socket follows, as the hub holds it: a `Subscription` per channel (its cursor, its
event-type filter, its slow-client policy, its buffer while the backlog is sent), a
`Following` per glob, the socket's `Holdings` (which of them has each channel), and the
`Liveness` check of the hub's own Redis subscription."""

from __future__ import annotations

import threading
import time
from fnmatch import fnmatchcase
from typing import Protocol

import redis

from bridge import cursor
from bridge.cursor import Cursor
from bridge.wire.frames import json_frame
from bridge.wire.queue import CLOSE, Tag

Pending = tuple[Cursor, str, bytes]  # (id, event type, frame)


class Socket(Protocol):
    """Where a subscription's frames go: a connected socket (bridge/wire/connection.py)."""

    @property
    def limit(self) -> int: ...
    @property
    def max_bytes(self) -> float: ...
    def offer(self, frame: bytes, tag: Tag | None = None) -> bool: ...
    def offer_backlog(self, frame: bytes, timeout: float) -> bool: ...
    def overflow(self) -> None: ...


class Subscription:
    """One socket's interest in one channel. `buffer` is a list while the backlog is sent."""

    __slots__ = ("buffer", "buffered_bytes", "channel", "ended", "generation", "glob", "holdings",
                 "last", "pattern", "policy", "rejected", "rescan", "sent", "socket")  # fmt: skip

    def __init__(
        self,
        channel: str,
        socket: Socket,
        pattern: str | None,
        policy: str = CLOSE,
        rejections: bool = False,
        *,
        generation: str | None = None,
        glob: str | None = None,
        holdings: Holdings | None = None,
    ) -> None:
        self.channel = channel
        self.socket = socket
        # The endpoint's `generation` (new with each creation) this follows, when known: an
        # endpoint deleted, or created again under its id, ends the subscription (`end`).
        self.generation = generation
        self.glob = glob  # the glob that adopted this channel, if one did
        self.holdings = holdings  # its socket's, where it holds the channel
        self.ended = False
        self.pattern = pattern
        self.policy = policy  # on_slow: what the socket's queue does when this channel outruns it
        self.last: Cursor = cursor.ZERO
        self.sent: Cursor = cursor.ZERO  # the newest event handed to the socket
        # With rejections on, the key its queued rejection frame is tagged `latest` with: a
        # flood of forged deliveries keeps one per channel queued for a lagging admin.
        self.rejected: object | None = object() if rejections else None
        self.buffer: list[Pending] | None = []
        self.buffered_bytes = 0
        # Set by the hub's backfill while the backlog is sent: read the stream once more
        # after `last` before going live (what the backfill would have read).
        self.rescan = False

    def end(self) -> None:
        """The endpoint it followed is gone (deleted, perhaps created again): say so, and let
        the socket's other subscriptions take an endpoint created again under its id."""
        self.ended = True
        if self.holdings is not None:
            self.holdings.release(self.channel, self.glob or self.channel)
        frame = {"type": "unsubscribed", "channel": self.channel, "reason": "deleted"}
        if self.glob is not None:
            frame["glob"] = self.glob
        self.socket.offer(json_frame(frame))

    def put(self, event_id: Cursor, frame: bytes) -> bool:
        """Hand an event frame to the socket, tagged where its policy may drop it later."""
        tag = None if self.policy == CLOSE else Tag(self, self.policy, event_id, self.sent)
        if self.socket.offer(frame, tag):
            self.sent = event_id
            return True
        return False

    def offer(self, event_id: Cursor, event_type: str, frame: bytes) -> int:
        if event_id <= self.last:
            return 0
        if self.buffer is not None:
            socket = self.socket
            if len(self.buffer) >= socket.limit or (
                self.buffered_bytes + len(frame) > socket.max_bytes
            ):
                # Live events outran a backlog the client reads slowly: same bounds, same cure.
                socket.overflow()
                return 0
            self.buffer.append((event_id, event_type, frame))
            self.buffered_bytes += len(frame)
            return 0
        self.last = event_id
        if self.pattern is None or fnmatchcase(event_type, self.pattern):
            return 1 if self.put(event_id, frame) else 0
        return 0


class Holdings:
    """Which of one socket's subscriptions holds each channel: the exact subscribe of it, or
    the glob that adopted it. A socket holds a channel once, so each event reaches it once
    however its subscriptions overlap (`*`, `de*` and `deep` together)."""

    __slots__ = ("_by_channel", "_lock")

    def __init__(self) -> None:
        self._by_channel: dict[str, str] = {}
        # The session claims for exact subscribes, the hub's listener for globs adopting
        # an endpoint created later: two threads (greenlets under gevent).
        self._lock = threading.Lock()

    def claim(self, channel: str, holder: str) -> str | None:
        """Give `channel` to `holder` (a channel, or a glob): None when it was free, else what
        holds it (unchanged)."""
        with self._lock:
            held = self._by_channel.get(channel)
            if held is None:
                self._by_channel[channel] = holder
            return held

    def holder(self, channel: str) -> str | None:
        """What holds `channel` (itself, or a glob), or None."""
        with self._lock:
            return self._by_channel.get(channel)

    def release(self, channel: str, holder: str) -> None:
        with self._lock:
            if self._by_channel.get(channel) == holder:
                del self._by_channel[channel]


class Following:
    """An admin socket's glob subscription (`*`, `stripe-*`): one Subscription per matching
    channel, made for the channels there are when it starts and for each one first heard of
    later (an endpoint created afterwards), so every channel keeps its own cursor."""

    __slots__ = ("children", "glob", "holdings", "pattern", "policy", "rejections", "seen",
                 "socket")  # fmt: skip

    def __init__(
        self,
        glob: str,
        socket: Socket,
        pattern: str | None,
        policy: str = CLOSE,
        rejections: bool = False,
        holdings: Holdings | None = None,
    ) -> None:
        self.glob = glob
        self.socket = socket
        # The socket's: a channel it already holds (exactly, or through an earlier glob) is
        # not adopted again.
        self.holdings = holdings if holdings is not None else Holdings()
        self.pattern = pattern
        self.policy = policy
        self.rejections = rejections
        self.children: dict[str, Subscription] = {}
        self.seen: set[str] = set()  # channels already matched against the glob, or not

    def claim(self, channel: str) -> bool:
        """Whether this glob may adopt `channel`: the socket holds it through nothing else."""
        return self.holdings.claim(channel, self.glob) is None

    def child(self, channel: str, generation: str | None) -> Subscription:
        return Subscription(
            channel, self.socket, self.pattern, self.policy, self.rejections,
            generation=generation, glob=self.glob, holdings=self.holdings,
        )  # fmt: skip

    def announce_new(self, channel: str) -> None:
        """Tell the client a channel joined, before its first event."""
        frame = {"type": "subscribed", "channel": channel, "cursor": "0-0", "recovered": True,
                 "glob": self.glob}  # fmt: skip
        self.socket.offer(json_frame(frame))


class Liveness:
    """Whether a subscription's Redis is still there. A partition, or a host that vanished,
    sends no FIN: the connection looks open while nothing arrives (and redis-py's own health
    check only sends its PING, never minds the missing answer). So after `timeout` seconds
    of silence the hub pings, and after twice that it takes the connection for dead."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.heard = self.pinged = time.monotonic()

    def check(self, heard: bool) -> bool:
        """Note what arrived; True when a ping is due. Raises TimeoutError past the deadline."""
        now = time.monotonic()
        if heard:
            self.heard = now
            return False
        if now - self.heard > 2 * self.timeout:
            raise redis.TimeoutError(f"redis silent for {now - self.heard:.1f} s, ping unanswered")
        if now - self.heard > self.timeout and now - self.pinged > self.timeout:
            self.pinged = now
            return True
        return False
