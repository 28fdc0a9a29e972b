"""`bridge.client.Feed`, the public Python client of the live feed, against real bridges."""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_sock import Sock
from werkzeug.serving import make_server

from bridge import closecodes
from bridge.client import AuthRefused, CliError, Feed
from bridge.embedded import EmbeddedRedis
from tests.support import BridgeProcess, deliver, wait_until

pytestmark = pytest.mark.gunicorn


def ids(events: Iterator[dict[str, Any]], count: int) -> list[str]:
    return [e["id"] for e in itertools.islice(events, count)]


# While the bridge is down, each reconnect attempt fails inside simple-websocket's Client,
# which connects a socket before keeping it and leaves it to the garbage collector when the
# connect is refused (simple-websocket 1.1.0): a warning at collection, not a held descriptor.
@pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <socket\.socket:pytest.PytestUnraisableExceptionWarning"
)
def test_feed_yields_each_event_once_across_a_bridge_restart(
    redis_server: EmbeddedRedis, tmp_path: Path, uid: str
) -> None:
    """Events of two channels arrive in order; after the bridge restarts, the feed reconnects
    by itself and resumes after the last event it queued: no gap, no repeat."""
    bridge = BridgeProcess(tmp_path / "b", redis_server.url).start()
    channels = [f"{uid}-a", f"{uid}-b"]
    for channel in channels:
        bridge.create_endpoint(channel)
    lines: list[str] = []
    feed = Feed(bridge.url, bridge.token, channels, since=dict.fromkeys(channels, "0-0"),
                notices=lines.append)  # fmt: skip
    try:
        events = iter(feed)
        posted = [deliver(bridge, f"{uid}-{n}").json()["id"] for n in "aabb"]
        assert ids(events, 4) == posted
        assert feed.cursors == {f"{uid}-a": posted[1], f"{uid}-b": posted[3]}
        bridge.stop()
        bridge.start()
        after = [deliver(bridge, f"{uid}-{n}").json()["id"] for n in "ba"]
        assert sorted(ids(events, 2)) == sorted(after)  # two channels: order is per channel
        assert any(line.startswith("back:") for line in lines), lines
    finally:
        feed.close()
        bridge.stop()


def test_a_slow_consumer_loses_nothing_while_its_queue_is_full(
    bridge: BridgeProcess, uid: str
) -> None:
    """With room for 5 events and 60 posted before reading, all 60 come, in order, once."""
    bridge.create_endpoint(uid)
    posted = [deliver(bridge, uid).json()["id"] for _ in range(60)]
    feed = Feed(bridge.url, bridge.token, [uid], since={uid: "0-0"}, queue_size=5)
    try:
        assert ids(iter(feed), 60) == posted
    finally:
        feed.close()


def test_a_subscriber_token_reads_its_channel(bridge: BridgeProcess, uid: str) -> None:
    """A short-lived subscriber token is enough for its own channel."""
    bridge.create_endpoint(uid)
    stored = deliver(bridge, uid).json()["id"]
    minted = bridge.api("POST", "/api/tokens", json={"channels": [uid], "ttl": 60}).json()
    feed = Feed(bridge.url, minted["token"], [uid], since={uid: "0-0"})
    try:
        assert ids(iter(feed), 1) == [stored]
    finally:
        feed.close()


def test_the_listening_notice_of_a_library_feed_names_no_ctrl_c(
    bridge: BridgeProcess, uid: str
) -> None:
    """A worker's feed says what it listens to, not the CLI's "Ctrl-C to stop"."""
    bridge.create_endpoint(uid)
    stored = deliver(bridge, uid).json()["id"]
    lines: list[str] = []
    feed = Feed(bridge.url, bridge.token, [uid], since={uid: "0-0"}, notices=lines.append)
    try:
        assert ids(iter(feed), 1) == [stored]
    finally:
        feed.close()
    assert f"listening to {uid} on {bridge.url}, from the start of its history" in lines, lines
    assert not any("Ctrl-C" in line for line in lines), lines


def test_a_feed_says_when_an_endpoint_it_follows_is_deleted(
    bridge: BridgeProcess, uid: str
) -> None:
    """Deleting an endpoint a feed follows is a notice naming it; the other channels go on."""
    channels = [uid, f"{uid}-b"]
    for name in channels:
        bridge.create_endpoint(name)
    first = deliver(bridge, uid).json()["id"]
    lines: list[str] = []
    feed = Feed(bridge.url, bridge.token, channels, since=dict.fromkeys(channels, "0-0"),
                notices=lines.append)  # fmt: skip
    try:
        events = iter(feed)
        assert ids(events, 1) == [first]
        assert bridge.api("DELETE", f"/api/endpoints/{uid}").status_code == 204
        later = deliver(bridge, f"{uid}-b").json()["id"]
        assert ids(events, 1) == [later]
        told = f"{uid}: the endpoint was deleted on {bridge.url}; no more events"
        wait_until(lambda: told in lines)  # the notice and b's event come on their own ways
        # A reconnect neither fails on the deleted channel nor takes up the endpoint created
        # again under its id: the feed goes on with the other one alone.
        bridge.create_endpoint(uid)
        deliver(bridge, uid)
        workers = bridge.worker_pids()
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: len(set(bridge.worker_pids()) - set(workers)) == 2, timeout=30)
        after = deliver(bridge, f"{uid}-b").json()["id"]
        assert ids(events, 1) == [after]
        assert feed.cursors == {f"{uid}-b": after}
    finally:
        feed.close()


def test_a_feed_whose_every_endpoint_is_deleted_ends_saying_so(
    bridge: BridgeProcess, uid: str
) -> None:
    """When the only endpoint a feed follows is deleted, the iteration ends with a CliError
    saying nothing is left to listen to, instead of idling forever."""
    bridge.create_endpoint(uid)
    feed = Feed(bridge.url, bridge.token, [uid], since={uid: "0-0"})
    try:
        events = iter(feed)
        first = deliver(bridge, uid).json()["id"]
        assert ids(events, 1) == [first]
        assert bridge.api("DELETE", f"/api/endpoints/{uid}").status_code == 204
        with pytest.raises(CliError, match="nothing left to listen to"):
            next(events)
    finally:
        feed.close()


def test_a_wrong_token_raises_from_the_iteration(bridge: BridgeProcess, uid: str) -> None:
    """A refused token ends the feed with AuthRefused instead of retrying forever."""
    feed = Feed(bridge.url, "wrong-token-0123456789", [uid])
    with pytest.raises(AuthRefused):
        next(iter(feed))


def test_a_close_the_catalogue_marks_never_ends_the_feed_without_a_reconnect() -> None:
    """A server (here a stand-in, as a proxy with a small frame limit would) that closes the
    feed with 1009 ends the iteration with a CliError naming it, after the event it sent,
    and is not connected to again."""
    app = Flask(__name__)
    connections: list[int] = []

    def ws(sock: Any) -> None:
        connections.append(1)
        frame = json.loads(sock.receive(timeout=5))
        channel = frame["channel"]
        sock.send(json.dumps({"type": "subscribed", "channel": channel, "ref": frame["ref"]}))
        event = {"id": "1-0", "endpoint": channel, "type": "push", "payload": {}}
        sock.send(json.dumps({"type": "event", "channel": channel, "event": event}))
        sock.close(reason=closecodes.MESSAGE_TOO_BIG.code, message="frame too large")

    Sock(app).route("/ws")(ws)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    feed = Feed(f"http://127.0.0.1:{server.server_port}", "token", ["orders"])
    try:
        events = iter(feed)
        assert next(events)["id"] == "1-0"
        with pytest.raises(CliError, match=r"a client frame was too large.*1009"):
            next(events)
        time.sleep(1.5)  # past the feed's first reconnect delay (0.4-0.5 s)
        assert connections == [1]
    finally:
        feed.close()
        server.shutdown()
        server.server_close()
