"""Ingest while Redis is unreachable: 503 with Retry-After, readyz failing."""

from __future__ import annotations

from flask import Flask

from tests.ingest_support import (
    signed_headers,
)


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
