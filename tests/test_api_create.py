"""Creating endpoints through the admin API: URL, secret, setup steps, and every refusal
(Flask test client, real Redis)."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from bridge import keys
from tests.api_support import OTHER_SECRET, assert_json_error, create, created
from tests.ingest_support import SECRET, history
from tests.support import MakeApp


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
    ("field", "extra"),
    [
        ("description", {"description": "card \ud800"}),
        ("secret", {"secret": "s3cr3t-\udfff-value"}),
        ("options", {"options": {"mask": ["data.\ud800"]}}),
        ("options", {"options": {"tolerance": 60, "\ud800": 1}}),
    ],
)
def test_a_lone_surrogate_anywhere_in_a_new_endpoint_is_refused(
    client: FlaskClient, auth: dict[str, str], uid: str, field: str, extra: dict[str, Any]
) -> None:
    """A description, secret or option holding a lone surrogate escape is 400 naming the
    field, and nothing is stored: such a record stopped `bridge endpoints list` at it."""
    body = assert_json_error(create(client, auth, uid, "stripe", **extra), 400, "invalid_request")
    assert (body["field"], body["message"]) == (field, "must be valid Unicode (no lone surrogate)")
    assert client.get(f"/api/endpoints/{uid}", headers=auth).status_code == 404


def test_a_rotated_secret_with_a_lone_surrogate_is_refused(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """POST .../secrets with a secret holding a lone surrogate escape is 400 naming it."""
    created(client, auth, uid, "stripe", secret=SECRET)
    answer = client.post(
        f"/api/endpoints/{uid}/secrets", json={"secret": "s3cr3t-\ud800-value"}, headers=auth
    )
    assert assert_json_error(answer, 400, "invalid_request")["field"] == "secret"


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


def test_a_long_unknown_provider_is_named_in_part(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """An unknown provider of a megabyte is named by its first 64 characters, not echoed."""
    body = assert_json_error(create(client, auth, uid, "p" * 1_000_000), 400, "invalid_request")
    assert f"unknown provider {'p' * 64!r}…" in body["message"]
    assert len(body["message"]) < 1000


def test_provider_none_is_refused_unless_the_server_allows_it(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Provider `none` is refused (400 naming `provider`) on a server without allow_unverified."""
    body = assert_json_error(create(client, auth, uid, "none"), 400, "invalid_request")
    assert body["field"] == "provider"
    assert client.get(f"/api/endpoints/{uid}", headers=auth).status_code == 404


@pytest.mark.parametrize("secret", ["abcdefghijkl", 5])
def test_a_secret_for_provider_none_is_refused_not_dropped(
    unverified_app: Flask, auth: dict[str, str], uid: str, secret: Any
) -> None:
    """Provider `none` checks no signature: a secret sent with it is a 400 naming `secret`
    (it was a 201 with `secrets: []`, the secret gone without a word); absent or "" is none."""
    client = unverified_app.test_client()
    body = assert_json_error(
        create(client, auth, uid, "none", secret=secret), 400, "invalid_request"
    )
    assert body["field"] == "secret"
    assert client.get(f"/api/endpoints/{uid}", headers=auth).status_code == 404
    assert created(client, auth, uid, "none", secret="")["secrets"] == []


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
        # Longer than any provider's, and every delivery would be gunicorn's 431.
        ("hmac", {"header": "x" * 257}, "options.header"),
        ("hmac", {"id_header": "x" * 257}, "options.id_header"),
        ("hmac", {"prefix": "p" * 65}, "options.prefix"),
        # Space to one regex dialect and not the other: refused as the document refuses it.
        ("hmac", {"prefix": "v1=\ufeff"}, "options.prefix"),
        ("hmac", {"prefix": "v1=\x1c"}, "options.prefix"),
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


@pytest.mark.parametrize(
    ("provider_name", "options", "message"),
    [
        (
            "stripe",
            {"tolerance": "abc"},
            'must be a whole number of seconds from 1 to 86400, got "abc"',
        ),
        ("stripe", {"tolerance": 0}, "must be a whole number of seconds from 1 to 86400, got 0"),
        (
            "stripe",
            {"tolerance": 1.5},
            "must be a whole number of seconds from 1 to 86400, got 1.5",
        ),
        (
            "stripe",
            {"tolerance": True},
            "must be a whole number of seconds from 1 to 86400, got true",
        ),
        ("github", {"legacy_sha1": "yes"}, 'must be true or false, got "yes"'),
        ("hmac", {"header": 5}, "must be text (a JSON string), got 5"),
        ("github", {"mask": "email"}, 'must be a list, got "email"'),
        ("stripe", {"tolerance": "x" * 5000}, 'got "' + "x" * 35 + " ..."),
    ],
)
def test_a_bad_option_says_what_it_takes_and_what_it_got(
    client: FlaskClient,
    auth: dict[str, str],
    uid: str,
    provider_name: str,
    options: dict[str, Any],
    message: str,
) -> None:
    """A refused option's message says what the option takes and quotes (briefly, as JSON)
    the value sent."""
    answer = create(client, auth, uid, provider_name, secret=SECRET, options=options)
    body = assert_json_error(answer, 400, "invalid_request")
    assert body["field"] == f"options.{next(iter(options))}"
    assert body["message"].endswith(message), body
    assert len(body["message"]) < 120


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


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("/api/endpoints", {"id": "typo-1", "provider": "github", "secrte": "x" * 12}, "secrte"),
        ("/api/endpoints", {"id": "typo-2", "provider": "github", "descripton": "d"}, "descripton"),
        ("/api/tokens", {"channels": ["typo-3"], "tll": 60}, "tll"),
    ],
)
def test_a_misspelt_field_is_refused_by_name(
    client: FlaskClient, auth: dict[str, str], route: str, body: dict[str, Any], field: str
) -> None:
    """A request body with a field the route does not take is 400 naming that field and
    listing the ones it takes, and nothing is made: a silently dropped "secrte" gave an
    endpoint a generated secret instead of the one meant."""
    answer = client.post(route, json=body, headers=auth)
    error = assert_json_error(answer, 400, "invalid_request")
    assert error["field"] == field
    assert "not a field of this request; it takes " in error["message"]
    assert client.get("/api/endpoints/typo-1", headers=auth).status_code == 404


def test_a_misspelt_field_of_a_new_secret_is_refused_by_name(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Adding a secret with `{"secert": ...}` is 400 naming `secert`, and adds none."""
    created(client, auth, uid)
    answer = client.post(f"/api/endpoints/{uid}/secrets", json={"secert": "x" * 12}, headers=auth)
    assert assert_json_error(answer, 400, "invalid_request")["field"] == "secert"
    shown = client.get(f"/api/endpoints/{uid}", headers=auth).get_json()
    assert [s["id"] for s in shown["secrets"]] == ["s1"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"id": "big", "description": ' + b"9" * 5000 + b"}", "a number with more than 4300"),
        (b'{"id": "deep", "description": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "nested more"),
        (b'{"id": "nan", "options": {"tolerance": NaN}}', "NaN is not JSON"),
        (b'{"id": "cut", "provider": ', "not JSON at line 1 column 27"),
        (b'{"id": "\xff"}', "not UTF-8"),
    ],
)
def test_a_body_that_does_not_parse_says_why(
    client: FlaskClient, auth: dict[str, str], data: bytes, reason: str
) -> None:
    """A create body the bridge cannot read as JSON is 400 naming `body` with the reason in
    its own words (a number too long, too deep, NaN, where the text stopped, not UTF-8)."""
    answer = client.post("/api/endpoints", data=data, content_type="application/json", headers=auth)
    error = assert_json_error(answer, 400, "invalid_request")
    assert error["field"] == "body"
    assert error["message"].startswith("expected a JSON object: ")
    assert reason in error["message"]
    assert "sys.set_int_max_str_digits" not in error["message"]


@pytest.mark.parametrize(
    ("provider", "secret"),
    [
        ("github", "pasted-secret-123\n"),
        ("github", "tab\tinside-secret"),
        ("gitlab", "nul\x00inside-token"),
        ("gitlab", " spaced-token-123"),
        ("gitlab", "spaced-token-123 "),
        ("gitlab", "gitlab-tökén-123"),
    ],
)
def test_a_secret_no_delivery_could_match_is_refused(
    client: FlaskClient, auth: dict[str, str], uid: str, provider: str, secret: str
) -> None:
    """A secret holding a control character (a pasted newline), or a GitLab token that
    cannot travel as a header value as it is (spaces around it, not ASCII), is 400 naming
    `secret`: the endpoint would have answered every delivery 401."""
    answer = create(client, auth, uid, provider, secret=secret)
    assert assert_json_error(answer, 400, "invalid_request")["field"] == "secret"
    assert client.get(f"/api/endpoints/{uid}", headers=auth).status_code == 404


def test_a_gitlab_token_with_inner_spaces_verifies(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Spaces inside a GitLab token survive the header, so such a token is taken and a
    delivery carrying it is stored."""
    token = "three word token"
    created(client, auth, uid, "gitlab", secret=token)
    answer = client.post(
        f"/hooks/{uid}",
        data=b'{"object_kind": "push"}',
        headers={"X-Gitlab-Token": token, "Content-Type": "application/json"},
    )
    assert answer.status_code == 202, answer.get_data(as_text=True)


def test_a_long_unknown_field_is_named_in_part(client: FlaskClient, auth: dict[str, str]) -> None:
    """An unknown field of 10,000 characters is named by its first 64, not echoed whole."""
    body = {"id": "long-key", "provider": "github", "k" * 10_000: 1}
    answer = client.post("/api/endpoints", json=body, headers=auth)
    assert assert_json_error(answer, 400, "invalid_request")["field"] == "k" * 64
    assert len(answer.get_data()) < 500


def test_a_member_given_twice_is_refused(client: FlaskClient, auth: dict[str, str]) -> None:
    """A create body naming a member twice (`"id"` twice) is 400 saying which, not settled
    silently for the last one; nothing is made under either id."""
    data = b'{"id": "twice-a", "provider": "github", "id": "twice-b"}'
    answer = client.post("/api/endpoints", data=data, content_type="application/json", headers=auth)
    error = assert_json_error(answer, 400, "invalid_request")
    assert error["message"] == "expected a JSON object: member 'id' given twice"
    for made in ("twice-a", "twice-b"):
        assert client.get(f"/api/endpoints/{made}", headers=auth).status_code == 404
