"""Secret rotation through the admin API: adding, removing, grace periods
(Flask test client, real Redis)."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.errors import VerificationError
from bridge.ingest import receive
from bridge.providers import get as provider
from tests.api_support import OTHER_SECRET, assert_json_error, created
from tests.ingest_support import SECRET, deliver, history
from tests.support import NOT_WHOLE


def test_rotation_keeps_the_old_secret_valid_and_records_which_matched(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """After POST /secrets both old and new secrets verify, and each event names its secret id."""
    created(client, auth, uid, "github", secret=SECRET)
    answer = client.post(
        f"/api/endpoints/{uid}/secrets", json={"secret": OTHER_SECRET}, headers=auth
    )
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["secret"]["id"] == "s2"
    assert body["secret"]["value"] == OTHER_SECRET
    assert [s["id"] for s in body["endpoint"]["secrets"]] == ["s1", "s2"]
    shown = client.get(f"/api/endpoints/{uid}", headers=auth).get_json()
    assert [s["value"] for s in shown["secrets"]] == [SECRET, OTHER_SECRET]

    old = deliver(client, uid, b'{"n": "old"}', secret=SECRET)
    new = deliver(client, uid, b'{"n": "new"}', secret=OTHER_SECRET)
    wrong = deliver(client, uid, b'{"n": "wrong"}', secret="never-configured-secret")
    assert old.status_code == 202
    assert new.status_code == 202
    assert_json_error(wrong, 401, "invalid_signature")
    events = history(client, auth, uid)
    assert [(e["body"]["n"], e["verification"]["secret_id"]) for e in events] == [
        ("old", "s1"),
        ("new", "s2"),
    ]


def rotated(client: FlaskClient, auth: dict[str, str], uid: str) -> None:
    created(client, auth, uid, "github", secret=SECRET)
    answer = client.post(
        f"/api/endpoints/{uid}/secrets", json={"secret": OTHER_SECRET}, headers=auth
    )
    assert answer.status_code == 201


def test_removed_secret_stops_verifying_at_once(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """DELETE /secrets/<id> without grace makes the old secret fail while the new one works."""
    rotated(client, auth, uid)
    answer = client.delete(f"/api/endpoints/{uid}/secrets/s1", headers=auth)
    assert answer.status_code == 200
    assert [s["id"] for s in answer.get_json()["secrets"]] == ["s2"]
    assert deliver(client, uid, b'{"n": "old"}', secret=SECRET).status_code == 401
    assert deliver(client, uid, b'{"n": "new"}', secret=OTHER_SECRET).status_code == 202


def test_removed_secret_verifies_until_its_grace_ends(
    app: Flask, client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A secret removed with grace_seconds keeps verifying until then, and not after."""
    rotated(client, auth, uid)
    answer = client.delete(f"/api/endpoints/{uid}/secrets/s1?grace_seconds=3600", headers=auth)
    assert answer.status_code == 200
    old = next(s for s in answer.get_json()["secrets"] if s["id"] == "s1")
    assert old["expires_at"] is not None
    assert deliver(client, uid, b'{"n": "grace"}', secret=SECRET).status_code == 202

    services = app.extensions["bridge"]
    endpoint = services.endpoints.get(uid)
    later = time.time() + 3601
    body = b'{"n": "late"}'
    headers = provider("github").sign(body, SECRET, now=later, event_id="late")
    with pytest.raises(VerificationError):
        receive(services.store, endpoint, body, headers, url="", default_tolerance=300, now=later)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/secrets/s1", 409, "conflict"),  # the only live secret
        ("/secrets/s9", 404, "unknown_secret"),
        ("/secrets/s1?grace_seconds=soon", 400, "invalid_request"),
    ],
)
def test_secret_removal_refusals(
    client: FlaskClient, auth: dict[str, str], uid: str, path: str, status: int, code: str
) -> None:
    """Removing the last live secret, an unknown one, or with a bad grace is refused."""
    created(client, auth, uid, "github", secret=SECRET)
    assert_json_error(client.delete(f"/api/endpoints/{uid}{path}", headers=auth), status, code)
    assert deliver(client, uid, b"{}", secret=SECRET).status_code == 202


def test_the_successor_of_a_retiring_secret_cannot_be_removed(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A secret in its grace period does not count as a successor: the lasting one stays."""
    rotated(client, auth, uid)
    grace = client.delete(f"/api/endpoints/{uid}/secrets/s1?grace_seconds=3600", headers=auth)
    assert grace.status_code == 200
    answer = client.delete(f"/api/endpoints/{uid}/secrets/s2", headers=auth)
    assert_json_error(answer, 409, "conflict")
    assert "s2 is the last live secret" in answer.get_json()["message"]
    assert "grace period" in answer.get_json()["message"]
    assert deliver(client, uid, b'{"n": "new"}', secret=OTHER_SECRET).status_code == 202


def test_a_negative_grace_is_refused_naming_the_range(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """grace_seconds=-5 is a 400 saying which whole numbers are taken, not that -5 is none."""
    rotated(client, auth, uid)
    answer = client.delete(f"/api/endpoints/{uid}/secrets/s1?grace_seconds=-5", headers=auth)
    body = assert_json_error(answer, 400, "invalid_request")
    assert body["message"] == "must be between 0 and 2592000, got -5"


@pytest.mark.parametrize("grace", NOT_WHOLE)
def test_a_grace_int_would_take_is_refused_naming_it(
    client: FlaskClient, auth: dict[str, str], uid: str, grace: str
) -> None:
    """grace_seconds of non-ASCII digits, separators, whitespace or 10**400 is a 400 naming it."""
    rotated(client, auth, uid)
    answer = client.delete(
        f"/api/endpoints/{uid}/secrets/s1", query_string={"grace_seconds": grace}, headers=auth
    )
    assert assert_json_error(answer, 400, "invalid_request")["field"] == "grace_seconds"
    assert len(client.get(f"/api/endpoints/{uid}", headers=auth).get_json()["secrets"]) == 2


def test_rotation_generates_a_secret_when_none_is_given(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """POST /secrets without a body generates a new secret for providers that allow it."""
    first = created(client, auth, uid, "github")
    answer = client.post(f"/api/endpoints/{uid}/secrets", headers=auth)
    assert answer.status_code == 201
    added = answer.get_json()["secret"]
    assert added["id"] == "s2"
    assert len(added["value"]) >= 24
    assert added["value"] != first["secrets"][0]["value"]


def test_rotation_needs_a_secret_where_the_provider_issues_it(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """POST /secrets with no secret for a Stripe endpoint is refused naming `secret`."""
    created(client, auth, uid, "stripe", secret=SECRET)
    answer = client.post(f"/api/endpoints/{uid}/secrets", json={}, headers=auth)
    assert assert_json_error(answer, 400, "invalid_request")["field"] == "secret"
    shown = client.get(f"/api/endpoints/{uid}", headers=auth).get_json()
    assert len(shown["secrets"]) == 1


def test_a_live_secret_added_again_is_a_conflict_naming_it(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """The value of a live secret given again is 409 naming its id, without echoing it, and
    nothing is added; a retiring secret's value may come back as a live one."""
    rotated(client, auth, uid)  # s1 SECRET, s2 OTHER_SECRET
    again = client.post(f"/api/endpoints/{uid}/secrets", json={"secret": SECRET}, headers=auth)
    body = assert_json_error(again, 409, "conflict")
    assert body["message"] == "this value is already secret s1"
    assert SECRET not in again.get_data(as_text=True)
    shown = client.get(f"/api/endpoints/{uid}", headers=auth).get_json()
    assert [s["id"] for s in shown["secrets"]] == ["s1", "s2"]
    retiring = client.delete(f"/api/endpoints/{uid}/secrets/s1?grace_seconds=60", headers=auth)
    assert retiring.status_code == 200
    back = client.post(f"/api/endpoints/{uid}/secrets", json={"secret": SECRET}, headers=auth)
    assert back.status_code == 201
    assert back.get_json()["secret"]["id"] == "s3"


def test_an_eleventh_secret_is_a_conflict_saying_the_cap(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """An endpoint holds at most 10 secrets: the 11th, even one generated, is 409 naming the
    cap (it was a 400 naming `secret`, with no secret sent)."""
    created(client, auth, uid, "github", secret=SECRET)
    for _ in range(9):
        assert client.post(f"/api/endpoints/{uid}/secrets", headers=auth).status_code == 201
    answer = client.post(f"/api/endpoints/{uid}/secrets", headers=auth)
    body = assert_json_error(answer, 409, "conflict")
    assert body["message"] == "at most 10 secrets; remove one first"


@pytest.mark.parametrize("value", [" " * 8, "\u00a0" * 8, "\u3000" * 8])
def test_a_secret_of_only_spaces_is_refused_saying_so(
    client: FlaskClient, auth: dict[str, str], uid: str, value: str
) -> None:
    """Spaces alone (ASCII, no-break, ideographic) are no secret: 400 saying so, as the
    document's pattern states (it took them, the server did not)."""
    created(client, auth, uid, "github", secret=SECRET)
    answer = client.post(f"/api/endpoints/{uid}/secrets", json={"secret": value}, headers=auth)
    body = assert_json_error(answer, 400, "invalid_request")
    assert (body["field"], body["message"]) == ("secret", "must not be only spaces")


@pytest.mark.parametrize("body", [b"\n", b" ", b"\r\n\t"])
def test_a_blank_body_is_no_json_not_no_body(
    client: FlaskClient, auth: dict[str, str], uid: str, body: bytes
) -> None:
    """Only an empty body stands for `{}`: a blank one is JSON text of nothing, a 400."""
    created(client, auth, uid, "github", secret=SECRET)
    answer = client.post(
        f"/api/endpoints/{uid}/secrets",
        data=body,
        headers={**auth, "Content-Type": "application/json"},
    )
    assert assert_json_error(answer, 400, "invalid_request")["field"] == "body"
    shown = client.get(f"/api/endpoints/{uid}", headers=auth).get_json()
    assert [s["id"] for s in shown["secrets"]] == ["s1"]


def test_rotation_on_an_unknown_endpoint_is_404(client: FlaskClient, auth: dict[str, str]) -> None:
    """Adding a secret to an endpoint that does not exist answers 404 unknown_endpoint."""
    answer = client.post("/api/endpoints/no-such-endpoint/secrets", json={}, headers=auth)
    assert_json_error(answer, 404, "unknown_endpoint")
