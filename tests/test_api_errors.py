"""Error pages are JSON: unknown routes, wrong methods
(Flask test client, real Redis)."""

from __future__ import annotations

import pytest
import requests
from flask.testing import FlaskClient

from tests.api_support import assert_json_error, created
from tests.support import BridgeProcess


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
    ("OPTIONS", "/api/endpoints", {"GET", "POST"}),
    ("OPTIONS", "/hooks/gh", {"POST"}),
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


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/hooks//{uid}"),
        ("POST", "/api//endpoints"),
        ("GET", "/api/endpoints//{uid}"),
        ("DELETE", "/api/endpoints//{uid}"),
        ("GET", "/api/endpoints/{uid}//events"),
        ("GET", "/static//etc/passwd"),
    ],
)
def test_a_path_with_a_double_slash_is_404_json_not_an_html_redirect(
    bridge: BridgeProcess, uid: str, method: str, path: str
) -> None:
    """`/hooks//<id>` and the like are a JSON 404, not werkzeug's 308 HTML page (which a
    provider does not follow for a POST), and touch nothing."""
    bridge.create_endpoint(uid)
    answer = bridge.api(method, path.format(uid=uid), allow_redirects=False)
    assert (answer.status_code, answer.headers["Content-Type"]) == (404, "application/json")
    assert answer.json()["error"] == "not_found"
    assert bridge.api("GET", f"/api/endpoints/{uid}").status_code == 200


def test_a_range_past_the_end_of_a_static_file_is_416_naming_it(bridge: BridgeProcess) -> None:
    """A Range no byte of the file satisfies is 416 `range_not_satisfiable` with the file's
    length (RFC 9110 15.5.17), not a generic `http_error`."""
    answer = requests.get(
        f"{bridge.url}/static/app.js", headers={"Range": "bytes=99999999-"}, timeout=10
    )
    assert answer.status_code == 416
    assert answer.json()["error"] == "range_not_satisfiable"
    assert answer.headers["Content-Range"].startswith("bytes */")


@pytest.mark.parametrize("value", ["items=0-1", "bytes=abc", "bytes=5-1", "bytes=0-1,3-4"])
def test_a_range_the_bridge_cannot_serve_is_ignored(bridge: BridgeProcess, value: str) -> None:
    """A Range of another unit, one that does not parse, or a list of ranges gets the whole
    file (RFC 9110 14.2), not 416; one range is still served 206."""
    whole = requests.get(f"{bridge.url}/static/app.js", timeout=10)
    answer = requests.get(f"{bridge.url}/static/app.js", headers={"Range": value}, timeout=10)
    assert (answer.status_code, answer.content) == (200, whole.content)
    part = requests.get(f"{bridge.url}/static/app.js", headers={"Range": "bytes=0-9"}, timeout=10)
    assert (part.status_code, part.content) == (206, whole.content[:10])


@pytest.mark.parametrize(
    "query",
    [
        "events?limit=1&limit=500",
        "events?since=0-0&since=5-0&q=a",
        "secrets/s1?grace_seconds=60&grace_seconds=0",
    ],
)
def test_a_query_parameter_given_twice_is_400_naming_it(
    client: FlaskClient, auth: dict[str, str], uid: str, query: str
) -> None:
    """An admin route refuses a query parameter given twice, naming it, and acts on neither."""
    created(client, auth, uid)
    client.post(f"/api/endpoints/{uid}/secrets", headers=auth)
    method = "DELETE" if query.startswith("secrets") else "GET"
    answer = client.open(f"/api/endpoints/{uid}/{query}", method=method, headers=auth)
    name = query.split("?")[1].split("=")[0]
    body = assert_json_error(answer, 400, "invalid_request")
    assert (body["field"], body["message"]) == (name, "given 2 times; give it once")
    secrets = client.get(f"/api/endpoints/{uid}", headers=auth).get_json()["secrets"]
    assert [s["expires_at"] for s in secrets] == [None, None]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("events?limt=5", "limt", "not a query parameter of this route; it takes before, "
         "event_type, limit, q, since, verified"),
        ("events?Limit=2", "Limit", None),
        ("events?&&&=&=x&limit=2", "query", "a query parameter without a name (`?=x`, `?&=`)"),
        ("?x=1&x=2", "x", "not a query parameter of this route; it takes none"),
    ],
)  # fmt: skip
def test_a_query_parameter_the_route_does_not_take_is_400_naming_it(
    client: FlaskClient, auth: dict[str, str], uid: str, query: str, field: str, message: str | None
) -> None:
    """A misspelt, differently cased, nameless or foreign query parameter is refused by name,
    with what the route takes, not ignored (`?limt=5` answered 100 events)."""
    created(client, auth, uid)
    answer = client.get(f"/api/endpoints/{uid}/{query}".replace("/?", "?"), headers=auth)
    body = assert_json_error(answer, 400, "invalid_request")
    assert body["field"] == field
    if message is not None:
        assert body["message"] == message


FILES = ["/", "/client.js", "/close-codes.js", "/static/app.js"]


@pytest.mark.parametrize("path", FILES)
def test_an_if_match_naming_no_version_of_a_file_is_a_json_412(
    client: FlaskClient, path: str
) -> None:
    """If-Match with another ETag is 412 `precondition_failed` as JSON (werkzeug's answer was
    the whole file with that status); with the file's own ETag it is served."""
    answer = client.get(path, headers={"If-Match": '"nope"'})
    body = assert_json_error(answer, 412, "precondition_failed")
    assert "If-Match" in body["message"]
    with client.get(path) as plain:
        etag = plain.headers["ETag"]
    with client.get(path, headers={"If-Match": etag}) as matched:
        assert matched.status_code == 200


@pytest.mark.parametrize("path", FILES)
def test_preconditions_on_a_file_come_in_rfc_9110_s_order(client: FlaskClient, path: str) -> None:
    """`If-Match: *` serves a file that exists; a failing If-Match is a 412 though a Range
    is asked (not its 206 or 416); without If-Match, an If-Unmodified-Since before the file's
    Last-Modified is a 412 and one after it serves the file."""
    with client.get(path) as plain:
        whole = plain.get_data()
        changed = plain.headers.get("Last-Modified")
    with client.get(path, headers={"If-Match": "*"}) as star:
        assert star.status_code == 200
        assert star.get_data() == whole
    for wanted in ("bytes=0-5", "bytes=999999999-"):
        failing = client.get(path, headers={"If-Match": '"nope"', "Range": wanted})
        assert_json_error(failing, 412, "precondition_failed")
    old = client.get(path, headers={"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"})
    if changed is None:  # close-codes.js is made, not a file: no date to hold it to
        assert old.status_code == 200
    else:
        body = assert_json_error(old, 412, "precondition_failed")
        assert "If-Unmodified-Since" in body["message"]
    with client.get(path, headers={"If-Unmodified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}) as new:
        assert new.status_code == 200
    with client.get(
        path, headers={"If-Match": plain.headers["ETag"], "Range": "bytes=0-5"}
    ) as part:
        # Preconditions that hold leave the Range to be served (close-codes.js serves none).
        assert (part.status_code, part.get_data()) == (
            (200, whole) if changed is None else (206, whole[:6])
        )


def test_a_404_echoes_at_most_64_characters_of_the_unknown_id(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    """An unknown id of 3,000 characters is named by its first 64 (no id is longer), not
    echoed whole."""
    answer = client.get("/api/endpoints/" + "a" * 3000, headers=auth)
    assert answer.status_code == 404
    assert answer.get_json() == {"error": "unknown_endpoint", "id": "a" * 64}


@pytest.mark.parametrize("path", ["/static/app.js/", "/static/app.js//", "/client.js/"])
def test_a_static_file_with_a_trailing_slash_is_no_file(client: FlaskClient, path: str) -> None:
    """`/static/app.js/` is a JSON 404, as `/client.js/` is: it served app.js, whose relative
    imports a browser resolved under it."""
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.get_json()["error"] == "not_found"
