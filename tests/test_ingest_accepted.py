"""Accepted deliveries: the contract envelope, raw bytes kept, duplicates, cursors."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime

import redis
from flask.testing import FlaskClient

from bridge import keys
from tests.ingest_support import (
    CURSOR,
    EVENT_BODY,
    ISO_MILLIS,
    create,
    deliver,
    history,
    signed_headers,
)
from tests.support import stream_entries


def test_valid_delivery_is_stored_with_the_contract_envelope(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A valid delivery answers 202 with its cursor, and history holds the full §4 envelope."""
    create(client, auth, uid, "github")
    body = b'{"action":"opened","number":7,"pull_request":{"title":"Fix"}}'
    headers = signed_headers(body, event_id="delivery-1", event_type="pull_request")
    before = time.time()
    answer = client.post(f"/hooks/{uid}", data=body, headers=headers)
    after = time.time()

    assert answer.status_code == 202
    reply = answer.get_json()
    assert set(reply) == {"id", "endpoint", "duplicate", "trace"}
    assert CURSOR.match(reply["id"])
    assert reply["endpoint"] == uid
    assert reply["duplicate"] is False
    assert re.fullmatch(r"[0-9a-f]{16}", reply["trace"])
    assert answer.headers["X-Bridge-Trace"] == reply["trace"]

    (event,) = history(client, auth, uid)
    assert event["id"] == reply["id"]
    assert event["endpoint"] == uid
    assert event["provider"] == "github"
    assert event["event_id"] == "delivery-1"
    assert event["event_type"] == "pull_request.opened"
    assert ISO_MILLIS.match(event["received_at"])
    received = datetime.fromisoformat(event["received_at"].replace("Z", "+00:00"))
    assert before - 1 <= received.timestamp() <= after + 1
    assert event["verified"] is True
    assert event["verification"]["secret_id"] == "s1"
    assert all(name == name.lower() for name in event["headers"])
    assert event["headers"]["x-hub-signature-256"] == headers["X-Hub-Signature-256"]
    assert event["headers"]["x-github-delivery"] == "delivery-1"
    assert event["headers"]["content-type"] == "application/json"
    assert event["body"] == json.loads(body)
    assert "body_base64" not in event
    assert event["trace"] == reply["trace"]
    assert event["replay_of"] is None


def test_raw_body_bytes_are_kept_exactly(
    client: FlaskClient, auth: dict[str, str], uid: str, redis_client: redis.Redis
) -> None:
    """The stream entry keeps the body bytes exactly as sent, whitespace and key order included."""
    create(client, auth, uid, "github")
    body = b'{ "b" : 1,\n  "a" : [ 1.0, 2e3 ] }\n'
    answer = deliver(client, uid, body)
    assert answer.status_code == 202
    ((entry_id, fields),) = stream_entries(redis_client, keys.stream(uid))
    assert entry_id.decode() == answer.get_json()["id"]
    assert fields[b"r"] == body


def test_same_delivery_again_is_a_duplicate(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Redelivering the same event answers 200 duplicate with the first id and stores nothing."""
    create(client, auth, uid, "github")
    body = b'{"zen":"Keep it logically awesome."}'
    headers = signed_headers(body, event_id="delivery-dup", event_type="ping")
    first = client.post(f"/hooks/{uid}", data=body, headers=headers)
    assert first.status_code == 202
    again = client.post(f"/hooks/{uid}", data=body, headers=headers)
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["duplicate"] is True
    assert [e["id"] for e in history(client, auth, uid)] == [first.get_json()["id"]]


def test_same_event_id_with_a_new_signature_is_still_a_duplicate(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A retry signed afresh (new timestamp) but with the same provider event id is a duplicate."""
    create(client, auth, uid, "standard")
    first = deliver(
        client, uid, EVENT_BODY, provider_name="standard", event_id="msg_1", now=time.time() - 30
    )
    retry = deliver(client, uid, EVENT_BODY, provider_name="standard", event_id="msg_1")
    assert first.status_code == 202
    assert retry.status_code == 200
    assert retry.get_json()["id"] == first.get_json()["id"]
    assert len(history(client, auth, uid)) == 1


def test_distinct_events_get_increasing_cursors(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Different event ids are each stored, with cursors that increase in arrival order."""
    create(client, auth, uid, "github")
    ids = [deliver(client, uid, b'{"n":1}', event_id=f"d-{n}").get_json()["id"] for n in range(3)]
    cursors = [tuple(int(part) for part in i.split("-")) for i in ids]
    assert cursors == sorted(cursors)
    assert len(set(cursors)) == 3
    assert [e["id"] for e in history(client, auth, uid)] == ids
