"""The answers a real user's calls get match the schemas /api/openapi.json gives for them,
every field named and typed, so a client generated from the document can read them."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.ingest_support import EVENT_BODY, create, signed_headers


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's schema dialect as JSON Schema: `nullable` becomes a null alternative."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@pytest.fixture
def document(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    answer = client.get("/api/openapi.json", headers=auth)
    assert answer.status_code == 200
    found: dict[str, Any] = answer.get_json()
    return found


def assert_documented(
    document: dict[str, Any], path: str, method: str, answer: TestResponse
) -> dict[str, Any]:
    """`answer` is valid against the schema the document declares for its status."""
    declared = document["paths"][path][method]["responses"][str(answer.status_code)]
    schema = declared["content"]["application/json"]["schema"]
    assert schema != {"type": "object"}, f"{method} {path} {answer.status_code} is a bare object"
    body: dict[str, Any] = answer.get_json()
    root = {**_json_schema(schema), "components": _json_schema(document["components"])}
    errors = [
        f"{e.instance_path}: {e.message}"
        for e in jsonschema_rs.validator_for(root).iter_errors(body)
    ]
    assert not errors, f"{method.upper()} {path} {answer.status_code}: {errors}"
    return body


def test_the_admin_flow_answers_as_documented(
    client: FlaskClient, auth: dict[str, str], uid: str, document: dict[str, Any]
) -> None:
    """Creating, listing, showing, rotating and minting a token each answer their schema."""
    made = client.post("/api/endpoints", json={"id": uid, "provider": "github"}, headers=auth)
    assert made.status_code == 201
    assert_documented(document, "/api/endpoints", "post", made)
    listed = client.get("/api/endpoints", headers=auth)
    assert_documented(document, "/api/endpoints", "get", listed)
    one = "/api/endpoints/{endpoint_id}"
    assert_documented(document, one, "get", client.get(f"/api/endpoints/{uid}", headers=auth))
    added = client.post(f"/api/endpoints/{uid}/secrets", headers=auth)
    body = assert_documented(document, one + "/secrets", "post", added)
    retiring = client.delete(
        f"/api/endpoints/{uid}/secrets/{body['secret']['id']}?grace_seconds=60", headers=auth
    )
    shown = assert_documented(document, one + "/secrets/{secret_id}", "delete", retiring)
    assert any(s["expires_at"] for s in shown["secrets"])  # the nullable branch, filled
    token = client.post("/api/tokens", json={"channels": [uid]}, headers=auth)
    assert_documented(document, "/api/tokens", "post", token)
    providers = client.get("/api/providers", headers=auth)
    assert_documented(document, "/api/providers", "get", providers)


def test_a_delivery_its_duplicate_history_and_replay_answer_as_documented(
    client: FlaskClient, auth: dict[str, str], uid: str, document: dict[str, Any]
) -> None:
    """The 202, the duplicate's 200, an events page (plain and searched) and a replay each
    answer their schema, a non-UTF-8 body's envelope included."""
    create(client, auth, uid, "github")
    hook = "/hooks/{endpoint_id}"
    headers = signed_headers(EVENT_BODY, event_id="d-1")
    first = client.post(f"/hooks/{uid}", data=EVENT_BODY, headers=headers)
    assert first.status_code == 202
    accepted = assert_documented(document, hook, "post", first)
    again = client.post(f"/hooks/{uid}", data=EVENT_BODY, headers=headers)
    assert again.status_code == 200
    assert assert_documented(document, hook, "post", again)["duplicate"] is True
    binary = b"\xff\xfe not UTF-8"
    stored = client.post(
        f"/hooks/{uid}", data=binary, headers=signed_headers(binary, event_id="d-2")
    )
    assert stored.status_code == 202

    events = f"/api/endpoints/{uid}/events"
    page_path = "/api/endpoints/{endpoint_id}/events"
    page = assert_documented(document, page_path, "get", client.get(events, headers=auth))
    assert [e["id"] == accepted["id"] for e in page["events"]] == [True, False]
    assert "body_base64" in page["events"][1]
    searched = client.get(f"{events}?q=invoice&limit=1", headers=auth)
    assert "scanned" in assert_documented(document, page_path, "get", searched)
    replayed = client.post(f"{events}/{accepted['id']}/replay", headers=auth)
    assert replayed.status_code == 201
    assert_documented(document, page_path + "/{cursor}/replay", "post", replayed)
