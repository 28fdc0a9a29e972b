"""Glob channels for admin sockets: `{"channel": "stripe-*"}` follows every matching endpoint,
those created later included, each resumed from its own cursor in a `since` map."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bridge.embedded import EmbeddedRedis
from tests.blackhole import Blackhole
from tests.support import BridgeProcess, Connect, deliver, frames_until, metric, wait_until

pytestmark = pytest.mark.gunicorn


def test_glob_follows_matching_endpoints_each_from_its_cursor_and_new_ones_live(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """Each matching endpoint gets its own `subscribed` and the backlog after its cursor,
    then one `subscribed` for the glob; an endpoint created later joins (its `subscribed`
    before its first event); one that does not match is never sent."""
    for name in ("a", "b"):
        bridge.create_endpoint(f"{uid}-{name}")
    bridge.create_endpoint(f"x{uid}")  # does not match
    first_a = deliver(bridge, f"{uid}-a").json()["id"]
    second_a = deliver(bridge, f"{uid}-a").json()["id"]
    deliver(bridge, f"{uid}-b")  # before the subscribe, and b resumes live: not sent
    client = connect(bridge)
    client.send({"type": "subscribe", "channel": f"{uid}-*", "since": {f"{uid}-a": first_a},
                 "ref": 7})  # fmt: skip
    frames = frames_until(client, lambda f: f.get("channel") == f"{uid}-*")
    shown = [(f["type"], f.get("channel"), f.get("event", {}).get("id")) for f in frames]
    assert shown == [
        ("subscribed", f"{uid}-a", None),
        ("event", f"{uid}-a", second_a),
        ("subscribed", f"{uid}-b", None),
        ("subscribed", f"{uid}-*", None),
    ]
    assert frames[0]["glob"] == f"{uid}-*"
    assert frames[0]["recovered"] is True
    assert frames[-1] == {"type": "subscribed", "channel": f"{uid}-*", "ref": 7,
                          "channels": [f"{uid}-a", f"{uid}-b"]}  # fmt: skip

    deliver(bridge, f"x{uid}")
    live_b = deliver(bridge, f"{uid}-b").json()["id"]
    bridge.create_endpoint(f"{uid}-c")
    new_c = deliver(bridge, f"{uid}-c").json()["id"]
    # Each endpoint's frames keep their order; b's and c's may interleave.
    frames = [client.recv() for _ in range(3)]
    by_channel = {
        name: [f for f in frames if f["channel"] == name] for name in (f"{uid}-b", f"{uid}-c")
    }
    assert [(f["type"], f["event"]["id"]) for f in by_channel[f"{uid}-b"]] == [("event", live_b)]
    joined, event_c = by_channel[f"{uid}-c"]
    assert joined == {"type": "subscribed", "channel": f"{uid}-c", "cursor": "0-0",
                      "recovered": True, "glob": f"{uid}-*"}  # fmt: skip
    assert (event_c["type"], event_c["event"]["id"]) == ("event", new_c)


def test_unsubscribing_a_glob_stops_every_channel_it_followed(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """After unsubscribing the glob, no event of any channel it followed arrives."""
    bridge.create_endpoint(f"{uid}-a")
    client = connect(bridge)
    client.send({"type": "subscribe", "channel": f"{uid}-*"})
    frames_until(client, lambda f: f.get("channel") == f"{uid}-*")
    client.send({"type": "unsubscribe", "channel": f"{uid}-*"})
    assert client.recv() == {"type": "unsubscribed", "channel": f"{uid}-*"}
    deliver(bridge, f"{uid}-a")
    bridge.create_endpoint(f"{uid}-b")
    deliver(bridge, f"{uid}-b")
    client.send({"type": "ping"})
    assert client.recv()["type"] == "pong"


def test_subscriber_token_may_not_follow_a_glob(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A glob is for the admin token: a subscriber token gets `forbidden`, and stays open."""
    bridge.create_endpoint(uid)
    minted = bridge.api("POST", "/api/tokens", json={"channels": [uid], "ttl": 60}).json()
    client = connect(bridge, token=minted["token"], header_auth=False)
    client.send({"type": "subscribe", "channel": "*"})
    answer = client.recv()
    assert (answer["type"], answer["code"]) == ("error", "forbidden")
    client.subscribe(uid)


@pytest.mark.parametrize(
    "frame",
    [
        {"channel": "t*", "since": "0-0"},
        {"channel": "t*", "since": {"T": "0-0"}},
        {"channel": "t*", "since": {"tx": 5}},
        {"channel": "t*", "since": {"tx\n": "0-0"}},
        {"channel": "tx", "since": {"tx": "0-0"}},
        {"channel": "t*\n"},
        {"channel": "T*"},
        {"channel": "*" * 65},
    ],
)
def test_bad_glob_subscribes_are_bad_requests(
    bridge: BridgeProcess, connect: Connect, frame: dict[str, Any]
) -> None:
    """A string `since` with a glob, a map with an exact channel, or a malformed glob or map
    is `bad_request`; the socket stays open."""
    client = connect(bridge)
    client.send({"type": "subscribe", **frame})
    answer = client.recv()
    assert (answer["type"], answer["code"]) == ("error", "bad_request"), answer
    client.send({"type": "ping"})
    assert client.recv()["type"] == "pong"


def test_glob_learns_endpoints_created_while_its_hub_was_away(
    own_redis: EmbeddedRedis, tmp_path: Path, uid: str, connect: Connect
) -> None:
    """An endpoint created and written to while the socket's hub had lost Redis is found
    when the hub subscribes again: the glob follower gets its `subscribed` and its events."""
    proxy = Blackhole(own_redis.port).start()
    away = BridgeProcess(
        tmp_path / "away", proxy.url, BRIDGE_WORKERS="1", BRIDGE_REDIS_TIMEOUT="1"
    ).start()
    direct = BridgeProcess(tmp_path / "direct", own_redis.url, BRIDGE_WORKERS="1").start()
    try:
        client = connect(away)
        client.send({"type": "subscribe", "channel": f"{uid}-*"})
        frames_until(client, lambda f: f.get("channel") == f"{uid}-*")
        proxy.cut()
        wait_until(lambda: metric(away, "bridge_hub_connected") == 0, timeout=10)
        direct.create_endpoint(f"{uid}-late")
        stored = direct.post_signed(f"{uid}-late", b'{"while":"away"}', event_id="w").json()["id"]
        proxy.heal()
        joined = client.recv(20)
        assert (joined["type"], joined["channel"]) == ("subscribed", f"{uid}-late")
        (event,) = client.events(1, timeout=20)
        assert event["id"] == stored
    finally:
        direct.stop()
        away.stop()
        proxy.stop()


def test_an_admin_glob_resumes_with_a_map_past_the_message_limit(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A resume map of 2,000 channels (~100 KB, past the 64 KiB message limit: client.js
    sends such a map on every reconnect of a `*` follow) is taken from an admin socket; the
    same size from a subscriber token's socket is still a 1009."""
    bridge.create_endpoint(f"{uid}-a")
    first = deliver(bridge, f"{uid}-a").json()["id"]
    second = deliver(bridge, f"{uid}-a").json()["id"]
    since = {f"{uid}-a": first} | {f"{uid}-gone-{n:05d}": "1-0" for n in range(2000)}
    frame = {"type": "subscribe", "channel": f"{uid}-*", "since": since}
    assert len(json.dumps(frame)) > 64 * 1024
    admin = connect(bridge)
    admin.send(frame)
    frames = frames_until(admin, lambda f: f.get("channel") == f"{uid}-*")
    assert [(f["type"], f.get("event", {}).get("id")) for f in frames] == [
        ("subscribed", None),
        ("event", second),
        ("subscribed", None),
    ]
    token = bridge.api("POST", "/api/tokens", json={"channels": [f"{uid}-a"], "ttl": 60}).json()
    reader = connect(bridge, token["token"])
    reader.send(frame)
    assert reader.close_code() == 1009
