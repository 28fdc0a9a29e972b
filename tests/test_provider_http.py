"""Provider handshakes and answers through the HTTP layer (real Redis; the Flask test client,
and a real bridge where the stored envelope is the point)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask.testing import FlaskClient

from bridge.providers import get as provider
from tests.support import ADMIN_TOKEN, BridgeProcess, MakeApp


def create(client: FlaskClient, auth: dict[str, str], uid: str, name: str, secret: str) -> None:
    body = {"id": uid, "provider": name, "secret": secret}
    answer = client.post("/api/endpoints", json=body, headers=auth)
    assert answer.status_code == 201, answer.get_data(as_text=True)


def post(client: FlaskClient, uid: str, name: str, secret: str, data: Any) -> Any:
    body = json.dumps(data).encode()
    headers = provider(name).sign(body, secret, now=time.time(), options={})
    headers["Content-Type"] = "application/json"
    return client.post(f"/hooks/{uid}", data=body, headers=headers)


def history(client: FlaskClient, auth: dict[str, str], uid: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = client.get(
        f"/api/endpoints/{uid}/events", headers=auth
    ).get_json()["events"]
    return events


def test_zoom_url_validation_is_answered_with_the_hmac_and_not_stored(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Zoom's endpoint.url_validation gets plainToken and its HMAC under the secret."""
    secret = "zoom-secret-token-123"
    create(client, auth, uid, "zoom", secret)
    data = {"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}}
    answer = post(client, uid, "zoom", secret, data)
    assert answer.status_code == 200
    expected = hmac.new(secret.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert answer.get_json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}
    assert history(client, auth, uid) == []


def test_xero_intent_to_receive_gets_an_empty_200(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Xero's correctly signed intent-to-receive gets 200 with an empty body; a wrong one 401."""
    secret = "xero-webhook-key-123456"
    create(client, auth, uid, "xero", secret)
    intent = {"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": "X"}
    good = post(client, uid, "xero", secret, intent)
    assert good.status_code == 200
    assert good.get_data() == b""
    assert post(client, uid, "xero", "not-the-key-12345", intent).status_code == 401
    assert history(client, auth, uid) == []


def test_discord_ping_and_command_get_interaction_responses(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Discord's PING gets type 1; a command is stored and answered with a deferred response."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes_raw().hex()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    create(client, auth, uid, "discord", public)
    ping = post(client, uid, "discord", private, {"id": "1", "type": 1})
    assert ping.status_code == 200
    assert ping.get_json() == {"type": 1}
    command = post(client, uid, "discord", private, {"id": "2", "type": 2, "data": {"name": "hi"}})
    assert command.status_code == 200
    assert command.get_json() == {"type": 5}
    assert [e["event_id"] for e in history(client, auth, uid)] == ["2"]


def test_gitlab_token_is_masked_in_stored_events(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """GitLab's X-Gitlab-Token is the secret in clear: it is masked in the stored envelope."""
    secret = "gitlab-secret-token-123"
    create(client, auth, uid, "gitlab", secret)
    assert post(client, uid, "gitlab", secret, {"object_kind": "push"}).status_code == 202
    (event,) = history(client, auth, uid)
    assert event["headers"]["x-gitlab-token"] == "***"
    assert secret not in json.dumps(event)


def test_gitlab_envelope_says_a_token_was_checked_not_a_signature(
    bridge: BridgeProcess, uid: str
) -> None:
    """A GitLab delivery, even with a body changed after the token was set, is stored with
    `verification.scheme` "token", unlike a signed delivery ("sha256" for GitHub)."""
    secret = "gitlab-secret-token-456"
    bridge.create_endpoint(uid, "gitlab", secret=secret)
    headers = provider("gitlab").sign(b'{"amount": 1}', secret, now=time.time())
    headers["Content-Type"] = "application/json"
    tampered = requests.post(
        f"{bridge.url}/hooks/{uid}", data=b'{"amount": 1000}', headers=headers, timeout=10
    )
    assert tampered.status_code == 202, tampered.text
    signed = f"{uid}-signed"
    bridge.create_endpoint(signed)
    assert bridge.post_signed(signed, b'{"amount": 1}').status_code == 202

    (token_only,) = bridge.api("GET", f"/api/endpoints/{uid}/events").json()["events"]
    assert token_only["body"] == {"amount": 1000}
    assert token_only["verified"] is True
    assert token_only["verification"] == {"scheme": "token", "secret_id": "s1"}
    (github,) = bridge.api("GET", f"/api/endpoints/{signed}/events").json()["events"]
    assert github["verification"]["scheme"] == "sha256"


def test_gitlab_rejection_does_not_describe_the_secret(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A wrong GitLab token is rejected, and the debugger's report holds no part of the secret."""
    secret = "gl:secret-token=with-separators"
    create(client, auth, uid, "gitlab", secret)
    answer = post(client, uid, "gitlab", "gl:wrong-token=xx", {"object_kind": "push"})
    assert answer.status_code == 401
    (entry,) = client.get(f"/api/endpoints/{uid}/rejections", headers=auth).get_json()["rejections"]
    text = json.dumps(entry)
    assert "gl:" not in text.replace("gl:wrong", "")
    assert secret not in text


@pytest.mark.parametrize(
    ("trusted", "status"), [(1, 202), (0, 401)], ids=["proxy-trusted", "proxy-not-trusted"]
)
def test_twilio_url_is_rebuilt_from_trusted_forwarded_headers(
    make_app: MakeApp, uid: str, trusted: int, status: int
) -> None:
    """Behind a trusted proxy the URL Twilio signed is rebuilt from X-Forwarded-*; else not."""
    client = make_app(trusted_proxies=trusted).test_client()
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    secret = "twilio-auth-token-0123"
    create(client, auth, uid, "twilio", secret)
    body = b"CallSid=CA1&From=%2B14155550100&To=%2B14155550199"
    public = f"https://hooks.example.com/hooks/{uid}"
    headers = provider("twilio").sign(body, secret, now=time.time(), options={"url": public})
    headers.update({
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "hooks.example.com",
    })  # fmt: skip
    assert client.post(f"/hooks/{uid}", data=body, headers=headers).status_code == status


def test_public_url_setting_is_what_url_signing_schemes_check(make_app: MakeApp, uid: str) -> None:
    """With BRIDGE_PUBLIC_URL set, Square's signature over that URL verifies."""
    base = "https://pay.example.com/bridge"
    client = make_app(public_url=base).test_client()
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    create(client, auth, uid, "square", "square-signature-key-1")
    body = b'{"merchant_id":"M1","type":"payment.created","event_id":"e-9","data":{}}'
    headers = provider("square").sign(
        body, "square-signature-key-1", now=time.time(), options={"url": f"{base}/hooks/{uid}"}
    )
    headers["Content-Type"] = "application/json"
    assert client.post(f"/hooks/{uid}", data=body, headers=headers).status_code == 202


def test_endpoint_public_url_option_is_the_url_twilio_signed(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """With the endpoint option public_url, Twilio's signature over that exact URL verifies."""
    registered = "https://proxy.example.com/inbound/twilio"
    body = {"id": uid, "provider": "twilio", "secret": "twilio-auth-token-0123",
            "options": {"public_url": registered}}  # fmt: skip
    assert client.post("/api/endpoints", json=body, headers=auth).status_code == 201
    form = b"CallSid=CA2&From=%2B14155550100"
    headers = provider("twilio").sign(
        form, "twilio-auth-token-0123", now=time.time(), options={"url": registered + "?a=1"}
    )
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    assert client.post(f"/hooks/{uid}?a=1", data=form, headers=headers).status_code == 202
    assert client.post(f"/hooks/{uid}?a=2", data=form, headers=headers).status_code == 401


@pytest.mark.parametrize("value", ["ftp://x.example", "https://x.example/p?q=1", "not a url", 7])
def test_bad_public_url_option_is_refused_naming_it(
    client: FlaskClient, auth: dict[str, str], uid: str, value: object
) -> None:
    """A public_url option that is not a plain http(s) URL is refused, naming the option."""
    body = {"id": uid, "provider": "twilio", "secret": "twilio-auth-token-0123",
            "options": {"public_url": value}}  # fmt: skip
    answer = client.post("/api/endpoints", json=body, headers=auth)
    assert answer.status_code == 400
    assert answer.get_json()["field"] == "options.public_url"


@pytest.mark.parametrize(
    "value",
    ["https://x.example/a b", "https://x.example/a\n", "https://x.example\t/a", "http://x/\x85"],
)
def test_a_public_url_with_whitespace_is_refused_as_its_schema_states(
    bridge: BridgeProcess, uid: str, value: str
) -> None:
    """The OpenAPI pattern of `public_url` forbids whitespace, and so does the check: such a
    URL (never one a provider calls) is 400 naming the option, and nothing is created."""
    body = {"id": uid, "provider": "twilio", "secret": "twilio-auth-token-0123",
            "options": {"public_url": value}}  # fmt: skip
    answer = bridge.api("POST", "/api/endpoints", json=body)
    assert (answer.status_code, answer.json()["field"]) == (400, "options.public_url")
    assert bridge.api("GET", f"/api/endpoints/{uid}").status_code == 404


@pytest.mark.parametrize(
    "value",
    [
        "http://[::1]:8000/hooks/x",
        "https://user:pass@x.example/hooks/x",  # Twilio signs the credentials it was given
        "https://bücher.example/hooks/x",
        "https://x.example:65535/hooks/x#part",
    ],
)
def test_a_public_url_a_provider_could_call_is_taken(
    bridge: BridgeProcess, uid: str, value: str
) -> None:
    """A host name (an IDN as written), an IPv6 literal, credentials and any port from 1 to
    65535 are a URL a provider could call, and are stored as given."""
    body = {"id": uid, "provider": "twilio", "secret": "twilio-auth-token-0123",
            "options": {"public_url": value}}  # fmt: skip
    answer = bridge.api("POST", "/api/endpoints", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["options"]["public_url"] == value


@pytest.mark.parametrize(
    "value",
    [
        "https://[x.example/a",  # urlsplit raised on an unclosed bracket: once a 500
        "http://[::1/hooks/x",
        "http://x.example:99999/x",
        "http://x.example:0/x",
        "http://x.example:/x",
        "http://x..example/x",
        "http://.example/x",
        "https://:443/x",
    ],
)
def test_a_public_url_no_request_could_reach_is_refused(
    bridge: BridgeProcess, uid: str, value: str
) -> None:
    """A broken bracket, an empty label or a port outside 1-65535 would fail every delivery;
    it is a 400 naming the option, as the document's pattern states, and nothing is made."""
    for name, option in (("twilio", "public_url"), ("square", "notification_url")):
        body = {"id": uid, "provider": name, "secret": "provider-secret-0123456",
                "options": {option: value}}  # fmt: skip
        answer = bridge.api("POST", "/api/endpoints", json=body)
        assert (answer.status_code, answer.json()["field"]) == (400, f"options.{option}")
        assert "port from 1 to 65535" in answer.json()["message"]
    assert bridge.api("GET", f"/api/endpoints/{uid}").status_code == 404


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("https://x.example/square?team=1", 201),  # Square signs the URL, query included
        ("https://x.example/a b", 400),
        ("https://x.example/a\n", 400),
        ("ftp://x.example/a", 400),
    ],
)
def test_square_notification_url_is_an_http_url_without_whitespace(
    bridge: BridgeProcess, uid: str, value: str, status: int
) -> None:
    """Square's notification_url may carry a query but no whitespace, as its schema states."""
    body = {"id": uid, "provider": "square", "secret": "square-signature-key-0123",
            "options": {"notification_url": value}}  # fmt: skip
    answer = bridge.api("POST", "/api/endpoints", json=body)
    assert answer.status_code == status, answer.text
    if status == 400:
        assert answer.json()["field"] == "options.notification_url"


def test_square_signs_notification_url_where_public_url_is_set_too(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """With both URL options set, a Square delivery verifies against notification_url only."""
    key = "square-signature-key-0123"
    options = {
        "public_url": "https://public.example/hooks/sq",
        "notification_url": "https://square-spelling.example/hooks/sq/",
    }
    body = {"id": uid, "provider": "square", "secret": key, "options": options}
    assert client.post("/api/endpoints", json=body, headers=auth).status_code == 201
    payload = b'{"event_id":"sq-1","type":"payment.updated"}'
    statuses = {}
    for name, url in options.items():
        signed = provider("square").sign(payload, key, now=time.time(), options={"url": url})
        answer = client.post(f"/hooks/{uid}", data=payload, headers=signed)
        statuses[name] = answer.status_code
    assert statuses == {"public_url": 401, "notification_url": 202}
