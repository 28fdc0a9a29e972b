"""The hub (bridge/hub.py) on its own, on a real Redis: backlog then live into a socket's
outbox, without a WebSocket in between."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from bridge import cursor
from bridge.hub import Hub
from bridge.outbox import Outbox
from bridge.store import StreamState
from bridge.subscription import Subscription
from tests.ingest_support import create, deliver


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


def sent_ns(frames: list[bytes]) -> list[int]:
    """The body `n` of each event frame (under 64 KiB: a 2- or 4-byte header)."""
    return [
        json.loads(frame[4 if frame[1] == 126 else 2 :])["event"]["body"]["n"] for frame in frames
    ]


def test_subscribe_queues_the_backlog_after_since_then_drops_live_repeats(
    hub: Hub, client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """subscribe() queues every stored event after `since`; a live event at or below the last
    one queued is dropped, a newer one is queued."""
    ids = stored(client, auth, uid, 3)
    outbox = Outbox(100)
    sub = Subscription(uid, outbox, None)
    states: list[StreamState] = []
    assert hub.subscribe(sub, cursor.parse(ids[0]), states.append) == 2
    assert [s.last for s in states] == [cursor.parse(ids[2])]
    assert sent_ns(outbox.take(timeout=0)) == [1, 2]
    outbox.writing = False
    last = cursor.parse(ids[2])
    hub.deliver(uid, last, "push", b"repeat")
    hub.deliver(uid, (last[0], last[1] + 1), "push", b"newer")
    assert outbox.take(timeout=0) == [b"newer"]


def test_a_filtered_subscription_gets_only_matching_events_but_moves_past_the_rest(
    hub: Hub, client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """An event-type filter skips other types, and a skipped event is not offered again."""
    stored(client, auth, uid, 1)
    outbox = Outbox(100)
    sub = Subscription(uid, outbox, "invoice.*")
    assert hub.subscribe(sub, cursor.ZERO, lambda state: None) == 0  # the one stored is a push
    hub.deliver(uid, (10**13, 0), "push", b"skipped")
    hub.deliver(uid, (10**13, 0), "invoice.paid", b"repeat of a skipped id")
    hub.deliver(uid, (10**13, 1), "invoice.paid", b"wanted")
    assert outbox.take(timeout=0) == [b"wanted"]
