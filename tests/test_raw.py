"""GET /api/endpoints/<id>/events/<cursor>/raw: a stored body, byte for byte, with its original
Content-Type (test client, real Redis)."""

from __future__ import annotations

import time

import pytest
from flask.testing import FlaskClient

from bridge.providers import get as provider

SECRET = "raw-test-secret-123456"

BODIES = {
    "not UTF-8": (b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary \xc3\x28", "application/octet-stream"),
    "ends with CRLF": (b'{"action": "opened", "n": 1}\r\n', "application/json"),
    "trailing newline": (b'{"zen": "Keep it logically awesome."}\n', "application/json"),
    "JSON with escapes": (
        b'{"text": "caf\\u00e9 \\"quoted\\" \\/ \\n\\t", "emoji": "\\ud83d\\ude00", '
        b'"big": 1.50e+3, "key":  "spaced"}',
        "application/json; charset=utf-8",
    ),
    "form-encoded": (
        b"payload=%7B%22action%22%3A%22opened%22%7D&extra=a+b%2Bc\n",
        "application/x-www-form-urlencoded",
    ),
}


def post(client: FlaskClient, endpoint_id: str, body: bytes, content_type: str | None) -> str:
    headers = provider("github").sign(body, SECRET, now=time.time(), event_type="push")
    if content_type is not None:
        headers["Content-Type"] = content_type
    answer = client.post(f"/hooks/{endpoint_id}", data=body, headers=headers)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    event_id: str = answer.get_json()["id"]
    return event_id


@pytest.fixture
def endpoint(client: FlaskClient, auth: dict[str, str], uid: str) -> str:
    body = {"id": uid, "provider": "github", "secret": SECRET}
    assert client.post("/api/endpoints", json=body, headers=auth).status_code == 201
    return uid


@pytest.mark.parametrize("case", list(BODIES))
def test_raw_body_is_byte_exact(
    client: FlaskClient, auth: dict[str, str], endpoint: str, case: str
) -> None:
    """The raw route answers the very bytes that were signed, with the original Content-Type."""
    body, content_type = BODIES[case]
    event_id = post(client, endpoint, body, content_type)
    answer = client.get(f"/api/endpoints/{endpoint}/events/{event_id}/raw", headers=auth)
    assert answer.status_code == 200
    assert answer.get_data() == body
    assert answer.headers["Content-Type"] == content_type
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    history = client.get(f"/api/endpoints/{endpoint}/events", headers=auth).get_json()
    (envelope,) = history["events"]
    assert envelope["headers"]["content-type"] == content_type


def test_raw_without_a_content_type(
    client: FlaskClient, auth: dict[str, str], endpoint: str
) -> None:
    """A delivery that carried no Content-Type is served as application/octet-stream."""
    event_id = post(client, endpoint, b"plain bytes", None)
    answer = client.get(f"/api/endpoints/{endpoint}/events/{event_id}/raw", headers=auth)
    assert answer.status_code == 200
    assert answer.get_data() == b"plain bytes"
    assert answer.headers["Content-Type"] == "application/octet-stream"


def test_raw_of_one_event_among_several(
    client: FlaskClient, auth: dict[str, str], endpoint: str
) -> None:
    """Each cursor answers its own body, not a neighbour's."""
    ids = [post(client, endpoint, f'{{"n": {n}}}'.encode(), "application/json") for n in range(3)]
    for n, event_id in enumerate(ids):
        answer = client.get(f"/api/endpoints/{endpoint}/events/{event_id}/raw", headers=auth)
        assert answer.get_data() == f'{{"n": {n}}}'.encode()


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/api/endpoints/{uid}/events/1-0/raw", 404, "unknown_event"),
        ("/api/endpoints/{uid}/events/99999999999999-7/raw", 404, "unknown_event"),
        ("/api/endpoints/no-such-endpoint/events/1-0/raw", 404, "unknown_endpoint"),
        ("/api/endpoints/{uid}/events/yesterday/raw", 400, "invalid_request"),
    ],
)
def test_raw_refusals(
    client: FlaskClient, auth: dict[str, str], endpoint: str, path: str, status: int, error: str
) -> None:
    """An unknown cursor or endpoint is a 404, a malformed cursor a 400, all as JSON errors."""
    post(client, endpoint, b"{}", "application/json")
    answer = client.get(path.format(uid=endpoint), headers=auth)
    assert answer.status_code == status
    assert answer.get_json()["error"] == error


def test_raw_needs_the_admin_token(client: FlaskClient, endpoint: str) -> None:
    """Without the admin token the raw route is a 401, like every admin route."""
    event_id = post(client, endpoint, b"{}", "application/json")
    answer = client.get(f"/api/endpoints/{endpoint}/events/{event_id}/raw")
    assert answer.status_code == 401


@pytest.mark.parametrize("action", ["raw", "replay"])
def test_a_malformed_cursor_is_named_as_the_cursor_the_path_takes(
    client: FlaskClient, auth: dict[str, str], endpoint: str, action: str
) -> None:
    """A provider's event id where the path takes a cursor is a 400 whose field is `cursor`
    (the path parameter's name in openapi.json), not `event_id`, the envelope's name for the
    provider's id the caller may well have sent."""
    post(client, endpoint, b"{}", "application/json")
    url = f"/api/endpoints/{endpoint}/events/evt_1NG8Du2eZvKYlo2C/{action}"
    answer = client.open(url, method="GET" if action == "raw" else "POST", headers=auth)
    assert answer.status_code == 400
    body = answer.get_json()
    assert body == {
        "error": "invalid_request",
        "field": "cursor",
        "message": "expected a cursor like 1732590000000-0",
    }
    paths = client.get("/api/openapi.json", headers=auth).get_json()["paths"]
    (parameter,) = [
        p
        for p in paths[f"/api/endpoints/{{endpoint_id}}/events/{{cursor}}/{action}"].get(
            "get" if action == "raw" else "post"
        )["parameters"]
        if p["name"] == body["field"]
    ]
    assert parameter["in"] == "path"
