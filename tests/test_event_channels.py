"""Per-endpoint event channels on one Redis server: a worker hears only what its sockets want."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from bridge import keys
from bridge.embedded import EmbeddedRedis
from tests.support import (
    BridgeProcess,
    Client,
    Connect,
    channel_subscribers,
    client_per_worker,
    deliver,
    wait_until,
)


def test_an_endpoints_channel_is_held_by_exactly_the_workers_with_a_socket_on_it(
    bridge: BridgeProcess, redis_client: redis.Redis, uid: str, connect: Connect
) -> None:
    """Each worker with a socket on an endpoint subscribes its channel and gets its events;
    an endpoint nobody watches has no subscriber, and one whose last socket closed has none
    any more: no worker reads events its sockets do not want."""
    watched, unwatched = f"{uid}-w", f"{uid}-u"
    for endpoint in (watched, unwatched):
        bridge.create_endpoint(endpoint)
    opened: list[Client] = []

    def connect_and_keep(target: BridgeProcess) -> Client:
        opened.append(connect(target))
        return opened[-1]

    clients = list(client_per_worker(bridge, connect_and_keep, watched).values())
    for extra in opened:  # those that landed on a worker already holding one
        if extra not in clients:
            extra.close()
    wait_until(lambda: channel_subscribers(redis_client, watched) == len(clients))
    deliver(bridge, unwatched)
    sent = deliver(bridge, watched).json()["id"]
    for client in clients:
        assert [e["id"] for e in client.events(1)] == [sent]
    assert channel_subscribers(redis_client, unwatched) == 0
    for left, client in reversed(list(enumerate(clients))):
        client.close()
        wait_until(lambda n=left: channel_subscribers(redis_client, watched) == n)
    # Nothing published on a plain channel but endpoint changes and rejections.
    plain = {c.encode() for c in (keys.CHANGES_CHANNEL, keys.REJECTIONS_CHANNEL)}
    assert {c for c in redis_client.pubsub_channels() if b"{" not in c} <= plain


@pytest.fixture(scope="module")
def short_history(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BridgeProcess]:
    """One worker whose streams keep only the last 5 events."""
    process = BridgeProcess(
        tmp_path_factory.mktemp("short-history"), redis_server.url, BRIDGE_WORKERS="1",
        BRIDGE_RETENTION_EVENTS="5",
    ).start()  # fmt: skip
    yield process
    process.stop()


def test_every_event_after_subscribed_arrives_even_when_history_is_short(
    short_history: BridgeProcess, redis_client: redis.Redis, uid: str, connect: Connect
) -> None:
    """A socket gets every event posted after its `subscribed` frame, at once and many, even
    when the stream keeps fewer of them than were posted before the worker's channel
    subscription could have been confirmed: `subscribed` waits for that confirmation."""
    # Another endpoint watched first: the worker's pub/sub connection to the server is then
    # under way, and a new channel joins it as that connection's loop comes round.
    short_history.create_endpoint(f"{uid}-other")
    connect(short_history).subscribe(f"{uid}-other")
    wait_until(lambda: channel_subscribers(redis_client, f"{uid}-other") == 1)
    short_history.create_endpoint(uid)
    client = connect(short_history)
    client.subscribe(uid)
    # Over stream-node-max-bytes (4 KB) each, so the approximate trim keeps about 5, not 100.
    payload = json.dumps({"pad": "x" * 5000}).encode()
    posted = [deliver(short_history, uid, payload).json()["id"] for _ in range(30)]
    assert [e["id"] for e in client.events(len(posted))] == posted
