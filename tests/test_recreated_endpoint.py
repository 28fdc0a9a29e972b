"""An endpoint deleted and created again under its id: its old cursors, sockets and tokens."""

from __future__ import annotations

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
