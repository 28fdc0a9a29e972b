"""Minting subscriber tokens through the admin API
(Flask test client, real Redis)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api_support import assert_json_error, created


def test_mint_token(app: Flask, client: FlaskClient, auth: dict[str, str], uid: str) -> None:
    """POST /api/tokens answers 201 with a token limited to the channels, expiring after ttl."""
    created(client, auth, uid + "-a")
    created(client, auth, uid + "-b")
    before = time.time()
    answer = client.post(
        "/api/tokens", json={"channels": [uid + "-b", uid + "-a"], "ttl": 120}, headers=auth
    )
    assert answer.status_code == 201
    body = answer.get_json()
    assert set(body) == {"token", "channels", "expires_at"}
    assert body["channels"] == [uid + "-a", uid + "-b"]
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert expires.tzinfo is not None
    assert before + 120 - 2 <= expires.timestamp() <= time.time() + 120 + 1
    principal = app.extensions["bridge"].authority.principal(body["token"])
    assert principal is not None
    assert principal.admin is False
    assert principal.channels == {uid + "-a", uid + "-b"}


def test_mint_token_for_an_unknown_channel_is_404(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A token naming an endpoint that does not exist is refused with 404 unknown_endpoint."""
    created(client, auth, uid)
    answer = client.post(
        "/api/tokens", json={"channels": [uid, uid + "-missing"], "ttl": 60}, headers=auth
    )
    assert_json_error(answer, 404, "unknown_endpoint")


def test_a_channel_repeated_up_to_the_cap_is_one_channel(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A name given 100 times (the cap) mints a token for that one channel."""
    created(client, auth, uid)
    answer = client.post("/api/tokens", json={"channels": [uid] * 100, "ttl": 60}, headers=auth)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["channels"] == [uid]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"channels": "CHANNEL", "ttl": 60}, "channels"),
        ({"ttl": 60}, "channels"),
        ({"channels": [], "ttl": 60}, "channels"),
        ({"channels": [1], "ttl": 60}, "channels"),
        ({"channels": ["CHANNEL"] * 101, "ttl": 60}, "channels"),  # counted as given
        ({"channels": None, "ttl": 60}, "channels"),
        ({"channels": ["CHANNEL"], "ttl": 0}, "ttl"),
        ({"channels": ["CHANNEL"], "ttl": -5}, "ttl"),
        ({"channels": ["CHANNEL"], "ttl": "60"}, "ttl"),
        ({"channels": ["CHANNEL"], "ttl": 1.5}, "ttl"),
        ({"channels": ["CHANNEL"], "ttl": True}, "ttl"),
        ({"channels": ["CHANNEL"], "ttl": None}, "ttl"),
        ({"channels": ["CHANNEL"], "ttl": 10**9}, "ttl"),
    ],
)
def test_mint_token_with_bad_input_is_400(
    client: FlaskClient, auth: dict[str, str], uid: str, payload: dict[str, Any], field: str
) -> None:
    """Bad channels or ttl are refused with 400 naming the field."""
    created(client, auth, uid)
    payload = dict(payload)
    if isinstance(payload.get("channels"), list):
        payload["channels"] = [uid if c == "CHANNEL" else c for c in payload["channels"]]
    answer = client.post("/api/tokens", json=payload, headers=auth)
    assert assert_json_error(answer, 400, "invalid_request")["field"] == field
