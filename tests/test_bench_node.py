"""The bench's Node client (bench/node/client.js) against the real bridge and the real peer,
driven over its stdin protocol by bench/clients.py's `Clients`, as the cross-check runs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import servers
from bench.clients import Clients
from bench.load import post_one
from bench.loopback import free_port
from bridge.embedded import EmbeddedRedis

# Needs node and `npm ci --prefix bench/node`: `make test` and .ci/run see to both, and a
# missing one fails here rather than skipping.
pytestmark = [pytest.mark.gunicorn, pytest.mark.timeout(300)]

SOCKETS = 6
EVENTS = 5


@pytest.fixture(scope="module")
def bench_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    redis = EmbeddedRedis(tmp_path_factory.mktemp("redis"), port=free_port())
    yield redis.start()
    redis.stop()


def deliver(server: servers.Server, url: str, proto: str, channel: str) -> list[dict[str, Any]]:
    """Open SOCKETS Node sockets over two client processes, send EVENTS signed webhooks one
    by one, wait for them everywhere; each process's report."""
    clients = Clients(2, kind="node")
    try:
        opened = clients.open(url, proto, SOCKETS, [(channel, SOCKETS)])
        assert opened["opened"] == SOCKETS, opened["errors"]
        assert clients.subscribers(channel) == SOCKETS
        clients.call({"cmd": "reset"})
        seqs = list(range(1, EVENTS + 1))
        for seq in seqs:
            _, status = post_one(server, f"/hooks/{channel}", seq)
            assert status == 202
        assert clients.wait(seqs, channel, 20)
        reports: list[dict[str, Any]] = clients.call({"cmd": "report"})
        assert clients.call({"cmd": "close", "exit": False}) == [
            {"aborted": SOCKETS // 2},
            {"aborted": SOCKETS // 2},
        ]
    finally:
        clients.stop()
    return reports


def check(reports: list[dict[str, Any]]) -> None:
    received = {seq: sum(r["seqs"].get(str(seq), [0])[0] for r in reports) for seq in (1, 5)}
    assert received == {1: SOCKETS, 5: SOCKETS}
    assert sum(r["seqs"][str(s)][0] for r in reports for s in range(1, EVENTS + 1)) == (
        SOCKETS * EVENTS
    )
    assert sum(r["dups"] for r in reports) == 0
    assert all(not r["other"] for r in reports)
    latencies = [x for r in reports for x in r["latencies_us"]]
    assert len(latencies) == SOCKETS * EVENTS
    # Sanity of the shared clock (CLOCK_MONOTONIC in both languages), not a speed figure.
    assert all(0 < x < 10_000_000 for x in latencies)
    assert all(r["cpu"] > 0 for r in reports)


def test_node_client_gets_every_bridge_event_once(bench_redis: str, tmp_path: Path) -> None:
    """Node `ws` sockets on the bridge protocol receive every webhook exactly once, each
    with a positive latency under 10 s."""
    bridge = servers.Bridge(tmp_path / "bridge", bench_redis).start()
    try:
        bridge.create_endpoint("node-check")
        check(deliver(bridge, bridge.ws_url, "bridge", "node-check"))
    finally:
        bridge.stop()


def test_node_client_gets_every_peer_event_once(bench_redis: str, tmp_path: Path) -> None:
    """Node `ws` sockets speaking Socket.IO receive every webhook the Flask-SocketIO peer
    accepted exactly once, each with a positive latency under 10 s."""
    peer = servers.Peer(tmp_path / "peer", bench_redis, servers.ensure_peer_venv()).start()
    try:
        check(deliver(peer, peer.ws_url, "sio", "node-check"))
    finally:
        peer.stop()


def test_node_client_refuses_the_storm_command() -> None:
    """The Node client answers `storm`, which it does not implement, with an error line
    and keeps serving commands."""
    clients = Clients(1, kind="node")
    try:
        (answer,) = clients.call({"cmd": "storm"})
        assert "not supported" in answer["error"]
        (report,) = clients.call({"cmd": "report", "latencies": False})
        assert report["open"] == 0
        assert "latencies_us" not in report
    finally:
        clients.stop()
