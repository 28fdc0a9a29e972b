"""The body size limit, with and without Content-Length."""

from __future__ import annotations

import io
import json

import pytest
import redis
from flask import Flask

from tests.ingest_support import (
    SECRET,
    assert_nothing_stored,
    create,
    deliver,
    history,
    padded_json,
    signed_headers,
)


def test_body_over_the_limit_is_413(
    small_app: Flask, auth: dict[str, str], uid: str, redis_client: redis.Redis
) -> None:
    """A correctly signed body one byte over max_body_bytes answers 413 naming the limit,
    and is not stored."""
    client = small_app.test_client()
    create(client, auth, uid, "github")
    answer = deliver(client, uid, padded_json(1025))
    assert answer.status_code == 413
    assert answer.mimetype == "application/json"
    assert answer.get_json() == {
        "error": "payload_too_large",
        "message": "the body is over the 1024-byte limit",
    }
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


@pytest.mark.parametrize("route", ["/api/tokens", "/api/endpoints/{uid}/backfill"])
def test_chunked_admin_body_over_the_limit_is_413_not_read_cut_short(
    small_app: Flask, auth: dict[str, str], uid: str, route: str
) -> None:
    """A chunked admin request (no Content-Length) over max_body_bytes is 413, as one that
    declares its length is: cut at the limit, a JSON object padded past it read as whole."""
    client = small_app.test_client()
    create(client, auth, uid, "github")
    start = {"channels": [uid]} if route == "/api/tokens" else {"events": []}
    body = json.dumps(start).encode() + b" " * 2048
    answer = client.post(
        route.format(uid=uid),
        input_stream=io.BytesIO(body),
        headers={**auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert answer.status_code == 413, answer.get_data(as_text=True)
    assert answer.get_json()["error"] == "payload_too_large"
