"""Slack deliveries: form bodies and the url_verification handshake."""

from __future__ import annotations

import hashlib
import json

import redis
from flask import Flask
from flask.testing import FlaskClient

from bridge.ingest import receive
from tests.ingest_support import (
    assert_nothing_stored,
    assert_rejected,
    create,
    deliver,
    history,
)
from tests.provider_cases import vector_by_id


def test_slack_slash_command_form_body_is_stored(
    app: Flask, client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Slack's form-encoded slash command verifies on its raw bytes and is stored as text."""
    case = vector_by_id("slack-docs-slash-command")
    create(client, auth, uid, "slack", secret=case["secret"])
    body = case["body"].encode()
    headers = {**case["headers"], "Content-Type": "application/x-www-form-urlencoded"}

    # Over HTTP the vector's 2018 timestamp is stale today.
    assert_rejected(client.post(f"/hooks/{uid}", data=body, headers=headers), "stale_timestamp")

    services = app.extensions["bridge"]
    endpoint = services.endpoints.get(uid)
    outcome = receive(
        services.store,
        endpoint,
        body,
        headers,
        url=f"http://localhost/hooks/{uid}",
        default_tolerance=300,
        now=case["now"],
    )
    assert outcome.handshake is None
    assert outcome.appended is not None
    assert outcome.appended.duplicate is False

    (event,) = history(client, auth, uid)
    assert event["id"] == outcome.appended.id
    assert event["event_type"] == "/webhook-collect"
    assert event["event_id"] == "sha256:" + hashlib.sha256(body).hexdigest()
    assert event["body"] == case["body"]
    assert event["received_at"] == "2018-07-12T18:36:58.000Z"
    assert event["headers"]["content-type"] == "application/x-www-form-urlencoded"

    again = receive(
        services.store,
        endpoint,
        body,
        headers,
        url=f"http://localhost/hooks/{uid}",
        default_tolerance=300,
        now=case["now"] + 1,
    )
    assert again.appended is not None
    assert again.appended.duplicate is True
    assert again.appended.id == outcome.appended.id


def test_slack_url_verification_is_answered_and_not_stored(
    client: FlaskClient, auth: dict[str, str], uid: str, redis_client: redis.Redis
) -> None:
    """A signed Slack url_verification is answered 200 {"challenge"} and not stored as an event."""
    create(client, auth, uid, "slack")
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps(
        {"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": challenge, "type": "url_verification"}
    ).encode()
    answer = deliver(client, uid, body, provider_name="slack")
    assert answer.status_code == 200
    assert answer.get_json() == {"challenge": challenge}
    assert_nothing_stored(client, auth, redis_client, uid)


def test_slack_url_verification_with_a_bad_signature_is_refused(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """An unsigned-by-us url_verification gets 401, not the challenge echoed back."""
    create(client, auth, uid, "slack")
    body = b'{"type":"url_verification","challenge":"abc"}'
    answer = deliver(client, uid, body, provider_name="slack", secret="not-the-signing-secret")
    assert_rejected(answer, "bad_signature")
