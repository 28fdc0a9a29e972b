"""`bridge backfill` and `bridge register list|delete` against the local stand-in of GitHub's and
Stripe's REST APIs (tests/test_cli_register.py), with a real bridge: pages, events already
present, dry runs, an interrupted run resumed, provider refusals, and the stored envelope."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.providers import get as provider
from tests.cli_support import cli_env, events, one_error_line, run
from tests.support import BridgeProcess
from tests.test_cli_register import (
    GITHUB_TOKEN,
    REPO,
    STRIPE_KEY,
    Provider,
    StandIn,
    serve_stand_in,
)

STRIPE_SECRET = "whsec_backfill_test_0123456789"
COUNT = 130  # more than one page of 100
RECENT = int(time.time()) - 3600  # inside the dedup window


@pytest.fixture
def provider_api() -> Iterator[StandIn]:
    """The stand-in of tests/test_cli_register.py, with its events and deliveries."""
    yield from serve_stand_in()


def env(data_dir: Path, stand: StandIn, **extra: str) -> dict[str, str]:
    settings = {
        "BRIDGE_DATA_DIR": str(data_dir),
        "STRIPE_API_KEY": STRIPE_KEY,
        "STRIPE_API_BASE": stand.url,
        "GITHUB_TOKEN": GITHUB_TOKEN,
        "GITHUB_API_URL": stand.url,
    }
    return cli_env(**{**settings, **extra})


def stripe_event(n: int, created: float) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(created),
        "type": "invoice.paid" if n % 2 else "customer.created",
        "livemode": False,
        "data": {"object": {"id": f"in_{n}", "n": n, "email": f"user{n}@example.com"}},
    }


def stripe_endpoint(bridge: BridgeProcess, uid: str, stand: StandIn) -> list[dict[str, Any]]:
    """A stripe endpoint masking data.object.email; COUNT events in the last hour, one
    older; the list of the window's events."""
    answer = bridge.api(
        "POST",
        "/api/endpoints",
        json={
            "id": uid,
            "provider": "stripe",
            "secret": STRIPE_SECRET,
            "options": {"mask": ["data.object.email"]},
        },
    )
    assert answer.status_code == 201, answer.text
    now = time.time()
    window = [stripe_event(n, now - 60 - n * 10) for n in range(COUNT)]
    stand.state.stripe_events = [*window, stripe_event(999, now - 7200)]
    return window


def deliver_stripe_live(bridge: BridgeProcess, uid: str, event: dict[str, Any]) -> None:
    body = json.dumps(event, indent=2).encode()
    headers = provider("stripe").sign(body, STRIPE_SECRET, now=time.time())
    headers["Content-Type"] = "application/json"
    answer = requests.post(f"{bridge.url}/hooks/{uid}", data=body, headers=headers, timeout=10)
    assert answer.status_code == 202, answer.text


def error_line(result: Any) -> str:
    """Exit 1 with one `bridge: ...` line on stderr (after the progress bar's lines, if any)."""
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    (line,) = [x for x in result.stderr.splitlines() if not x.startswith("backfill ")]
    assert line.startswith("bridge: ")
    return str(line)


def backfill(bridge: BridgeProcess, data_dir: Path, stand: StandIn, *args: str) -> Any:
    return run("backfill", *args, "--server", bridge.url, env=env(data_dir, stand))


def test_stripe_backfill_pages_and_skips_what_the_bridge_has(
    bridge: BridgeProcess, uid: str, provider_api: StandIn, tmp_path: Path
) -> None:
    """Two pages of Stripe events: the two delivered live are reported present and kept
    once, the others are stored once each, with source backfill and the endpoint's mask."""
    window = stripe_endpoint(bridge, uid, provider_api)
    deliver_stripe_live(bridge, uid, window[3])
    deliver_stripe_live(bridge, uid, window[110])
    result = backfill(bridge, tmp_path, provider_api, uid, "--since", "1h", "--json")
    assert result.returncode == 0, result
    summary = json.loads(result.stdout)
    assert (summary["listed"], summary["added"], summary["present"]) == (COUNT, COUNT - 2, 2)
    pages = [r for r in provider_api.state.requests if r.get("path") == "/v1/events"]
    assert len(pages) == 2
    assert pages[1]["args"]["starting_after"] == window[99]["id"]
    stored = events(bridge, uid)
    assert sorted(e["event_id"] for e in stored) == sorted(e["id"] for e in window)
    live = [e for e in stored if e["source"] == "webhook"]
    assert {e["event_id"] for e in live} == {window[3]["id"], window[110]["id"]}
    filled = next(e for e in stored if e["event_id"] == window[5]["id"])
    assert filled["source"] == "backfill"
    assert filled["verified"] is True
    assert filled["verification"] == {"scheme": "provider_api", "secret_id": None}
    assert filled["event_type"] == "invoice.paid"
    assert filled["body"]["data"]["object"] == {"id": "in_5", "n": 5, "email": "***"}
    assert filled["trace"]
    raw = bridge.api("GET", f"/api/endpoints/{uid}/events/{filled['id']}/raw").content
    assert json.loads(raw) == window[5]  # the bytes are Stripe's event JSON, unmasked
    again = backfill(bridge, tmp_path, provider_api, uid, "--since", "1h")
    assert f"0 added, {COUNT} already present" in again.stdout
    assert len(events(bridge, uid)) == COUNT


def test_dry_run_lists_and_stores_nothing(
    bridge: BridgeProcess, uid: str, provider_api: StandIn, tmp_path: Path
) -> None:
    """--dry-run marks the event the bridge has as present, the rest as would-add, and
    stores nothing."""
    window = stripe_endpoint(bridge, uid, provider_api)
    deliver_stripe_live(bridge, uid, window[0])
    result = backfill(bridge, tmp_path, provider_api, uid, "--since", "1h", "--dry-run")
    assert result.returncode == 0, result
    assert f"{window[0]['id']}  customer.created" in result.stdout
    assert result.stdout.count("would add") == COUNT - 1
    assert result.stdout.count("  present") == 1
    assert f"Would add {COUNT - 1} of the {COUNT} events" in result.stdout
    assert len(events(bridge, uid)) == 1
    assert not (tmp_path / f"backfill-{uid}.json").exists()


def test_interrupted_backfill_resumes_from_its_last_page(
    bridge: BridgeProcess, uid: str, provider_api: StandIn, tmp_path: Path
) -> None:
    """Stripe failing (500) on the second page stops the run with one line, the first page
    stays stored; the same command then continues from the second page, storing each once."""
    window = stripe_endpoint(bridge, uid, provider_api)
    provider_api.state.failures = {"/v1/events": 500}
    provider_api.state.fail_after = 1
    line = error_line(backfill(bridge, tmp_path, provider_api, uid, "--since", "1h"))
    assert "Stripe refused to list events (HTTP 500)" in line
    assert "100 events were stored before this; run the same command again to resume" in line
    assert len(events(bridge, uid)) == 100
    assert (tmp_path / f"backfill-{uid}.json").exists()

    provider_api.state.failures = {}
    provider_api.state.requests.clear()
    result = backfill(bridge, tmp_path, provider_api, uid, "--since", "1h")
    assert result.returncode == 0, result
    assert "resuming the interrupted backfill" in result.stderr
    (page,) = [r for r in provider_api.state.requests if r.get("path") == "/v1/events"]
    assert page["args"]["starting_after"] == window[99]["id"]
    assert f"{COUNT - 100} added" in result.stdout
    stored = events(bridge, uid)
    assert sorted(e["event_id"] for e in stored) == sorted(e["id"] for e in window)
    assert not (tmp_path / f"backfill-{uid}.json").exists()


def test_provider_refusal_is_one_line_and_stores_nothing(
    bridge: BridgeProcess, uid: str, provider_api: StandIn, tmp_path: Path
) -> None:
    """A wrong Stripe key (401) is one line naming STRIPE_API_KEY, exit 1, nothing stored."""
    stripe_endpoint(bridge, uid, provider_api)
    result = run(
        "backfill",
        uid,
        "--since",
        "1h",
        "--server",
        bridge.url,
        env=env(tmp_path, provider_api, STRIPE_API_KEY="sk_test_wrong"),
    )
    line = one_error_line(result)
    assert "Stripe refused to list events (HTTP 401): Invalid API Key" in line
    assert "(check STRIPE_API_KEY)" in line
    assert events(bridge, uid) == []


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("yesterday", "expected a time like 2026-11-26T03:00:00Z or a duration"),
        ("2x", "or a duration back from now like 30m, 2h, 1d; got '2x'"),
        ("0h", "got '0h'"),
        ("2999-01-01T00:00:00Z", "--since 2999-01-01T00:00:00Z is in the future"),
    ],
)
def test_bad_since_is_a_usage_error(
    bridge: BridgeProcess,
    uid: str,
    provider_api: StandIn,
    tmp_path: Path,
    since: str,
    expected: str,
) -> None:
    """A --since that is not a time, or is in the future, exits 2 saying what is wrong."""
    result = backfill(bridge, tmp_path, provider_api, uid, "--since", since)
    assert result.returncode == 2, result
    assert expected in result.stderr
    assert provider_api.state.requests == []


@pytest.mark.parametrize("dry_run", [(), ("--dry-run",)])
def test_a_window_older_than_the_dedup_window_is_refused_before_listing(
    bridge: BridgeProcess, uid: str, provider_api: StandIn, tmp_path: Path, dry_run: tuple[str]
) -> None:
    """A --since before the bridge's dedup window (which it asks the bridge for) exits 2
    naming the oldest time it takes, dry run or not, before the provider is asked for
    anything and with nothing stored."""
    stripe_endpoint(bridge, uid, provider_api)
    result = backfill(bridge, tmp_path, provider_api, uid, "--since", "4d", *dry_run)
    assert result.returncode == 2, result
    assert "the bridge remembers event ids for BRIDGE_DEDUP_TTL only" in result.stderr
    assert "give a --since after 20" in result.stderr
    assert re.search(r"starts at \S+, not after \S+:", result.stderr), result.stderr
    assert provider_api.state.requests == []
    assert events(bridge, uid) == []


def test_a_window_exactly_the_dedup_window_is_refused_with_a_duration_that_fits(
    bridge: BridgeProcess, uid: str, provider_api: StandIn, tmp_path: Path
) -> None:
    """--since 3d against the default 72 h is refused naming the window in hours and a
    duration that fits, not two times that read the same."""
    stripe_endpoint(bridge, uid, provider_api)
    result = backfill(bridge, tmp_path, provider_api, uid, "--since", "3d", "--dry-run")
    assert result.returncode == 2, result
    assert "BRIDGE_DEDUP_TTL only (72 h)" in result.stderr
    assert "(--since 71h fits)" in result.stderr
    assert not re.search(r"at (\S+), not after \1:", result.stderr), result.stderr
    assert provider_api.state.requests == []


def github_deliveries(hook_id: str, now: float) -> list[dict[str, Any]]:
    """COUNT deliveries in the last hour (one a redelivery of another), then two older."""
    listed = []
    for n in range(COUNT + 2):
        guid = str(uuid.uuid4())
        at = now - 60 - n * 10 if n < COUNT else now - 7200 - n
        payload = {"action": "opened", "number": n}
        listed.append(
            {
                "id": 90_000_000 + n,
                "guid": guid,
                "delivered_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
                "redelivery": False,
                "duration": 0.27,
                "status": "Connection refused",
                "status_code": 0,
                "event": "pull_request",
                "action": "opened",
                "installation_id": None,
                "repository_id": 1296269,
                "url": "",
                "request": {
                    "headers": {
                        "X-GitHub-Delivery": guid,
                        "X-GitHub-Event": "pull_request",
                        "X-Hub-Signature-256": "sha256=00",
                        "Accept": "*/*",
                        "Content-Type": "application/json",
                    },
                    "payload": payload,
                },
                "response": {"headers": {}, "payload": None},
            }
        )
    redelivered = {**listed[7], "id": 91_000_000, "redelivery": True}
    return [*listed[:5], redelivered, *listed[5:]]


def test_github_backfill_from_the_registered_hook_and_register_list_delete(
    bridge: BridgeProcess, uid: str, provider_api: StandIn, tmp_path: Path
) -> None:
    """The hook `bridge register github` made is found by endpoint; its deliveries (two
    pages, a redelivery counted once, older ones left out) are stored with GitHub's event
    id and type; `register list` shows the hook and `register delete` removes it."""
    made = run(
        "register",
        "github",
        "--repo",
        REPO,
        "--endpoint",
        uid,
        "--server",
        bridge.url,
        env=env(tmp_path, provider_api),
    )
    assert made.returncode == 0, made
    (hook,) = provider_api.state.hooks[REPO]
    hook_id = str(hook["id"])
    deliveries = github_deliveries(hook_id, time.time())
    provider_api.state.deliveries[hook_id] = deliveries
    result = backfill(bridge, tmp_path, provider_api, uid, "--since", "1h", "--json")
    assert result.returncode == 0, result
    assert json.loads(result.stdout)["added"] == COUNT
    stored = events(bridge, uid)
    expected = {d["guid"] for d in deliveries[:-2]}
    assert sorted(e["event_id"] for e in stored) == sorted(expected)
    one = stored[0]
    assert one["event_type"] == "pull_request.opened"
    assert one["headers"]["x-github-event"] == "pull_request"
    assert "x-hub-signature-256" not in one["headers"]
    assert one["verification"]["scheme"] == "provider_api"
    assert one["source"] == "backfill"

    listed = json.loads(run("register", "list", "--json", env=env(tmp_path, provider_api)).stdout)
    (entry,) = listed["hooks"]
    assert (entry["id"], entry["repo"], entry["endpoint"]) == (hook_id, REPO, uid)
    assert entry["status"] == "active"
    deleted = run("register", "delete", hook_id, env=env(tmp_path, provider_api))
    assert deleted.returncode == 0, deleted
    assert f"Deleted GitHub webhook {hook_id} on {REPO}" in deleted.stdout
    assert provider_api.state.hooks[REPO] == []
    empty = run("register", "list", env=env(tmp_path, provider_api))
    assert "No hooks made by `bridge register`" in empty.stdout
    line = one_error_line(run("register", "delete", hook_id, env=env(tmp_path, provider_api)))
    assert f"no hook {hook_id} made by `bridge register` is recorded" in line


def test_github_backfill_needs_a_hook(
    bridge: BridgeProcess, uid: str, provider_api: StandIn, tmp_path: Path
) -> None:
    """A github endpoint with no recorded hook and no --hook-id is one line saying what to
    give."""
    bridge.create_endpoint(uid, "github", "github-secret-0123456789")
    line = one_error_line(backfill(bridge, tmp_path, provider_api, uid, "--since", "1d"))
    assert "give --repo OWNER/NAME and --hook-id ID" in line


def test_register_list_shows_stripe_state(
    bridge: BridgeProcess, uid: str, provider_api: StandIn, tmp_path: Path
) -> None:
    """A Stripe webhook endpoint that register made is listed as enabled, then as gone once
    Stripe no longer has it."""
    made = run(
        "register",
        "stripe",
        "--endpoint",
        uid,
        "--server",
        bridge.url,
        env=env(tmp_path, provider_api),
    )
    assert made.returncode == 0, made
    (we,) = provider_api.state.stripe_endpoints
    text = run("register", "list", env=env(tmp_path, provider_api)).stdout
    assert f"{we}  Stripe  -> {uid} on {bridge.url}  [*]  enabled" in text
    provider_api.state.stripe_endpoints.clear()
    assert (
        text.replace("enabled", "gone")
        in run("register", "list", env=env(tmp_path, provider_api)).stdout
    )


# -- the route, through the test client -------------------------------------------------------


def test_backfill_route_refuses_events_older_than_the_dedup_window(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """An event older than BRIDGE_DEDUP_TTL (whose live copy's dedup key may be gone) is a
    400 naming the setting, and nothing is stored."""
    created = client.post(
        "/api/endpoints",
        headers=auth,
        json={"id": uid, "provider": "stripe", "secret": STRIPE_SECRET},
    )
    assert created.status_code == 201
    old = time.time() - Settings().dedup_ttl - 60
    item = {"event_id": "evt_old", "body": "{}", "received_at": old}
    answer = client.post(f"/api/endpoints/{uid}/backfill", headers=auth, json={"events": [item]})
    assert answer.status_code == 400, answer.text
    assert answer.json is not None
    assert answer.json["field"] == "events[0].received_at"
    assert "BRIDGE_DEDUP_TTL" in answer.json["message"]
    history = client.get(f"/api/endpoints/{uid}/events", headers=auth)
    assert history.json is not None
    assert history.json["events"] == []


@pytest.mark.parametrize(
    ("events_json", "field"),
    [
        ([{"event_id": f"e{n}", "body": "{}"} for n in range(101)], "events"),
        ([{"event_id": "e1", "body": "{}", "body_base64": "e30="}], "events[0]"),
        ([{"event_id": "e1"}], "events[0]"),
        ([{"event_id": "e 1", "body": "{}"}], "events[0].event_id"),
        ([{"event_id": "e1", "body_base64": "e30"}], "events[0].body_base64"),
        (
            [{"event_id": "e1", "body": "{}", "headers": [{"name": "a b", "value": "x"}]}],
            "events[0].headers[0].name",
        ),
        (
            [{"event_id": "e1", "body": "{}", "headers": [{"name": "a", "value": "x\n"}]}],
            "events[0].headers[0].value",
        ),
        (
            [
                {"event_id": "e1", "body": "{}"},
                {"event_id": "e2", "body": "{}", "received_at": True},
            ],
            "events[1].received_at",
        ),
    ],
)
def test_backfill_route_refuses_bad_items_and_stores_none(
    client: FlaskClient, auth: dict[str, str], uid: str, events_json: Any, field: str
) -> None:
    """Every item is checked first: one bad item is a 400 naming it and nothing is stored."""
    created = client.post(
        "/api/endpoints",
        headers=auth,
        json={"id": uid, "provider": "stripe", "secret": STRIPE_SECRET},
    )
    assert created.status_code == 201
    body = {"events": events_json}
    answer = client.post(f"/api/endpoints/{uid}/backfill", headers=auth, json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json is not None
    assert answer.json["field"] == field
    history = client.get(f"/api/endpoints/{uid}/events", headers=auth)
    assert history.json is not None
    assert history.json["events"] == []


def test_backfill_route_stores_once_and_check_reports_it(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """The same event id twice is stored once; /check then names its cursor, and null for
    an id the bridge does not have."""
    client.post(
        "/api/endpoints",
        headers=auth,
        json={"id": uid, "provider": "stripe", "secret": STRIPE_SECRET},
    )
    item = {
        "event_id": "evt_1",
        "event_type": "invoice.paid",
        "body_base64": "/w==",
        "received_at": RECENT,
        "headers": [{"name": "Authorization", "value": "x"}],
    }
    answer = client.post(
        f"/api/endpoints/{uid}/backfill", headers=auth, json={"events": [item, item]}
    )
    assert answer.json is not None
    first, second = answer.json["events"]
    assert first["duplicate"] is False
    assert second == {"event_id": "evt_1", "id": first["id"], "duplicate": True}
    check = client.post(
        f"/api/endpoints/{uid}/backfill/check", headers=auth, json={"event_ids": ["evt_1", "evt_2"]}
    )
    absent = {"event_id": "evt_2", "id": None, "duplicate": False}
    assert check.json is not None
    assert check.json["events"] == [second, absent]
    oldest = time.time() - Settings().dedup_ttl
    assert oldest - 60 < check.json["accepts_after"] <= oldest
    history = client.get(f"/api/endpoints/{uid}/events", headers=auth)
    assert history.json is not None
    (stored,) = history.json["events"]
    assert stored["received_at"] == datetime.fromtimestamp(RECENT, UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )
    assert stored["body_base64"] == "/w=="
    assert stored["headers"] == {"authorization": "***"}


class _Hostile(BaseHTTPRequestHandler):
    """An API base that answers every request with the class's `status` and `body`."""

    status = 200
    body = b""

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b'{"error": {"message": "\\u001b]0;owned\\u0007\\u001b[2Jboom"}}'),
        (200, b"[" * 100_000 + b"]" * 100_000),
    ],
    ids=["terminal escapes in its error", "JSON nested 100,000 deep"],
)
def test_a_hostile_provider_api_answer_is_one_plain_line(
    bridge: BridgeProcess, uid: str, tmp_path: Path, status: int, body: bytes
) -> None:
    """An API base (--api-base, STRIPE_API_BASE) whose answer holds terminal escapes or JSON
    nested past any parser's stack is one `bridge:` line with every control character
    escaped: it was the escapes written to the terminal, or 'unexpected error:
    RecursionError'."""
    stripe_endpoint(bridge, uid, StandIn("http://unused", Provider()))
    handler = type("Answer", (_Hostile,), {"status": status, "body": body})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env_ = env(tmp_path, StandIn(f"http://127.0.0.1:{server.server_port}", Provider()))
        result = run("backfill", uid, "--since", "1h", "--server", bridge.url, env=env_)
    finally:
        server.shutdown()
        server.server_close()
    line = error_line(result)
    assert "unexpected error" not in line
    assert "\x1b" not in result.stderr
    assert "\x07" not in result.stderr


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"event_id": "evt_m1", "body": "{}", "recieved_at": 1}, "events[0].recieved_at"),
        ({"event_id": "evt_m2", "body": "{}", "eventType": "invoice.paid"}, "events[0].eventType"),
        (
            {"event_id": "evt_m3", "body": "{}", "headers": [{"name": "a", "value": "b", "x": 1}]},
            "events[0].headers[0].x",
        ),
    ],
)
def test_a_misspelt_field_of_a_backfilled_event_is_refused_by_name(
    client: FlaskClient, auth: dict[str, str], uid: str, item: dict[str, Any], field: str
) -> None:
    """A backfill item or header with a field it does not take is 400 naming it (a dropped
    `recieved_at` stored the event as received now), and nothing is stored."""
    created = client.post(
        "/api/endpoints",
        headers=auth,
        json={"id": uid, "provider": "stripe", "secret": STRIPE_SECRET},
    )
    assert created.status_code == 201
    answer = client.post(f"/api/endpoints/{uid}/backfill", headers=auth, json={"events": [item]})
    assert answer.status_code == 400, answer.text
    assert answer.json is not None
    assert answer.json["field"] == field
    assert "not a field of" in answer.json["message"]
    listed = client.get(f"/api/endpoints/{uid}/events", headers=auth).json
    assert listed is not None
    assert listed["events"] == []
