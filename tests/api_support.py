"""What the admin API's tests share: creating endpoints, and what every JSON error must be."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

OTHER_SECRET = "whsec_cm90YXRlZC1zZWNyZXQtNjU0MzIx"


def create(
    client: FlaskClient,
    auth: Mapping[str, str],
    endpoint_id: str,
    provider_name: str = "github",
    **extra: Any,
) -> TestResponse:
    return client.post(
        "/api/endpoints",
        json={"id": endpoint_id, "provider": provider_name, **extra},
        headers=dict(auth),
    )


def created(
    client: FlaskClient,
    auth: Mapping[str, str],
    endpoint_id: str,
    provider_name: str = "github",
    **extra: Any,
) -> dict[str, Any]:
    answer = create(client, auth, endpoint_id, provider_name, **extra)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body: dict[str, Any] = answer.get_json()
    return body


def assert_json_error(answer: TestResponse, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/json"
    text = answer.get_data(as_text=True)
    assert "<html" not in text.lower()
    assert "Traceback" not in text
    body: dict[str, Any] = answer.get_json()
    assert body["error"] == code, body
    return body


def as_cursor(text: str) -> tuple[int, int]:
    ms, _, seq = text.partition("-")
    return int(ms), int(seq)
