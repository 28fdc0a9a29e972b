"""The hub (bridge/hub.py) on its own, on a real Redis: backlog then live into a connected
socket (bridge/wire/) over a socket pair, without an HTTP server in between."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from bridge import cursor
from bridge.hub import Hub
from bridge.store import StreamState
from bridge.subscription import Subscription
from bridge.wire.frames import wire_frame
from tests.ingest_support import create, deliver
from tests.wire_support import OpenWire, read_frame


@pytest.fixture
def hub(app: Flask, redis_url: str) -> Iterator[Hub]:
    """A hub of its own over the app's store, stopped after the test."""
    made = Hub(lambda: redis.Redis.from_url(redis_url), app.extensions["bridge"].store,
               send_timeout=1)  # fmt: skip
    yield made
    made.stop()


def stored(client: FlaskClient, auth: dict[str, str], uid: str, count: int) -> list[str]:
    """Deliver `count` webhooks to a new endpoint; their cursors."""
    create(client, auth, uid)
    ids = []
    for n in range(count):
        answer = deliver(client, uid, json.dumps({"n": n}).encode(), event_id=f"d-{n}")
        assert answer.status_code == 202
        ids.append(answer.get_json()["id"])
    return ids


def sent_ns(client_end: socket.socket, count: int) -> list[int]:
    """The body `n` of each of the next `count` event frames on the client's end."""
    return [json.loads(read_frame(client_end)[1])["event"]["body"]["n"] for _ in range(count)]


def test_subscribe_queues_the_backlog_after_since_then_drops_live_repeats(
    hub: Hub, client: FlaskClient, auth: dict[str, str], uid: str, wire: OpenWire
) -> None:
    """subscribe() sends every stored event after `since`; a live event at or below the last
    one sent is dropped, a newer one is sent."""
    ids = stored(client, auth, uid, 3)
    connection, client_end = wire()
    sub = Subscription(uid, connection, None)
    states: list[StreamState] = []
    assert hub.subscribe(sub, cursor.parse(ids[0]), states.append) == 2
    assert [s.last for s in states] == [cursor.parse(ids[2])]
    assert sent_ns(client_end, 2) == [1, 2]
    last = cursor.parse(ids[2])
    hub.deliver(uid, last, "push", wire_frame("repeat"))
    hub.deliver(uid, (last[0], last[1] + 1), "push", wire_frame("newer"))
    assert read_frame(client_end) == (1, b"newer")


def test_a_filtered_subscription_gets_only_matching_events_but_moves_past_the_rest(
    hub: Hub, client: FlaskClient, auth: dict[str, str], uid: str, wire: OpenWire
) -> None:
    """An event-type filter skips other types, and a skipped event is not offered again."""
    stored(client, auth, uid, 1)
    connection, client_end = wire()
    sub = Subscription(uid, connection, "invoice.*")
    assert hub.subscribe(sub, cursor.ZERO, lambda state: None) == 0  # the one stored is a push
    hub.deliver(uid, (10**13, 0), "push", wire_frame("skipped"))
    hub.deliver(uid, (10**13, 0), "invoice.paid", wire_frame("repeat of a skipped id"))
    hub.deliver(uid, (10**13, 1), "invoice.paid", wire_frame("wanted"))
    assert read_frame(client_end) == (1, b"wanted")
