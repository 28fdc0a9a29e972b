"""Rejected deliveries: bad, missing or stale signatures store nothing; unknown endpoints."""

from __future__ import annotations

import time

import pytest
import redis
from flask.testing import FlaskClient

from tests.ingest_support import (
    EVENT_BODY,
    SIGNING_PROVIDERS,
    TIMESTAMPED,
    assert_nothing_stored,
    assert_rejected,
    create,
    deliver,
    history,
    signed_headers,
)


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
