"""The admin API, health routes and error pages, through the Flask test client on a real Redis."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge import keys
from bridge.errors import VerificationError
from bridge.ingest import receive
from bridge.providers import get as provider
from tests.support import ADMIN_TOKEN, MakeApp

SECRET = "whsec_dGVzdC1zZWNyZXQtMTIzNDU2"  # base64, so every provider takes it
OTHER_SECRET = "whsec_cm90YXRlZC1zZWNyZXQtNjU0MzIx"

# -- helpers -----------------------------------------------------------------------------


def create(
    client: FlaskClient,
    auth: dict[str, str],
    endpoint_id: str,
    provider_name: str = "github",
    **extra: Any,
) -> TestResponse:
    return client.post(
        "/api/endpoints", json={"id": endpoint_id, "provider": provider_name, **extra}, headers=auth
    )


def created(
    client: FlaskClient,
    auth: dict[str, str],
    endpoint_id: str,
    provider_name: str = "github",
    **extra: Any,
) -> dict[str, Any]:
    answer = create(client, auth, endpoint_id, provider_name, **extra)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body: dict[str, Any] = answer.get_json()
    return body


def deliver(
    client: FlaskClient,
    endpoint_id: str,
    body: bytes,
    *,
    secret: str = SECRET,
    provider_name: str = "github",
    event_id: str | None = None,
    event_type: str = "push",
) -> TestResponse:
    headers = provider(provider_name).sign(
        body, secret, now=time.time(), event_id=event_id, event_type=event_type
    )
    headers.setdefault("Content-Type", "application/json")
    return client.post(f"/hooks/{endpoint_id}", data=body, headers=headers)


def history(client: FlaskClient, auth: dict[str, str], endpoint_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/api/endpoints/{endpoint_id}/events", headers=auth)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    events: list[dict[str, Any]] = answer.get_json()["events"]
    return events


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


@pytest.fixture
def unverified_app(make_app: MakeApp) -> Flask:
    """An app whose server allows provider `none`."""
    return make_app(allow_unverified=True)


# -- authentication ----------------------------------------------------------------------

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

BAD_AUTH = {
    "no header": {},
    "wrong token": {"Authorization": "Bearer not-the-admin-token-at-all"},
    "wrong scheme": {"Authorization": f"Basic {ADMIN_TOKEN}"},
    "empty bearer": {"Authorization": "Bearer "},
    "token prefix": {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},
}


@pytest.mark.parametrize("headers", BAD_AUTH.values(), ids=list(BAD_AUTH))
@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_admin_routes_answer_401_json_without_the_admin_token(
    client: FlaskClient, method: str, path: str, headers: dict[str, str]
) -> None:
    """Every admin route answers 401 JSON with a Bearer challenge for a missing or wrong token."""
    answer = client.open(path, method=method, headers=headers, json={"id": "x"})
    assert_json_error(answer, 401, "unauthorized")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_subscriber_token_is_not_an_admin_token(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A subscriber token minted by the API does not open the admin API."""
    created(client, auth, uid)
    token = client.post("/api/tokens", json={"channels": [uid]}, headers=auth).get_json()["token"]
    answer = client.get("/api/endpoints", headers={"Authorization": f"Bearer {token}"})
    assert_json_error(answer, 401, "unauthorized")


# -- creating endpoints ------------------------------------------------------------------


def test_create_endpoint_answers_201_with_url_secret_and_setup(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Creating an endpoint answers 201 with its webhook URL, given secret and setup steps."""
    answer = create(client, auth, uid, "github", secret=SECRET, description="CI pushes")
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["id"] == uid
    assert body["provider"] == "github"
    assert body["verified"] is True
    assert body["description"] == "CI pushes"
    assert body["url"] == f"http://localhost/hooks/{uid}"
    assert [s["id"] for s in body["secrets"]] == ["s1"]
    assert body["secrets"][0]["value"] == SECRET
    assert isinstance(body["setup"], list)
    assert body["setup"]
    assert all(isinstance(step, str) and step for step in body["setup"])
    assert any(body["url"] in step for step in body["setup"])


def test_endpoint_url_follows_the_request_host(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Without BRIDGE_PUBLIC_URL the webhook URL is built from the host the request named."""
    answer = client.post(
        "/api/endpoints",
        json={"id": uid, "provider": "github"},
        headers=auth,
        base_url="https://bridge.example:8443",
    )
    assert answer.status_code == 201
    assert answer.get_json()["url"] == f"https://bridge.example:8443/hooks/{uid}"


def test_endpoint_url_uses_the_configured_public_url(
    make_app: MakeApp, auth: dict[str, str], uid: str
) -> None:
    """With BRIDGE_PUBLIC_URL set the webhook URL starts with it, whatever host was called."""
    body = created(make_app(public_url="https://hooks.example.com").test_client(), auth, uid)
    assert body["url"] == f"https://hooks.example.com/hooks/{uid}"


@pytest.mark.parametrize("provider_name", ["github", "standard", "hmac", "razorpay"])
def test_secret_is_generated_when_the_receiver_chooses_it(
    client: FlaskClient, auth: dict[str, str], uid: str, provider_name: str
) -> None:
    """Providers that let the receiver pick the secret get a fresh random one when none is given."""
    first = created(client, auth, uid, provider_name)
    second = created(client, auth, uid + "-b", provider_name)
    assert len(first["secrets"]) == 1
    value = first["secrets"][0]["value"]
    assert isinstance(value, str)
    assert len(value) >= 24
    assert value != second["secrets"][0]["value"]
    if provider_name == "standard":
        assert value.startswith("whsec_")


@pytest.mark.parametrize("provider_name", ["stripe", "slack", "shopify"])
@pytest.mark.parametrize("secret", [None, ""])
def test_secret_is_required_when_the_provider_issues_it(
    client: FlaskClient, auth: dict[str, str], uid: str, provider_name: str, secret: str | None
) -> None:
    """Providers that issue the secret themselves need it pasted in: 400 naming `secret`."""
    extra = {} if secret is None else {"secret": secret}
    answer = create(client, auth, uid, provider_name, **extra)
    body = assert_json_error(answer, 400, "invalid_request")
    assert body["field"] == "secret"
    assert client.get(f"/api/endpoints/{uid}", headers=auth).status_code == 404


@pytest.mark.parametrize("secret", ["short", 12345678, ["a-list-secret"], "x" * 1025])
def test_bad_secret_is_refused(
    client: FlaskClient, auth: dict[str, str], uid: str, secret: Any
) -> None:
    """A given secret that is not text of 8 to 1024 characters is refused naming `secret`."""
    body = assert_json_error(
        create(client, auth, uid, "stripe", secret=secret), 400, "invalid_request"
    )
    assert body["field"] == "secret"


@pytest.mark.parametrize(
    "endpoint_id",
    [
        "Upper",
        "ABC",
        "a" * 64,
        "",
        "-leading-dash",
        "_leading",
        "has space",
        "a/b",
        "a.b",
        "caf\u00e9",
        123,
        None,
        ["list"],
        {"id": "x"},
        True,
    ],
)
def test_bad_endpoint_id_is_refused(
    client: FlaskClient, auth: dict[str, str], endpoint_id: Any
) -> None:
    """An id outside [a-z0-9][a-z0-9_-]{0,62} (or not a string) is refused with 400 naming `id`."""
    answer = client.post(
        "/api/endpoints", json={"id": endpoint_id, "provider": "github"}, headers=auth
    )
    body = assert_json_error(answer, 400, "invalid_request")
    assert body["field"] == "id"


@pytest.mark.parametrize("shape", ["plain", "dash-and-underscore", "digit-first-63-chars"])
def test_valid_ids_are_accepted(
    client: FlaskClient, auth: dict[str, str], uid: str, shape: str
) -> None:
    """Ids that match the pattern, up to 63 characters, are accepted and served as given."""
    endpoint_id = {
        "plain": uid,
        "dash-and-underscore": uid + "-x_y",
        "digit-first-63-chars": ("0" + uid[1:]).ljust(63, "9"),
    }[shape]
    assert created(client, auth, endpoint_id)["id"] == endpoint_id
    shown = client.get(f"/api/endpoints/{endpoint_id}", headers=auth)
    assert shown.status_code == 200
    assert shown.get_json()["url"].endswith(f"/hooks/{endpoint_id}")


@pytest.mark.parametrize("provider_name", ["nope", "GitHub", "", 7, None])
def test_unknown_provider_is_refused(
    client: FlaskClient, auth: dict[str, str], uid: str, provider_name: Any
) -> None:
    """An unknown (or non-string) provider is refused with 400 naming `provider`."""
    body = assert_json_error(create(client, auth, uid, provider_name), 400, "invalid_request")
    assert body["field"] == "provider"


def test_provider_none_is_refused_unless_the_server_allows_it(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Provider `none` is refused (400 naming `provider`) on a server without allow_unverified."""
    body = assert_json_error(create(client, auth, uid, "none"), 400, "invalid_request")
    assert body["field"] == "provider"
    assert client.get(f"/api/endpoints/{uid}", headers=auth).status_code == 404


def test_provider_none_is_allowed_and_flagged_when_the_server_allows_it(
    unverified_app: Flask, auth: dict[str, str], uid: str
) -> None:
    """With allow_unverified, a `none` endpoint accepts unsigned posts, flagged verified false."""
    client = unverified_app.test_client()
    endpoint = created(client, auth, uid, "none")
    assert endpoint["provider"] == "none"
    assert endpoint["verified"] is False
    assert endpoint["secrets"] == []
    answer = client.post(f"/hooks/{uid}", json={"type": "anything", "n": 1})
    assert answer.status_code == 202, answer.get_data(as_text=True)
    (event,) = history(client, auth, uid)
    assert event["id"] == answer.get_json()["id"]
    assert event["verified"] is False
    assert event["verification"]["secret_id"] is None
    assert event["event_type"] == "anything"
    assert event["body"] == {"type": "anything", "n": 1}


@pytest.mark.parametrize(
    ("provider_name", "options", "field"),
    [
        ("github", {"bogus": 1}, "options.bogus"),
        ("github", {"legacy_sha1": "yes"}, "options.legacy_sha1"),
        ("github", {"legacy_sha1": 1}, "options.legacy_sha1"),
        ("stripe", {"tolerance": 0}, "options.tolerance"),
        ("stripe", {"tolerance": 86401}, "options.tolerance"),
        ("stripe", {"tolerance": "300"}, "options.tolerance"),
        ("stripe", {"tolerance": True}, "options.tolerance"),
        ("stripe", {"tolerance": 1.5}, "options.tolerance"),
        ("hmac", {"algorithm": "md5"}, "options.algorithm"),
        ("hmac", {"encoding": "base32"}, "options.encoding"),
        ("hmac", {"prefix": "sha256= "}, "options.prefix"),
        ("hmac", {"header": 5}, "options.header"),
        ("github", [], "options"),
        ("github", "tolerance=5", "options"),
    ],
)
def test_bad_options_are_refused_naming_the_option(
    client: FlaskClient,
    auth: dict[str, str],
    uid: str,
    provider_name: str,
    options: Any,
    field: str,
) -> None:
    """An unknown option, or one of the wrong type or range, is refused with 400 naming it."""
    answer = create(client, auth, uid, provider_name, secret=SECRET, options=options)
    body = assert_json_error(answer, 400, "invalid_request")
    assert body["field"] == field
    assert client.get(f"/api/endpoints/{uid}", headers=auth).status_code == 404


def test_good_options_are_kept(client: FlaskClient, auth: dict[str, str], uid: str) -> None:
    """Valid options are stored and shown back on the endpoint."""
    options = {"header": "x-my-sig", "encoding": "base64", "prefix": "v1=", "tolerance": 60}
    assert created(client, auth, uid, "hmac", options=options)["options"] == options
    assert client.get(f"/api/endpoints/{uid}", headers=auth).get_json()["options"] == options


def test_duplicate_id_is_a_conflict(client: FlaskClient, auth: dict[str, str], uid: str) -> None:
    """Creating an endpoint whose id exists answers 409 and leaves the first one unchanged."""
    created(client, auth, uid, "github", secret=SECRET)
    answer = create(client, auth, uid, "stripe", secret=OTHER_SECRET)
    assert_json_error(answer, 409, "conflict")
    shown = client.get(f"/api/endpoints/{uid}", headers=auth).get_json()
    assert shown["provider"] == "github"
    assert shown["secrets"][0]["value"] == SECRET


def test_a_create_cut_between_its_two_writes_is_completed_by_its_retry(
    client: FlaskClient, auth: dict[str, str], uid: str, redis_client: redis.Redis
) -> None:
    """Whichever of its two writes a create lost, the same create retried leaves a whole,
    listed endpoint (an index entry alone is never listed; a record alone is indexed again)."""

    def listed() -> set[str]:
        return {e["id"] for e in client.get("/api/endpoints", headers=auth).get_json()["endpoints"]}

    redis_client.sadd(keys.ENDPOINT_INDEX, uid)  # index entry, no record
    assert uid not in listed()
    created(client, auth, uid, "github", secret=SECRET)
    assert uid in listed()

    redis_client.srem(keys.ENDPOINT_INDEX, uid)  # record, no index entry
    assert uid not in listed()
    assert_json_error(create(client, auth, uid, "github", secret=SECRET), 409, "conflict")
    assert uid in listed()


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"not json at all", "application/json"),
        (b'{"id": "x", "provider": ', "application/json"),
        (b'["a", "list"]', "application/json"),
        (b'"a string"', "application/json"),
        (b"", "application/json"),
        (b'{"id": "abc", "provider": "github"}', "text/plain"),
    ],
)
def test_create_with_a_body_that_is_not_a_json_object_is_400(
    client: FlaskClient, auth: dict[str, str], data: bytes, content_type: str
) -> None:
    """A create request whose body is not a JSON object answers 400 JSON naming `body`."""
    answer = client.post("/api/endpoints", data=data, content_type=content_type, headers=auth)
    body = assert_json_error(answer, 400, "invalid_request")
    assert body["field"] == "body"


@pytest.mark.parametrize("description", [5, "x" * 501, ["d"]])
def test_bad_description_is_refused(
    client: FlaskClient, auth: dict[str, str], uid: str, description: Any
) -> None:
    """A description that is not text of at most 500 characters is refused naming it."""
    answer = create(client, auth, uid, description=description)
    assert assert_json_error(answer, 400, "invalid_request")["field"] == "description"


# -- list, show, delete ------------------------------------------------------------------


def test_list_and_show_endpoints(client: FlaskClient, auth: dict[str, str], uid: str) -> None:
    """GET /api/endpoints lists created endpoints; GET /api/endpoints/<id> shows one."""
    first = created(client, auth, uid + "-a", "github")
    second = created(client, auth, uid + "-b", "stripe", secret=SECRET)
    listed = client.get("/api/endpoints", headers=auth)
    assert listed.status_code == 200
    by_id = {e["id"]: e for e in listed.get_json()["endpoints"]}
    assert by_id[uid + "-a"] == first
    assert by_id[uid + "-b"] == second
    shown = client.get(f"/api/endpoints/{uid}-b", headers=auth)
    assert shown.status_code == 200
    assert shown.get_json() == second


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("endpoint_id", ["no-such-endpoint-here", "Not-Valid"])
def test_unknown_endpoint_is_404(
    client: FlaskClient, auth: dict[str, str], method: str, endpoint_id: str
) -> None:
    """Showing or deleting an endpoint that does not exist answers 404 unknown_endpoint."""
    answer = client.open(f"/api/endpoints/{endpoint_id}", method=method, headers=auth)
    assert_json_error(answer, 404, "unknown_endpoint")


def test_delete_removes_the_endpoint_and_its_events(
    client: FlaskClient, auth: dict[str, str], uid: str, redis_client: redis.Redis
) -> None:
    """DELETE answers 204; the endpoint is then 404 everywhere and its stored events are gone."""
    created(client, auth, uid, secret=SECRET)
    assert deliver(client, uid, b'{"n": 1}').status_code == 202
    assert redis_client.xlen(keys.stream(uid)) == 1

    answer = client.delete(f"/api/endpoints/{uid}", headers=auth)
    assert answer.status_code == 204
    assert answer.get_data() == b""
    assert_json_error(client.get(f"/api/endpoints/{uid}", headers=auth), 404, "unknown_endpoint")
    assert_json_error(
        client.get(f"/api/endpoints/{uid}/events", headers=auth), 404, "unknown_endpoint"
    )
    assert_json_error(deliver(client, uid, b'{"n": 2}'), 404, "unknown_endpoint")
    assert uid not in [
        e["id"] for e in client.get("/api/endpoints", headers=auth).get_json()["endpoints"]
    ]
    assert redis_client.exists(keys.stream(uid), keys.endpoint(uid)) == 0
    assert not redis_client.sismember(keys.ENDPOINT_INDEX, uid)


def test_recreated_endpoint_does_not_inherit_the_old_dedup_memory(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """After delete and re-create, an event id seen before the delete is stored anew."""
    created(client, auth, uid, secret=SECRET)
    assert deliver(client, uid, b'{"n": 1}', event_id="delivery-1").status_code == 202
    assert client.delete(f"/api/endpoints/{uid}", headers=auth).status_code == 204
    created(client, auth, uid, secret=SECRET)
    again = deliver(client, uid, b'{"n": 1}', event_id="delivery-1")
    assert again.status_code == 202, again.get_json()
    (event,) = history(client, auth, uid)
    assert event["id"] == again.get_json()["id"]


# -- secret rotation ---------------------------------------------------------------------


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
        ("/secrets/s1", 400, "invalid_request"),  # the only live secret
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


def test_rotation_on_an_unknown_endpoint_is_404(client: FlaskClient, auth: dict[str, str]) -> None:
    """Adding a secret to an endpoint that does not exist answers 404 unknown_endpoint."""
    answer = client.post("/api/endpoints/no-such-endpoint/secrets", json={}, headers=auth)
    assert_json_error(answer, 404, "unknown_endpoint")


# -- subscriber tokens -------------------------------------------------------------------


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


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"channels": "CHANNEL", "ttl": 60}, "channels"),
        ({"ttl": 60}, "channels"),
        ({"channels": [], "ttl": 60}, "channels"),
        ({"channels": [1], "ttl": 60}, "channels"),
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


# -- history -----------------------------------------------------------------------------


def test_events_are_paginated_oldest_first(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """GET events?since=&limit= pages through history oldest first, `next` chaining the pages."""
    created(client, auth, uid, secret=SECRET)
    ids = []
    for n in range(5):
        answer = deliver(client, uid, f'{{"n": {n}}}'.encode())
        assert answer.status_code == 202
        ids.append(answer.get_json()["id"])
    assert [as_cursor(i) for i in ids] == sorted({as_cursor(i) for i in ids})

    pages = []
    since = None
    while True:
        query = {"limit": 2} if since is None else {"limit": 2, "since": since}
        answer = client.get(f"/api/endpoints/{uid}/events", query_string=query, headers=auth)
        assert answer.status_code == 200
        page = answer.get_json()
        pages.append([e["id"] for e in page["events"]])
        if page["next"] is None:
            break
        assert page["next"] == page["events"][-1]["id"]
        since = page["next"]
        assert len(pages) < 10
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]

    middle = client.get(
        f"/api/endpoints/{uid}/events", query_string={"since": ids[1]}, headers=auth
    ).get_json()
    assert [e["id"] for e in middle["events"]] == ids[2:]
    assert [e["body"]["n"] for e in middle["events"]] == [2, 3, 4]
    assert middle["next"] is None


def test_events_of_a_new_endpoint_are_empty(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """An endpoint with no deliveries has an empty history and no next page."""
    created(client, auth, uid)
    body = client.get(f"/api/endpoints/{uid}/events", headers=auth).get_json()
    assert body["events"] == []
    assert body["next"] is None


@pytest.mark.parametrize("since", ["abc", "-1", "1-2-3", "1-", "x-0", "1.5", " "])
def test_events_with_a_bad_since_is_400(
    client: FlaskClient, auth: dict[str, str], uid: str, since: str
) -> None:
    """A `since` that is not a cursor is refused with 400 naming `since`."""
    created(client, auth, uid)
    answer = client.get(f"/api/endpoints/{uid}/events", query_string={"since": since}, headers=auth)
    assert assert_json_error(answer, 400, "invalid_request")["field"] == "since"


@pytest.mark.parametrize("limit", ["0", "-1", "1001", "ten", "1.5", ""])
def test_events_with_a_bad_limit_is_400(
    client: FlaskClient, auth: dict[str, str], uid: str, limit: str
) -> None:
    """A `limit` that is not a whole number from 1 to 1000 is refused with 400 naming `limit`."""
    created(client, auth, uid)
    answer = client.get(f"/api/endpoints/{uid}/events", query_string={"limit": limit}, headers=auth)
    assert assert_json_error(answer, 400, "invalid_request")["field"] == "limit"


# -- health, metrics ---------------------------------------------------------------------


def test_healthz_and_readyz_answer_200(client: FlaskClient) -> None:
    """/healthz and /readyz answer 200 JSON while the process runs and Redis answers."""
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready"}


def test_metrics_count_a_delivery(client: FlaskClient, auth: dict[str, str], uid: str) -> None:
    """/metrics is Prometheus text and counts an accepted delivery under bridge_webhooks_total."""
    sample = f'bridge_webhooks_total{{endpoint="{uid}",outcome="accepted"}} 1.0'
    created(client, auth, uid, secret=SECRET)
    assert sample not in client.get("/metrics").get_data(as_text=True)
    assert deliver(client, uid, b'{"n": 1}').status_code == 202
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    text = answer.get_data(as_text=True)
    assert "# TYPE bridge_webhooks_total counter" in text
    assert sample in text.splitlines()


# -- errors are JSON ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/nope", "/api/nope", "/hooks", "/hooks/a/b", "/api/endpoints/a/b/c"]
)
def test_unknown_route_is_404_json(client: FlaskClient, auth: dict[str, str], path: str) -> None:
    """A route that does not exist answers 404 JSON, never an HTML page."""
    assert_json_error(client.get(path, headers=auth), 404, "not_found")


WRONG_METHODS = [
    ("GET", "/hooks/some-endpoint", {"POST"}),
    ("PUT", "/hooks/some-endpoint", {"POST"}),
    ("DELETE", "/hooks/some-endpoint", {"POST"}),
    ("PUT", "/api/endpoints", {"GET", "POST"}),
    ("PATCH", "/api/endpoints/some-endpoint", {"GET", "DELETE"}),
    ("GET", "/api/tokens", {"POST"}),
    ("POST", "/healthz", {"GET"}),
    ("DELETE", "/metrics", {"GET"}),
]


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in WRONG_METHODS])
def test_wrong_method_is_405_json(
    client: FlaskClient, auth: dict[str, str], method: str, path: str
) -> None:
    """A known route called with a method it does not serve answers 405 JSON, never HTML."""
    answer = client.open(path, method=method, headers=auth)
    assert_json_error(answer, 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("method", "path", "allowed"), WRONG_METHODS, ids=[f"{m} {p}" for m, p, _ in WRONG_METHODS]
)
def test_405_names_the_allowed_methods(
    client: FlaskClient, auth: dict[str, str], method: str, path: str, allowed: set[str]
) -> None:
    """A 405 answer carries the Allow header listing the methods the route does serve (RFC 9110)."""
    answer = client.open(path, method=method, headers=auth)
    assert answer.status_code == 405
    listed = {m.strip() for m in answer.headers.get("Allow", "").split(",") if m.strip()}
    assert allowed <= listed
    assert method not in listed
