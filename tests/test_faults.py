"""Faults injected into real processes: Redis killed and restarted, a client that stops
reading."""

from __future__ import annotations

import json
import random
import signal
import socket
import threading
import time
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
from tests.support import (
    BridgeProcess,
    Client,
    Connect,
    ConnectionClosedError,
    burst,
    client_per_worker,
    deliver,
    events_through,
    free_port,
    metric,
    wait_until,
)


@pytest.fixture
def own_bridge(own_redis: EmbeddedRedis, tmp_path: Path) -> Iterator[BridgeProcess]:
    process = BridgeProcess(tmp_path / "bridge", own_redis.url).start()
    yield process
    process.stop()


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
    assert down.json() == {
        "error": "unavailable",
        "reason": "unreachable",
        "message": "storage is unreachable; retry later",
    }
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


def test_a_subscribe_while_redis_is_down_is_unavailable_naming_its_channel(
    own_redis: EmbeddedRedis, own_bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """With Redis gone, a subscribe and a glob each get `unavailable` naming what they asked
    for, the socket stays open, and the same subscribe works once Redis is back."""
    own_bridge.create_endpoint(uid)
    client = connect(own_bridge)
    assert own_redis.process is not None
    own_redis.process.kill()
    own_redis.process.wait()
    own_redis.process = None
    for channel in (uid, f"{uid}*"):
        client.send({"type": "subscribe", "channel": channel, "ref": channel})
        answer = client.recv(timeout=30)
        assert (answer["code"], answer["channel"], answer["ref"]) == (
            "unavailable",
            channel,
            channel,
        )
    own_redis.start()
    wait_until(lambda: requests.get(own_bridge.url + "/readyz", timeout=10).status_code == 200)
    assert client.subscribe(uid)["channel"] == uid


def test_the_embedded_redis_is_on_disk_before_it_answers(own_redis: EmbeddedRedis) -> None:
    """The embedded Redis fsyncs its append-only file before each answer (`always`): with
    `everysec` a busy disk's background fsync made it hold writes back yet answer them, and
    a kill -9 of Redis lost acknowledged events (the test above failed so once)."""
    client = redis.Redis.from_url(own_redis.url)
    try:
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
    finally:
        client.close()


def test_deliveries_during_outage_are_503_or_kept(
    own_redis: EmbeddedRedis, own_bridge: BridgeProcess, uid: str
) -> None:
    """Deliveries racing a Redis crash are either refused (503) or stored: none acked and lost,
    in order; the only extras are writes Redis made durable but could not answer (a 503 the
    provider retries, which dedup then answers as a duplicate)."""
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
    stored = [e["id"] for e in history]
    assert [i for i in stored if i in set(acked)] == acked
    assert len(stored) - len(acked) <= statuses.count(503)


def slow_closes(bridge: BridgeProcess) -> float:
    return metric(bridge, "bridge_slow_consumer_closes_total")


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
    failed: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                received.extend(e["id"] for e in reader.events(1, timeout=0.5))
            except websocket.WebSocketTimeoutException:
                continue
            except BaseException as error:
                failed.append(error)
                return

    reading = threading.Thread(target=read)
    reading.start()
    before = slow_closes(tight_bridge)
    payload = json.dumps({"pad": "x" * 32_000}).encode()
    posted: list[str] = []
    try:
        for _ in range(400):  # a bound; the cut comes long before (queue 50, 2 s send timeout)
            posted.append(deliver(tight_bridge, uid, payload).json()["id"])
            if len(posted) % 20 == 0:
                # In step with the reader: the claim is about a client that keeps up, and
                # one starved of CPU here (a loaded test machine) would itself be cut.
                wait_until(lambda: len(received) >= len(posted) or failed, timeout=30)
                assert not failed, failed
                if slow_closes(tight_bridge) > before:
                    break
        assert slow_closes(tight_bridge) > before
        wait_until(lambda: len(received) >= len(posted) or failed, timeout=30)
        assert not failed, failed
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


FULL = 'bridge_store_failures_total{operation="append",reason="full"}'


def test_full_redis_is_503_not_ready_and_counted_until_memory_is_raised(
    own_redis: EmbeddedRedis, tmp_path: Path, uid: str
) -> None:
    """With Redis at maxmemory (noeviction) each webhook it cannot store is 503 + Retry-After
    (never 202, never 500), /readyz is 503 naming "full", a metric counts every refusal; with
    memory raised webhooks are 202 again and /readyz 200."""
    bridge = BridgeProcess(tmp_path / "bridge", own_redis.url).start()
    admin = redis.Redis.from_url(own_redis.url)
    try:
        bridge.create_endpoint(uid)
        assert deliver(bridge, uid).status_code == 202
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", admin.info("memory")["used_memory"] + 200_000)
        payload = json.dumps({"pad": "x" * 16_000}).encode()
        before = metric(bridge, FULL)
        answers: list[requests.Response] = []
        for _ in range(100):  # a bound: 200 KB of headroom is spent after about a dozen
            answers.append(deliver(bridge, uid, payload))
            if [a.status_code for a in answers[-3:]] == [503] * 3:
                break
        statuses = [a.status_code for a in answers]
        assert set(statuses) == {202, 503}
        assert metric(bridge, FULL) - before == statuses.count(503)
        for refused in (a for a in answers if a.status_code == 503):
            assert refused.json()["reason"] == "full"
            assert int(refused.headers["Retry-After"]) > 0
        ready = requests.get(bridge.url + "/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["reason"] == "full"
        history = bridge.api("GET", f"/api/endpoints/{uid}/events?limit=1000").json()["events"]
        assert len(history) == 1 + statuses.count(202)  # each 202 stored, no 503 half-written

        admin.config_set("maxmemory", 0)
        assert requests.get(bridge.url + "/readyz", timeout=10).status_code == 200
        assert deliver(bridge, uid, payload).status_code == 202
    finally:
        admin.config_set("maxmemory", 0)
        admin.close()
        bridge.stop()


def stored_ids(bridge: BridgeProcess, endpoint: str) -> list[str]:
    history = bridge.api("GET", f"/api/endpoints/{endpoint}/events?limit=1000").json()["events"]
    return [e["id"] for e in history]


def test_pubsub_connection_killed_five_times_under_load_loses_and_repeats_nothing(
    own_redis: EmbeddedRedis, own_bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """`CLIENT KILL TYPE pubsub` five times while webhooks stream in: every kill cuts each
    worker's hub, and sockets on every worker still get every event once, in order."""
    own_bridge.create_endpoint(uid)
    clients = client_per_worker(own_bridge, connect, uid)
    admin = redis.Redis.from_url(own_redis.url)
    statuses: list[int] = []
    stop = threading.Event()

    def send() -> None:
        for _ in range(600):  # a bound; stopped once the kills are done
            if stop.is_set():
                return
            statuses.append(deliver(own_bridge, uid).status_code)

    # Two per worker's hub: the plain channels' and the one carrying this endpoint's events.
    subscribers = 2 * len(clients)
    sender = threading.Thread(target=send)
    sender.start()
    try:
        for kill in range(5):
            wait_until(lambda: len(admin.client_list(_type="pubsub")) == subscribers)
            wait_until(lambda k=kill: len(statuses) >= 10 * (k + 1), timeout=20)
            assert admin.client_kill_filter(_type="pubsub") == subscribers
        wait_until(lambda: len(admin.client_list(_type="pubsub")) == subscribers)
    finally:
        stop.set()
        sender.join()
        admin.close()
    assert statuses == [202] * len(statuses)
    stored = stored_ids(own_bridge, uid)
    assert len(stored) == len(statuses)
    for client in clients.values():
        assert events_through(client, stored[-1]) == stored


def test_hub_cut_by_the_pubsub_output_buffer_limit_backfills_from_the_stream(
    own_redis: EmbeddedRedis, own_bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """With a 1 kB pub/sub output-buffer limit a burst of 32 kB events makes Redis drop the
    hubs' subscriptions; they subscribe again and backfill: every event once, in order."""
    own_bridge.create_endpoint(uid)
    clients = client_per_worker(own_bridge, connect, uid)
    admin = redis.Redis.from_url(own_redis.url)
    disconnections = "client_output_buffer_limit_disconnections"
    before = int(admin.info("stats")[disconnections])
    admin.config_set("client-output-buffer-limit", "pubsub 1kb 1kb 0")
    try:
        assert burst(own_bridge, uid, 30, pad=32_000) == [202] * 30
        assert int(admin.info("stats")[disconnections]) > before
        stored = stored_ids(own_bridge, uid)
        assert len(stored) == 30
        for client in clients.values():
            assert events_through(client, stored[-1]) == stored
    finally:
        admin.config_set("client-output-buffer-limit", "pubsub 32mb 8mb 60")
        admin.close()


def test_rolling_restart_fails_no_webhook_and_sockets_resume_without_gap(
    redis_url: str, tmp_path: Path, uid: str, connect: Connect
) -> None:
    """SIGHUP to the gunicorn master amid ~100 webhooks/s: every POST is answered 202 (no
    retries), every socket is closed with 4011, and resuming with `since` gets every event
    once, in order."""
    bridge = BridgeProcess(tmp_path / "bridge", redis_url).start()
    try:
        bridge.create_endpoint(uid)
        clients = client_per_worker(bridge, connect, uid)
        first = deliver(bridge, uid).json()["id"]
        for client in clients.values():
            assert [e["id"] for e in client.events(1)] == [first]
        old = set(bridge.worker_pids())
        outcomes: list[int | str] = []

        def send() -> None:
            for _ in range(100):  # 4 lanes of 25/s for about 4 s: ~100/s
                try:
                    outcomes.append(deliver(bridge, uid).status_code)
                except requests.RequestException as exc:  # counted, never retried
                    outcomes.append(type(exc).__name__)
                time.sleep(0.04)

        senders = [threading.Thread(target=send) for _ in range(4)]
        for sender in senders:
            sender.start()
        try:
            wait_until(lambda: len(outcomes) >= 80, timeout=20)
            assert bridge.process is not None
            bridge.process.send_signal(signal.SIGHUP)
            seen: dict[int, list[str]] = {}
            codes: dict[int, int | None] = {}
            for pid, client in clients.items():
                seen[pid], codes[pid] = events_until_closed(client)
        finally:
            for sender in senders:
                sender.join()
        assert codes == dict.fromkeys(clients, 4011)
        assert outcomes == [202] * 400
        wait_until(lambda: len(set(bridge.worker_pids()) - old) == 2, timeout=20)
        stored = stored_ids(bridge, uid)
        assert len(stored) == 401
        for pid in clients:
            got = [first, *seen[pid]]
            resumed = wait_until(lambda g=got: resume(bridge, connect, uid, g[-1]), timeout=20)
            assert got + events_through(resumed, stored[-1]) == stored
    finally:
        bridge.stop()


def events_until_closed(client: Client) -> tuple[list[str], int | None]:
    """The event ids a client gets until the server closes it, and the close code."""
    ids: list[str] = []
    try:
        while True:
            frame = client.recv(20)
            assert frame["type"] == "event", frame
            ids.append(frame["event"]["id"])
    except ConnectionClosedError as closed:
        return ids, closed.code


def resume(bridge: BridgeProcess, connect: Connect, channel: str, since: str) -> Client | None:
    """A client subscribed from `since`, or None while the restart still refuses it (a
    stopping worker's 503, as a client that reconnects with backoff would meet it)."""
    try:
        client = connect(bridge)
    except (websocket.WebSocketException, OSError):
        return None
    client.subscribe(channel, since=since)
    return client
