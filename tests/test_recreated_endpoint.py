"""An endpoint deleted and created again under its id: its old cursors, sockets and tokens."""

from __future__ import annotations

import threading

from tests.support import BridgeProcess, Connect


def recreate(bridge: BridgeProcess, uid: str) -> tuple[list[str], str]:
    """Events c1..c3, the endpoint deleted and created again, then c4: the cursors."""
    bridge.create_endpoint(uid)
    old = [bridge.post_signed(uid, b"{}", event_id=f"c{n}").json()["id"] for n in (1, 2, 3)]
    assert bridge.api("DELETE", f"/api/endpoints/{uid}").status_code == 204
    bridge.create_endpoint(uid)
    return old, bridge.post_signed(uid, b"{}", event_id="c4").json()["id"]


def test_history_from_a_cursor_of_the_deleted_endpoint_is_not_recovered(
    bridge: BridgeProcess, uid: str
) -> None:
    """The history after a cursor of the endpoint's previous life holds the new events and
    says `recovered: false`; after 0-0 or a new cursor it is recovered."""
    old, new = recreate(bridge, uid)
    path = f"/api/endpoints/{uid}/events?since="
    page = bridge.api("GET", path + old[0]).json()
    assert ([e["id"] for e in page["events"]], page["recovered"]) == ([new], False)
    assert bridge.api("GET", path + "0-0").json()["recovered"] is True
    assert bridge.api("GET", path + new).json()["recovered"] is True


def test_resuming_a_socket_from_a_cursor_of_the_deleted_endpoint_is_not_recovered(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A subscribe with `since` from the endpoint's previous life is `recovered: false`, then
    gets the new endpoint's events; one from 0-0 is recovered."""
    old, new = recreate(bridge, uid)
    client = connect(bridge)
    subscribed = client.subscribe(uid, since=old[0])
    assert (subscribed["recovered"], subscribed["cursor"]) == (False, new)
    assert [e["id"] for e in client.events(1)] == [new]
    other = connect(bridge)
    assert other.subscribe(uid, since="0-0")["recovered"] is True
    assert [e["id"] for e in other.events(1)] == [new]


def test_a_socket_is_told_when_its_endpoint_is_deleted_and_gets_no_event_of_its_successor(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """Deleting an endpoint ends each socket's subscription of it with `unsubscribed`
    (reason `deleted`); the endpoint created again under its id sends that socket nothing
    until it subscribes again, and a resume from the old cursor is not recovered."""
    bridge.create_endpoint(uid)
    client = connect(bridge)
    client.subscribe(uid)
    old = bridge.post_signed(uid, b"{}", event_id="c1").json()["id"]
    assert [e["id"] for e in client.events(1)] == [old]
    assert bridge.api("DELETE", f"/api/endpoints/{uid}").status_code == 204
    assert client.recv() == {"type": "unsubscribed", "channel": uid, "reason": "deleted"}
    bridge.create_endpoint(uid)
    new = bridge.post_signed(uid, b"{}", event_id="c2").json()["id"]
    client.send({"type": "ping"})
    assert client.recv() == {"type": "pong"}
    assert client.subscribe(uid, since=old)["recovered"] is False
    assert [e["id"] for e in client.events(1)] == [new]


def test_a_glob_is_told_when_an_endpoint_is_deleted_and_adopts_it_created_again(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A glob's channel whose endpoint is deleted ends with `unsubscribed` (reason `deleted`,
    naming the glob); created again, it joins the glob as a new endpoint does: `subscribed`
    from 0-0, then its events."""
    bridge.create_endpoint(uid)
    client = connect(bridge)
    client.send({"type": "subscribe", "channel": f"{uid}*"})
    assert client.recv()["channel"] == uid
    assert client.recv()["channels"] == [uid]
    assert bridge.api("DELETE", f"/api/endpoints/{uid}").status_code == 204
    assert client.recv() == {
        "type": "unsubscribed", "channel": uid, "reason": "deleted", "glob": f"{uid}*",
    }  # fmt: skip
    bridge.create_endpoint(uid)
    new = bridge.post_signed(uid, b"{}", event_id="c2").json()["id"]
    assert client.recv() == {"type": "subscribed", "channel": uid, "cursor": "0-0",
                             "recovered": True, "glob": f"{uid}*"}  # fmt: skip
    assert [e["id"] for e in client.events(1)] == [new]


def test_a_subscriber_token_reads_only_the_endpoint_it_was_minted_for(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A subscriber token minted before its endpoint was deleted does not read the endpoint
    created again under that id (`forbidden`, on a socket opened before the deletion too);
    one minted afterwards does."""
    bridge.create_endpoint(uid)

    def mint() -> str:
        answer = bridge.api("POST", "/api/tokens", json={"channels": [uid], "ttl": 600})
        token: str = answer.json()["token"]
        return token

    old_token = mint()
    opened = connect(bridge, token=old_token)
    opened.subscribe(uid)
    assert bridge.api("DELETE", f"/api/endpoints/{uid}").status_code == 204
    assert opened.recv()["reason"] == "deleted"
    bridge.create_endpoint(uid)
    for client in (opened, connect(bridge, token=old_token)):
        client.send({"type": "subscribe", "channel": uid})
        answer = client.recv()
        assert (answer["type"], answer["code"]) == ("error", "forbidden"), answer
    connect(bridge, token=mint()).subscribe(uid)


def test_a_glob_adopts_the_endpoint_created_again_that_an_exact_subscription_held(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """On a socket holding `<uid>` exactly and `<uid>*`, deleting the endpoint ends the exact
    subscription; the endpoint created again is a new one, which the glob takes."""
    bridge.create_endpoint(uid)
    client = connect(bridge)
    client.subscribe(uid)
    client.send({"type": "subscribe", "channel": f"{uid}*"})
    assert client.recv()["channels"] == []
    assert bridge.api("DELETE", f"/api/endpoints/{uid}").status_code == 204
    assert client.recv() == {"type": "unsubscribed", "channel": uid, "reason": "deleted"}
    bridge.create_endpoint(uid)
    new = bridge.post_signed(uid, b"{}", event_id="c2").json()["id"]
    assert client.recv() == {"type": "subscribed", "channel": uid, "cursor": "0-0",
                             "recovered": True, "glob": f"{uid}*"}  # fmt: skip
    assert [e["id"] for e in client.events(1)] == [new]


def test_a_subscribe_racing_the_deletion_is_told_of_it(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """Subscribes sent while their endpoint is being deleted are each refused
    (`unknown_channel`) or answered `subscribed` and then `unsubscribed` (reason `deleted`):
    none is left holding a channel that is gone. Bounded: 15 rounds of 4 sockets."""
    answered = 0
    for n in range(15):
        channel = f"{uid}-{n}"
        bridge.create_endpoint(channel)
        clients = [connect(bridge) for _ in range(4)]
        deleting = threading.Thread(
            target=lambda c=channel: bridge.api("DELETE", f"/api/endpoints/{c}"), daemon=True
        )
        deleting.start()
        for client in clients:
            client.send({"type": "subscribe", "channel": channel, "since": "0-0"})
        deleting.join(10)
        for client in clients:
            first = client.recv()
            if first["type"] == "error":
                assert first["code"] == "unknown_channel", first
                continue
            assert first["type"] == "subscribed", first
            answered += 1
            then = client.recv(5)
            assert then == {"type": "unsubscribed", "channel": channel, "reason": "deleted"}
            client.close()
    assert answered > 0  # the race was run, not only refused
