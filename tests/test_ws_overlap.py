"""Overlapping subscriptions on one socket (an exact channel and globs over it): the socket
holds each channel once, so each event reaches it once."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.web.session import MAX_SUBSCRIPTIONS
from tests.support import BridgeProcess, Client, Connect, deliver, frames_until

pytestmark = pytest.mark.gunicorn


def rest(client: Client) -> list[dict[str, Any]]:
    """Every frame still on its way before a ping's pong (what the server sent before it)."""
    client.send({"type": "ping"})
    return frames_until(client, lambda f: f["type"] == "pong")[:-1]


def through(client: Client, event_id: str) -> list[dict[str, Any]]:
    """The frames up to the event `event_id`, and any others sent before a ping's pong."""
    return frames_until(client, lambda f: f.get("event", {}).get("id") == event_id) + rest(client)


def shown(frames: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    return [(f["type"], f.get("channel"), f.get("event", {}).get("id")) for f in frames]


def test_an_exact_channel_and_two_globs_over_it_deliver_each_event_once(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """Exact `<uid>-a`, then `<uid>-*`, then `<uid>*`, each resuming from 0-0: the backlog
    of each channel comes once, through whichever subscription took it first; each glob's
    `channels` lists only what it adopted; later events, and an endpoint created later
    (adopted by the earlier glob), arrive once each."""
    a, b = f"{uid}-a", f"{uid}-b"
    for name in (a, b):
        bridge.create_endpoint(name)
    a1, b1 = deliver(bridge, a).json()["id"], deliver(bridge, b).json()["id"]
    client = connect(bridge)
    assert client.subscribe(a, since="0-0")["recovered"] is True
    assert [e["id"] for e in client.events(1)] == [a1]

    both = {a: "0-0", b: "0-0"}
    client.send({"type": "subscribe", "channel": f"{uid}-*", "since": both})
    frames = frames_until(client, lambda f: f.get("channel") == f"{uid}-*")
    assert shown(frames) == [("subscribed", b, None), ("event", b, b1),
                             ("subscribed", f"{uid}-*", None)]  # fmt: skip
    assert frames[-1]["channels"] == [b]
    client.send({"type": "subscribe", "channel": f"{uid}*", "since": both})
    assert client.recv() == {"type": "subscribed", "channel": f"{uid}*", "channels": []}

    a2, b2 = deliver(bridge, a).json()["id"], deliver(bridge, b).json()["id"]
    bridge.create_endpoint(f"{uid}-c")
    c1 = deliver(bridge, f"{uid}-c").json()["id"]
    # The new endpoint's frames may come after a pong sent at once: wait for its event.
    frames = through(client, c1)
    assert sorted(shown(frames), key=str) == sorted(
        [("event", a, a2), ("event", b, b2), ("subscribed", f"{uid}-c", None),
         ("event", f"{uid}-c", c1)], key=str)  # fmt: skip
    joined = next(f for f in frames if f["type"] == "subscribed")
    assert joined["glob"] == f"{uid}-*"


def test_an_exact_subscribe_of_a_channel_a_glob_holds_is_already_subscribed(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """Subscribing exactly to a channel the socket follows through a glob, or to one it has
    already, is `already_subscribed` naming the channel and what holds it; events still
    come once."""
    bridge.create_endpoint(uid)
    client = connect(bridge)
    client.send({"type": "subscribe", "channel": f"{uid}*"})
    frames_until(client, lambda f: f.get("channel") == f"{uid}*")
    client.send({"type": "subscribe", "channel": uid, "ref": 1})
    assert client.recv() == {
        "type": "error", "code": "already_subscribed", "channel": uid, "held_by": f"{uid}*",
        "message": f"already subscribed to {uid!r} through {f'{uid}*'!r}", "ref": 1,
    }  # fmt: skip
    other = connect(bridge)
    other.subscribe(uid)
    other.send({"type": "subscribe", "channel": uid})
    answer = other.recv()
    assert (answer["code"], answer["channel"], answer["held_by"]) == (
        "already_subscribed", uid, uid,
    )  # fmt: skip
    sent = deliver(bridge, uid).json()["id"]
    for socket in (client, other):
        assert shown(through(socket, sent)) == [("event", uid, sent)]


def test_unsubscribing_a_channel_a_glob_holds_names_the_glob(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """An unsubscribe of a channel the socket holds only through a glob is `not_subscribed`
    naming the glob (as a subscribe of it names it), and its events keep coming."""
    bridge.create_endpoint(uid)
    client = connect(bridge)
    client.send({"type": "subscribe", "channel": f"{uid}*"})
    frames_until(client, lambda f: f.get("channel") == f"{uid}*")
    client.send({"type": "unsubscribe", "channel": uid, "ref": 2})
    answer = client.recv()
    assert (answer["code"], answer["channel"], answer["held_by"], answer["ref"]) == (
        "not_subscribed", uid, f"{uid}*", 2,
    )  # fmt: skip
    assert f"unsubscribe {f'{uid}*'!r} to stop it" in answer["message"]
    sent = deliver(bridge, uid).json()["id"]
    assert shown(through(client, sent)) == [("event", uid, sent)]


def test_at_the_subscription_limit_a_glob_held_channel_is_still_already_subscribed(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """With the socket at its 100 subscriptions, one of them a glob, an exact subscribe of a
    channel the glob holds says `already_subscribed` naming the glob, not the limit."""
    bridge.create_endpoint(uid)
    client = connect(bridge)
    client.send({"type": "subscribe", "channel": f"{uid}*"})
    frames_until(client, lambda f: f.get("channel") == f"{uid}*")
    for n in range(MAX_SUBSCRIPTIONS - 1):
        client.send({"type": "subscribe", "channel": f"{uid}-x{n}*", "ref": n})
        frames_until(client, lambda f, n=n: f.get("ref") == n)
    client.send({"type": "subscribe", "channel": f"{uid}-past*", "ref": "past"})
    assert frames_until(client, lambda f: f.get("ref") == "past")[-1]["code"] == (
        "too_many_subscriptions"
    )
    client.send({"type": "subscribe", "channel": uid, "ref": "held"})
    answer = frames_until(client, lambda f: f.get("ref") == "held")[-1]
    assert (answer["code"], answer["held_by"]) == ("already_subscribed", f"{uid}*")


def test_a_glob_takes_over_no_channel_another_subscription_drops(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """After the exact subscription of a channel (or the glob that adopted it) is dropped,
    an overlapping glob does not start sending it unannounced: its channels stay those it
    adopted, and a new subscribe takes the channel back."""
    a, b = f"{uid}-a", f"{uid}-b"
    for name in (a, b):
        bridge.create_endpoint(name)
    client = connect(bridge)
    client.subscribe(a)
    client.send({"type": "subscribe", "channel": f"{uid}-*"})
    assert frames_until(client, lambda f: f.get("channel") == f"{uid}-*")[-1]["channels"] == [b]
    client.send({"type": "subscribe", "channel": f"{uid}*"})
    assert client.recv()["channels"] == []
    for channel in (a, f"{uid}-*"):
        client.send({"type": "unsubscribe", "channel": channel})
        assert client.recv() == {"type": "unsubscribed", "channel": channel}
    deliver(bridge, a)
    deliver(bridge, b)
    assert rest(client) == []
    client.subscribe(a)
    sent = deliver(bridge, a).json()["id"]
    assert shown(through(client, sent)) == [("event", a, sent)]
