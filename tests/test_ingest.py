"""POST /hooks/<endpoint>: verify, deduplicate and store deliveries (test client, real Redis)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge import keys
from bridge.ingest import receive
from bridge.providers import get as provider
from tests.provider_cases import vector_by_id
from tests.support import BridgeProcess, MakeApp, free_port, stream_entries

SECRET = "whsec_dGVzdC1zZWNyZXQtMTIzNDU2"  # base64, so every provider takes it
ISO_MILLIS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CURSOR = re.compile(r"^\d+-\d+$")
# A body every provider can identify: Stripe's id/type, Razorpay's event, the generic type.
EVENT_BODY = b'{"id":"evt_1","type":"invoice.paid","event":"payment.captured"}'
SIGNING_PROVIDERS = ["github", "stripe", "standard", "slack", "shopify", "razorpay", "hmac"]
TIMESTAMPED = ["stripe", "standard", "slack"]

# -- helpers -----------------------------------------------------------------------------


def create(
    client: FlaskClient,
    auth: Mapping[str, str],
    endpoint_id: str,
    provider_name: str = "github",
    secret: str | None = SECRET,
    **extra: Any,
) -> dict[str, Any]:
    payload = {"id": endpoint_id, "provider": provider_name, **extra}
    if secret is not None:
        payload["secret"] = secret
    answer = client.post("/api/endpoints", json=payload, headers=dict(auth))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body: dict[str, Any] = answer.get_json()
    return body


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


@pytest.fixture
def small_app(make_app: MakeApp) -> Flask:
    """An app that accepts bodies of at most 1024 bytes, and allows provider `none`."""
    return make_app(max_body_bytes=1024, allow_unverified=True)


@pytest.fixture
def dead_app(make_app: MakeApp) -> Flask:
    """An app whose Redis URL points at a closed port."""
    return make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0", retry_after=7)


# -- accepted deliveries -----------------------------------------------------------------


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


# -- rejected deliveries -----------------------------------------------------------------


@pytest.mark.parametrize("provider_name", SIGNING_PROVIDERS)
def test_wrong_secret_is_bad_signature_and_nothing_is_stored(
    client: FlaskClient,
    auth: dict[str, str],
    uid: str,
    redis_client: redis.Redis,
    provider_name: str,
) -> None:
    """A delivery signed with another secret answers 401 bad_signature and stores nothing."""
    create(client, auth, uid, provider_name)
    answer = deliver(
        client, uid, EVENT_BODY, provider_name=provider_name, secret="some-other-secret-0000"
    )
    assert_rejected(answer, "bad_signature")
    assert_nothing_stored(client, auth, redis_client, uid)


@pytest.mark.parametrize("provider_name", SIGNING_PROVIDERS)
def test_tampered_body_is_bad_signature(
    client: FlaskClient,
    auth: dict[str, str],
    uid: str,
    redis_client: redis.Redis,
    provider_name: str,
) -> None:
    """A body changed after signing (one byte) answers 401 bad_signature and stores nothing."""
    create(client, auth, uid, provider_name)
    headers = signed_headers(EVENT_BODY, provider_name=provider_name)
    tampered = EVENT_BODY.replace(b"evt_1", b"evt_2")
    answer = client.post(f"/hooks/{uid}", data=tampered, headers=headers)
    assert_rejected(answer, "bad_signature")
    assert_nothing_stored(client, auth, redis_client, uid)


@pytest.mark.parametrize("provider_name", SIGNING_PROVIDERS)
def test_missing_signature_is_refused(
    client: FlaskClient,
    auth: dict[str, str],
    uid: str,
    redis_client: redis.Redis,
    provider_name: str,
) -> None:
    """A delivery without any signature header answers 401 missing_signature and stores nothing."""
    create(client, auth, uid, provider_name)
    answer = client.post(f"/hooks/{uid}", data=EVENT_BODY, content_type="application/json")
    assert_rejected(answer, "missing_signature")
    assert_nothing_stored(client, auth, redis_client, uid)


@pytest.mark.parametrize("provider_name", TIMESTAMPED)
@pytest.mark.parametrize("offset", [-600, 600], ids=["ten-minutes-ago", "ten-minutes-ahead"])
def test_stale_or_future_timestamp_is_refused(
    client: FlaskClient,
    auth: dict[str, str],
    uid: str,
    redis_client: redis.Redis,
    provider_name: str,
    offset: int,
) -> None:
    """A correctly signed delivery timestamped 10 minutes off answers 401 stale_timestamp."""
    create(client, auth, uid, provider_name)
    answer = deliver(client, uid, EVENT_BODY, provider_name=provider_name, now=time.time() + offset)
    assert_rejected(answer, "stale_timestamp")
    assert_nothing_stored(client, auth, redis_client, uid)


@pytest.mark.parametrize("provider_name", TIMESTAMPED)
@pytest.mark.parametrize(
    ("tolerance", "age", "accepted"),
    [(900, 600, True), (60, 120, False), (60, 30, True), (3600, -1800, True)],
)
def test_per_endpoint_tolerance_is_honoured(
    client: FlaskClient,
    auth: dict[str, str],
    uid: str,
    provider_name: str,
    tolerance: int,
    age: int,
    accepted: bool,
) -> None:
    """The endpoint option `tolerance` replaces the server's 300 s replay window, both ways."""
    create(client, auth, uid, provider_name, options={"tolerance": tolerance})
    answer = deliver(client, uid, EVENT_BODY, provider_name=provider_name, now=time.time() - age)
    if accepted:
        assert answer.status_code == 202, answer.get_json()
        assert len(history(client, auth, uid)) == 1
    else:
        assert_rejected(answer, "stale_timestamp")


@pytest.mark.parametrize("endpoint_id", ["no-such-endpoint", "Invalid-Id", "a" * 64])
def test_unknown_endpoint_is_404(client: FlaskClient, endpoint_id: str) -> None:
    """A delivery to an endpoint that does not exist answers 404 unknown_endpoint."""
    answer = client.post(
        f"/hooks/{endpoint_id}", data=EVENT_BODY, headers=signed_headers(EVENT_BODY)
    )
    assert answer.status_code == 404
    assert answer.mimetype == "application/json"
    assert answer.get_json()["error"] == "unknown_endpoint"


# -- body size ---------------------------------------------------------------------------


def test_body_over_the_limit_is_413(
    small_app: Flask, auth: dict[str, str], uid: str, redis_client: redis.Redis
) -> None:
    """A correctly signed body one byte over max_body_bytes answers 413 and is not stored."""
    client = small_app.test_client()
    create(client, auth, uid, "github")
    answer = deliver(client, uid, padded_json(1025))
    assert answer.status_code == 413
    assert answer.mimetype == "application/json"
    assert answer.get_json()["error"] == "payload_too_large"
    assert_nothing_stored(client, auth, redis_client, uid)


def test_body_at_the_limit_is_accepted(small_app: Flask, auth: dict[str, str], uid: str) -> None:
    """A body of exactly max_body_bytes is accepted and stored whole."""
    client = small_app.test_client()
    create(client, auth, uid, "github")
    body = padded_json(1024)
    assert deliver(client, uid, body).status_code == 202
    (event,) = history(client, auth, uid)
    assert event["body"] == json.loads(body)


@pytest.mark.parametrize("provider_name", ["github", "none"])
def test_chunked_body_over_the_limit_is_413(
    small_app: Flask,
    auth: dict[str, str],
    uid: str,
    redis_client: redis.Redis,
    provider_name: str,
) -> None:
    """A chunked body (no Content-Length) over max_body_bytes is 413, never stored truncated."""
    client = small_app.test_client()
    create(client, auth, uid, provider_name, secret=None if provider_name == "none" else SECRET)
    body = padded_json(2048)
    headers = signed_headers(body, provider_name=provider_name)
    headers["Transfer-Encoding"] = "chunked"
    answer = client.post(
        f"/hooks/{uid}",
        input_stream=io.BytesIO(body),
        headers=headers,
        # What a real server (gunicorn) sets for a chunked body it de-chunks itself.
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert answer.status_code == 413, answer.get_data(as_text=True)
    assert answer.get_json()["error"] == "payload_too_large"
    assert_nothing_stored(client, auth, redis_client, uid)


def test_chunked_body_under_the_limit_is_accepted(
    small_app: Flask, auth: dict[str, str], uid: str
) -> None:
    """A chunked body (no Content-Length) within max_body_bytes is read whole and accepted."""
    client = small_app.test_client()
    create(client, auth, uid, "github")
    body = padded_json(900)
    headers = signed_headers(body)
    headers["Transfer-Encoding"] = "chunked"
    answer = client.post(
        f"/hooks/{uid}",
        input_stream=io.BytesIO(body),
        headers=headers,
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert answer.status_code == 202, answer.get_data(as_text=True)
    assert history(client, auth, uid)[0]["body"] == json.loads(body)


# -- bodies that are not plain JSON ------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"hello, plain text",
        b"{not json",
        b'{"value": NaN}',
        b'{"big": Infinity}',
        b"[1, -Infinity]",
    ],
)
def test_non_json_text_body_is_carried_as_text(
    client: FlaskClient, auth: dict[str, str], uid: str, body: bytes
) -> None:
    """A verified UTF-8 body that is not strict JSON (text, NaN, Infinity) is stored as its text."""
    create(client, auth, uid, "github")
    answer = deliver(client, uid, body)
    assert answer.status_code == 202
    (event,) = history(client, auth, uid)
    assert event["body"] == body.decode()
    assert "body_base64" not in event


def test_non_utf8_body_is_carried_as_base64(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A verified body that is not UTF-8 is stored with body null and body_base64 of its bytes."""
    create(client, auth, uid, "github")
    body = b"\xff\xfe\x00binary\x80\xc3("
    answer = deliver(client, uid, body, **{"Content-Type": "application/octet-stream"})
    assert answer.status_code == 202
    (event,) = history(client, auth, uid)
    assert event["body"] is None
    assert base64.b64decode(event["body_base64"]) == body


def test_github_unicode_escapes_vector_verifies(
    client: FlaskClient, auth: dict[str, str], uid: str, redis_client: redis.Redis
) -> None:
    """GitHub's body with literal \\u001B escapes and raw UTF-8 verifies on its exact bytes."""
    case = vector_by_id("github-octokit-unicode-escapes")
    create(client, auth, uid, "github", secret=case["secret"])
    body = case["body"].encode("utf-8")
    headers = {
        **case["headers"],
        "X-GitHub-Delivery": "octokit-71",
        "X-GitHub-Event": "push",
        "Content-Type": "application/json",
    }
    answer = client.post(f"/hooks/{uid}", data=body, headers=headers)
    assert answer.status_code == 202, answer.get_json()
    (event,) = history(client, auth, uid)
    assert event["verified"] is True
    assert event["body"] == json.loads(body)
    assert "\x1b[34mbar: \u2665" in event["body"]["foo"]
    ((_, fields),) = stream_entries(redis_client, keys.stream(uid))
    assert fields[b"r"] == body


# -- Slack -------------------------------------------------------------------------------


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


# -- envelope details --------------------------------------------------------------------


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


# -- concurrency (real gunicorn) ---------------------------------------------------------


@pytest.mark.gunicorn
def test_concurrent_duplicates_store_exactly_one_event(bridge: BridgeProcess, uid: str) -> None:
    """20 simultaneous deliveries of one event: one 202, nineteen 200 duplicates, one stored."""
    bridge.create_endpoint(uid, "github", secret=SECRET)
    body = b'{"action":"created","n":20}'
    headers = signed_headers(body, event_id=f"{uid}-same", event_type="issue_comment")
    count = 20
    barrier = threading.Barrier(count, timeout=20)
    results: list[tuple[int, dict[str, Any]]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send() -> None:
        try:
            with requests.Session() as session:
                barrier.wait()
                answer = session.post(
                    f"{bridge.url}/hooks/{uid}", data=body, headers=headers, timeout=20
                )
                with lock:
                    results.append((answer.status_code, answer.json()))
        except BaseException as exc:  # surfaced below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert len(results) == count

    accepted = [reply for status, reply in results if status == 202]
    duplicates = [reply for status, reply in results if status == 200]
    assert len(accepted) == 1, results
    assert len(duplicates) == count - 1, results
    first = accepted[0]
    assert first["duplicate"] is False
    assert all(d["duplicate"] is True and d["id"] == first["id"] for d in duplicates)

    events = bridge.api("GET", f"/api/endpoints/{uid}/events").json()["events"]
    assert [e["id"] for e in events] == [first["id"]]


# -- Redis down --------------------------------------------------------------------------


def test_redis_unavailable_is_503_with_retry_after(dead_app: Flask, auth: dict[str, str]) -> None:
    """With Redis unreachable, deliveries and the admin API answer 503 with Retry-After."""
    client = dead_app.test_client()
    body = b'{"n":1}'
    answer = client.post("/hooks/x", data=body, headers=signed_headers(body))
    assert answer.status_code == 503
    assert answer.get_json()["error"] == "unavailable"
    assert answer.headers["Retry-After"] == "7"

    listed = client.get("/api/endpoints", headers=auth)
    assert listed.status_code == 503
    assert listed.get_json()["error"] == "unavailable"
    assert listed.headers["Retry-After"] == "7"


def test_redis_unavailable_fails_readyz_but_not_healthz(dead_app: Flask) -> None:
    """With Redis unreachable /readyz answers 503 while /healthz still answers 200."""
    client = dead_app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["error"] == "unavailable"
    assert "Retry-After" in ready.headers
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json() == {"status": "ok"}


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
