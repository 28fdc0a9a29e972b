"""Per-subscriber slow-client policies (`on_slow`) through a real bridge and a client that
stops reading for a while: `drop_oldest` keeps the socket and says where the gap is,
`latest` keeps the newest, `close` (the default) closes 4008."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from bridge.embedded import EmbeddedRedis
from tests.support import BridgeProcess, Client

pytestmark = pytest.mark.gunicorn

PAD = "x" * 2000  # each event ~2 KB: the kernel's buffers fill after a few dozen


@pytest.fixture(scope="module")
def small_queue(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BridgeProcess]:
    """One worker whose sockets queue at most 20 frames."""
    process = BridgeProcess(
        tmp_path_factory.mktemp("onslow"), redis_server.url, BRIDGE_WORKERS="1",
        BRIDGE_WS_QUEUE_SIZE="20",
    ).start()  # fmt: skip
    yield process
    process.stop()


def slow_client(bridge: BridgeProcess, channel: str, on_slow: str) -> Client:
    """A client with a tiny receive buffer, subscribed with `on_slow`, not reading yet."""
    client = Client(bridge.ws_url, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    client.subscribe(channel, on_slow=on_slow)
    return client


def post_many(bridge: BridgeProcess, channel: str, count: int) -> list[str]:
    ids = []
    for n in range(count):
        body = json.dumps({"n": n, "pad": PAD}).encode()
        answer = bridge.post_signed(channel, body, event_id=f"{channel}-{n}")
        assert answer.status_code == 202
        ids.append(answer.json()["id"])
    return ids


def read_through(client: Client, last: str) -> list[dict[str, Any]]:
    """Every frame until the event `last` (its publication reaches the hub a moment after
    its 202), then until the pong to a ping sent after it, so trailing frames count too."""
    frames = [client.recv(15)]
    while frames[-1].get("event", {}).get("id") != last:
        frames.append(client.recv(15))
    client.send({"type": "ping"})
    while (frame := client.recv(15))["type"] != "pong":
        frames.append(frame)
    return frames


def fall_behind(
    bridge: BridgeProcess, uid: str, on_slow: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """150 events posted to a new endpoint while its subscriber reads nothing, then read:
    the cursors posted, and every frame the subscriber got."""
    bridge.create_endpoint(uid)
    client = slow_client(bridge, uid, on_slow)
    try:
        posted = post_many(bridge, uid, 150)
        return posted, read_through(client, posted[-1])
    finally:
        client.close()


def test_drop_oldest_keeps_the_socket_and_the_gap_is_in_history(
    small_queue: BridgeProcess, uid: str
) -> None:
    """A drop_oldest socket that fell behind stays open, gets `dropped` frames, and what each
    counts is exactly what history holds between its `after` and the next event received."""
    posted, frames = fall_behind(small_queue, uid, "drop_oldest")
    kinds = {f["type"] for f in frames}
    assert kinds == {"event", "dropped"}, kinds
    received = [f["event"]["id"] for f in frames if f["type"] == "event"]
    assert received[-1] == posted[-1]
    recovered = list(received)
    for i, frame in enumerate(frames):
        if frame["type"] != "dropped":
            continue
        assert frame["channel"] == uid
        following = next(f["event"]["id"] for f in frames[i:] if f["type"] == "event")
        page = small_queue.api(
            "GET", f"/api/endpoints/{uid}/events", params={"since": frame["after"], "limit": 500}
        ).json()["events"]
        gap = [e["id"] for e in page][: [e["id"] for e in page].index(following)]
        assert len(gap) == frame["count"]
        recovered += gap
    assert sorted(recovered, key=lambda c: tuple(map(int, c.split("-")))) == posted


def test_latest_gets_the_newest_event_and_no_dropped_frame(
    small_queue: BridgeProcess, uid: str
) -> None:
    """A latest socket that fell behind stays open and ends on the newest event, in order."""
    posted, frames = fall_behind(small_queue, uid, "latest")
    assert {f["type"] for f in frames} == {"event"}
    received = [f["event"]["id"] for f in frames]
    assert received[-1] == posted[-1]
    assert len(received) < len(posted)
    assert received == [c for c in posted if c in set(received)]  # in order, no duplicate


def test_close_is_still_the_default(small_queue: BridgeProcess, uid: str) -> None:
    """Without on_slow, the same lag closes the socket as a slow consumer (4008)."""
    small_queue.create_endpoint(uid)
    client = Client(small_queue.ws_url, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    try:
        client.subscribe(uid)
        post_many(small_queue, uid, 150)
        assert client.close_code(timeout=15) == 4008
    finally:
        client.close()


@pytest.mark.parametrize("value", ["drop", "", None, 1, ["latest"], "LATEST"])
def test_unknown_on_slow_is_a_bad_request(small_queue: BridgeProcess, uid: str, value: Any) -> None:
    """Anything but close / drop_oldest / latest is `bad_request` naming on_slow."""
    small_queue.create_endpoint(uid)
    client = Client(small_queue.ws_url)
    try:
        client.send({"type": "subscribe", "channel": uid, "on_slow": value})
        answer = client.recv()
        assert (answer["type"], answer["code"]) == ("error", "bad_request")
        assert "on_slow" in answer["message"]
    finally:
        client.close()
