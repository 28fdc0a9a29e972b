"""Event routes of the admin API: paging, replay, counts, and the provider list."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest
import redis
from flask.testing import FlaskClient

from bridge.providers import REGISTRY
from bridge.providers import get as provider
from tests.support import BridgeProcess, Connect, spread_history

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


def test_before_pages_back_from_the_newest_to_the_first_event(
    bridge: BridgeProcess, redis_client: redis.Redis, uid: str
) -> None:
    """`before` walks history backwards page by page, each page oldest first, `next` chaining."""
    bridge.create_endpoint(uid)
    cursors = spread_history(bridge, redis_client, uid, 7, gap_ms=90_000)
    pages: list[list[str]] = []
    before = "9999999999999999999"  # the largest cursor there is
    while before is not None and len(pages) < 10:
        answer = bridge.api("GET", f"/api/endpoints/{uid}/events?before={before}&limit=3")
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages.append([e["id"] for e in page["events"]])
        before = page["next"]
        assert before is None or before == pages[-1][0]
    assert pages == [cursors[4:7], cursors[1:4], cursors[0:1]]
    newest = bridge.api("GET", f"/api/endpoints/{uid}/events?before={cursors[3]}&limit=2").json()
    assert [e["id"] for e in newest["events"]] == cursors[1:3]
    assert [e["body"]["n"] for e in newest["events"]] == [1, 2]


def test_before_with_since_pages_within_the_window_between_them(
    bridge: BridgeProcess, redis_client: redis.Redis, uid: str
) -> None:
    """`since` and `before` together give the newest events strictly between the two."""
    bridge.create_endpoint(uid)
    cursors = spread_history(bridge, redis_client, uid, 6, gap_ms=90_000)

    def ids(query: str) -> tuple[list[str], str | None]:
        answer = bridge.api("GET", f"/api/endpoints/{uid}/events?{query}")
        assert answer.status_code == 200, answer.text
        return [e["id"] for e in answer.json()["events"]], answer.json()["next"]

    assert ids(f"since={cursors[0]}&before={cursors[5]}&limit=2") == (cursors[3:5], cursors[3])
    assert ids(f"since={cursors[0]}&before={cursors[3]}&limit=2") == (cursors[1:3], None)
    assert ids(f"since={cursors[3]}&before={cursors[3]}") == ([], None)
    assert ids(f"since={cursors[4]}&before={cursors[1]}") == ([], None)
    assert ids("before=0-0") == ([], None)


@pytest.mark.parametrize(
    "query",
    [
        *(f"before={quote(bad)}" for bad in ["abc", "-1", "1-2-3", "1-", "x-0", "1.5", " ", ""]),
        "before=1-0%0A",
        "before=18446744073709551616-0",
        "before=1-18446744073709551616",
        "since=5-0&before=nope",
    ],
)
def test_events_with_a_bad_before_is_400_naming_it(
    bridge: BridgeProcess, uid: str, query: str
) -> None:
    """A `before` that is no cursor (or one Redis would refuse: past 64 bits) is a 400
    naming `before`, exactly as `since` is checked."""
    bridge.create_endpoint(uid)
    answer = bridge.api("GET", f"/api/endpoints/{uid}/events?{query}")
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert answer.json()["field"] == "before"
