"""Envelope details: masked credentials, body-hash event ids, id headers, timestamps."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient

from bridge.ingest import receive
from tests.ingest_support import (
    create,
    deliver,
    history,
    signed_headers,
)


def test_sender_credentials_are_masked_in_the_envelope(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Authorization, Cookie and Proxy-Authorization are stored as "***", never in clear."""
    create(client, auth, uid, "github")
    # The test client sends the Cookie header from its own jar (it drops a hand-set one).
    client.set_cookie("session", "cookie-credential-xyz")
    answer = deliver(
        client,
        uid,
        b'{"n":1}',
        Authorization="Bearer sender-credential-xyz",
        **{"Proxy-Authorization": "Basic proxy-cred-xyz"},
    )
    assert answer.status_code == 202
    (event,) = history(client, auth, uid)
    assert event["headers"]["authorization"] == "***"
    assert event["headers"]["cookie"] == "***"
    assert event["headers"]["proxy-authorization"] == "***"
    text = json.dumps(event)
    assert "credential-xyz" not in text
    assert "proxy-cred-xyz" not in text
    assert event["headers"]["x-hub-signature-256"].startswith("sha256=")


def test_event_without_provider_id_is_deduplicated_by_body_hash(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Without a provider event id, event_id is sha256:<hex of body>; same body is a duplicate."""
    create(client, auth, uid, "hmac")
    body = b'{"type":"order.paid","order":42}'
    first = deliver(client, uid, body, provider_name="hmac")
    assert first.status_code == 202
    (event,) = history(client, auth, uid)
    assert event["event_id"] == "sha256:" + hashlib.sha256(body).hexdigest()
    assert event["event_type"] == "order.paid"
    assert event["provider"] == "hmac"

    again = deliver(client, uid, body, provider_name="hmac")
    assert again.status_code == 200
    assert again.get_json()["duplicate"] is True
    assert again.get_json()["id"] == first.get_json()["id"]

    other = deliver(client, uid, body + b" ", provider_name="hmac")
    assert other.status_code == 202
    assert len(history(client, auth, uid)) == 2


def test_hmac_id_header_names_the_event(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """With option id_header the event id comes from that header; a changed body is a duplicate."""
    create(client, auth, uid, "hmac", options={"id_header": "x-event-id"})
    first = deliver(client, uid, b'{"v":1}', provider_name="hmac", **{"X-Event-Id": "ev-9"})
    again = deliver(client, uid, b'{"v":2}', provider_name="hmac", **{"X-Event-Id": "ev-9"})
    assert first.status_code == 202
    assert again.status_code == 200
    (event,) = history(client, auth, uid)
    assert event["event_id"] == "ev-9"
    assert event["body"] == {"v": 1}


def test_received_at_uses_utc_milliseconds(
    app: Flask, client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """received_at is the receive time in UTC with milliseconds, as the envelope promises."""
    create(client, auth, uid, "hmac")
    services = app.extensions["bridge"]
    body = b'{"type":"t"}'
    moment = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC).timestamp()
    outcome = receive(
        services.store,
        services.endpoints.get(uid),
        body,
        signed_headers(body, provider_name="hmac"),
        url="",
        default_tolerance=300,
        now=moment,
    )
    assert outcome.appended is not None
    (event,) = history(client, auth, uid)
    assert event["received_at"] == "2030-01-02T03:04:05.678Z"
