"""Bodies that are not plain JSON: text, non-UTF-8, unicode escapes."""

from __future__ import annotations

import base64
import json

import pytest
import redis
from flask.testing import FlaskClient

from bridge import keys
from tests.ingest_support import (
    create,
    deliver,
    history,
)
from tests.provider_cases import vector_by_id
from tests.support import stream_entries


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
