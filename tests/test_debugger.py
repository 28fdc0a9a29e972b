"""The signature debugger: rejected deliveries are kept and explained, secrets never shown."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge.providers import get as provider

SECRET = "debugger-secret-123456"
BODY = b'{"action": "opened", "number": 7}\n'


def create(client: FlaskClient, auth: dict[str, str], uid: str, **extra: Any) -> None:
    body = {"id": uid, "provider": "github", "secret": SECRET, **extra}
    assert client.post("/api/endpoints", json=body, headers=auth).status_code == 201


def send(client: FlaskClient, uid: str, body: bytes, headers: dict[str, str]) -> int:
    return client.post(f"/hooks/{uid}", data=body, headers=headers).status_code


def last_rejection(client: FlaskClient, auth: dict[str, str], uid: str) -> dict[str, Any]:
    answer = client.get(f"/api/endpoints/{uid}/rejections", headers=auth)
    assert answer.status_code == 200
    entries: list[dict[str, Any]] = answer.get_json()["rejections"]
    assert entries, "no rejection was kept"
    return entries[0]


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return provider("github").sign(body, secret, now=time.time(), event_id="d-1")


COMPACT = b'{"action":"opened","number":7}'


@pytest.mark.parametrize(
    ("original", "sent", "variant"),
    [
        (BODY, BODY.rstrip(b"\n"), "trailing newline added"),
        (
            COMPACT,
            json.dumps(json.loads(COMPACT), indent=4).encode(),
            "JSON re-serialised compactly",
        ),
    ],
)
def test_reencoded_body_is_named(
    client: FlaskClient, auth: dict[str, str], uid: str, original: bytes, sent: bytes, variant: str
) -> None:
    """A body changed on the way is rejected, and the debugger names the change that undoes it."""
    create(client, auth, uid)
    assert send(client, uid, sent, signed(original)) == 401
    entry = last_rejection(client, auth, uid)
    assert entry["reason"] == "bad_signature"
    assert entry["diagnosis"]["body"]["verifies_as"] == variant
    assert any("changed the body" in hint for hint in entry["diagnosis"]["hints"])


def test_wrong_encoding_is_explained(client: FlaskClient, auth: dict[str, str], uid: str) -> None:
    """A base64 signature where GitHub sends hex is shown as received vs expected encoding."""
    create(client, auth, uid)
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()
    headers = {**signed(BODY), "X-Hub-Signature-256": "sha256=" + base64.b64encode(digest).decode()}
    assert send(client, uid, BODY, headers) == 401
    shapes = last_rejection(client, auth, uid)["diagnosis"]["signature_headers"]
    received = shapes["x-hub-signature-256"]["received"]["first"][0]
    expected = shapes["x-hub-signature-256"]["expected"]["first"][0]
    assert received == {"prefix": "sha256=", "encoding": "base64", "bytes": 32}
    assert expected == {"prefix": "sha256=", "encoding": "hex", "bytes": 32}


def test_missing_header_is_listed(client: FlaskClient, auth: dict[str, str], uid: str) -> None:
    """A delivery without the signature header is diagnosed with that header's name."""
    create(client, auth, uid)
    headers = {k: v for k, v in signed(BODY).items() if k != "X-Hub-Signature-256"}
    assert send(client, uid, BODY, headers) == 401
    diagnosis = last_rejection(client, auth, uid)["diagnosis"]
    assert diagnosis["reason"] == "missing_signature"
    assert "x-hub-signature-256" in diagnosis["missing_headers"]


def test_github_rejection_does_not_ask_for_the_legacy_sha1_header(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A GitHub delivery with only a wrong X-Hub-Signature-256 lists no header as missing:
    the legacy X-Hub-Signature is not required, nor are the event and delivery headers."""
    create(client, auth, uid)
    headers = {"X-Hub-Signature-256": "sha256=" + "0" * 64, "Content-Type": "application/json"}
    assert send(client, uid, BODY, headers) == 401
    diagnosis = last_rejection(client, auth, uid)["diagnosis"]
    assert diagnosis["missing_headers"] == []
    assert not any("Missing header" in hint for hint in diagnosis["hints"])


@pytest.mark.parametrize(
    ("provider_name", "secret", "required"),
    [
        ("github", SECRET, ["x-hub-signature-256"]),
        ("stripe", "whsec_debugger", ["stripe-signature"]),
        ("slack", SECRET, ["x-slack-request-timestamp", "x-slack-signature"]),
        ("standard", "whsec_ZGVidWdnZXItc2VjcmV0", ["webhook-id", "webhook-signature",
                                                    "webhook-timestamp"]),
    ],
)  # fmt: skip
def test_missing_headers_are_exactly_those_verification_needs(
    client: FlaskClient,
    auth: dict[str, str],
    uid: str,
    provider_name: str,
    secret: str,
    required: list[str],
) -> None:
    """A delivery with no headers at all is told exactly the provider's signature headers."""
    body = {"id": uid, "provider": provider_name, "secret": secret}
    assert client.post("/api/endpoints", json=body, headers=auth).status_code == 201
    assert send(client, uid, BODY, {"Content-Type": "application/json"}) == 401
    assert last_rejection(client, auth, uid)["diagnosis"]["missing_headers"] == required


def test_secret_with_stray_spaces_is_spotted(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """An endpoint secret pasted with surrounding spaces is pointed out."""
    body = {"id": uid, "provider": "github", "secret": f"  {SECRET}\n"}
    assert client.post("/api/endpoints", json=body, headers=auth).status_code == 201
    assert send(client, uid, BODY, signed(BODY)) == 401
    hint = last_rejection(client, auth, uid)["diagnosis"]["secret_hint"]
    assert "surrounding spaces" in hint


def test_stale_timestamp_gets_a_clock_hint(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A stale Stripe delivery is explained with its skew and a hint about clocks."""
    secret = "whsec_stripe-debugger-123"
    assert client.post("/api/endpoints", json={"id": uid, "provider": "stripe", "secret": secret},
                       headers=auth).status_code == 201  # fmt: skip
    body = b'{"id": "evt_1", "type": "charge.succeeded"}'
    headers = provider("stripe").sign(body, secret, now=time.time() - 900)
    assert send(client, uid, body, headers) == 401
    diagnosis = last_rejection(client, auth, uid)["diagnosis"]
    assert diagnosis["reason"] == "stale_timestamp"
    assert any("clock" in hint for hint in diagnosis["hints"])


def test_rejection_never_reveals_the_secret_or_a_valid_digest(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """The kept rejection holds neither the secret nor the digest that would verify the body."""
    create(client, auth, uid)
    tampered = BODY.replace(b"7", b"8")
    assert send(client, uid, tampered, signed(BODY)) == 401
    text = json.dumps(last_rejection(client, auth, uid))
    assert SECRET not in text
    assert hmac.new(SECRET.encode(), tampered, hashlib.sha256).hexdigest() not in text


def test_rejections_are_capped_and_newest_first(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Only the newest 50 rejections are kept, newest first."""
    create(client, auth, uid)
    for n in range(55):
        assert send(client, uid, b'{"n": %d}' % n, {"X-Hub-Signature-256": "sha256=00"}) == 401
    entries = client.get(f"/api/endpoints/{uid}/rejections", headers=auth).get_json()["rejections"]
    assert len(entries) == 50
    assert entries[0]["body_preview"] == '{"n": 54}'
    assert entries[-1]["body_preview"] == '{"n": 5}'


def test_rejections_need_the_admin_token(client: FlaskClient, uid: str) -> None:
    """The rejection list is admin-only."""
    assert client.get(f"/api/endpoints/{uid}/rejections").status_code == 401


def test_accepted_delivery_is_not_a_rejection(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A valid delivery leaves the rejection list empty."""
    create(client, auth, uid)
    assert send(client, uid, BODY, signed(BODY)) == 202
    answer = client.get(f"/api/endpoints/{uid}/rejections", headers=auth)
    assert answer.get_json() == {"rejections": []}
