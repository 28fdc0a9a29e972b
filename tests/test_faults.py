"""Faults injected into real processes: Redis killed and restarted, a client that stops
reading."""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import websocket
from redis.client import PubSub

from bridge.embedded import EmbeddedRedis
from bridge.hub import Hub
from bridge.store import Store
from tests.support import BridgeProcess, Connect, burst, free_port, wait_until


@pytest.fixture
def own_bridge(own_redis: EmbeddedRedis, tmp_path: Path) -> Iterator[BridgeProcess]:
    process = BridgeProcess(tmp_path / "bridge", own_redis.url).start()
    yield process
    process.stop()


def deliver(bridge: BridgeProcess, endpoint: str, payload: bytes = b"{}") -> requests.Response:
    return bridge.post_signed(endpoint, payload, event_id=uuid.uuid4().hex)


def test_redis_killed_and_restarted(
    own_redis: EmbeddedRedis, own_bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """With Redis killed: 503 + Retry-After; after restart nothing acknowledged is lost and
    the open socket keeps receiving, every acknowledged event once and in order."""
    own_bridge.create_endpoint(uid)
    client = connect(own_bridge)
    client.subscribe(uid)
    acked = [deliver(own_bridge, uid).json()["id"] for _ in range(3)]

    assert own_redis.process is not None
    own_redis.process.kill()
    own_redis.process.wait()
    own_redis.process = None
    down = deliver(own_bridge, uid)
    assert down.status_code == 503
    assert down.json() == {"error": "unavailable", "message": down.json()["message"]}
    assert int(down.headers["Retry-After"]) > 0
    assert requests.get(own_bridge.url + "/readyz", timeout=10).status_code == 503
    assert requests.get(own_bridge.url + "/healthz", timeout=10).status_code == 200

    own_redis.start()  # same port, same append-only file
    wait_until(lambda: requests.get(own_bridge.url + "/readyz", timeout=10).status_code == 200)
    for _ in range(3):
        answer = deliver(own_bridge, uid)
        assert answer.status_code == 202
        acked.append(answer.json()["id"])

    history = own_bridge.api("GET", f"/api/endpoints/{uid}/events").json()["events"]
    assert [e["id"] for e in history] == acked
    assert [e["id"] for e in client.events(6, timeout=20)] == acked


def test_deliveries_during_outage_are_503_or_kept(
    own_redis: EmbeddedRedis, own_bridge: BridgeProcess, uid: str
) -> None:
    """Deliveries racing a Redis crash are either refused (503) or stored: none acked and lost."""
    own_bridge.create_endpoint(uid)
    acked: list[str] = []
    statuses: list[int] = []
    stop = threading.Event()

    def sender() -> None:
        deadline = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < deadline:
            answer = deliver(own_bridge, uid)
            statuses.append(answer.status_code)
            if answer.status_code == 202:
                acked.append(answer.json()["id"])

    thread = threading.Thread(target=sender)
    thread.start()
    wait_until(lambda: len(acked) >= 5)
    assert own_redis.process is not None
    own_redis.process.kill()
    own_redis.process.wait()
    own_redis.process = None
    wait_until(lambda: 503 in statuses)
    own_redis.start()
    wait_until(lambda: statuses[-1] == 202, timeout=20)
    stop.set()
    thread.join()
    assert set(statuses) == {202, 503}
    history = own_bridge.api("GET", f"/api/endpoints/{uid}/events?limit=1000").json()["events"]
    assert [e["id"] for e in history] == acked


def slow_closes(bridge: BridgeProcess) -> float:
    text = requests.get(bridge.url + "/metrics", timeout=5).text
    match = re.search(r"^bridge_slow_consumer_closes_total (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_client_that_stops_reading_is_cut_others_keep_receiving(
    tight_bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A socket that stops reading is closed as a slow consumer; a reading socket on the same
    channel keeps receiving every event, in order, meanwhile."""
    tight_bridge.create_endpoint(uid)
    stalled = connect(tight_bridge, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    stalled.subscribe(uid)
    reader = connect(tight_bridge)
    reader.subscribe(uid)
    received: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                received.extend(e["id"] for e in reader.events(1, timeout=0.5))
            except websocket.WebSocketTimeoutException:
                continue

    reading = threading.Thread(target=read)
    reading.start()
    before = slow_closes(tight_bridge)
    payload = json.dumps({"pad": "x" * 32_000}).encode()
    posted: list[str] = []
    for _ in range(400):  # a bound; the cut comes long before (queue 50, 2 s send timeout)
        posted.append(deliver(tight_bridge, uid, payload).json()["id"])
        if len(posted) % 20 == 0 and slow_closes(tight_bridge) > before:
            break
    try:
        assert slow_closes(tight_bridge) > before
        wait_until(lambda: len(received) >= len(posted), timeout=30)
        assert received == posted
    finally:
        done.set()
        reading.join(5)
    # The stalled client, reading at last, finds its stream ended by the server.
    assert stalled.close_code() in {4008, None}


def test_live_events_outrunning_a_slow_backlog_close_the_socket(
    redis_url: str, tmp_path: Path, uid: str, connect: Connect
) -> None:
    """While a non-reading client's backlog waits, live events beyond the bound close it
    (4008) instead of piling up in memory until the long send timeout."""
    bridge = BridgeProcess(
        tmp_path / "data", redis_url, BRIDGE_WS_QUEUE_SIZE="20", BRIDGE_WS_SEND_TIMEOUT="600"
    ).start()
    try:
        bridge.create_endpoint(uid)
        payload = json.dumps({"pad": "x" * 32_000}).encode()
        for _ in range(200):  # a backlog far larger than the socket buffers hold
            deliver(bridge, uid, payload)
        before = slow_closes(bridge)
        stalled = connect(bridge, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
        stalled.send({"type": "subscribe", "channel": uid, "since": "0-0"})
        for _ in range(100):  # bounded; the bound of 20 buffered live events is passed early
            deliver(bridge, uid)
            if slow_closes(bridge) > before:
                break
        wait_until(lambda: slow_closes(bridge) > before, timeout=30)
    finally:
        bridge.stop()


class CountingRedis(redis.Redis):
    """A real client that counts the hub's subscription attempts."""

    attempts = 0

    def pubsub(self, **kwargs: Any) -> PubSub:
        type(self).attempts += 1
        # redis-py leaves Redis.pubsub() unannotated
        pubsub: PubSub = super().pubsub(**kwargs)  # type: ignore[no-untyped-call]
        return pubsub


def test_hub_retrying_a_dead_redis_leaves_the_global_random_generator_alone() -> None:
    """The hub's reconnect jitter never draws from the process-wide `random` generator."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    store = Store(
        redis.Redis.from_url(url), retention_events=10, retention_seconds=60, dedup_ttl=60
    )
    hub = Hub(lambda: CountingRedis.from_url(url), store, send_timeout=1)
    before = random.getstate()
    hub.ensure_started()
    try:
        wait_until(lambda: CountingRedis.attempts >= 4, timeout=10)
    finally:
        hub.stop()
    assert random.getstate() == before


def test_a_burst_bigger_than_the_redis_pool_waits_for_connections_instead_of_failing(
    redis_url: str, tmp_path: Path, uid: str, connect: Connect
) -> None:
    """With 2 Redis connections per worker, 40 simultaneous webhooks are all stored and sent."""
    bridge = BridgeProcess(tmp_path, redis_url, BRIDGE_REDIS_MAX_CONNECTIONS="2").start()
    try:
        bridge.create_endpoint(uid)
        client = connect(bridge)
        client.subscribe(uid)
        assert burst(bridge, uid, 40) == [202] * 40
        assert sorted(e["body"]["n"] for e in client.events(40)) == list(range(40))
    finally:
        bridge.stop()
