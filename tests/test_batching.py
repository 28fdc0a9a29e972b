"""Ingest batching (bridge/batching.py): concurrent webhooks in one worker share a Redis
round trip, and each is still answered for its own write only.

To make a batch happen for certain, Redis holds writes (`CLIENT PAUSE ... WRITE`: the first
append waits in Redis), the webhooks are sent on their own connections, and the test waits
until the bridge has read every one of them (the kernel's receive queues of its sockets are
empty): from there to the group commit a request does no I/O, so all of them are queued
behind the first when Redis lets writes through again.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from bench.cluster import Cluster
from bridge import keys
from bridge.embedded import EmbeddedRedis
from bridge.providers import get as provider
from tests.support import BridgeProcess, deliver, metric, stream_entries, wait_until

SECRET = "test-secret-123456"
ROUND_TRIPS = "bridge_append_batch_size_count"
APPENDS = "bridge_append_batch_size_sum"


def unread_bytes(port: int) -> int:
    """Bytes that clients sent to `port` on loopback and its server has not read yet: the
    receive queues of the server's connected sockets in /proc/net/tcp (a connection not yet
    accepted has its socket and queue too)."""
    total = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, queues = fields[1], fields[3], fields[4]
        if state == "01" and int(local.split(":")[1], 16) == port:
            total += int(queues.split(":")[1], 16)
    return total


class Pending:
    """Signed webhooks sent on their own connections, answers read later."""

    def __init__(self, bridge: BridgeProcess) -> None:
        self.bridge = bridge
        self.connections: list[http.client.HTTPConnection] = []

    def send(self, endpoint: str, event_id: str | None = None) -> None:
        body = json.dumps({"n": len(self.connections)}).encode()
        headers = provider("github").sign(
            body, SECRET, now=time.time(), event_id=event_id or uuid.uuid4().hex,
            event_type="push",
        )  # fmt: skip
        connection = http.client.HTTPConnection("127.0.0.1", self.bridge.port, timeout=60)
        connection.request(
            "POST", f"/hooks/{endpoint}", body, {**headers, "Content-Type": "application/json"}
        )
        self.connections.append(connection)

    def all_read(self) -> bool:
        return unread_bytes(self.bridge.port) == 0

    def answers(self) -> list[tuple[int, dict[str, Any]]]:
        found = []
        for connection in self.connections:
            response = connection.getresponse()
            found.append((response.status, json.loads(response.read())))
            connection.close()
        return found


def hold_writes(client: redis.Redis) -> None:
    client.client_pause(60_000, all=False)  # all=False: WRITE, reads still answered


def stored(client: redis.Redis, endpoint: str) -> list[str]:
    return [entry_id.decode() for entry_id, _ in stream_entries(client, keys.stream(endpoint))]


@pytest.fixture
def one_worker(own_redis: EmbeddedRedis, tmp_path: Path) -> Iterator[BridgeProcess]:
    # One worker: every webhook meets the others in the same process's group commit. A long
    # Redis timeout: the first append waits in a paused Redis while the test sends the rest.
    process = BridgeProcess(
        tmp_path / "bridge", own_redis.url, BRIDGE_WORKERS="1", BRIDGE_REDIS_TIMEOUT="30"
    ).start()
    yield process
    process.stop()


@pytest.fixture
def redis_admin(own_redis: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(own_redis.url)
    yield client
    client.close()


def warm(bridge: BridgeProcess, endpoint: str) -> None:
    """Put the endpoint's record in the worker's cache: after it, a webhook for it does no
    I/O but its append. (A worker caches records only while its hub is subscribed.)"""
    bridge.create_endpoint(endpoint)
    assert deliver(bridge, endpoint).status_code == 202
    wait_until(lambda: metric(bridge, "bridge_hub_connected") == 1)
    assert deliver(bridge, endpoint).status_code == 202


def test_concurrent_webhooks_share_one_round_trip_each_answered_for_its_own_event(
    one_worker: BridgeProcess, redis_admin: redis.Redis, uid: str
) -> None:
    """Twenty webhooks queued behind one in flight are appended in one round trip, each
    answered 202 with its own id and trace, each stored once."""
    warm(one_worker, uid)
    trips, appends = metric(one_worker, ROUND_TRIPS), metric(one_worker, APPENDS)
    hold_writes(redis_admin)
    pending = Pending(one_worker)
    for _ in range(20):
        pending.send(uid)
    wait_until(pending.all_read, timeout=30)
    redis_admin.client_unpause()
    answers = pending.answers()
    assert [status for status, _ in answers] == [202] * 20
    assert metric(one_worker, ROUND_TRIPS) - trips == 2  # the first alone, then the other 19
    assert metric(one_worker, APPENDS) - appends == 20
    ids = [answer["id"] for _, answer in answers]
    assert len(set(ids)) == 20
    assert len({answer["trace"] for _, answer in answers}) == 20
    assert sorted(set(stored(redis_admin, uid)) & set(ids)) == sorted(ids)
    envelopes = {
        entry_id.decode(): json.loads(fields[b"e"])
        for entry_id, fields in stream_entries(redis_admin, keys.stream(uid))
    }
    assert all(envelopes[answer["id"]]["trace"] == answer["trace"] for _, answer in answers)


def test_duplicates_in_one_batch_are_found_exactly(
    one_worker: BridgeProcess, redis_admin: redis.Redis, uid: str
) -> None:
    """Six copies of one delivery in the same batch as six other events: the first copy is
    stored (202), the other five answer 200 duplicate with its id; the others are stored."""
    warm(one_worker, uid)
    before = len(stored(redis_admin, uid))
    hold_writes(redis_admin)
    pending = Pending(one_worker)
    for n in range(12):
        pending.send(uid, event_id="again" if n % 2 else None)
    wait_until(pending.all_read, timeout=30)
    redis_admin.client_unpause()
    answers = pending.answers()
    copies = [answers[n] for n in range(1, 12, 2)]
    others = [answers[n] for n in range(0, 12, 2)]
    assert all(status == 202 and not answer["duplicate"] for status, answer in others)
    firsts = [answer for status, answer in copies if status == 202]
    assert len(firsts) == 1
    again = [answer for status, answer in copies if status == 200]
    assert len(again) == 5
    assert all(answer == {"id": firsts[0]["id"], "duplicate": True} | {
        k: answer[k] for k in ("endpoint", "trace")} for answer in again)  # fmt: skip
    assert len(stored(redis_admin, uid)) == before + 7


def test_redis_killed_with_a_batch_in_flight_answers_each_503_and_recovers(
    one_worker: BridgeProcess, own_redis: EmbeddedRedis, redis_admin: redis.Redis, uid: str
) -> None:
    """Redis killed while one append is in flight and fifteen wait behind it: every one is
    503 (none 202, none stored), and once Redis is back the next webhooks are 202 and stored."""
    warm(one_worker, uid)
    before = stored(redis_admin, uid)
    hold_writes(redis_admin)
    pending = Pending(one_worker)
    for _ in range(16):
        pending.send(uid)
    wait_until(pending.all_read, timeout=30)
    assert own_redis.process is not None
    own_redis.process.kill()
    own_redis.process.wait()
    own_redis.process = None
    answers = pending.answers()
    assert [status for status, _ in answers] == [503] * 16
    assert all(answer["error"] == "unavailable" for _, answer in answers)
    own_redis.start()
    after = [deliver(one_worker, uid) for _ in range(3)]
    assert [answer.status_code for answer in after] == [202] * 3
    assert stored(redis_admin, uid) == before + [answer.json()["id"] for answer in after]


def test_on_a_cluster_a_full_node_fails_only_its_own_appends_in_a_batch(
    tmp_path: Path,
) -> None:
    """One pipelined batch holding appends for endpoints on all three primaries, one of them
    at maxmemory: that node's webhooks are 503 `full`, the others 202 and stored."""
    cluster = Cluster(tmp_path / "cluster").start()
    bridge = BridgeProcess(
        tmp_path / "bridge", cluster.url, BRIDGE_WORKERS="1", BRIDGE_REDIS_TIMEOUT="30"
    ).start()
    try:
        endpoints = [cluster.endpoint_on(i) for i in range(3)]
        for endpoint in endpoints:
            warm(bridge, endpoint)
        full, held, other = 0, 1, 2
        with cluster.node(full) as node:
            node.config_set("maxmemory-policy", "noeviction")
            node.config_set("maxmemory", 1)
        trips, appends = metric(bridge, ROUND_TRIPS), metric(bridge, APPENDS)
        owners = [held] + [(held, other, full)[n % 3] for n in range(15)]
        with cluster.node(held) as paused:
            hold_writes(paused)
            pending = Pending(bridge)
            # The first alone, read before the others are sent: in flight on `held` for
            # certain (sent together, one for another node could go first, come back at
            # once, and split the rest into two batches).
            pending.send(endpoints[owners[0]])
            wait_until(pending.all_read, timeout=30)
            for owner in owners[1:]:  # queued behind it
                pending.send(endpoints[owner])
            wait_until(pending.all_read, timeout=30)
            paused.client_unpause()
            answers = pending.answers()
        assert [status for status, _ in answers] == [503 if o == full else 202 for o in owners]
        refused = [a for (_, a), o in zip(answers, owners, strict=True) if o == full]
        assert all(answer["reason"] == "full" for answer in refused)
        assert metric(bridge, ROUND_TRIPS) - trips == 2
        assert metric(bridge, APPENDS) - appends == 16
        for i in (held, other):
            with cluster.node(i) as node:
                kept = set(stored(node, endpoints[i]))
            mine = [a["id"] for (_, a), o in zip(answers, owners, strict=True) if o == i]
            assert set(mine) <= kept
    finally:
        bridge.stop()
        cluster.stop()
