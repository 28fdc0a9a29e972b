"""Event routes of the admin API: paging, replay, counts, and the provider list."""

from __future__ import annotations

import time
from typing import Any

from flask.testing import FlaskClient

from bridge.providers import REGISTRY
from bridge.providers import get as provider
from tests.support import BridgeProcess, Connect

SECRET = "events-api-secret-123"


def create(client: FlaskClient, auth: dict[str, str], uid: str) -> None:
    body = {"id": uid, "provider": "github", "secret": SECRET}
    assert client.post("/api/endpoints", json=body, headers=auth).status_code == 201


def deliver(client: FlaskClient, uid: str, body: bytes, event_id: str) -> str:
    headers = provider("github").sign(body, SECRET, now=time.time(), event_id=event_id)
    answer = client.post(f"/hooks/{uid}", data=body, headers=headers)
    assert answer.status_code == 202
    cursor: str = answer.get_json()["id"]
    return cursor


def page(client: FlaskClient, auth: dict[str, str], uid: str, query: str) -> dict[str, Any]:
    answer = client.get(f"/api/endpoints/{uid}/events?{query}", headers=auth)
    assert answer.status_code == 200
    body: dict[str, Any] = answer.get_json()
    return body


def test_next_is_set_only_when_another_page_exists(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A page that holds exactly the last events has no `next`; a fuller history has one."""
    create(client, auth, uid)
    ids = [deliver(client, uid, b'{"n": %d}' % n, f"e{n}") for n in range(4)]
    first = page(client, auth, uid, "limit=2")
    assert [e["id"] for e in first["events"]] == ids[:2]
    assert first["next"] == ids[1]
    last = page(client, auth, uid, f"limit=2&since={first['next']}")
    assert [e["id"] for e in last["events"]] == ids[2:]
    assert last["next"] is None


def test_replay_publishes_a_marked_copy_with_the_same_bytes(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A replay is a new event, live on sockets, marked replay_of, with the original raw bytes."""
    bridge.create_endpoint(uid)
    body = b'{"zen": "same bytes"}\n'
    original = bridge.post_signed(uid, body, event_id="orig-1").json()["id"]
    client = connect(bridge)
    client.subscribe(uid)
    answer = bridge.api("POST", f"/api/endpoints/{uid}/events/{original}/replay")
    assert answer.status_code == 201
    replayed = answer.json()
    assert replayed["replay_of"] == original
    (event,) = client.events(1)
    assert event["id"] == replayed["id"] != original
    assert event["replay_of"] == original
    assert event["event_id"] == "orig-1"
    raw = bridge.api("GET", f"/api/endpoints/{uid}/events/{replayed['id']}/raw")
    assert raw.content == body
    history = bridge.api("GET", f"/api/endpoints/{uid}/events").json()["events"]
    assert [e["id"] for e in history] == [original, replayed["id"]]


def test_replay_of_unknown_event_is_404(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Replaying a cursor that holds no event answers 404 unknown_event."""
    create(client, auth, uid)
    answer = client.post(f"/api/endpoints/{uid}/events/1-0/replay", headers=auth)
    assert answer.status_code == 404
    assert answer.get_json()["error"] == "unknown_event"


def test_endpoints_show_how_many_events_they_hold(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """List and show give each endpoint's retained event count."""
    create(client, auth, uid)
    for n in range(3):
        deliver(client, uid, b'{"n": %d}' % n, f"c{n}")
    shown = client.get(f"/api/endpoints/{uid}", headers=auth).get_json()
    assert shown["events"] == 3
    listed = client.get("/api/endpoints", headers=auth).get_json()["endpoints"]
    assert next(e for e in listed if e["id"] == uid)["events"] == 3


def test_provider_list_says_who_picks_the_secret(client: FlaskClient, auth: dict[str, str]) -> None:
    """GET /api/providers lists the registry (without `none` unless allowed) and secret policy."""
    answer = client.get("/api/providers", headers=auth)
    assert answer.status_code == 200
    listed = {p["name"]: p for p in answer.get_json()["providers"]}
    assert set(listed) == set(REGISTRY) - {"none"}
    assert listed["stripe"]["generates_secret"] is False
    assert listed["github"]["generates_secret"] is True
    assert "legacy_sha1" in listed["github"]["options"]
    assert client.get("/api/providers").status_code == 401
