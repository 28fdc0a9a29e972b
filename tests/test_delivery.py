"""Delivery across processes: two gunicorn workers, resume after absence, retention."""

from __future__ import annotations

import json
import uuid

import psutil

from tests.support import BridgeProcess, Client, Connect, wait_until


def post(bridge: BridgeProcess, endpoint: str, n: int) -> list[str]:
    ids = []
    for i in range(n):
        answer = bridge.post_signed(endpoint, json.dumps({"n": i}).encode(),
                                    event_id=uuid.uuid4().hex)  # fmt: skip
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["id"])
    return ids


def owner_pid(bridge: BridgeProcess, client: Client) -> int | None:
    """The gunicorn worker holding the server side of this client's TCP connection."""
    sock = client.ws.sock
    assert sock is not None, "client not connected"
    local_port = sock.getsockname()[1]
    for pid in bridge.worker_pids():
        for conn in psutil.Process(pid).net_connections(kind="tcp"):
            if conn.raddr and conn.raddr.port == local_port:
                return pid
    return None


def test_webhook_reaches_sockets_on_both_workers(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """One webhook reaches subscribed sockets held by each of the two gunicorn workers."""
    bridge.create_endpoint(uid)
    workers = set(bridge.worker_pids())
    assert len(workers) == 2
    by_worker: dict[int, Client] = {}
    for _ in range(60):  # the kernel picks the accepting worker; open until both hold one
        client = connect(bridge)
        client.subscribe(uid)
        pid = wait_until(lambda c=client: owner_pid(bridge, c), timeout=5)
        by_worker.setdefault(pid, client)
        if len(by_worker) == 2:
            break
    assert set(by_worker) == workers
    (cursor,) = post(bridge, uid, 1)
    for client in by_worker.values():
        assert [e["id"] for e in client.events(1)] == [cursor]


def test_resume_after_absence_gets_missed_events_once_in_order(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """Events posted while a client was away arrive exactly once, in order, after `since`."""
    bridge.create_endpoint(uid)
    client = connect(bridge)
    client.subscribe(uid)
    first = post(bridge, uid, 2)
    seen = [e["id"] for e in client.events(2)]
    assert seen == first
    client.close()
    missed = post(bridge, uid, 5)
    again = connect(bridge)
    subscribed = again.subscribe(uid, since=seen[-1])
    assert subscribed["recovered"] is True
    live = post(bridge, uid, 2)
    received = [e["id"] for e in again.events(7)]
    assert received == missed + live
    assert received == sorted(received, key=lambda c: tuple(map(int, c.split("-"))))
    again.send({"type": "ping"})
    assert again.recv() == {"type": "pong"}


def test_since_older_than_retention_says_not_recovered(
    tight_bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A `since` older than what is retained gets recovered: false, then what is retained."""
    tight_bridge.create_endpoint(uid)  # this bridge keeps 5 events per endpoint
    ids = post(tight_bridge, uid, 8)
    client = connect(tight_bridge)
    subscribed = client.subscribe(uid, since=ids[0])
    assert subscribed["recovered"] is False
    assert [e["id"] for e in client.events(5)] == ids[3:]


def test_since_within_retention_is_recovered(
    tight_bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A `since` at the edge of retention is still recovered: nothing after it was trimmed."""
    tight_bridge.create_endpoint(uid)
    ids = post(tight_bridge, uid, 8)
    client = connect(tight_bridge)
    subscribed = client.subscribe(uid, since=ids[2])
    assert subscribed["recovered"] is True
    assert [e["id"] for e in client.events(5)] == ids[3:]


def test_since_from_another_history_says_not_recovered(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A `since` beyond the newest event (the data was reset) gets recovered: false."""
    bridge.create_endpoint(uid)
    (only,) = post(bridge, uid, 1)
    future = f"{int(only.split('-')[0]) + 10_000}-0"
    client = connect(bridge)
    assert client.subscribe(uid, since=future)["recovered"] is False
