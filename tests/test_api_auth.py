"""The admin API's authentication: 401 JSON without the admin token, subscriber tokens refused
(Flask test client, real Redis)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.api_support import assert_json_error, created
from tests.support import ADMIN_TOKEN

ADMIN_ROUTES = [
    ("GET", "/api/endpoints"),
    ("POST", "/api/endpoints"),
    ("GET", "/api/endpoints/some-endpoint"),
    ("DELETE", "/api/endpoints/some-endpoint"),
    ("POST", "/api/endpoints/some-endpoint/secrets"),
    ("GET", "/api/endpoints/some-endpoint/events"),
    ("POST", "/api/tokens"),
    ("GET", "/api/openapi.json"),
]

MISSING = "send Authorization: Bearer <admin token>"
NOT_BEARER = "Authorization must be `Bearer <admin token>`"
WRONG = "that token is not this bridge's admin token"
# Each with the message that says what to fix.
BAD_AUTH = {
    "no header": ({}, MISSING),
    "wrong token": ({"Authorization": "Bearer not-the-admin-token-at-all"}, WRONG),
    "wrong scheme": ({"Authorization": f"Basic {ADMIN_TOKEN}"}, NOT_BEARER),
    "empty bearer": ({"Authorization": "Bearer "}, NOT_BEARER),
    "token prefix": ({"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"}, WRONG),
}


@pytest.mark.parametrize(("headers", "message"), BAD_AUTH.values(), ids=list(BAD_AUTH))
@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_admin_routes_answer_401_json_without_the_admin_token(
    client: FlaskClient, method: str, path: str, headers: dict[str, str], message: str
) -> None:
    """Every admin route answers 401 JSON with a Bearer challenge for a missing or wrong token,
    its message telling a missing header, another scheme and a wrong token apart."""
    answer = client.open(path, method=method, headers=headers, json={"id": "x"})
    assert assert_json_error(answer, 401, "unauthorized")["message"] == message
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_subscriber_token_is_not_an_admin_token(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A subscriber token minted by the API does not open the admin API."""
    created(client, auth, uid)
    token = client.post("/api/tokens", json={"channels": [uid]}, headers=auth).get_json()["token"]
    answer = client.get("/api/endpoints", headers={"Authorization": f"Bearer {token}"})
    assert assert_json_error(answer, 401, "unauthorized")["message"] == WRONG
