"""The CLI against a server that answers 200 with a JSON object a bridge would not send (a
security probe: a string where a list is expected, an item that is no object, an id that is
no string): every command says so in one line naming the URL and the field, exit 1, never an
'unexpected error: AttributeError' nor a table of nonsense."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.cli_support import FakeBridge, Listen, cli_env, one_error_line, run
from tests.test_client_depth import stand_in

SECRET = {"id": "s1", "value": "a-secret-value"}
# What a bridge answers for an endpoint, each case below spoiling one field of it.
GOOD = {
    "id": "demo",
    "provider": "github",
    "verified": True,
    "description": "",
    "url": "http://127.0.0.1:8000/hooks/demo",
    "options": {},
    "secrets": [SECRET],
    "created_at": "2026-11-26T03:26:16Z",
    "setup": ["Add a webhook."],
    "events": 0,
}
GH = "gh-octo-hello"  # `register github --repo octo/hello`'s endpoint
DIAGNOSED = "/api/endpoints/demo/rejections"
HISTORY = "/api/endpoints/demo/events"
CHECK = "/api/endpoints/demo/backfill/check"


def rejection(diagnosis: dict[str, Any]) -> dict[str, Any]:
    return {
        "rejections": [{"received_at": "...", "reason": "bad_signature", "diagnosis": diagnosis}]
    }


# (command, {route: answer}, the path the line names, what it says is wrong)
CASES = [
    pytest.param(
        ["endpoints", "list"], {"GET /api/endpoints": {"endpoints": "x"}},
        "/api/endpoints", '"endpoints" not a list', id="list-a-string",
    ),
    pytest.param(
        ["endpoints", "list"], {"GET /api/endpoints": {"endpoints": [None]}},
        "/api/endpoints", '"endpoints[0]" not an object', id="list-a-null-item",
    ),
    pytest.param(
        ["endpoints", "list"], {"GET /api/endpoints": {"endpoints": [{"id": 1}]}},
        "/api/endpoints", '"endpoints[0].id" not a string', id="list-a-number-id",
    ),
    pytest.param(
        ["endpoints", "list"], {"GET /api/endpoints": {"items": []}},
        "/api/endpoints", 'no "endpoints"', id="list-without-endpoints",
    ),
    pytest.param(
        ["endpoints", "show", "demo"], {"GET /api/endpoints/demo": {**GOOD, "secrets": "s1"}},
        "/api/endpoints/demo", '"secrets" not a list', id="show-secrets-a-string",
    ),
    pytest.param(
        ["endpoints", "show", "demo"],
        {"GET /api/endpoints/demo": {**GOOD, "options": ["tolerance"]}},
        "/api/endpoints/demo", '"options" not an object', id="show-options-a-list",
    ),
    pytest.param(
        ["endpoints", "create", "demo", "--provider", "github"],
        {"POST /api/endpoints": {**GOOD, "setup": "Add a webhook."}},
        "/api/endpoints", '"setup" not a list', id="create-setup-a-string",
    ),
    pytest.param(
        ["endpoints", "rotate", "demo"],
        {"POST /api/endpoints/demo/secrets": {"endpoint": GOOD, "secret": "s2"}},
        "/api/endpoints/demo/secrets", '"secret" not an object', id="rotate-secret-a-string",
    ),
    pytest.param(
        ["endpoints", "retire", "demo", "s1"],
        {"DELETE /api/endpoints/demo/secrets/s1": {**GOOD, "secrets": ["s1"]}},
        "/api/endpoints/demo/secrets/s1?grace_seconds=0", '"secrets[0]" not an object',
        id="retire-a-secret-no-object",
    ),
    pytest.param(
        ["rejections", "demo"], {f"GET {DIAGNOSED}": {"rejections": {"a": 1}}},
        DIAGNOSED, '"rejections" not a list', id="rejections-an-object",
    ),
    pytest.param(
        ["rejections", "demo"], {f"GET {DIAGNOSED}": rejection({"secrets_tried": [1]})},
        DIAGNOSED, '"rejections[0].diagnosis.secrets_tried[0]" not a string',
        id="rejections-a-number-secret-id",
    ),
    pytest.param(
        ["rejections", "demo"], {f"GET {DIAGNOSED}": rejection({"first_difference": {}})},
        DIAGNOSED, 'no "rejections[0].diagnosis.first_difference.kind"',
        id="rejections-a-difference-without-kind",
    ),
    pytest.param(
        ["token", "--channel", "demo"], {"POST /api/tokens": {"token": None}},
        "/api/tokens", '"token" not a string', id="token-null",
    ),
    pytest.param(
        ["replay", "demo", "--since", "0", "--to", "http://127.0.0.1:9/app"],
        {
            f"GET {HISTORY}": {"events": [{"id": "1-0", "headers": ["x"]}], "next": None,
                               "recovered": True},
            f"GET {HISTORY}/1-0/raw": {},
        },
        f"{HISTORY}?since=0-0&limit=1000", '"events[0].headers" not an object',
        id="replay-headers-a-list",
    ),
    pytest.param(
        ["replay", "demo", "--since", "0", "--to", "http://127.0.0.1:9/app"],
        {f"GET {HISTORY}": {"events": [], "next": 5, "recovered": True}},
        f"{HISTORY}?since=0-0&limit=1000", '"next" not a string', id="replay-next-a-number",
    ),
    pytest.param(
        ["backfill", "demo", "--since", "1h"],
        {"GET /api/endpoints/demo": {**GOOD, "provider": "stripe"},
         f"POST {CHECK}": {"events": [], "accepts_after": "yesterday"}},
        CHECK, '"accepts_after" not a number', id="backfill-a-limit-in-words",
    ),
    pytest.param(
        ["backfill", "demo", "--since", "1h"],
        {"GET /api/endpoints/demo": {**GOOD, "provider": "stripe"},
         f"POST {CHECK}": {"events": [], "accepts_after": True}},
        CHECK, '"accepts_after" not a number', id="backfill-a-limit-true",
    ),
    pytest.param(
        ["backfill", "demo", "--since", "1h"],
        {"GET /api/endpoints/demo": {**GOOD, "provider": "stripe"},
         f"POST {CHECK}": {"events": [{"event_id": "evt_1"}], "accepts_after": 0}},
        CHECK, 'no "events[0].duplicate"', id="backfill-a-check-without-duplicate",
    ),
    pytest.param(
        ["register", "github", "--repo", "octo/hello"],
        {"POST /api/endpoints": {**GOOD, "id": GH, "secrets": []}},
        "/api/endpoints", '"secrets" empty', id="register-a-new-endpoint-without-secret",
    ),
    pytest.param(
        ["register", "github", "--repo", "octo/hello"],
        {f"GET /api/endpoints/{GH}": {**GOOD, "id": GH},
         f"POST /api/endpoints/{GH}/secrets": {"endpoint": GOOD, "secret": {"id": "s2"}}},
        f"/api/endpoints/{GH}/secrets", 'no "secret.value"', id="register-a-secret-without-value",
    ),
    pytest.param(
        ["register", "stripe"], {"GET /api/openapi.json": {"servers": "x"}},
        "/api/openapi.json", '"servers" not a list', id="register-servers-a-string",
    ),
]  # fmt: skip


@pytest.fixture
def fake_bridge() -> Iterator[Callable[[Mapping[str, Any]], FakeBridge]]:
    """Start FakeBridge servers; all are closed after the test."""
    started: list[FakeBridge] = []

    def start(answers: Mapping[str, Any]) -> FakeBridge:
        started.append(FakeBridge(answers))
        return started[-1]

    yield start
    for server in started:
        server.close()


@pytest.mark.parametrize(("args", "answers", "path", "wrong"), CASES)
def test_an_answer_of_the_wrong_shape_is_one_line_naming_the_field(
    fake_bridge: Callable[[Mapping[str, Any]], FakeBridge],
    tmp_path: Path,
    args: list[str],
    answers: dict[str, Any],
    path: str,
    wrong: str,
) -> None:
    """A 200 whose object holds a field of the wrong type, or lacks one the command reads,
    exits 1 with one line naming the URL and that field, before anything is printed."""
    server = fake_bridge(answers)
    credentials = {"GITHUB_TOKEN": "ghp_test", "STRIPE_API_KEY": "sk_test_x"}
    if args[0] == "backfill":  # it asks Stripe nothing before the bridge's check
        credentials = {}
    env = cli_env(BRIDGE_DATA_DIR=str(tmp_path), **credentials)
    result = run(*args, "--server", server.url, env=env)
    assert one_error_line(result) == (
        f"bridge: {server.url}{path} answered 200 with {wrong}: is that a bridge?"
    )
    assert result.stdout == ""


def frame(kind: str, channel: Any, **fields: Any) -> str:
    return json.dumps({"type": kind, "channel": channel, **fields})


@pytest.mark.parametrize(
    ("sent", "wrong"),
    [
        pytest.param(
            frame("event", "CHANNEL", event={"id": "1-0", "headers": ["x"]}),
            "'event' frame with \"event.headers\" not an object",
            id="event-headers-a-list",
        ),
        pytest.param(
            frame("unsubscribed", ["CHANNEL"], reason="deleted"),
            "'unsubscribed' frame with \"channel\" not a string",
            id="unsubscribed-channel-a-list",
        ),
    ],
)
def test_a_frame_of_the_wrong_shape_stops_listen_with_one_line(
    listen: Listen, tmp_path: Path, sent: str, wrong: str
) -> None:
    """`listen --forward-to` given a frame whose field is of the wrong type exits 1 with one
    line saying it could not parse that frame and which field, forwarding nothing."""
    server = stand_in([sent])
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        app = "http://127.0.0.1:9/app"
        checkpoint = str(tmp_path / "cp.json")
        listener = listen(
            "orders", "--forward-to", app, "--checkpoint", checkpoint, "--server", url
        )
        assert listener.finish() == 1
    finally:
        server.shutdown()
        server.server_close()
    assert listener.out == []
    errors = [line for line in listener.err if not line.startswith("bridge: listening to")]
    assert len(errors) == 1, listener.err
    assert errors[0].startswith(
        f"bridge: this client could not parse a frame from {url} ({wrong}); stopped rather"
    )
