"""The hub: this process's Redis subscriptions, fanned out to this process's sockets.

broker (Redis) and hub (local sockets) are separate things: the store publishes each event
on its endpoint's Redis channel; each worker process runs one hub, which subscribes to the
channels of the endpoints it has sockets on (shards.py; sharded on a Cluster) and to the
plain channels for endpoint changes and rejections (listener.py), and hands each event to
the local subscriptions of its endpoint. A subscription only ever
`offer()`s ready frame bytes to its socket (bridge/wire/), which never blocks, so a socket
that stops reading can never block the listener.

Pub/sub drops what is published while a subscriber is disconnected; so each subscription
remembers the last id it was given, and after every (re)connect the hub reads the stream
after those ids. A subscription also drops any id at or below its last one, which is what
makes "backlog, then live" free of gaps and duplicates (see `Hub.subscribe`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from fnmatch import fnmatchcase

from bridge import cursor, envelope, metrics
from bridge.cursor import Cursor
from bridge.errors import StoreUnavailable
from bridge.listener import Listener
from bridge.redis_client import Client
from bridge.shards import ShardFeed
from bridge.store import Store, StoredEvent, StreamState
from bridge.subscription import Following, Subscription
from bridge.wire.frames import wire_frame
from bridge.wire.queue import LATEST, Tag

log = logging.getLogger(__name__)

HELD_RETRY = 1.0  # seconds between backfill attempts for a channel whose stream is unreadable


class Hub:
    def __init__(
        self,
        client_factory: Callable[[], Client],
        store: Store,
        *,
        send_timeout: float,
        peer_timeout: float = 5.0,
        on_change: Callable[[str | None], None] = lambda _: None,
        channels: Callable[[], Mapping[str, str]] = dict,
        generation: Callable[[str], str | None] = lambda _: None,
    ) -> None:
        # on_change(endpoint id) for each endpoint-record change; on_change(None) whenever
        # the subscription is (re)made or lost, since changes may have gone unheard.
        self._on_change = on_change
        # Every channel there is, with its endpoint's generation: after a reconnect, a glob
        # follow learns those created while the hub was away (their first events came while
        # nobody was listening), and subscriptions of endpoints deleted meanwhile end.
        self._list_channels = channels
        # An endpoint's generation now (None: there is none), read on each change notice of
        # an endpoint this process follows: deleted, or created again, its subscriptions end.
        self._generation = generation
        # In the order they were made: of a socket's globs matching an endpoint created later,
        # the earliest adopts it.
        self._follows: dict[Following, None] = {}
        self._store = store
        self._send_timeout = send_timeout
        # Redis may stay silent this long before the hub pings it, and twice this before the
        # subscription is taken for dead (a partition or a vanished host sends no FIN).
        self._peer_timeout = peer_timeout
        self._channels: dict[str, set[Subscription]] = {}
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._started_in = 0  # the pid whose listener thread was started
        self._listening = False  # its thread runs the listener (set under _lock)
        self._after_stop: list[Callable[[], None]] = []
        self._stop = threading.Event()
        self._held: set[str] = set()  # channels whose backfill failed
        self._retry_held_at = 0.0
        self._listener = Listener(client_factory, self, peer_timeout=peer_timeout, stop=self._stop)
        self.connected = self._listener.connected
        self.shards: ShardFeed | None = None  # the per-endpoint event subscriptions
        self._feed_made = threading.Event()
        self._pending: dict[str, int] = {}  # channels wanted by subscriptions being made

    # -- lifecycle -----------------------------------------------------------------------

    def ensure_started(self) -> None:
        """Start the listener in this process (lazily: gunicorn forks after app import)."""
        # Every webhook asks: once started, answer without the lock (`_started_in` is set
        # last, under it, once the thread runs; a forked child sees its parent's pid there).
        if self._started_in == os.getpid():
            return
        with self._lock:
            if self._started_in == os.getpid():
                return
            self._stop.clear()
            self._listening = True
            self._thread = threading.Thread(target=self._listen, name="bridge-hub", daemon=True)
            self._thread.start()
            self._started_in = os.getpid()

    def _listen(self) -> None:
        try:
            self._listener.run()
        finally:
            with self._lock:
                self._listening = False
                after, self._after_stop = self._after_stop, []
            for done in after:
                done()

    def stop(self, after: Callable[[], None] | None = None) -> None:
        """Stop the listener. `after` runs once its thread no longer uses Redis (at once when
        none runs): a backfill it was still doing opened a connection on a pool closed
        meanwhile, left open for good. No wait here: an app's close is every test's."""
        with self._lock:
            self._stop.set()
            if after is not None and self._listening:
                self._after_stop.append(after)
                return
        if after is not None:
            after()

    # -- subscriptions -------------------------------------------------------------------

    def subscribe(
        self, sub: Subscription, since: Cursor | None, announce: Callable[[StreamState], None]
    ) -> int:
        """Register `sub`, queue the backlog after `since`, then switch it to live.

        The channel's own subscription comes first: until this worker's hub has it confirmed
        by Redis, its live events do not come here, and pub/sub keeps nothing for later (the
        stream may be trimmed by then). Then registering and buffering, before the backlog is
        read, means an event published while the backlog is read reaches the buffer; the id
        check in `offer` drops what the backlog already sent. A channel subscription
        confirmed again meanwhile (`_backfill`, after a reconnect) does not read the stream
        into the buffer: it asks this backlog to read the stream once more before going live.
        `announce(state)` runs before the backlog is queued (it queues the `subscribed` frame).
        Returns how many backlog events were queued.
        """
        self.ensure_started()
        channel = sub.channel
        with self._wanting([channel]):
            state = self._store.state(channel)
            # A `since` past the newest id is one this stream never gave (ids lost with a
            # failover to a replica that lagged, then a clock behind them; a client's bug):
            # taken as is, every event until the stream's ids passed it was dropped unsent.
            # It starts at the newest, told `recovered: false` (announce).
            sub.last = state.last if since is None or since > state.last else since
            with self._lock:
                self._channels.setdefault(channel, set()).add(sub)
        sent = 0
        try:
            announce(state)
            # A deletion whose notice came before `sub` was registered above ended nothing
            # (`changed` found no subscription of it): read the endpoint again now that any
            # later notice finds it, and end it, after its `subscribed`, if it is gone.
            if sub.generation is not None:
                current = self._generation(channel)
                if current != sub.generation:
                    self._end_stale(channel, current)
            while True:
                more, whole = self._backlog(sub)
                sent += more
                if self._go_live(sub, rescan=whole):
                    break
        except StoreUnavailable:
            self.unsubscribe(sub)
            raise
        return sent

    def _go_live(self, sub: Subscription, *, rescan: bool = True) -> bool:
        """Hand on the live events `sub` buffered while its backlog was read, and take it off
        the buffer: True. False, with nothing done, where a subscription confirmed meanwhile
        asked for the stream after sub.last to be read again first (the hub's backfill leaves
        a buffering subscription to its own backlog), unless `rescan` is False."""
        with self._lock:
            if rescan and sub.rescan:
                sub.rescan = False
                return False
            buffered, sub.buffer, sub.rescan = sub.buffer or [], None, False
            if not sub.ended:  # after its `unsubscribed`, nothing of the deleted endpoint
                for pending in buffered:
                    sub.offer(*pending)
            return True

    def _backlog(self, sub: Subscription, *, wait: bool = True) -> tuple[int, bool]:
        """Queue the stream after `sub.last`: how many were queued, and whether all were
        (False when the socket closed). `wait` False is for the listener's thread, which must
        never wait on a socket: each frame is put as a live one, and a socket that cannot
        take them all is closed as a slow consumer."""
        sent = 0
        channel_json = _json_string(sub.channel)
        for event in self._store.replay_after(sub.channel, sub.last):
            event_id = cursor.parse(event.id)
            with self._lock:
                if sub.ended:  # the endpoint was deleted meanwhile
                    return sent, True
                if event_id <= sub.last:
                    continue
                sub.last = event_id
            if sub.pattern is None or fnmatchcase(event.event_type, sub.pattern):
                frame = _stored_frame(channel_json, event)
                if not wait:
                    sub.put(event_id, frame)
                elif sub.socket.offer_backlog(frame, self._send_timeout):
                    sub.sent = event_id
                else:
                    return sent, False
                sent += 1
        return sent, True

    def follow(
        self,
        following: Following,
        channels: Mapping[str, str],
        since: Mapping[str, Cursor],
        announce: Callable[[str, StreamState], None],
    ) -> int:
        """Subscribe `following` to each of `channels` (endpoint id: generation) its glob
        matches, from its cursor in `since` (else live), and from then on to each matching
        channel first heard of.

        The channels there are now are marked seen before the follow is registered: a live
        event for one of them waits for its own subscription (whose backlog holds it), and
        only a channel never seen is adopted on its first event.
        """
        self.ensure_started()
        known = list(channels)
        with self._lock:
            following.seen.update(known)
            # A channel the socket holds already (exactly, or through an earlier glob) stays
            # where it is: the socket gets each event once.
            matching = sorted(
                c for c in known if fnmatchcase(c, following.glob) and following.claim(c)
            )
            self._follows[following] = None
        sent = 0
        try:
            # All the channels' subscriptions asked for at once, not one round trip each.
            with self._wanting(matching):
                for channel in matching:
                    child = following.child(channel, channels[channel])
                    following.children[channel] = child
                    sent += self.subscribe(
                        child, since.get(channel), functools.partial(announce, channel)
                    )
        except StoreUnavailable:
            self.unfollow(following)
            raise
        return sent

    def unfollow(self, following: Following) -> None:
        with self._lock:
            self._follows.pop(following, None)
            children = list(following.children.values())
            # Each channel it claimed is one it has seen (a follow that failed midway claimed
            # some it made no subscription for).
            for channel in following.seen:
                following.holdings.release(channel, following.glob)
        for child in children:
            self.unsubscribe(child)

    def _adopt(self, channel: str, generation: str | None) -> bool:
        """A channel first heard of: a subscription from its start in each follow it matches.

        Each starts buffering, reads what the stream already holds, then goes live
        (`_catch_up`): this worker may hold the channel's subscription already (an endpoint
        deleted and created again under its id: its first events may have come while no
        subscription of it was registered here)."""
        adopted: list[Subscription] = []
        with self._lock:
            for following in self._follows:
                if channel in following.seen:
                    continue
                following.seen.add(channel)
                if not fnmatchcase(channel, following.glob) or not following.claim(channel):
                    continue
                child = following.child(channel, generation)
                following.children[channel] = child
                self._channels.setdefault(channel, set()).add(child)
                following.announce_new(channel)
                adopted.append(child)
        for child in adopted:
            self._catch_up(child)
        return bool(adopted)

    def _catch_up(self, sub: Subscription) -> None:
        """Queue the stream after `sub.last`, then the live events buffered meanwhile, as
        `subscribe` does, in the listener's thread (`_backlog(wait=False)`)."""
        try:
            while True:
                self._backlog(sub, wait=False)
                if self._go_live(sub):
                    return
        except StoreUnavailable:
            with self._lock:
                # Held: live events are ignored until a backfill reads them in order.
                sub.buffer = None
                self._held.add(sub.channel)

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._channels.get(sub.channel)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._channels[sub.channel]

    def deliver(self, channel: str, event_id: Cursor, event_type: str, frame: bytes) -> None:
        sent = 0
        with self._lock:
            for sub in tuple(self._channels.get(channel, ())):
                sent += sub.offer(event_id, event_type, frame)
        if sent:
            metrics.EVENTS_SENT.inc(sent)
            # Once per event and worker, not per socket: the cursor is the stored time (ms).
            latency = max(0.0, time.time() - event_id[0] / 1000)
            metrics.DELIVERY_SECONDS.labels(channel).observe(latency)

    # -- what the listener hands over (listener.Receiver) ----------------------------------

    def subscribed(self) -> None:
        self._on_change(None)
        with self._lock:
            self._held.clear()
        self._backfill()
        self._retry_held_at = time.monotonic() + HELD_RETRY

    def lost(self) -> None:
        self._on_change(None)

    def idle(self) -> None:
        if self._held and time.monotonic() >= self._retry_held_at:
            self._backfill(only=set(self._held))
            self._retry_held_at = time.monotonic() + HELD_RETRY

    def changed(self, endpoint: str) -> None:
        self._on_change(endpoint)
        if endpoint not in self._channels and not self._follows:
            return
        # Read now, not taken from the notice: a notice handled late (the endpoint deleted
        # and already created again) still ends only what followed the deleted one.
        try:
            generation = self._generation(endpoint)
        except StoreUnavailable:
            # Its node is away: what follows it stays, and the next reconnect's backfill
            # compares generations again; a glob still adopts a new endpoint at once.
            log.warning("hub cannot read endpoint %s after its change notice", endpoint)
            generation = None
        else:
            self._end_stale(endpoint, generation)
            if generation is None:
                return  # deleted
        # No event of a channel nobody subscribed reaches this process: glob follows learn
        # of a new endpoint from its creation, and subscribe it at once.
        if self._follows and self._adopt(endpoint, generation) and self.shards is not None:
            self.shards.wake()

    def _end_stale(self, channel: str, generation: str | None) -> None:
        """End the subscriptions that follow an endpoint that is no more (deleted; `generation`
        None, or another: created again since). The channel becomes unseen by every glob, so
        one that matches adopts the endpoint created again as a new one, with its own
        `subscribed`, whatever held the old one."""
        with self._lock:
            stale = [
                sub
                for sub in self._channels.get(channel, ())
                if sub.generation is not None and sub.generation != generation
            ]
            for sub in stale:
                self.unsubscribe(sub)
            for following in self._follows:
                if following.children.get(channel) in stale:
                    del following.children[channel]
                if stale or generation is None:
                    following.seen.discard(channel)
            for sub in stale:
                sub.end()

    @contextlib.contextmanager
    def _wanting(self, channels: list[str]) -> Iterator[None]:
        """Have the channels subscribed on Redis, and wait (up to the Redis timeout) for the
        confirmations; they stay wanted until the block ends (it registers what keeps them).
        Past the timeout (Redis in trouble) go on: each confirmation, when it comes, reads
        the gap from the stream."""
        with self._lock:
            for channel in channels:
                self._pending[channel] = self._pending.get(channel, 0) + 1
        try:
            deadline = time.monotonic() + self._peer_timeout
            if self._feed_made.wait(self._peer_timeout) and self.shards is not None:
                self.shards.wait_confirmed(channels, max(0.0, deadline - time.monotonic()))
            yield
        finally:
            with self._lock:
                for channel in channels:
                    self._pending[channel] -= 1
                    if not self._pending[channel]:
                        del self._pending[channel]

    def feed(self, client: Client) -> None:
        def wanted() -> set[str]:
            with self._lock:
                return set(self._channels) | set(self._pending)

        self.shards = ShardFeed(
            client,
            wanted,
            self.event,
            lambda endpoint: self._backfill(only={endpoint}),
            peer_timeout=self._peer_timeout,
            stop=self._stop,
        )
        threading.Thread(target=self.shards.run, name="bridge-hub-shards", daemon=True).start()
        self._feed_made.set()

    def event(self, data: bytes) -> None:
        channel, rest = envelope.split_message(data)
        # Only subscribed channels' events come (a glob follow adopts a new channel from its
        # creation, before its subscription); one may have lost its last socket meanwhile.
        if channel not in self._channels:
            return
        if channel in self._held:
            return  # it is in the stream: the held channel's next backfill reads it in order
        id_text, event_type, tail = envelope.event_fields(rest)
        frame = wire_frame(envelope.event_frame(_json_string(channel), id_text, tail))
        self.deliver(channel, cursor.parse(id_text), event_type, frame)

    def rejected(self, data: bytes) -> None:
        """A rejected delivery, to the subscriptions of its channel that asked for them.
        Not backfilled after a reconnect: the rejections API keeps the last 50."""
        channel, record = envelope.split_message(data)
        if channel not in self._channels and not (self._follows and self._adopt(channel, None)):
            return
        frame = wire_frame(
            '{"type":"rejected","channel":' + _json_string(channel) + ',"rejection":'
            + record.decode() + "}"
        )  # fmt: skip
        with self._lock:
            subs = [s for s in self._channels.get(channel, ()) if s.rejected is not None]
        for sub in subs:
            sub.socket.offer(frame, Tag(sub.rejected, LATEST, cursor.ZERO, cursor.ZERO))

    def _backfill(self, only: set[str] | None = None) -> None:
        """After a (re)connect, deliver what pub/sub may have dropped meanwhile.

        A channel whose stream cannot be read (on a Cluster, its node may be down while the
        others serve) is *held*: its live events are ignored, since they are in its stream,
        and its backfill is retried every HELD_RETRY seconds; the other channels go on.
        """
        if only is None and (self._follows or self._channels):
            try:
                generations = self._list_channels()
            except StoreUnavailable:
                log.warning("hub cannot list channels; glob follows learn new ones live")
            else:
                for channel in list(self._channels):
                    self._end_stale(channel, generations.get(channel))
                for channel, generation in generations.items():
                    self._adopt(channel, generation)
        with self._lock:
            starts = {}
            for channel, subs in self._channels.items():
                if only is not None and channel not in only:
                    continue
                # A subscription still sending its backlog reads the stream again itself
                # before it goes live (`subscribe`): read here, the rest of its backlog would
                # fill its buffer of live events (a slow-consumer close), and its cursor may
                # not even be set yet (0-0: the whole stream).
                live = [sub.last for sub in subs if sub.buffer is None]
                for sub in subs:
                    if sub.buffer is not None:
                        sub.rescan = True
                if live:
                    starts[channel] = min(live)
            self._held.intersection_update(self._channels)  # nobody left to hold it for
        for channel, since in starts.items():
            channel_json = _json_string(channel)
            try:
                for event in self._store.replay_after(channel, since):
                    frame = _stored_frame(channel_json, event)
                    self.deliver(channel, cursor.parse(event.id), event.event_type, frame)
            except StoreUnavailable:
                if channel not in self._held:
                    log.warning("hub cannot read channel %s; holding it until it can", channel)
                with self._lock:  # the listener and, on a Cluster, each shard's thread backfill
                    self._held.add(channel)
            else:
                with self._lock:
                    self._held.discard(channel)
        metrics.HUB_HELD.set(len(self._held))


def _json_string(value: str) -> str:
    # Endpoint ids match [a-z0-9][a-z0-9_-]*, so quoting needs no escaping.
    return '"' + value + '"'


def _stored_frame(channel_json: str, event: StoredEvent) -> bytes:
    return wire_frame(envelope.event_frame(channel_json, event.id, event.envelope_tail))
