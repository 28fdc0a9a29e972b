"""The admin JSON API under /api (bearer admin token on every route)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from bridge import jsontext, numbers, providers
from bridge.auth import MAX_CHANNELS, MAX_TTL, bearer
from bridge.endpoints import MAX_GRACE, Endpoint, StoredSecret
from bridge.errors import InvalidInput
from bridge.identifiers import ENDPOINT_ID_SCHEMA
from bridge.providers.base import COMMON_OPTIONS
from bridge.providers.guides import guide
from bridge.services import services
from bridge.timefmt import iso
from bridge.web.operation import (
    OBJECT,
    Schema,
    documented,
    err,
    ok,
    operation_of,
    query,
    request_body,
)
from bridge.web.origin import origin
from bridge.web.responses import empty, unauthorized
from bridge.web.schemas import ref, secret

bp = Blueprint("api", __name__, url_prefix="/api")


NEW_ENDPOINT_FIELDS = ("id", "provider", "secret", "description", "options")
NEW_SECRET: Schema = {
    "type": "object",
    "properties": {"secret": secret(None)},
    "additionalProperties": False,
}
NEW_TOKEN: Schema = {
    "type": "object",
    "required": ["channels"],
    "properties": {
        "channels": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_CHANNELS,
            "items": ENDPOINT_ID_SCHEMA,
        },
        "ttl": {"type": "integer", "minimum": 1, "maximum": MAX_TTL},
    },
    "additionalProperties": False,
}


@bp.before_request
def require_admin() -> Response | None:
    # Which of the three it is tells a caller what to fix, and a stranger nothing new.
    header = request.headers.get("Authorization")
    token = bearer(header)
    if token is None:
        if header:
            return unauthorized("Authorization must be `Bearer <admin token>`")
        return unauthorized("send Authorization: Bearer <admin token>")
    if not services().authority.is_admin(token):
        return unauthorized("that token is not this bridge's admin token")
    return None


@bp.before_request
def screen_query() -> None:
    """Only the query parameters the route documents, each once: `?limt=5` (which the page
    size ignored, answering 100) and `?limit=1&limit=500` (either one a guess) are refused
    by name. Webhook routes keep theirs: a provider's query is signed as sent."""
    if not request.args:
        return
    spec = operation_of(current_app.view_functions[request.endpoint or ""])
    takes = sorted(p["name"] for p in (spec.query if spec else ()))
    for name, values in request.args.lists():
        if not name:
            raise InvalidInput("query", "a query parameter without a name (`?=x`, `?&=`)")
        if name not in takes:
            offered = f"it takes {', '.join(takes)}" if takes else "it takes none"
            raise InvalidInput(name[:64], f"not a query parameter of this route; {offered}")
        if len(values) > 1:
            raise InvalidInput(name, f"given {len(values)} times; give it once")


def json_body(*, fields: Collection[str], optional: bool = False) -> dict[str, Any]:
    """The request's JSON object, holding only `fields`; `optional` lets an empty body stand
    for `{}`. A misspelt field is refused by name: taken silently, `"secrte"` made an
    endpoint with a generated secret and `"descripton"` one with none."""
    raw = request.get_data(cache=True)
    # MAX_CONTENT_LENGTH refuses a declared length over the limit, but a chunked body it
    # only stops reading one byte past it: cut there, a padded object read as complete.
    if len(raw) > services().settings.max_body_bytes:
        raise RequestEntityTooLarge()
    # Empty, not blank: "\n" is a body, and no JSON text (the document says JSON or none).
    if optional and not raw:
        return {}
    if not request.is_json:
        raise InvalidInput("body", "expected a JSON object (send Content-Type: application/json)")
    try:
        data = jsontext.loads(raw, unique=True)
    except ValueError as exc:
        raise InvalidInput("body", f"expected a JSON object: {jsontext.problem(exc)}") from None
    if not isinstance(data, dict):
        raise InvalidInput("body", "expected a JSON object")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        # The name is a stranger's: cut, so a megabyte of key is not echoed back whole.
        raise InvalidInput(
            unknown[0][:64], f"not a field of this request; it takes {', '.join(sorted(fields))}"
        )
    return data


def whole_arg(name: str, default: int, least: int, most: int) -> int:
    """Query parameter `name` as a whole number from `least` to `most`; InvalidInput naming
    it, and what it takes, otherwise."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return numbers.whole(raw, least, most)
    except ValueError as exc:
        raise InvalidInput(name, str(exc)) from None


def public_base() -> str:
    configured = services().settings.public_url
    return configured or origin(request)


def _secret(secret: StoredSecret) -> dict[str, Any]:
    expires = None if secret.expires_at is None else iso(secret.expires_at)
    return {
        "id": secret.id,
        "value": secret.value,
        "created_at": iso(secret.created_at),
        "expires_at": expires,
    }


def _endpoint(endpoint: Endpoint, events: int | None = None) -> dict[str, Any]:
    """The endpoint as the API shows it; `events` is how many it retains."""
    url = f"{public_base()}/hooks/{endpoint.id}"
    if events is None:
        events = services().store.counts([endpoint.id])[endpoint.id]
    return {
        "id": endpoint.id,
        "provider": endpoint.provider,
        "verified": endpoint.provider != "none",
        "description": endpoint.description,
        "url": url,
        "options": dict(endpoint.options),
        "secrets": [_secret(s) for s in endpoint.secrets],
        "created_at": iso(endpoint.created_at),
        "setup": guide(endpoint.provider).setup_steps(url),
        "events": events,
    }


@bp.post("/endpoints")
@documented(
    {"201": ok("Created", ref("Endpoint")), "400": err("invalid_request"), "409": err("conflict")},
    body=request_body(ref("NewEndpoint")),
)
def create_endpoint() -> tuple[Response, int]:
    """Create an endpoint"""
    data = json_body(fields=NEW_ENDPOINT_FIELDS)
    endpoint = services().endpoints.create(
        data.get("id"),
        data.get("provider"),
        secret=data.get("secret"),
        description=data.get("description", ""),
        options=data.get("options"),
    )
    return jsonify(_endpoint(endpoint, 0)), 201


@bp.get("/endpoints")
@documented({"200": ok("Endpoints", ref("EndpointList"))})
def list_endpoints() -> Response:
    """List endpoints"""
    found = services()
    listed = found.endpoints.list()
    counts = found.store.counts([e.id for e in listed])
    return jsonify({"endpoints": [_endpoint(e, counts[e.id]) for e in listed]})


@bp.get("/endpoints/<endpoint_id>")
@documented({"200": ok("Endpoint", ref("Endpoint")), "404": err("unknown_endpoint")})
def show_endpoint(endpoint_id: str) -> Response:
    """Show an endpoint"""
    return jsonify(_endpoint(services().endpoints.get(endpoint_id)))


@bp.delete("/endpoints/<endpoint_id>")
@documented({"204": {"description": "Deleted"}, "404": err("unknown_endpoint")})
def delete_endpoint(endpoint_id: str) -> Response:
    """Delete an endpoint and its events"""
    services().endpoints.delete(endpoint_id)
    return empty(204)


@bp.post("/endpoints/<endpoint_id>/secrets")
@documented(
    {
        "201": ok("Added", ref("SecretAdded")),
        "400": err("invalid_request"),
        "404": err("unknown_endpoint"),
        "409": err("conflict (the value is already a live secret, or 10 secrets are held)"),
    },
    body=request_body(NEW_SECRET, required=False),
)
def add_secret(endpoint_id: str) -> tuple[Response, int]:
    """Add a secret (rotation); old secrets stay valid"""
    # No body: the bridge generates the new secret.
    data = json_body(fields=NEW_SECRET["properties"], optional=True)
    endpoint, added = services().endpoints.add_secret(endpoint_id, data.get("secret"))
    return jsonify({"endpoint": _endpoint(endpoint), "secret": _secret(added)}), 201


@bp.delete("/endpoints/<endpoint_id>/secrets/<secret_id>")
@documented(
    {
        "200": ok("The endpoint", ref("Endpoint")),
        "409": err("conflict (the last live secret)"),
        "404": err("unknown_endpoint / unknown_secret"),
    },
    query=(query("grace_seconds", {"type": "integer", "minimum": 0, "maximum": MAX_GRACE}),),
)
def remove_secret(endpoint_id: str, secret_id: str) -> Response:
    """Remove a secret, at once or after grace_seconds"""
    grace = whole_arg("grace_seconds", 0, 0, MAX_GRACE)
    endpoint = services().endpoints.remove_secret(endpoint_id, secret_id, grace)
    return jsonify(_endpoint(endpoint))


@bp.get("/providers")
@documented({"200": ok("Providers", ref("Providers"))})
def list_providers() -> Response:
    """Every provider, who picks its secret, and its endpoint options

    What the dashboard's create form offers."""
    found = services()
    return jsonify(
        {
            "providers": [
                {
                    "name": p.name,
                    "label": guide(p.name).title,
                    "public_key": p.public_key,
                    "generates_secret": p.generates_secret,
                    "requires_secret": p.requires_secret,
                    "options": sorted([*COMMON_OPTIONS, *p.option_types]),
                    "mask_defaults": list(p.mask_defaults),
                }
                for p in providers.REGISTRY.values()
                if p.requires_secret or found.settings.allow_unverified
            ]
        }
    )


@bp.post("/tokens")
@documented(
    {
        "201": ok("Token", ref("Token")),
        "400": err("invalid_request"),
        "404": err("unknown_endpoint"),
    },
    body=request_body(NEW_TOKEN),
)
def mint_token() -> tuple[Response, int]:
    """Mint a subscriber token limited to some channels"""
    data = json_body(fields=NEW_TOKEN["properties"])
    channels = data.get("channels")
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise InvalidInput("channels", "expected a list of endpoint ids")
    ttl = data.get("ttl", 3600)
    if not isinstance(ttl, int) or isinstance(ttl, bool):
        raise InvalidInput("ttl", "expected a whole number of seconds")
    found = services()
    principal = found.authority.mint(channels, ttl)  # validates the names, before Redis
    # Bound to the endpoints as they are now: not to one created later under a deleted id.
    generations = {c: found.endpoints.get(c, fresh=True).generation for c in principal.channels}
    principal = replace(principal, generations=generations)
    assert principal.expires_at is not None
    body = {
        "token": found.authority.encode(principal),
        "channels": sorted(principal.channels),
        "expires_at": iso(principal.expires_at),
    }
    return jsonify(body), 201


@bp.get("/openapi.json")
@documented({"200": ok("OpenAPI 3", OBJECT)})
def openapi() -> Response:
    """This document"""
    # Imported here: the document reads require_admin from this module.
    from bridge.web.openapi import document

    allow_unverified = services().settings.allow_unverified
    return jsonify(document(current_app, public_base(), allow_unverified=allow_unverified))
