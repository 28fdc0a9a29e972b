"""Sharded pub/sub on a real 3-primary Redis Cluster, and several bridge instances on it."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Iterator
from itertools import cycle

import pytest
from websocket import WebSocketConnectionClosedException

from bench.cluster import Cluster
from bridge import keys
from tests.support import (
    BridgeProcess,
    Client,
    Connect,
    client_per_worker,
    events_through,
    metric,
    wait_until,
)

pytestmark = pytest.mark.gunicorn


@pytest.fixture(scope="module")
def bridges(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[BridgeProcess]]:
    """Three bridge instances (2 workers each) on the cluster; a test may kill the last."""
    started = [
        BridgeProcess(tmp_path_factory.mktemp(f"bridge{i}"), cluster.url).start() for i in range(3)
    ]
    yield started
    for bridge in started:
        bridge.stop()


def accepted(
    bridge: BridgeProcess, endpoint: str, n: int, tries: int = 200, posted: list[int] | None = None
) -> str:
    """Post one webhook as a provider does: retried with the same event id on 503 (a slot in
    migration answers TRYAGAIN), until it is acknowledged; its cursor. Counts each try in
    `posted`."""
    event_id = f"{endpoint}-{n}"
    for _ in range(tries):
        if posted is not None:
            posted.append(n)
        answer = bridge.post_signed(endpoint, b'{"n":%d}' % n, event_id=event_id)
        if answer.status_code in (200, 202):
            cursor: str = answer.json()["id"]
            return cursor
        assert answer.status_code == 503, answer.text
        threading.Event().wait(0.05)  # a sender's retry delay, not synchronisation
    raise AssertionError(f"{event_id} not accepted in {tries} tries")


def test_each_worker_holds_sharded_subscriptions_only_where_its_sockets_need_them(
    cluster: Cluster, bridges: list[BridgeProcess], connect: Connect
) -> None:
    """Events on each node (two endpoints, two slots, per node) reach sockets on both workers,
    through sharded subscriptions on the node that owns each endpoint's slot only, made at
    the first try, and none on a plain channel; /metrics counts them."""
    bridge = bridges[0]
    owners = [i for i in range(3) for _ in range(2)]
    endpoints = [cluster.endpoint_on(i) for i in owners]
    for endpoint in endpoints:
        bridge.create_endpoint(endpoint)
    clients = client_per_worker(bridge, connect, *endpoints).values()
    for i, endpoint in zip(owners, endpoints, strict=True):
        wait_until(lambda i=i, e=endpoint: cluster.shard_subscribers(i, e) == 2, timeout=10)
        assert [cluster.shard_subscribers(j, endpoint) for j in range(3) if j != i] == [0, 0]
    sent = [accepted(bridge, endpoint, 0) for endpoint in endpoints]
    for client in clients:
        assert sorted(e["id"] for e in client.events(len(sent))) == sorted(sent)
    plain = {c.encode() for c in (keys.CHANGES_CHANNEL, keys.REJECTIONS_CHANNEL)}
    for i in range(3):
        with cluster.node(i) as node:
            # plain channels carry endpoint changes and rejections only, never events
            assert set(node.pubsub_channels()) <= plain
    assert "hub lost a shard" not in bridge.log()  # no subscription refused and redone
    # 6 channels x 2 workers, over 3 node connections per worker
    wait_until(lambda: metric(bridge, "bridge_hub_sharded_channels") == 12, timeout=5)
    assert metric(bridge, "bridge_hub_shard_connections") == 6


def test_a_glob_follow_gets_an_endpoint_created_later(
    cluster: Cluster, bridges: list[BridgeProcess], connect: Connect
) -> None:
    """An admin `stripe-*` follow learns of an endpoint created after it (on any node) from its
    creation and gets its events, though no event reaches a process unsubscribed."""
    bridge = bridges[1]
    client = connect(bridge)
    client.send({"type": "subscribe", "channel": "shard-*"})
    assert client.recv()["type"] == "subscribed"
    later = "shard-" + uuid.uuid4().hex[:8]
    bridge.create_endpoint(later)
    announced = client.recv()
    assert (announced["type"], announced["channel"]) == ("subscribed", later)
    sent = accepted(bridge, later, 0)
    assert [e["id"] for e in client.events(1)] == [sent]


def test_an_endpoint_deleted_and_created_again_ends_its_subscriptions_and_old_cursors(
    cluster: Cluster, bridges: list[BridgeProcess], connect: Connect
) -> None:
    """On a Cluster too: deleting an endpoint ends an exact and a glob subscription of it
    (`unsubscribed`, reason `deleted`), the glob adopts it created again with its first
    event, and a resume from a cursor of its earlier life is `recovered: false`."""
    bridge = bridges[0]
    endpoint = cluster.endpoint_on(2)
    bridge.create_endpoint(endpoint)
    old = accepted(bridge, endpoint, 0)
    exact, glob = connect(bridge), connect(bridge)
    exact.subscribe(endpoint)
    glob.send({"type": "subscribe", "channel": f"{endpoint}*"})
    assert [glob.recv()["channel"] for _ in range(2)] == [endpoint, f"{endpoint}*"]
    assert bridge.api("DELETE", f"/api/endpoints/{endpoint}").status_code == 204
    for client in (exact, glob):
        notice = client.recv()
        assert (notice["type"], notice["reason"]) == ("unsubscribed", "deleted"), notice
    bridge.create_endpoint(endpoint)
    new = accepted(bridge, endpoint, 1)
    assert glob.recv()["type"] == "subscribed"
    assert [e["id"] for e in glob.events(1)] == [new]
    resumed = exact.subscribe(endpoint, since=old)
    assert (resumed["recovered"], resumed["cursor"]) == (False, new)
    assert [e["id"] for e in exact.events(1)] == [new]


def test_a_slot_migrated_mid_traffic_loses_and_repeats_nothing(
    cluster: Cluster, bridges: list[BridgeProcess], connect: Connect
) -> None:
    """Moving an endpoint's slot to another node (IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE)
    while webhooks flow: sockets on both workers get every acknowledged event once, in order,
    and the hubs' sharded subscriptions move with the slot."""
    bridge = bridges[0]
    endpoint = cluster.endpoint_on(0)
    bridge.create_endpoint(endpoint)
    clients = client_per_worker(bridge, connect, endpoint).values()
    wait_until(lambda: cluster.shard_subscribers(0, endpoint) == 2, timeout=10)
    acked: list[str] = []
    posted: list[int] = []
    done = threading.Event()

    def traffic() -> None:
        n = 0
        while not done.is_set() and n < 400:  # bounded: the migration takes far fewer
            acked.append(accepted(bridge, endpoint, n, posted=posted))
            n += 1

    def some_traffic() -> None:
        # Tries, not acknowledgements: while the slot is MIGRATING, a script whose keys are
        # partly moved gets TRYAGAIN (503) until MIGRATE is done.
        seen = len(posted)
        wait_until(lambda: len(posted) >= seen + 3, timeout=20)

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        some_traffic()
        cluster.migrate(endpoint, 1, between=some_traffic)
        wait_until(lambda: cluster.shard_subscribers(1, endpoint) == 2, timeout=10)
        assert cluster.shard_subscribers(0, endpoint) == 0
        after = len(acked)
        wait_until(lambda: len(acked) >= after + 3, timeout=20)
    finally:
        done.set()
        sender.join(30)
    assert len(acked) == len(set(acked)) >= 6
    for client in clients:
        assert events_through(client, acked[-1]) == acked


def test_instances_share_the_cluster_and_a_killed_ones_sockets_resume_elsewhere(
    cluster: Cluster, bridges: list[BridgeProcess], connect: Connect
) -> None:
    """Webhooks spread over 3 instances x 2 workers reach sockets on every worker of every
    instance, in order per endpoint; after one instance is SIGKILLed, its sockets resume on
    another with `since` and get every event once."""
    endpoints = [cluster.endpoint_on(i) for i in range(3)]
    for endpoint in endpoints:
        bridges[0].create_endpoint(endpoint)
    clients = {
        b: list(client_per_worker(bridge, connect, *endpoints).values())
        for b, bridge in enumerate(bridges)
    }
    senders = cycle(bridges)
    acked: dict[str, list[str]] = {e: [] for e in endpoints}

    def spread(rounds: int, offset: int) -> None:
        for n in range(offset, offset + rounds):
            for endpoint in endpoints:
                acked[endpoint].append(accepted(next(senders), endpoint, n))

    spread(10, 0)
    for client in (c for group in clients.values() for c in group):
        assert by_endpoint(client, acked) == acked

    doomed = bridges[2]
    for pid in [*doomed.worker_pids(), doomed.process.pid]:  # type: ignore[union-attr]
        os.kill(pid, signal.SIGKILL)
    doomed.stop()
    senders = cycle(bridges[:2])
    seen = {e: ids[-1] for e, ids in acked.items()}
    spread(10, 10)  # while its sockets are away
    missed = {e: ids[10:] for e, ids in acked.items()}
    for orphan in clients[2]:
        orphan.ws.settimeout(10)
        with pytest.raises((WebSocketConnectionClosedException, ConnectionError)):
            orphan.ws.recv_data()
        resumed = connect(bridges[0])
        for endpoint in endpoints:
            resumed.send({"type": "subscribe", "channel": endpoint, "since": seen[endpoint]})
        assert resumed_frames(resumed, missed) == missed


def resumed_frames(client: Client, expected: dict[str, list[str]]) -> dict[str, list[str]]:
    """The ids per endpoint after one `subscribed` (recovered) frame per endpoint, each
    answer's backlog possibly before the next answer; then nothing more before a pong."""
    got: dict[str, list[str]] = {e: [] for e in expected}
    answers = 0
    for _ in range(len(expected) + sum(len(ids) for ids in expected.values())):
        frame = client.recv(15)
        if frame["type"] == "subscribed":
            assert frame["recovered"] is True, frame
            answers += 1
        else:
            assert frame["type"] == "event", frame
            got[frame["channel"]].append(frame["event"]["id"])
    client.send({"type": "ping"})
    assert (answers, client.recv(15)["type"]) == (len(expected), "pong")
    return got


def by_endpoint(client: Client, acked: dict[str, list[str]]) -> dict[str, list[str]]:
    """The ids this client gets, per endpoint in arrival order, until the last of each."""
    wanted = sum(len(ids) for ids in acked.values())
    got: dict[str, list[str]] = {e: [] for e in acked}
    for event in client.events(wanted, timeout=15):
        got[event["endpoint"]].append(event["id"])
    return got
