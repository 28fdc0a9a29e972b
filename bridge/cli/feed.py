"""The live feed behind `bridge listen`: one WebSocket subscribed to several endpoints'
channels (docs/protocol.md), kept alive forever.

- **Resume.** Each channel is subscribed with `since` = the last event its sink took, so a
  reconnect misses nothing and repeats nothing. A channel started without a cursor is recorded
  at the cursor its first subscription reports (`on_start`), so even the first events after
  a restart are not lost.
- **A full sink pauses its channel only.** The reader never waits for a sink: a channel whose
  sink refuses an event (its lane is full: the local app is down or slow) is unsubscribed, and
  subscribed again with `since` = the last event taken once the sink has room. The bridge
  then sends the rest from its history, with no gap and no duplicate, so nothing is lost and
  the other channels never wait. (Blocking the reader instead, backpressure, would hold up
  every channel behind the slowest one, and would not even reach the bridge: simple-websocket
  reads the socket in its own thread into an unbounded buffer.) Since the reader keeps up,
  the bridge has no reason to close the socket as a slow consumer (4008); if it does anyway
  (the whole process was stopped), that is a drop like any other, resumed after the last
  event taken per channel, while the lanes keep what they hold.
- **Reconnect.** A dropped connection is retried forever, with exponential backoff. Only the
  first connection failing (the bridge was never there), a refusal (a wrong token, an
  unknown endpoint), a close the catalogue marks `never`, or a frame this client cannot
  parse (it may be an event: going on would skip it) ends the feed, as a CliError.
- **Silence.** Whenever nothing has arrived for a while, the protocol's own ping
  (`{"type": "ping"}`, answered `{"type": "pong"}`) is sent. So after `stall_after` seconds
  without events the user is told which it is: *idle* (pongs come back: nobody sent
  anything) or *stalled* (nothing comes back: the bridge or the network is away), and
  *back* once frames flow again. A connection that stays dead is cut by simple-websocket's
  own ping (connection.WS_PING_INTERVAL), and the reconnect loop takes over.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from bridge import closecodes
from bridge.backoff import Backoff
from bridge.cli import shared
from bridge.cli.connection import Connection, Dropped, Unreadable, subscribe_answered
from bridge.client import AdminToken, CliError, Unreachable

# Reconnect backoff: first wait, doubling up to the cap.
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 10.0
# Default for `--stall-after`: seconds without events before saying idle or stalled.
STALL_AFTER = 30.0
# How often a paused channel's sink is asked whether it has room again.
PAUSED_POLL = 0.1

Event = dict[str, Any]
Notice = Callable[[str], None]

# How status lines say shared.START (`after 0-0` reads like a position, not "from the start").
FROM_START = "from the start of its history"


def after(cursor: str) -> str:
    """Where a channel resumes, for a status line: `after <cursor>`, or from the start."""
    return FROM_START if cursor == shared.START else f"after {cursor}"


def starting(cursor: str) -> str:
    """Where a channel starts, for the listening line: `from after <cursor>`, or from the
    start."""
    return FROM_START if cursor == shared.START else f"from {after(cursor)}"


class Sink(Protocol):
    """Where the feed puts events: never blocks (bridge/cli/lanes.py)."""

    def offer(self, channel: str, event: Event) -> bool:
        """Take the event, which is then as good as handled, or refuse it (full)."""

    def ready(self, channel: str) -> bool:
        """Whether a refusing channel has room again."""


class Feed:
    """Events of several channels, forever: `run(sink)` returns only once `stop()` was called.

    `resume` maps each channel to where to start (None: live from the first subscription);
    once `sink.offer(channel, event)` took an event, a reconnect resumes after it.
    """

    def __init__(
        self,
        server: str,
        token: AdminToken,
        resume: Mapping[str, str | None],
        notice: Notice,
        *,
        stall_after: float = STALL_AFTER,
        on_start: Callable[[str, str], None] | None = None,
        stop_hint: str = "",
    ) -> None:
        self.server = server
        # How the user stops it, for the "listening" line: `bridge listen` says Ctrl-C; a
        # library feed in someone's worker is stopped by its own code (`Feed.close()`).
        self.stop_hint = stop_hint
        self.token = token
        self.resume = dict(resume)
        self.notice = notice
        self.stall_after = stall_after
        self.on_start = on_start or (lambda channel, cursor: None)
        # Ping this often when nothing arrives, so that an answer is due well within
        # stall_after; poll often enough to notice on time.
        self.ping_every = min(max(stall_after / 3, 0.1), 10.0)
        self.poll = min(self.ping_every / 2, 1.0)
        self._stopped = threading.Event()

    def stop(self) -> None:
        """End `run()` at its next poll (within a second)."""
        self._stopped.set()

    def run(self, sink: Sink) -> None:
        try:
            self._run(sink)
        except Unreadable as unreadable:
            # Not the bridge's word, and perhaps an event: skipping it would lose that event
            # (and move a checkpoint past it); a reconnect would only receive it again.
            raise CliError(
                f"this client could not parse a frame from {self.server} ({unreadable}); "
                f"stopped rather than pass over what may be an event, at {self._position()}"
            ) from None

    def _run(self, sink: Sink) -> None:
        connected_once = False
        backoff = Backoff(BACKOFF_FIRST, BACKOFF_CAP, least=0.8)
        while not self._stopped.is_set():
            # Wait before every reconnect, so a flapping bridge is not hammered.
            if connected_once and self._stopped.wait(backoff.next()):
                return
            try:
                current = Connection(self.server, self.token, self.resume)
            except Unreachable:
                if not connected_once:  # the bridge was never there: say so, do not wait forever
                    raise
                continue
            try:
                self._announce(current, connected_once)
                connected_once = True
                backoff.reset()
                self._pump(current, sink)
            except Dropped as dropped:
                if closecodes.wants_new_token(dropped.code):
                    raise self.token.refused(self.server, "WebSocket closed with 4001") from None
                if closecodes.gives_up(dropped.code):  # as the browser client: no retry loop
                    raise CliError(
                        f"{self.server} closed the feed: {dropped.reason} (close code "
                        f"{dropped.code}); a reconnect would only repeat it"
                    ) from None
                self.notice(
                    f"away: lost {self.server} ({dropped.reason}); reconnecting, will resume "
                    f"{self._position()}"
                )
            finally:
                current.close()

    def _position(self) -> str:
        parts = [
            f"{channel} {after(cursor)}" if cursor else f"{channel} (live)"
            for channel, cursor in self.resume.items()
        ]
        return ", ".join(parts)

    def _announce(self, connection: Connection, reconnected: bool) -> None:
        if reconnected:
            self.notice(f"back: reconnected to {self.server}, resuming {self._position()}")
        else:
            names = ", ".join(self.resume)
            self.notice(
                f"listening to {names} on {self.server}{self._starts()}"
                + (f" ({self.stop_hint})" if self.stop_hint else "")
            )
        for channel, subscribed in connection.subscribed.items():
            self._subscribed(channel, subscribed)

    def _starts(self) -> str:
        """Where the listening line says the channels start: nothing for live ones; one start
        for them all (`--since`) is said once."""
        started = {c: s for c, s in self.resume.items() if s is not None}
        if len(started) == len(self.resume) and len(set(started.values())) == 1:
            each = "each " if len(started) > 1 else ""
            return f", {each}{starting(next(iter(started.values())))}"
        return "".join(f", {c} {starting(s)}" for c, s in started.items())

    def _subscribed(self, channel: str, subscribed: Mapping[str, Any]) -> None:
        if subscribed.get("recovered") is False:
            self.notice(
                f"WARNING: the bridge no longer holds every event of {channel} "
                f"{after(str(self.resume[channel]))}: some events were missed (recovered: false)"
            )
        if self.resume[channel] is None:  # from now on, resume where this one started
            cursor = str(subscribed.get("cursor") or shared.START)
            self.resume[channel] = cursor
            self.on_start(channel, cursor)

    def _pump(self, connection: Connection, sink: Sink) -> None:
        heard = last_event = last_ping = time.monotonic()
        stalled = idle_told = False
        # Channels paused because their sink was full: False while unsubscribed, True once
        # subscribed again, until the `subscribed` answer. Their events are dropped meanwhile:
        # the new subscription sends them again, after the last one taken.
        paused: dict[str, bool] = {}
        while not self._stopped.is_set():
            frame = connection.next(PAUSED_POLL if paused else self.poll)
            now = time.monotonic()
            if frame is not None:
                if stalled:
                    self.notice(f"back: {self.server} answers again after {now - heard:.0f} s")
                    stalled = idle_told = False
                heard = now
                if self._route(frame, connection, sink, paused):
                    last_event, idle_told = now, False
            for channel, resubscribed in list(paused.items()):
                if not resubscribed and sink.ready(channel):
                    connection.subscribe(channel, self.resume[channel])
                    paused[channel] = True
            if frame is not None:
                continue
            if now - heard >= self.ping_every and now - last_ping >= self.ping_every:
                connection.ping()
                last_ping = now
            if not stalled and now - heard > self.stall_after:
                stalled = True
                self.notice(
                    f"stalled: no answer from {self.server} for {now - heard:.0f} s (pings "
                    "unanswered): the bridge or the network is away; waiting for it"
                )
            elif not stalled and not idle_told and now - last_event > self.stall_after:
                idle_told = True
                self.notice(
                    f"idle: no events for {now - last_event:.0f} s; {self.server} answers "
                    "pings, so the stream is alive"
                )

    def _route(
        self, frame: Event, connection: Connection, sink: Sink, paused: dict[str, bool]
    ) -> bool:
        """Offer an event to the sink, pausing its channel when full, or act on an answer;
        whether `frame` was an event."""
        kind, channel, event = frame.get("type"), frame.get("channel"), frame.get("event")
        if kind == "event" and isinstance(event, dict) and channel in self.resume:
            if channel in paused:
                return True  # it comes again after the new subscription
            if sink.offer(channel, event):
                self.resume[channel] = str(event.get("id") or self.resume[channel])
            else:
                paused[channel] = False
                connection.unsubscribe(channel)
                self.notice(
                    f"{channel}: too many events waiting to be handled; pausing its stream, "
                    f"to resume after {self.resume[channel]}"
                )
            return True
        answered = subscribe_answered(frame)
        if answered is not None and answered in self.resume:
            if kind != "subscribed":  # refused, or dropped mid-backlog (storage unavailable)
                raise Dropped(None, f"{answered}: {frame.get('message')} ({frame.get('code')})")
            self._subscribed(answered, frame)
            paused.pop(answered, None)
        elif kind == "unsubscribed" and frame.get("reason") == "deleted" and channel in self.resume:
            # Not a reason to stop the others: say it, since nothing of it will come now, and
            # forget it, so a reconnect neither fails on it (unknown_channel) nor resumes an
            # endpoint created again under its id as if it were the one followed.
            del self.resume[channel]
            paused.pop(channel, None)
            if not self.resume:
                raise CliError(
                    f"{channel}: the endpoint was deleted on {self.server}; every endpoint "
                    "this followed is gone, so there is nothing left to listen to"
                )
            self.notice(f"{channel}: the endpoint was deleted on {self.server}; no more events")
        elif kind == "error":
            self.notice(f"the bridge said: {frame.get('message')} ({frame.get('code')})")
        return False
