"""What the ingest tests (and the suites that deliver webhooks) share: signing and posting a
delivery, reading an endpoint's history, and what a rejection must look like."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

import redis
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge import keys
from bridge.providers import get as provider
from tests.api_support import created

SECRET = "whsec_dGVzdC1zZWNyZXQtMTIzNDU2"  # base64, so every provider takes it
ISO_MILLIS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CURSOR = re.compile(r"^\d+-\d+$")
# A body every provider can identify: Stripe's id/type, Razorpay's event, the generic type.
EVENT_BODY = b'{"id":"evt_1","type":"invoice.paid","event":"payment.captured"}'
SIGNING_PROVIDERS = ["github", "stripe", "standard", "slack", "shopify", "razorpay", "hmac"]
TIMESTAMPED = ["stripe", "standard", "slack"]


def create(
    client: FlaskClient,
    auth: Mapping[str, str],
    endpoint_id: str,
    provider_name: str = "github",
    secret: str | None = SECRET,
    **extra: Any,
) -> dict[str, Any]:
    """An endpoint made with `secret` (None: the one the bridge generates), as the API shows it."""
    if secret is not None:
        extra["secret"] = secret
    return created(client, auth, endpoint_id, provider_name, **extra)


def signed_headers(
    body: bytes,
    *,
    provider_name: str = "github",
    secret: str = SECRET,
    now: float | None = None,
    event_id: str | None = None,
    event_type: str = "push",
    **extra: str,
) -> dict[str, str]:
    headers = provider(provider_name).sign(
        body,
        secret,
        now=time.time() if now is None else now,
        event_id=event_id,
        event_type=event_type,
    )
    headers.setdefault("Content-Type", "application/json")
    headers.update(extra)
    return headers


def deliver(client: FlaskClient, endpoint_id: str, body: bytes, **sign: Any) -> TestResponse:
    return client.post(f"/hooks/{endpoint_id}", data=body, headers=signed_headers(body, **sign))


def history(client: FlaskClient, auth: Mapping[str, str], endpoint_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/api/endpoints/{endpoint_id}/events", headers=dict(auth))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    events: list[dict[str, Any]] = answer.get_json()["events"]
    return events


def assert_rejected(answer: TestResponse, reason: str) -> None:
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert answer.mimetype == "application/json"
    assert answer.get_json() == {"error": "invalid_signature", "reason": reason}


def assert_nothing_stored(
    client: FlaskClient, auth: Mapping[str, str], redis_client: redis.Redis, endpoint_id: str
) -> None:
    assert history(client, auth, endpoint_id) == []
    assert redis_client.xlen(keys.stream(endpoint_id)) == 0


def padded_json(size: int) -> bytes:
    """A JSON object of exactly `size` bytes."""
    body = b'{"pad":"' + b"x" * (size - 10) + b'"}'
    assert len(body) == size
    return body
