"""This process's per-endpoint event subscriptions: only the channels its sockets need.

Each endpoint's events go on its own channel (`keys.events_shard`). On a Redis Cluster the
append script SPUBLISHes there, and the channel is SSUBSCRIBEd on the primary that owns its
slot, following slot moves; on one server (and behind Sentinel) the script PUBLISHes and the
channel is SUBSCRIBEd on that server. Either way a worker reads only the events of endpoints
it has sockets on, not every event (docs/architecture.md says why).

A supervisor maps each wanted endpoint to the node that owns its channel (one server: the
server) and runs one `_NodeFeed` thread per such node; each thread owns one pub/sub
connection, brings its subscriptions in line with what it is assigned, and reads. On a
Cluster slot moves show up three ways, all handled the same (refresh the slot map,
reassign, resubscribe): the node pushes `sunsubscribe` for a channel whose slot it gave away
(migration, or a primary demoted by a failover), it answers MOVED to an SSUBSCRIBE, or its
connection dies (a killed primary). On one server only the last happens.

Pub/sub drops what is published while nobody listens, so every subscription confirmation
calls `on_subscribed(endpoint)`: the hub then reads the gap from the endpoint's stream, in
this same thread, before any later live message of that channel. A new socket's subscribe
waits for its channel's confirmation (`wait_confirmed`), so nothing it is owed depends on
that read: the stream may have been trimmed past it.

redis-py 8.1's ClusterPubSub offers `ssubscribe` and `get_sharded_message` and re-routes
channels after a slot-map refresh (in a thread pool of its own), but it does not say when a
channel was resubscribed, so a hub could not know when to read the gap; nor does it refresh
on a `sunsubscribe` push. Hence this module, built on redis-py's per-node PubSub.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable

import redis
from redis.client import PubSub
from redis.cluster import RedisCluster
from redis.exceptions import SlotNotCoveredError

from bridge import keys, metrics
from bridge.backoff import Backoff
from bridge.redis_client import Client
from bridge.redis_errors import REDIS_ERRORS
from bridge.subscription import Liveness

log = logging.getLogger(__name__)

POLL = 0.2  # seconds between the supervisor's rounds when nothing new is wanted
# Seconds a node's loop waits for a message before it looks at what it is assigned: a new
# socket's `subscribed` answer waits for its channel's confirmation (Hub.subscribe).
LISTEN_POLL = 0.02
# Seconds at least between two assignment rounds: a reconnect storm's thousands of new
# sockets a second each wake the supervisor, and a round reads every wanted endpoint.
ASSIGN_GAP = 0.01


class _Server:
    """One server, or the primary Sentinel names: every channel is there, under SUBSCRIBE."""

    MESSAGE, SUBSCRIBED, UNSUBSCRIBED = "message", "subscribe", "unsubscribe"
    NODE = "server"

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def node_of(self, channel: str) -> str:
        return self.NODE

    def connection(self, node: str) -> redis.Redis:
        # Behind Sentinel a new pub/sub connection asks for the current primary.
        return self._client

    def refresh(self) -> None:
        """Nothing moves on one server."""

    def subscribe(self, pubsub: PubSub, channel: bytes) -> None:
        pubsub.subscribe(channel)

    def unsubscribe(self, pubsub: PubSub, channel: bytes) -> None:
        pubsub.unsubscribe(channel)  # type: ignore[no-untyped-call]


class _Cluster:
    """A Cluster: each channel on the primary that owns its slot, under SSUBSCRIBE."""

    MESSAGE, SUBSCRIBED, UNSUBSCRIBED = "smessage", "ssubscribe", "sunsubscribe"

    def __init__(self, client: RedisCluster) -> None:
        self._client = client

    def node_of(self, channel: str) -> str:
        """Raises SlotNotCoveredError while the channel's slot has no owner."""
        return str(self._client.get_node_from_key(channel).name)  # type: ignore[no-untyped-call]

    def connection(self, node: str) -> redis.Redis:
        found = self._client.get_node(node_name=node)  # type: ignore[no-untyped-call]
        return self._client.get_redis_connection(found)

    def refresh(self) -> None:
        self._client.nodes_manager.initialize()

    def subscribe(self, pubsub: PubSub, channel: bytes) -> None:
        # One channel per command: channels of several slots in one SSUBSCRIBE are refused
        # (CROSSSLOT), even on the node that owns them all.
        pubsub.ssubscribe(channel)

    def unsubscribe(self, pubsub: PubSub, channel: bytes) -> None:
        pubsub.sunsubscribe(channel)  # type: ignore[no-untyped-call]


Topology = _Server | _Cluster


class ShardFeed:
    """The supervisor: which node each wanted endpoint's channel is on, one `_NodeFeed` each."""

    def __init__(
        self,
        client: Client,
        wanted: Callable[[], set[str]],
        on_message: Callable[[bytes], None],
        on_subscribed: Callable[[str], None],
        *,
        peer_timeout: float,
        stop: threading.Event,
    ) -> None:
        self.topology: Topology = (
            _Cluster(client) if isinstance(client, RedisCluster) else _Server(client)
        )
        self._wanted = wanted
        self.on_message = on_message
        self.on_subscribed = on_subscribed
        self.peer_timeout = peer_timeout
        self.stop = stop
        self._feeds: dict[str, _NodeFeed] = {}
        self._refresh = threading.Event()
        self._wake = threading.Event()  # see wake()
        # Per channel, those waiting for its confirmation (Hub.subscribe, via wait_confirmed).
        self._waiters: dict[bytes, list[threading.Event]] = {}
        self._waiters_lock = threading.Lock()
        self.generation = 0  # slot-map refreshes so far

    def wait_confirmed(self, endpoints: Iterable[str], timeout: float) -> bool:
        """Wait until each endpoint's channel is confirmed subscribed on its node (they are
        wanted by then: the caller said so); False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        waiting: list[tuple[bytes, threading.Event]] = []
        with self._waiters_lock:
            for endpoint in endpoints:
                channel = keys.events_shard(endpoint).encode()
                if not self._is_confirmed(channel):
                    waiting.append((channel, threading.Event()))
                    self._waiters.setdefault(channel, []).append(waiting[-1][1])
        if not waiting:
            return True
        self.wake()
        try:
            return all(done.wait(max(0.0, deadline - time.monotonic())) for _, done in waiting)
        finally:
            with self._waiters_lock:
                for channel, done in waiting:
                    events = self._waiters.get(channel, [])
                    if done in events:
                        events.remove(done)
                    if not events:
                        self._waiters.pop(channel, None)

    def wake(self) -> None:
        """Something new is wanted: assign now, not at the next round."""
        self._wake.set()

    def _is_confirmed(self, channel: bytes) -> bool:
        return any(channel in feed.confirmed for feed in list(self._feeds.values()))

    def confirmed(self, channel: bytes) -> None:
        """A node feed confirmed `channel`: wake those waiting for it."""
        with self._waiters_lock:
            for done in self._waiters.pop(channel, []):
                done.set()

    def run(self) -> None:
        """Assign wanted endpoints to nodes until stopped (the supervisor thread's body)."""
        backoff = Backoff(0.05, 2.0, least=0.0)
        while not self.stop.is_set():
            try:
                if self._refresh.is_set():
                    self._refresh.clear()
                    self.topology.refresh()
                    self._assign()
                    self.generation += 1
                else:
                    self._assign()
                backoff.reset()
                wait = POLL
            except REDIS_ERRORS as exc:
                log.warning("hub cannot read the cluster's slot map (%s)", type(exc).__name__)
                self._refresh.set()
                wait = backoff.next()
            self.stop.wait(ASSIGN_GAP)
            self._wake.wait(wait)
            self._wake.clear()
        for feed in self._feeds.values():
            feed.assigned = frozenset()

    def refresh(self) -> None:
        """The slot map is stale (a node pushed sunsubscribe, answered MOVED or died)."""
        self._refresh.set()

    def _assign(self) -> None:
        by_node: dict[str, set[bytes]] = {}
        for endpoint in self._wanted():
            channel = keys.events_shard(endpoint)
            try:
                node = self.topology.node_of(channel)
            except SlotNotCoveredError:
                # This slot has no owner for now; the other endpoints' channels go on.
                self._refresh.set()
                continue
            by_node.setdefault(node, set()).add(channel.encode())
        for name, channels in by_node.items():
            feed = self._feeds.get(name)
            if feed is None or not feed.is_alive():
                feed = self._feeds[name] = _NodeFeed(self, name)
                feed.assigned = frozenset(channels)
                feed.start()
            feed.assigned = frozenset(channels)
        for name, feed in list(self._feeds.items()):
            if name not in by_node:
                feed.assigned = frozenset()
                if not feed.is_alive():
                    del self._feeds[name]
        live = [feed for feed in self._feeds.values() if feed.is_alive()]
        metrics.HUB_SHARDED.set(sum(len(feed.confirmed) for feed in live))
        metrics.HUB_SHARD_CONNECTIONS.set(sum(1 for feed in live if feed.confirmed))


class _NodeFeed(threading.Thread):
    """One node's pub/sub connection: subscribes what it is assigned, reads, and leaves
    when nothing is assigned and nothing requested any more."""

    def __init__(self, feed: ShardFeed, node: str) -> None:
        super().__init__(name=f"bridge-hub-shard-{node}", daemon=True)
        self._feed = feed
        self._topology = feed.topology
        self._redis: redis.Redis = feed.topology.connection(node)
        self.assigned: frozenset[bytes] = frozenset()  # replaced whole by the feed
        self.confirmed: set[bytes] = set()  # read by the feed: wait_confirmed, the metrics

    def run(self) -> None:
        backoff = Backoff(0.05, 2.0, least=0.0)
        while not self._feed.stop.is_set():
            pubsub: PubSub = self._redis.pubsub()  # type: ignore[no-untyped-call]
            try:
                if self._serve(pubsub):
                    return
            except (*REDIS_ERRORS, redis.ResponseError) as exc:
                # MOVED to an SSUBSCRIBE is a ResponseError: the slot map is stale.
                log.warning("hub lost a shard (%s); resubscribing", type(exc).__name__)
                self._feed.refresh()
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()
            self._feed.stop.wait(backoff.next())

    def _serve(self, pubsub: PubSub) -> bool:
        """Read until the connection fails (raises) or this node is no longer needed (True)."""
        requested: set[bytes] = set()
        self.confirmed = set()  # a new connection: nothing subscribed on it yet
        # Channels this node gave away, with the slot-map generation then: not asked for here
        # again (it would answer MOVED) until a refresh has said where they went.
        moved: dict[bytes, int] = {}
        # Our own UNSUBSCRIBEs not answered yet: their answers are not a node giving a slot
        # away, even when the channel was asked for again meanwhile.
        leaving: dict[bytes, int] = {}
        liveness = Liveness(self._feed.peer_timeout)
        topology = self._topology
        while not self._feed.stop.is_set():
            assigned = self.assigned
            if not assigned and not requested:
                return True
            more = [
                c
                for c in assigned
                if c not in requested and moved.get(c, -1) != self._feed.generation
            ]
            fewer = [c for c in requested if c not in assigned]
            for channel in more:
                topology.subscribe(pubsub, channel)
                requested.add(channel)
            for channel in fewer:
                topology.unsubscribe(pubsub, channel)
                requested.discard(channel)
                # No longer to be relied on: a socket arriving now waits for a new SUBSCRIBE.
                self.confirmed.discard(channel)
                leaving[channel] = leaving.get(channel, 0) + 1
            message = pubsub.get_message(timeout=LISTEN_POLL)
            if liveness.check(message is not None or not requested):
                pubsub.ping()
            if message is None:
                continue
            kind, channel = message["type"], message["channel"]
            if kind == topology.MESSAGE:
                self._feed.on_message(message["data"])
            elif kind == topology.SUBSCRIBED:
                self.confirmed.add(channel)
                self._feed.on_subscribed(keys.shard_endpoint(channel))
                self._feed.confirmed(channel)
            elif kind == topology.UNSUBSCRIBED:
                if channel in leaving:  # ours, answered (a SUBSCRIBE may follow it)
                    leaving[channel] -= 1
                    if not leaving[channel]:
                        del leaving[channel]
                    continue
                self.confirmed.discard(channel)
                if channel in requested:
                    # Not ours: the node gave the slot away. Subscribed again where it went.
                    requested.discard(channel)
                    moved[channel] = self._feed.generation
                    self._feed.refresh()
        return True
