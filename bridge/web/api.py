"""The admin JSON API under /api (bearer admin token on every route)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from bridge import cursor
from bridge.auth import bearer
from bridge.endpoints import Endpoint, StoredSecret
from bridge.errors import InvalidInput, NotFound
from bridge.services import services
from bridge.web.openapi import document
from bridge.web.responses import error

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_PAGE = 1000
# The Content-Type of a raw body whose delivery carried none.
RAW_FALLBACK = "application/octet-stream"


@bp.before_request
def require_admin() -> Response | None:
    token = bearer(request.headers.get("Authorization"))
    if token is None or not services().authority.is_admin(token):
        response = error(401, "unauthorized", message="send Authorization: Bearer <admin token>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="webhook-bridge"'
        return response
    return None


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("body", "expected a JSON object")
    return data


def public_base() -> str:
    configured = services().settings.public_url
    return configured or request.host_url.rstrip("/")


def _secret(secret: StoredSecret) -> dict[str, Any]:
    expires = None if secret.expires_at is None else _iso(secret.expires_at)
    return {
        "id": secret.id,
        "value": secret.value,
        "created_at": _iso(secret.created_at),
        "expires_at": expires,
    }


def _endpoint(endpoint: Endpoint) -> dict[str, Any]:
    url = f"{public_base()}/hooks/{endpoint.id}"
    return {
        "id": endpoint.id,
        "provider": endpoint.provider,
        "verified": endpoint.provider != "none",
        "description": endpoint.description,
        "url": url,
        "options": dict(endpoint.options),
        "secrets": [_secret(s) for s in endpoint.secrets],
        "created_at": _iso(endpoint.created_at),
        "setup": endpoint.verifier.setup_steps(url),
    }


@bp.post("/endpoints")
def create_endpoint() -> tuple[Response, int]:
    data = _body()
    endpoint = services().endpoints.create(
        data.get("id"),
        data.get("provider"),
        secret=data.get("secret"),
        description=data.get("description", ""),
        options=data.get("options"),
    )
    return jsonify(_endpoint(endpoint)), 201


@bp.get("/endpoints")
def list_endpoints() -> Response:
    return jsonify({"endpoints": [_endpoint(e) for e in services().endpoints.list()]})


@bp.get("/endpoints/<endpoint_id>")
def show_endpoint(endpoint_id: str) -> Response:
    return jsonify(_endpoint(services().endpoints.get(endpoint_id)))


@bp.delete("/endpoints/<endpoint_id>")
def delete_endpoint(endpoint_id: str) -> tuple[str, int]:
    services().endpoints.delete(endpoint_id)
    return "", 204


@bp.post("/endpoints/<endpoint_id>/secrets")
def add_secret(endpoint_id: str) -> tuple[Response, int]:
    data = request.get_json(silent=True) or {}
    if not isinstance(data, dict):
        raise InvalidInput("body", "expected a JSON object")
    endpoint, added = services().endpoints.add_secret(endpoint_id, data.get("secret"))
    return jsonify({"endpoint": _endpoint(endpoint), "secret": _secret(added)}), 201


@bp.delete("/endpoints/<endpoint_id>/secrets/<secret_id>")
def remove_secret(endpoint_id: str, secret_id: str) -> Response:
    raw = request.args.get("grace_seconds", "0")
    if not raw.isdigit():
        raise InvalidInput("grace_seconds", "expected a whole number of seconds")
    endpoint = services().endpoints.remove_secret(endpoint_id, secret_id, int(raw))
    return jsonify(_endpoint(endpoint))


@bp.get("/endpoints/<endpoint_id>/events")
def events(endpoint_id: str) -> Response:
    found = services()
    found.endpoints.get(endpoint_id)
    since = cursor.parse(request.args.get("since", "0-0"))
    try:
        limit = int(request.args.get("limit", "100"))
    except ValueError:
        raise InvalidInput("limit", "expected a whole number") from None
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
    stored = found.store.history(endpoint_id, since, limit)
    state = found.store.state(endpoint_id)
    return jsonify(
        {
            "events": [json.loads(e.envelope_json()) for e in stored],
            "next": stored[-1].id if len(stored) == limit else None,
            "recovered": state.recovers(since),
        }
    )


@bp.get("/endpoints/<endpoint_id>/events/<event_id>/raw")
def raw_event(endpoint_id: str, event_id: str) -> Response:
    """The body exactly as the provider sent it, for forwarding: the envelope's `body` is
    parsed JSON, and re-serialising it would break the provider's signature."""
    found = services()
    found.endpoints.get(endpoint_id)
    stored = found.store.event(endpoint_id, cursor.parse(event_id, "event_id"))
    if stored is None:
        raise NotFound("event", event_id)
    headers = json.loads(stored.envelope_tail).get("headers") or {}
    response = Response(stored.raw, content_type=headers.get("content-type") or RAW_FALLBACK)
    # Untrusted bytes under the bridge's origin: never sniffed, never rendered as a page.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Content-Disposition"] = "attachment"
    return response


@bp.get("/endpoints/<endpoint_id>/rejections")
def rejections(endpoint_id: str) -> Response:
    found = services()
    found.endpoints.get(endpoint_id)
    entries = [json.loads(e) for e in found.store.rejections(endpoint_id)]
    return jsonify({"rejections": entries})


@bp.post("/tokens")
def mint_token() -> tuple[Response, int]:
    data = _body()
    channels = data.get("channels")
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise InvalidInput("channels", "expected a list of endpoint ids")
    ttl = data.get("ttl", 3600)
    if not isinstance(ttl, int) or isinstance(ttl, bool):
        raise InvalidInput("ttl", "expected a whole number of seconds")
    found = services()
    for channel in channels:
        found.endpoints.get(channel)
    principal = found.authority.mint(channels, ttl)
    assert principal.expires_at is not None
    body = {
        "token": found.authority.encode(principal),
        "channels": sorted(principal.channels),
        "expires_at": _iso(principal.expires_at),
    }
    return jsonify(body), 201


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document(public_base()))


def _iso(timestamp: float) -> str:
    return (
        datetime.fromtimestamp(timestamp, tz=UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )
