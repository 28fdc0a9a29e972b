"""Published vectors and requests made by the providers' own SDKs, through a live bridge."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from slack_sdk.signature import SignatureVerifier
from standardwebhooks.webhooks import Webhook
from twilio.request_validator import RequestValidator

from tests.provider_cases import load_vectors
from tests.support import BridgeProcess

# Vectors that do not depend on the time or on the URL they were posted to can be replayed
# byte for byte against a running bridge.
TIMELESS = {"github", "razorpay", "sendgrid"}


def timeless_vectors() -> list[dict[str, Any]]:
    return [v for v in load_vectors() if v["provider"] in TIMELESS and "now" not in v]


def history(bridge: BridgeProcess, uid: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = bridge.api("GET", f"/api/endpoints/{uid}/events").json()[
        "events"
    ]
    return events


@pytest.mark.parametrize("vector", timeless_vectors(), ids=lambda v: v["id"])
def test_published_vector_through_a_live_bridge(
    bridge: BridgeProcess, uid: str, vector: dict[str, Any]
) -> None:
    """A published vector is stored by a running bridge when valid, refused 401 when not."""
    bridge.create_endpoint(uid, vector["provider"], secret=vector["secret"])
    answer = requests.post(
        f"{bridge.url}/hooks/{uid}",
        data=vector["body"].encode(),
        headers=vector["headers"],
        timeout=10,
    )
    assert answer.status_code == (202 if vector["valid"] else 401), answer.text
    assert len(history(bridge, uid)) == (1 if vector["valid"] else 0)


def test_standardwebhooks_sdk_request_through_a_live_bridge(
    bridge: BridgeProcess, uid: str
) -> None:
    """A request signed by the standardwebhooks SDK is stored with its webhook-id."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    bridge.create_endpoint(uid, "standard", secret=secret)
    body = '{"type": "invoice.paid", "data": {"id": "in_1"}}'
    msg_id = "msg_" + uuid.uuid4().hex
    moment = datetime.now(tz=UTC)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, moment, body),
        "content-type": "application/json",
    }
    answer = requests.post(f"{bridge.url}/hooks/{uid}", data=body, headers=headers, timeout=10)
    assert answer.status_code == 202, answer.text
    assert [e["event_id"] for e in history(bridge, uid)] == [msg_id]


def test_slack_sdk_request_through_a_live_bridge(bridge: BridgeProcess, uid: str) -> None:
    """A request signed by slack_sdk is stored, and its url_verification answered."""
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    bridge.create_endpoint(uid, "slack", secret=secret)
    verifier = SignatureVerifier(secret)
    for body, status in [
        (b'{"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595"}', 200),
        (b'{"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_mention"}}', 202),
    ]:
        stamp = str(int(time.time()))
        headers = {
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": verifier.generate_signature(timestamp=stamp, body=body) or "",
            "Content-Type": "application/json",
        }
        answer = requests.post(f"{bridge.url}/hooks/{uid}", data=body, headers=headers, timeout=10)
        assert answer.status_code == status, answer.text
    assert [e["event_type"] for e in history(bridge, uid)] == ["app_mention"]


def test_twilio_sdk_request_through_a_live_bridge(bridge: BridgeProcess, uid: str) -> None:
    """A form request signed by Twilio's RequestValidator for the bridge's URL is stored."""
    token = "12345678901234567890123456789012"
    bridge.create_endpoint(uid, "twilio", secret=token)
    url = f"{bridge.url}/hooks/{uid}"
    params = {"CallSid": "CA" + uuid.uuid4().hex, "From": "+14158675310", "Digits": "1234"}
    headers = {
        "X-Twilio-Signature": RequestValidator(token).compute_signature(url, params),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    answer = requests.post(url, data=urlencode(params), headers=headers, timeout=10)
    assert answer.status_code == 202, answer.text
    tampered = urlencode({**params, "Digits": "9999"})
    assert requests.post(url, data=tampered, headers=headers, timeout=10).status_code == 401
