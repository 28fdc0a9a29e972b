"""Per-endpoint event channels on one Redis server: a worker hears only what its sockets want."""

from __future__ import annotations

import redis

from bridge import keys
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
