"""The hub's Redis subscription to the plain channels: one per process, made again whenever
it is lost.

It subscribes to endpoint changes and rejections (on a Cluster every node relays those).
Events come per endpoint instead, on the channels of the endpoints this process has
sockets on (shards.py, started by the hub through `feed()`). Each message is handed to the
hub as it comes.

Reconnects back off exponentially with full jitter, so workers that lost Redis together
do not return in lock-step. A partition, or a host that vanished, sends no FIN: after
`peer_timeout` of silence the listener pings, and takes the connection for dead when that
stays unanswered (subscription.Liveness).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis

from bridge import keys, metrics, redis_client
from bridge.backoff import Backoff
from bridge.errors import StoreUnavailable
from bridge.redis_client import Client
from bridge.redis_errors import REDIS_ERRORS
from bridge.subscription import Liveness

log = logging.getLogger(__name__)

CHANGES = keys.CHANGES_CHANNEL.encode()
REJECTED = keys.REJECTIONS_CHANNEL.encode()


class Receiver(Protocol):
    """What the listener tells the hub (bridge/hub.py)."""

    def feed(self, client: Client) -> None:
        """Once: events do not come here; subscribe to them per endpoint (shards.py)."""

    def subscribed(self) -> None:
        """The subscription is (re)made: what was published meanwhile was missed."""

    def lost(self) -> None:
        """The subscription is gone, until the next subscribed()."""

    def idle(self) -> None:
        """Called between messages, at least once a second."""

    def changed(self, endpoint: str) -> None: ...
    def rejected(self, data: bytes) -> None: ...


class Listener:
    def __init__(
        self,
        client_factory: Callable[[], Client],
        receiver: Receiver,
        *,
        peer_timeout: float,
        stop: threading.Event,
    ) -> None:
        self._client_factory = client_factory
        self._receiver = receiver
        self._peer_timeout = peer_timeout
        self._stop = stop
        self.connected = threading.Event()

    def run(self) -> None:
        backoff = Backoff(0.05, 5.0, least=0.0)
        attempt = 0
        client = self._client_factory()
        plain = (keys.CHANGES_CHANNEL, keys.REJECTIONS_CHANNEL)
        self._receiver.feed(client)
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = redis_client.pubsub(client, attempt)
                pubsub.subscribe(*plain)
                self._await_subscribed(pubsub, len(plain))
                self.connected.set()
                metrics.HUB_CONNECTED.set(1)
                self._receiver.subscribed()
                backoff.reset()
                self._listen(pubsub)
            except (*REDIS_ERRORS, StoreUnavailable) as exc:
                attempt += 1  # on a Cluster, the next attempt tries the next node
                if self.connected.is_set():
                    log.warning("hub lost redis (%s); reconnecting", type(exc).__name__)
            except Exception:
                log.exception("hub listener failed; restarting it")
            finally:
                self.connected.clear()
                self._receiver.lost()
                metrics.HUB_CONNECTED.set(0)
                if pubsub is not None:
                    _close_quietly(pubsub)
            self._stop.wait(backoff.next())

    def _listen(self, pubsub: redis.client.PubSub) -> None:
        receiver = self._receiver
        liveness = Liveness(self._peer_timeout)
        while not self._stop.is_set():
            receiver.idle()
            message = pubsub.get_message(timeout=min(1.0, self._peer_timeout / 2))
            if liveness.check(message is not None):
                pubsub.ping()
            if message is None or message["type"] != "message":
                continue
            if message["channel"] == CHANGES:
                receiver.changed(message["data"].decode())
            elif message["channel"] == REJECTED:
                receiver.rejected(message["data"])

    def _await_subscribed(self, pubsub: redis.client.PubSub, channels: int) -> None:
        deadline = time.monotonic() + self._peer_timeout
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.5)
            if message is not None and message["type"] == "subscribe":
                channels -= 1
                if not channels:
                    return
        raise redis.TimeoutError("no subscribe confirmation")


def _close_quietly(pubsub: redis.client.PubSub) -> None:
    # Closing a broken connection may fail; there is nothing left to do with it then.
    with contextlib.suppress(Exception):
        pubsub.close()
