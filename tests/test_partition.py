"""Network partitions, made by a proxy that black-holes traffic while every connection stays
open (tests/blackhole.py): between the bridge and Redis, and between a client and the bridge."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import redis
import requests

from bridge.embedded import EmbeddedRedis
from tests.blackhole import Blackhole
from tests.support import (
    BridgeProcess,
    Client,
    Connect,
    channel_subscribers,
    client_per_worker,
    deliver,
    events_through,
    metric,
    wait_until,
)

pytestmark = pytest.mark.gunicorn

REDIS_TIMEOUT = 1.0  # BRIDGE_REDIS_TIMEOUT of these bridges: small, so a partition shows soon
PING_INTERVAL = 0.3


@pytest.fixture
def redis_proxy(own_redis: EmbeddedRedis) -> Iterator[Blackhole]:
    proxy = Blackhole(own_redis.port).start()
    yield proxy
    proxy.stop()


def readyz(bridge: BridgeProcess) -> int:
    return requests.get(bridge.url + "/readyz", timeout=10).status_code


def hub_connected(bridge: BridgeProcess) -> float:
    """1 while every worker's hub holds its subscription (the gauge is the workers' minimum)."""
    return metric(bridge, "bridge_hub_connected")


def test_redis_partition_is_503_then_heals_with_every_event_once(
    redis_proxy: Blackhole, tmp_path: Path, uid: str, connect: Connect
) -> None:
    """With Redis black-holed, each webhook ends 503 + Retry-After, /readyz is 503, no worker
    restarts and each hub takes its silent subscription for dead; after the heal the hubs
    subscribe again and sockets subscribed before get every stored event once, in order."""
    bridge = BridgeProcess(
        tmp_path / "bridge", redis_proxy.url, BRIDGE_REDIS_TIMEOUT=str(REDIS_TIMEOUT)
    ).start()
    try:
        bridge.create_endpoint(uid)
        clients = client_per_worker(bridge, connect, uid)
        before = [deliver(bridge, uid).json()["id"] for _ in range(3)]
        for client in clients.values():
            assert [e["id"] for e in client.events(3)] == before
        workers = sorted(bridge.worker_pids())
        wait_until(lambda: hub_connected(bridge) == 1)

        redis_proxy.cut()
        with ThreadPoolExecutor(6) as pool:  # requests' own 10 s timeout fails any that hangs
            down = list(pool.map(lambda _: deliver(bridge, uid), range(6)))
        assert [a.status_code for a in down] == [503] * 6
        assert all(int(a.headers["Retry-After"]) > 0 for a in down)
        assert readyz(bridge) == 503
        wait_until(lambda: hub_connected(bridge) == 0, timeout=8 * REDIS_TIMEOUT)
        assert sorted(bridge.worker_pids()) == workers  # none timed out and was replaced

        redis_proxy.heal()
        wait_until(lambda: hub_connected(bridge) == 1, timeout=20)
        wait_until(lambda: readyz(bridge) == 200, timeout=20)
        after = []
        for _ in range(5):
            answer = deliver(bridge, uid)
            assert answer.status_code == 202, answer.text
            after.append(answer.json()["id"])
        assert sorted(bridge.worker_pids()) == workers

        history = bridge.api("GET", f"/api/endpoints/{uid}/events?limit=100").json()["events"]
        stored = [e["id"] for e in history]
        # A 503'd request whose command was already on the wire may still be stored after
        # the heal (nothing acknowledged is lost; what is stored is sent): expect it too.
        assert set(before + after) <= set(stored)
        for client in clients.values():
            assert events_through(client, after[-1]) == stored[len(before) :]
    finally:
        bridge.stop()


def test_black_holed_client_is_freed_by_the_ping_deadline(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path, uid: str
) -> None:
    """A client whose traffic is black-holed is cut at the ping deadline: the open-sockets
    gauge and the worker's descriptor count return to where they were, its connection gone."""
    bridge = BridgeProcess(
        tmp_path / "bridge",
        redis_url,
        BRIDGE_WORKERS="1",
        BRIDGE_WS_PING_INTERVAL=str(PING_INTERVAL),
    ).start()
    proxy = Blackhole(bridge.port).start()
    url = f"ws://127.0.0.1:{proxy.port}/ws"
    opened: list[Client] = []
    try:
        bridge.create_endpoint(uid)
        (worker,) = (psutil.Process(pid) for pid in bridge.worker_pids())
        # Once through the same path first, so the baseline holds the Redis connections,
        # metric files and hub that a subscribed socket brings into being.
        opened.append(warm := Client(url))
        warm.subscribe(uid)
        warm.close()
        wait_until(lambda: metric(bridge, "bridge_open_sockets") == 0)
        wait_until(lambda: not peers(worker, proxy), timeout=5)
        # ... but not the events channel's connection, which the last socket's close ends.
        wait_until(lambda: channel_subscribers(redis_client, uid) == 0, timeout=5)
        fds = descriptors(worker)

        opened.append(client := Client(url))
        client.subscribe(uid)
        assert metric(bridge, "bridge_open_sockets") == 1
        assert peers(worker, proxy)
        proxy.cut()
        wait_until(lambda: metric(bridge, "bridge_open_sockets") == 0, timeout=20)
        wait_until(lambda: not peers(worker, proxy), timeout=10)
        wait_until(lambda: channel_subscribers(redis_client, uid) == 0, timeout=5)
        try:
            wait_until(lambda: len(descriptors(worker)) == len(fds), timeout=10)
        except AssertionError:  # say which: a socket, a Redis connection, a metrics file
            left = descriptors(worker)
            raise AssertionError(f"descriptors: {left - fds} opened, {fds - left} closed") from None
        assert deliver(bridge, uid, json.dumps({"after": "cut"}).encode()).status_code == 202
    finally:
        proxy.stop()
        for opened_client in opened:
            opened_client.close()
        bridge.stop()


def descriptors(worker: psutil.Process) -> set[tuple[int, str]]:
    """The worker's open descriptors and what each is (a file, `socket:[inode]`)."""
    found = set()
    for fd in Path(f"/proc/{worker.pid}/fd").iterdir():
        try:
            found.add((int(fd.name), str(fd.readlink())))
        except FileNotFoundError:  # closed while listed
            continue
    return found


def peers(worker: psutil.Process, proxy: Blackhole) -> list[int]:
    """The worker's open TCP connections from the proxy, by the proxy's port."""
    ports = proxy.upstream_ports()
    return [
        c.raddr.port
        for c in worker.net_connections(kind="tcp")
        if c.raddr and c.raddr.port in ports and c.status == psutil.CONN_ESTABLISHED
    ]
