"""`POST /hooks/<id>` is answered by HookRoute ahead of Flask, and what it hands on to Flask
(a POST with an Upgrade header) by Flask's view: both give the same answers."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
import redis
from flask import Flask, request, request_started
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException
from werkzeug.test import EnvironBuilder, TestResponse

from bridge import keys
from bridge.providers import get as provider
from bridge.web.hooks import hook_id
from tests.ingest_support import SECRET, create, signed_headers

# Not a WebSocket upgrade, so werkzeug's routing still gives the POST to the view.
TO_FLASK = {"Upgrade": "h2c", "Connection": "Upgrade"}
Send = Callable[[FlaskClient, str, dict[str, str]], TestResponse]


def signed(body: bytes, name: str = "github", extra: dict[str, str] | None = None) -> Send:
    def send(client: FlaskClient, uid: str, more: dict[str, str]) -> TestResponse:
        headers = provider(name).sign(body, SECRET, now=time.time(), event_type="push")
        headers["Content-Type"] = "application/json"
        return client.post(f"/hooks/{uid}", data=body, headers={**headers, **(extra or {}), **more})

    return send


def raw(path: str, body: bytes = b"{}", headers: dict[str, str] | None = None) -> Send:
    def send(client: FlaskClient, uid: str, more: dict[str, str]) -> TestResponse:
        return client.post(path.format(uid=uid), data=body, headers={**(headers or {}), **more})

    return send


CASES: dict[str, tuple[str, Send]] = {
    "accepted": ("github", signed(b'{"n":1}')),
    "duplicate": ("github", signed(b'{"n":2}', extra={"X-GitHub-Delivery": "same-one"})),
    "bad signature": ("github", raw("/hooks/{uid}", headers={"X-Hub-Signature-256": "sha256=00"})),
    "unknown endpoint": ("github", raw("/hooks/{uid}-gone")),
    "id not UTF-8": ("github", raw("/hooks/%FF%FE")),
    "id with a newline": ("github", raw("/hooks/{uid}%0A")),
    "declared over the limit": ("github", raw("/hooks/{uid}", b"x" * 2049)),
    "bad Host": ("github", raw("/hooks/{uid}", headers={"Host": "a b"})),
    "slack handshake": (
        "slack",
        signed(b'{"type":"url_verification","challenge":"c1"}', "slack"),
    ),
    "xero empty handshake": (
        "xero",
        signed(b'{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"X"}', "xero"),
    ),
}


def shape(answer: TestResponse) -> dict[str, Any]:
    """An answer without what differs between any two deliveries: its trace and event id."""
    headers = [(k, v) for k, v in answer.headers.items() if k != "X-Bridge-Trace"]
    body = answer.get_data()
    value = json.loads(body) if body else None
    if isinstance(value, dict):
        value = {k: "..." if k in {"trace", "id"} and k in value else v for k, v in value.items()}
        if "trace" in value:
            assert answer.headers["X-Bridge-Trace"] == answer.get_json()["trace"]
    return {"status": answer.status, "headers": headers, "body": value}


@pytest.fixture
def small_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(max_body_bytes=2048)


@pytest.mark.parametrize("case", list(CASES))
def test_hook_route_and_flask_s_view_answer_alike(
    small_app: Flask, auth: dict[str, str], uid: str, case: str
) -> None:
    """Each kind of delivery and refusal gets the same status, headers and JSON either way."""
    client = small_app.test_client()
    name, send = CASES[case]
    create(client, auth, uid, name)
    if case == "duplicate":
        assert send(client, uid, {}).status_code == 202
    ours, flask_s = send(client, uid, {}), send(client, uid, TO_FLASK)
    assert len(ours.headers["X-Bridge-Trace"]) == len(flask_s.headers["X-Bridge-Trace"]) == 16
    assert shape(ours) == shape(flask_s)


@pytest.mark.parametrize(
    "headers",
    [
        {"Upgrade": "websocket", "Connection": "Upgrade"},
        {"Upgrade": "websocket", "Connection": "Upgrade", "Host": "a..b"},
        {**TO_FLASK, "Host": "a..b"},
        {**TO_FLASK, "Content-Length": "999999999"},
        {},
    ],
    ids=["websocket", "websocket, bad Host", "to Flask, bad Host", "to Flask, too large", "ours"],
)
def test_every_answer_to_a_webhook_post_has_one_trace(
    client: FlaskClient, auth: dict[str, str], uid: str, headers: dict[str, str]
) -> None:
    """Flask's refusals of what HookRoute hands on (routing's of a WebSocket handshake, the
    screening's) carry one X-Bridge-Trace too, as HookRoute's own answers do."""
    create(client, auth, uid)
    answer = client.post(f"/hooks/{uid}", data=b"{}", headers=headers)
    assert 400 <= answer.status_code < 500
    traces = answer.headers.getlist("X-Bridge-Trace")
    assert len(traces) == 1, traces
    assert re.fullmatch("[0-9a-f]{16}", traces[0]), traces


def test_a_body_shorter_than_its_content_length_is_a_400_either_way(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A stream that ends before its Content-Length (a server that does not end the body
    itself) is a 400, as werkzeug's reader made it, not a shorter body checked."""
    create(client, auth, uid)
    body = b'{"n":4}'
    for more in ({}, TO_FLASK):
        answer = client.post(
            f"/hooks/{uid}",
            data=body,
            headers=signed_headers(body) | more,
            environ_overrides={"CONTENT_LENGTH": "100"},
        )
        assert answer.status_code == 400
        assert answer.get_json()["error"] == "bad_request"


def test_a_webhook_runs_none_of_flask_s_hooks_and_an_upgrade_header_goes_to_flask(
    app: Flask, client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A plain webhook is served without Flask's request machinery; one with Upgrade is not."""
    create(client, auth, uid)
    seen: list[str] = []

    def started(sender: Flask, **extra: Any) -> None:
        seen.append(request.path)

    body = b'{"n":3}'
    with request_started.connected_to(started, app):
        answer = client.post(f"/hooks/{uid}", data=body, headers=signed_headers(body))
        assert answer.status_code == 202
        assert seen == []
        headers = signed_headers(body, event_id="other") | TO_FLASK
        assert client.post(f"/hooks/{uid}", data=body, headers=headers).status_code == 202
        assert seen == [f"/hooks/{uid}"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/hooks/{uid}", 405),
        ("PUT", "/hooks/{uid}", 405),
        ("POST", "/hooks/{uid}/", 404),
        ("POST", "/hooks/", 404),
        ("POST", "/hooks", 404),
    ],
)
def test_what_hook_route_does_not_take_flask_answers(
    client: FlaskClient, auth: dict[str, str], uid: str, method: str, path: str, status: int
) -> None:
    """Another method, or a path that is not /hooks/<one segment>, gets Flask's JSON error."""
    create(client, auth, uid)
    answer = client.open(path.format(uid=uid), method=method, data=b"{}")
    assert answer.status_code == status
    assert answer.mimetype == "application/json"
    if status == 405:
        assert answer.headers["Allow"] == "POST"


def test_an_unexpected_error_is_a_logged_json_500_either_way(
    client: FlaskClient, redis_client: redis.Redis, uid: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An error no handler knows (a record in Redis that is not JSON) is a JSON 500, logged
    with its traceback, never shown to the sender."""
    redis_client.set(keys.endpoint(uid), b"{not json")
    answers = [client.post(f"/hooks/{uid}", data=b"{}", headers=h) for h in ({}, TO_FLASK)]
    for answer in answers:
        assert answer.status_code == 500
        assert answer.get_json() == {
            "error": "internal",
            "message": "unexpected error; see the server log",
        }
        assert "Traceback" not in answer.get_data(as_text=True)
    assert shape(answers[0]) == shape(answers[1])
    logged = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert len(logged) == 2
    assert all(r.exc_info and r.exc_info[0] is json.JSONDecodeError for r in logged)


# Paths routing may read in more than one way: around the prefix, slashes and escapes of
# them, a near miss of its name; after it, dots, bytes that are not UTF-8, newlines.
PATHS = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["/", "//", "///", "/%2F", "%2F"]),
        st.sampled_from(["hooks", "hook", "hooksx", "%68ooks", "Hooks", ""]),
        st.sampled_from(["/", "//", "%2F", ""]),
        st.builds(
            "".join,
            st.lists(
                st.sampled_from(["x", "/", ".", "..", "%2F", "%FF", "%C3%A9", "\n", "é"]),
                max_size=3,
            ),
        ),
    ),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=PATHS, method=st.sampled_from(["POST", "post", "GET"]))
def test_hook_route_takes_what_routing_gives_the_webhook_view(
    app: Flask, path: str, method: str
) -> None:
    """hook_id names the endpoint werkzeug's routing would give `ingest` for a path, and no
    id where routing gives another view or none: the two cannot drift apart unseen."""
    environ = EnvironBuilder(method=method).get_environ()
    # As gunicorn hands it on: percent-escapes decoded, the bytes as a latin-1 string.
    environ["PATH_INFO"] = unquote_to_bytes(path.encode()).decode("latin-1")
    adapter = app.url_map.bind_to_environ(environ)
    try:
        rule, args = adapter.match(return_rule=True)
    except HTTPException:
        rule, args = None, {}
    routed = args["endpoint_id"] if rule is not None and rule.endpoint == "hooks.ingest" else None
    assert hook_id(environ) == routed
