"""`bridge register github|stripe` against a local stand-in of GitHub's and Stripe's REST APIs
that follows their documented request and answer shapes, error answers included; the
secret that reached the provider is proven to be the one the bridge verifies with."""

from __future__ import annotations

import base64
import itertools
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

from bridge.providers import get as provider
from tests.cli_support import as_json, cli_env, ok, one_error_line, run
from tests.support import BridgeProcess

GITHUB_TOKEN = "ghp_standin_token_0123456789"
STRIPE_KEY = "sk_test_standin_0123456789"
REPO = "octo-org/Hello.World"
DOCS = "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook"


@dataclass
class Provider:
    """The stand-in's memory: the repositories it knows, the hooks and endpoints made."""

    repos: set[str] = field(default_factory=lambda: {REPO})
    hooks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    stripe_endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    stripe_secret: str | None = None  # None: a fresh whsec_ per endpoint, as Stripe does
    # For `bridge backfill`: the account's events (any order) and each hook's deliveries
    # (newest first, as GitHub lists them), and scripted failures: path prefix -> status,
    # answered to the n-th request onwards (`fail_after` requests to it pass first).
    stripe_events: list[dict[str, Any]] = field(default_factory=list)
    deliveries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    fail_after: int = 0
    seen: dict[str, int] = field(default_factory=dict)


def github_error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"message": message, "documentation_url": DOCS, "status": str(status),
                    **extra}), status  # fmt: skip


def stripe_error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    body = {"error": {"message": message, "type": "invalid_request_error", **extra}}
    return jsonify(body), status


def stand_in(state: Provider) -> Flask:
    app = Flask("provider-stand-in")
    ids = itertools.count(500_000_001)

    @app.post("/repos/<owner>/<repo>/hooks")
    def create_hook(owner: str, repo: str) -> tuple[Response, int]:
        state.requests.append({"headers": dict(request.headers), "json": request.get_json()})
        if request.headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
            return github_error(401, "Bad credentials")
        name = f"{owner}/{repo}"
        if name not in state.repos:
            return github_error(404, "Not Found")
        body = request.get_json(silent=True) or {}
        config = body.get("config") or {}
        if body.get("name") != "web" or not config.get("url"):
            return github_error(422, "Validation Failed", errors=[
                {"resource": "Hook", "code": "missing_field", "field": "url"}])  # fmt: skip
        existing = state.hooks.setdefault(name, [])
        if any(h["config"]["url"] == config["url"] for h in existing):
            return github_error(422, "Validation Failed", errors=[
                {"resource": "Hook", "code": "custom",
                 "message": "Hook already exists on this repository"}])  # fmt: skip
        hook_id = next(ids)
        hook = {
            "type": "Repository",
            "id": hook_id,
            "name": "web",
            "active": body.get("active", True),
            "events": body.get("events") or ["push"],
            "config": {**config, "secret": "********"},
            "updated_at": "2026-11-26T03:26:16Z",
            "created_at": "2026-11-26T03:26:16Z",
            "url": f"https://api.github.com/repos/{name}/hooks/{hook_id}",
            "test_url": f"https://api.github.com/repos/{name}/hooks/{hook_id}/test",
            "ping_url": f"https://api.github.com/repos/{name}/hooks/{hook_id}/pings",
            "deliveries_url": f"https://api.github.com/repos/{name}/hooks/{hook_id}/deliveries",
            "last_response": {"code": None, "status": "unused", "message": None},
        }
        existing.append({**hook, "config": dict(config)})  # the stand-in keeps the secret
        return jsonify(hook), 201

    def stripe_key() -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header.removeprefix("Bearer ")
        if header.startswith("Basic "):
            return base64.b64decode(header.removeprefix("Basic ")).decode().rstrip(":")
        return None

    @app.post("/v1/webhook_endpoints")
    def create_endpoint() -> tuple[Response, int]:
        state.requests.append(
            {"headers": dict(request.headers), "form": request.form.to_dict(flat=False)}
        )
        if stripe_key() != STRIPE_KEY:
            return stripe_error(401, f"Invalid API Key provided: {str(stripe_key())[:8]}****")
        events = request.form.getlist("enabled_events[]")
        if not request.form.get("url"):
            return stripe_error(400, "Missing required param: url.", param="url",
                                code="parameter_missing")  # fmt: skip
        if not events:
            return stripe_error(400, "Missing required param: enabled_events.",
                                param="enabled_events", code="parameter_missing")  # fmt: skip
        endpoint_id = "we_" + secrets.token_hex(12)
        endpoint: dict[str, Any] = {
            "id": endpoint_id,
            "object": "webhook_endpoint",
            "api_version": None,
            "application": None,
            "created": int(time.time()),
            "description": request.form.get("description"),
            "enabled_events": events,
            "livemode": False,
            "metadata": {},
            "secret": state.stripe_secret or "whsec_" + secrets.token_urlsafe(24),
            "status": "enabled",
            "url": request.form["url"],
        }
        state.stripe_endpoints[endpoint_id] = endpoint
        return jsonify(endpoint), 200

    @app.delete("/v1/webhook_endpoints/<endpoint_id>")
    def delete_endpoint(endpoint_id: str) -> tuple[Response, int]:
        if stripe_key() != STRIPE_KEY:
            return stripe_error(401, "Invalid API Key provided")
        if state.stripe_endpoints.pop(endpoint_id, None) is None:
            return stripe_error(404, f"No such webhook endpoint: '{endpoint_id}'",
                                code="resource_missing")  # fmt: skip
        state.deleted.append(endpoint_id)
        return jsonify({"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}), 200

    @app.before_request
    def scripted_failure() -> tuple[Response, int] | None:
        for prefix, status in state.failures.items():
            if request.path.startswith(prefix):
                state.seen[prefix] = state.seen.get(prefix, 0) + 1
                if state.seen[prefix] > state.fail_after:
                    if prefix.startswith("/v1/"):
                        return stripe_error(status, "Something went wrong on Stripe's end.")
                    return github_error(status, "Server Error")
        return None

    def find_hook(owner: str, repo: str, hook_id: str) -> dict[str, Any] | None:
        hooks = state.hooks.get(f"{owner}/{repo}", [])
        return next((h for h in hooks if str(h["id"]) == hook_id), None)

    @app.get("/repos/<owner>/<repo>/hooks/<hook_id>")
    def show_hook(owner: str, repo: str, hook_id: str) -> tuple[Response, int]:
        if request.headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
            return github_error(401, "Bad credentials")
        hook = find_hook(owner, repo, hook_id)
        if hook is None:
            return github_error(404, "Not Found")
        return jsonify({**hook, "config": {**hook["config"], "secret": "********"}}), 200

    @app.delete("/repos/<owner>/<repo>/hooks/<hook_id>")
    def delete_hook(owner: str, repo: str, hook_id: str) -> tuple[Response | str, int]:
        if request.headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
            return github_error(401, "Bad credentials")
        hook = find_hook(owner, repo, hook_id)
        if hook is None:
            return github_error(404, "Not Found")
        state.hooks[f"{owner}/{repo}"].remove(hook)
        state.deleted.append(hook_id)
        return "", 204

    @app.get("/repos/<owner>/<repo>/hooks/<hook_id>/deliveries")
    def list_deliveries(owner: str, repo: str, hook_id: str) -> tuple[Response, int]:
        state.requests.append({"path": request.path, "args": request.args.to_dict()})
        if request.headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
            return github_error(401, "Bad credentials")
        if find_hook(owner, repo, hook_id) is None:
            return github_error(404, "Not Found")
        listed = state.deliveries.get(hook_id, [])
        start = int(request.args.get("cursor") or 0)
        size = min(int(request.args.get("per_page") or 30), 100)
        page = [
            {k: v for k, v in d.items() if k != "request"} for d in listed[start : start + size]
        ]
        answer = jsonify(page)
        if start + size < len(listed):
            following = f"{request.base_url}?per_page={size}&cursor={start + size}"
            answer.headers["Link"] = f'<{following}>; rel="next"'
        return answer, 200

    @app.get("/repos/<owner>/<repo>/hooks/<hook_id>/deliveries/<delivery_id>")
    def show_delivery(
        owner: str, repo: str, hook_id: str, delivery_id: str
    ) -> tuple[Response, int]:
        if request.headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
            return github_error(401, "Bad credentials")
        found = [d for d in state.deliveries.get(hook_id, []) if str(d["id"]) == delivery_id]
        if not found:
            return github_error(404, "Not Found")
        return jsonify(found[0]), 200

    @app.get("/v1/webhook_endpoints/<endpoint_id>")
    def show_endpoint(endpoint_id: str) -> tuple[Response, int]:
        if stripe_key() != STRIPE_KEY:
            return stripe_error(401, "Invalid API Key provided")
        made = state.stripe_endpoints.get(endpoint_id)
        if made is None:
            return stripe_error(404, f"No such webhook endpoint: '{endpoint_id}'")
        return jsonify({k: v for k, v in made.items() if k != "secret"}), 200

    @app.get("/v1/events")
    def list_events() -> tuple[Response, int]:
        state.requests.append({"path": request.path, "args": request.args.to_dict()})
        if stripe_key() != STRIPE_KEY:
            return stripe_error(401, f"Invalid API Key provided: {str(stripe_key())[:8]}****")
        gte = int(request.args.get("created[gte]", 0))
        lte = int(request.args.get("created[lte]", 2**62))
        listed = sorted(state.stripe_events, key=lambda e: -e["created"])
        listed = [e for e in listed if gte <= e["created"] <= lte]
        after = request.args.get("starting_after")
        if after:
            ids = [e["id"] for e in listed]
            if after not in ids:
                return stripe_error(400, f"No such event: '{after}'")
            listed = listed[ids.index(after) + 1 :]
        limit = int(request.args.get("limit", 10))
        page = listed[:limit]
        answer = {"object": "list", "url": "/v1/events", "has_more": len(listed) > limit,
                  "data": page}  # fmt: skip
        return jsonify(answer), 200

    return app


@dataclass
class StandIn:
    url: str
    state: Provider


@pytest.fixture
def provider_api() -> Iterator[StandIn]:
    """GitHub's and Stripe's APIs, as documented, on a free loopback port, in a thread."""
    yield from serve_stand_in()


def serve_stand_in() -> Iterator[StandIn]:
    state = Provider()
    server = make_server("127.0.0.1", 0, stand_in(state), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield StandIn(f"http://127.0.0.1:{server.server_port}", state)
    server.shutdown()
    server.server_close()


def github_env(token: str | None = GITHUB_TOKEN, **extra: str) -> dict[str, str]:
    return cli_env(**({"GITHUB_TOKEN": token} if token else {}), **extra)


def register_github(
    bridge: BridgeProcess, stand: StandIn, *args: str, env: dict[str, str] | None = None
) -> Any:
    return run("register", "github", "--api-base", stand.url, "--server", bridge.url, *args,
               env=github_env() if env is None else env)  # fmt: skip


def endpoint(bridge: BridgeProcess, endpoint_id: str) -> dict[str, Any] | None:
    answer = bridge.api("GET", f"/api/endpoints/{endpoint_id}")
    return answer.json() if answer.status_code == 200 else None


def signed_delivery_lands(
    bridge: BridgeProcess, endpoint_id: str, name: str, secret: str, body: bytes, event: str
) -> None:
    """A delivery signed with `secret` as `name` would sign it is accepted by the bridge."""
    headers = provider(name).sign(body, secret, now=time.time(), event_type=event)
    headers["Content-Type"] = "application/json"
    answer = bridge_post(bridge, endpoint_id, body, headers)
    assert answer == 202


def bridge_post(
    bridge: BridgeProcess, endpoint_id: str, body: bytes, headers: dict[str, str]
) -> int:
    return requests.post(f"{bridge.url}/hooks/{endpoint_id}", data=body, headers=headers,
                         timeout=10).status_code  # fmt: skip


# -- GitHub ----------------------------------------------------------------------------------


def test_register_github_creates_endpoint_and_hook(
    bridge: BridgeProcess, uid: str, provider_api: StandIn
) -> None:
    """The bridge generates the secret, GitHub gets it with the endpoint's URL in the
    documented request, and a delivery GitHub signs with it verifies on the bridge."""
    result = register_github(bridge, provider_api, "--repo", REPO, "--events", "push,pull_request",
                             "--endpoint", uid)  # fmt: skip
    assert result.returncode == 0, result
    created = endpoint(bridge, uid)
    assert created is not None
    assert created["provider"] == "github"
    (call,) = provider_api.state.requests
    assert call["headers"]["Authorization"] == f"Bearer {GITHUB_TOKEN}"
    assert call["headers"]["Accept"] == "application/vnd.github+json"
    assert call["headers"]["X-Github-Api-Version"] == "2022-11-28"
    assert call["json"]["name"] == "web"
    assert call["json"]["events"] == ["push", "pull_request"]
    config = call["json"]["config"]
    assert config["url"] == created["url"] == f"{bridge.url}/hooks/{uid}"
    assert config["content_type"] == "json"
    assert config["secret"] == created["secrets"][-1]["value"]
    assert "Created endpoint" in result.stdout
    assert "Created GitHub webhook 500000001 on octo-org/Hello.World" in result.stdout
    assert "GitHub cannot reach" in result.stderr  # a loopback URL: warned
    signed_delivery_lands(bridge, uid, "github", config["secret"], b'{"zen": "hi"}', "ping")


def test_register_github_default_endpoint_id_and_json(
    bridge: BridgeProcess, uid: str, provider_api: StandIn
) -> None:
    """Without --endpoint the id is gh-<owner>-<name>; GITHUB_API_URL picks the API; --json
    prints the endpoint and GitHub's answer."""
    repo = f"{uid}/Repo.Name"
    provider_api.state.repos.add(repo)
    env = github_env(GITHUB_API_URL=provider_api.url)
    answer = as_json("register", "github", "--repo", repo, "--server", bridge.url, env=env)
    assert answer["endpoint"]["id"] == f"gh-{uid}-repo-name"
    assert answer["github_hook"]["events"] == ["push"]
    assert answer["github_hook"]["config"]["secret"] == "********"
    assert answer["secret_id"] == "s1"


def test_register_github_on_an_existing_endpoint_adds_a_secret(
    bridge: BridgeProcess, uid: str, provider_api: StandIn
) -> None:
    """An existing github endpoint gets one more secret (the old one stays valid); when GitHub
    then refuses (the hook exists: 422), that secret is removed again."""
    bridge.create_endpoint(uid, "github", "old-secret-0123456789")
    assert register_github(bridge, provider_api, "--repo", REPO, "--endpoint", uid).returncode == 0
    after = endpoint(bridge, uid)
    assert after is not None
    assert [s["id"] for s in after["secrets"]] == ["s1", "s2"]
    (hook,) = provider_api.state.hooks[REPO]
    assert hook["config"]["secret"] == after["secrets"][1]["value"]

    again = register_github(bridge, provider_api, "--repo", REPO, "--endpoint", uid)
    line = one_error_line(again)
    assert "GitHub refused to create the webhook on octo-org/Hello.World (HTTP 422)" in line
    assert "Hook already exists on this repository" in line
    assert "the new secret s3 was removed" in line
    final = endpoint(bridge, uid)
    assert final is not None
    assert [s["id"] for s in final["secrets"]] == ["s1", "s2"]


@pytest.mark.parametrize(
    ("token", "repo", "expected"),
    [
        ("ghp_wrong_token_0000", REPO, "(HTTP 401): Bad credentials (check GITHUB_TOKEN)"),
        (GITHUB_TOKEN, "octo-org/missing", "(HTTP 404): Not Found (no such repository"),
    ],
)
def test_register_github_refused_leaves_nothing(
    bridge: BridgeProcess, uid: str, provider_api: StandIn, token: str, repo: str, expected: str
) -> None:
    """GitHub's 401 and 404 are one line each, and the endpoint made for the hook is gone."""
    result = register_github(bridge, provider_api, "--repo", repo, "--endpoint", uid,
                             env=github_env(token))  # fmt: skip
    line = one_error_line(result)
    assert expected in line
    assert f"the new endpoint {uid} was deleted again" in line
    assert endpoint(bridge, uid) is None


def test_register_needs_the_providers_credentials(
    bridge: BridgeProcess, uid: str, provider_api: StandIn
) -> None:
    """No GITHUB_TOKEN or STRIPE_API_KEY, or a malformed API URL: one line naming it."""
    line = one_error_line(
        register_github(bridge, provider_api, "--repo", REPO, env=github_env(None))
    )
    assert line.startswith("bridge: GITHUB_TOKEN is not set")
    line = one_error_line(run("register", "stripe", "--server", bridge.url))
    assert line.startswith("bridge: STRIPE_API_KEY is not set")
    line = one_error_line(run("register", "github", "--repo", REPO,
                              env=github_env(GITHUB_API_URL="api.github.com")))  # fmt: skip
    assert line.startswith("bridge: GITHUB_API_URL: expected an http(s):// URL")
    bridge.create_endpoint(uid, "razorpay", "razorpay-secret-0123")
    line = one_error_line(register_github(bridge, provider_api, "--repo", REPO, "--endpoint", uid))
    assert f"endpoint {uid} is a razorpay endpoint, not github" in line
    assert provider_api.state.requests == []


# -- Stripe ----------------------------------------------------------------------------------


def register_stripe(
    bridge: BridgeProcess, stand: StandIn, *args: str, key: str = STRIPE_KEY
) -> Any:
    return run("register", "stripe", "--server", bridge.url, *args,
               env=cli_env(STRIPE_API_KEY=key, STRIPE_API_BASE=stand.url))  # fmt: skip


def test_register_stripe_stores_stripes_secret(
    bridge: BridgeProcess, uid: str, provider_api: StandIn
) -> None:
    """Stripe is asked (form-encoded, enabled_events[]) for an endpoint at the bridge URL; its
    whsec_ secret is stored on a new stripe endpoint, and Stripe-signed events verify."""
    result = register_stripe(bridge, provider_api, "--endpoint", uid,
                             "--events", "payment_intent.succeeded,invoice.paid")  # fmt: skip
    assert result.returncode == 0, result
    (call,) = provider_api.state.requests
    assert call["headers"]["Authorization"] == f"Bearer {STRIPE_KEY}"
    assert call["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert call["form"]["url"] == [f"{bridge.url}/hooks/{uid}"]
    assert call["form"]["enabled_events[]"] == ["payment_intent.succeeded", "invoice.paid"]
    (made,) = provider_api.state.stripe_endpoints.values()
    created = endpoint(bridge, uid)
    assert created is not None
    assert created["provider"] == "stripe"
    assert created["url"] == made["url"]
    assert [s["value"] for s in created["secrets"]] == [made["secret"]]
    assert f"Created Stripe webhook endpoint {made['id']}" in result.stdout
    body = b'{"id": "evt_standin_1", "object": "event", "type": "invoice.paid"}'
    signed_delivery_lands(bridge, uid, "stripe", made["secret"], body, "invoice.paid")


def test_register_stripe_on_an_existing_endpoint(
    bridge: BridgeProcess, uid: str, provider_api: StandIn
) -> None:
    """An existing stripe endpoint keeps its URL and gets Stripe's new secret added."""
    bridge.create_endpoint(uid, "stripe", "whsec_old_secret_0123456789")
    env = cli_env(STRIPE_API_KEY=STRIPE_KEY, STRIPE_API_BASE=provider_api.url)
    answer = as_json("register", "stripe", "--endpoint", uid, "--server", bridge.url, env=env)
    made = answer["stripe_webhook_endpoint"]
    assert made["enabled_events"] == ["*"]
    assert answer["secret_id"] == "s2"
    assert [s["value"] for s in answer["endpoint"]["secrets"]][-1] == made["secret"]


def test_register_stripe_refusals(bridge: BridgeProcess, uid: str, provider_api: StandIn) -> None:
    """A wrong key is one line and changes nothing; when the bridge refuses Stripe's secret,
    the Stripe endpoint is deleted again."""
    line = one_error_line(register_stripe(bridge, provider_api, "--endpoint", uid, key="sk_bad"))
    assert "Stripe refused to create the webhook endpoint (HTTP 401): Invalid API Key" in line
    assert "(check STRIPE_API_KEY)" in line
    assert endpoint(bridge, uid) is None
    assert provider_api.state.stripe_endpoints == {}

    provider_api.state.stripe_secret = "whsec"  # too short for the bridge to accept
    line = one_error_line(register_stripe(bridge, provider_api, "--endpoint", uid))
    assert "secret: must be text of 8 to" in line
    (deleted,) = provider_api.state.deleted
    assert f"the Stripe webhook endpoint {deleted} was deleted again" in line
    assert provider_api.state.stripe_endpoints == {}
    assert endpoint(bridge, uid) is None


def test_register_prints_what_was_done(
    bridge: BridgeProcess, uid: str, provider_api: StandIn
) -> None:
    """The readable output names the endpoint, the provider's webhook and how to watch it."""
    text = ok("register", "stripe", "--endpoint", uid, "--server", bridge.url,
              env=cli_env(STRIPE_API_KEY=STRIPE_KEY, STRIPE_API_BASE=provider_api.url))  # fmt: skip
    assert (
        f"Created endpoint {uid} (stripe) on {bridge.url} with Stripe's signing secret as s1"
        in text
    )
    assert f"Watch it:  bridge listen {uid} --server {bridge.url}" in text
