"""The OpenAPI 3 description of every HTTP route, served at /api/openapi.json.

Every limit here is imported from the code that enforces it (ids, cursors, secrets, ttl,
grace, providers and their options), so the document cannot drift from the server.
tests/test_openapi_fuzz.py runs schemathesis over it against a real bridge.
"""

from __future__ import annotations

from typing import Any

from bridge import __version__, backfill, cursor, masking, providers
from bridge.auth import MAX_TTL
from bridge.endpoints import (
    MAX_DESCRIPTION,
    MAX_GRACE,
    MAX_SECRET_LENGTH,
    MIN_SECRET_LENGTH,
)
from bridge.identifiers import ENDPOINT_ID_PATTERN
from bridge.providers.base import COMMON_OPTIONS, MAX_TOLERANCE, Provider
from bridge.providers.generic_hmac import ALGORITHMS, ENCODINGS
from bridge.search import CONTROL_CLASS, MAX_TERM
from bridge.web.events_api import MAX_PAGE

_ERROR = {"$ref": "#/components/schemas/Error"}
_JSON_ERROR = {"content": {"application/json": {"schema": _ERROR}}}


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {"application/json": {"schema": schema}}
    return answer


def _err(description: str) -> dict[str, Any]:
    return {"description": description, **_JSON_ERROR}


_ID_SCHEMA = {"type": "string", "pattern": f"^{ENDPOINT_ID_PATTERN}$"}
_ID = {"name": "endpoint_id", "in": "path", "required": True, "schema": _ID_SCHEMA}
_CURSOR = {"type": "string", "pattern": f"^{cursor.PATTERN}$"}
_EVENT_ID = {"name": "event_id", "in": "path", "required": True, "schema": _CURSOR}
_SEARCH_TERM = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_TERM,
    "pattern": f"^[^{CONTROL_CLASS}]+$",  # what bridge/search.py refuses
}
_OBJ = {"type": "object"}
_BACKFILL_ID = {"type": "string", "pattern": f"^{backfill.ID_PATTERN}$"}


_ADMIN: list[dict[str, list[str]]] = [{"admin": []}]


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _with_401(operation: dict[str, Any]) -> dict[str, Any]:
    """Every admin operation answers 401 without the token (api.require_admin)."""
    if "security" not in operation:
        return operation
    return {**operation, "responses": {**operation["responses"], "401": _err("unauthorized")}}


def _secret(provider: Provider | None) -> dict[str, Any]:
    """A secret as Endpoints._secret_value takes it for `provider` (None: not known yet, as
    when adding one): absent, null or "" where the bridge may generate one."""
    given: dict[str, Any] = {
        "type": "string",
        "minLength": MIN_SECRET_LENGTH,
        "maxLength": MAX_SECRET_LENGTH,
    }
    if provider is not None and provider.key_format:
        given["format"] = provider.key_format
    if provider is not None and not provider.generates_secret:
        return given
    return {"nullable": True, "oneOf": [{"type": "string", "maxLength": 0}, given]}


# What Provider.validate_options (and generic_hmac.Settings, square) check beyond the type.
_OPTION_RULES: dict[str, dict[str, Any]] = {
    "tolerance": {"minimum": 1, "maximum": MAX_TOLERANCE},
    "public_url": {"pattern": r"^https?://[^/?#\s]+[^?\s]*$"},
    "notification_url": {"pattern": "^https?://"},
    "algorithm": {"enum": ["", *ALGORITHMS]},
    "encoding": {"enum": ["", *ENCODINGS]},
    "prefix": {"pattern": r"^[^,\s]*$"},
    "mask": {
        "maxItems": masking.MAX_PATHS,
        "items": {
            "type": "string",
            "pattern": f"^{masking.PATH_PATTERN}$",
            "maxLength": masking.MAX_PATH_LENGTH,
        },
    },
}
_JSON_TYPES = {int: "integer", str: "string", bool: "boolean", list: "array"}


def _new_endpoint(provider: Provider) -> dict[str, Any]:
    """POST /api/endpoints for one provider: its secret rule and its options."""
    options = {
        name: {"type": _JSON_TYPES[kind], **_OPTION_RULES.get(name, {})}
        for name, kind in {**COMMON_OPTIONS, **provider.option_types}.items()
    }
    properties: dict[str, Any] = {
        "id": _ID_SCHEMA,
        "provider": {"type": "string", "enum": [provider.name]},
        "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
        "options": {
            "type": "object",
            "nullable": True,
            "properties": options,
            "additionalProperties": False,
        },
    }
    required = ["id", "provider"]
    if provider.requires_secret:
        properties["secret"] = _secret(provider)
        if not provider.generates_secret:
            required.append("secret")
    return {"type": "object", "required": required, "properties": properties}


PATHS: dict[str, Any] = {
    "/hooks/{endpoint_id}": {
        "post": {
            "summary": "Receive a webhook from a provider (signature checked on the raw bytes)",
            "parameters": [_ID],
            "requestBody": {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {
                "202": _ok("Stored and published", {"$ref": "#/components/schemas/Accepted"}),
                "200": _ok("Duplicate delivery, or a provider handshake answer", _OBJ),
                "401": _err("invalid_signature, with reason"),
                "404": _err("unknown_endpoint"),
                "413": _err("payload_too_large"),
                "503": _err("unavailable (Retry-After)"),
            },
        }
    },
    "/": {
        "get": {
            "summary": "The live dashboard (HTML; log in with a token)",
            "responses": {
                "200": {
                    "description": "The dashboard page",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/healthz": {"get": {"summary": "Liveness", "responses": {"200": _ok("Running", _OBJ)}}},
    "/readyz": {
        "get": {
            "summary": "Readiness (Redis answers)",
            "responses": {"200": _ok("Ready", _OBJ), "503": _err("unavailable")},
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics",
            "responses": {
                "200": {
                    "description": "Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/api/endpoints": {
        "get": {
            "summary": "List endpoints",
            "security": _ADMIN,
            "responses": {"200": _ok("Endpoints", _OBJ)},
        },
        "post": {
            "summary": "Create an endpoint",
            "security": _ADMIN,
            "requestBody": _body({"$ref": "#/components/schemas/NewEndpoint"}),
            "responses": {
                "201": _ok("Created", {"$ref": "#/components/schemas/Endpoint"}),
                "400": _err("invalid_request"),
                "409": _err("conflict"),
            },
        },
    },
    "/api/endpoints/{endpoint_id}": {
        "get": {
            "summary": "Show an endpoint",
            "security": _ADMIN,
            "parameters": [_ID],
            "responses": {
                "200": _ok("Endpoint", {"$ref": "#/components/schemas/Endpoint"}),
                "404": _err("unknown_endpoint"),
            },
        },
        "delete": {
            "summary": "Delete an endpoint and its events",
            "security": _ADMIN,
            "parameters": [_ID],
            "responses": {"204": {"description": "Deleted"}, "404": _err("unknown_endpoint")},
        },
    },
    "/api/endpoints/{endpoint_id}/secrets": {
        "post": {
            "summary": "Add a secret (rotation); old secrets stay valid",
            "security": _ADMIN,
            "parameters": [_ID],
            "requestBody": {
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"secret": _secret(None)}}
                    }
                }
            },
            "responses": {
                "201": _ok("Added", _OBJ),
                "400": _err("invalid_request"),
                "404": _err("unknown_endpoint"),
            },
        }
    },
    "/api/endpoints/{endpoint_id}/rejections": {
        "get": {
            "summary": "Recently rejected deliveries, newest first, with a diagnosis of each",
            "security": _ADMIN,
            "parameters": [_ID],
            "responses": {"200": _ok("Rejections", _OBJ), "404": _err("unknown_endpoint")},
        }
    },
    "/api/endpoints/{endpoint_id}/secrets/{secret_id}": {
        "delete": {
            "summary": "Remove a secret, at once or after grace_seconds",
            "security": _ADMIN,
            "parameters": [
                _ID,
                {"name": "secret_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "grace_seconds",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_GRACE},
                },
            ],
            "responses": {
                "200": _ok("The endpoint", {"$ref": "#/components/schemas/Endpoint"}),
                "400": _err("invalid_request (the last live secret)"),
                "404": _err("unknown_endpoint / unknown_secret"),
            },
        }
    },
    "/api/endpoints/{endpoint_id}/events": {
        "get": {
            "summary": "Event history, oldest first",
            "security": _ADMIN,
            "parameters": [
                _ID,
                {"name": "since", "in": "query", "schema": _CURSOR},
                {
                    "name": "before",
                    "in": "query",
                    "description": "The newest `limit` events before this cursor (exclusive), "
                    "still oldest first; `next` is then the `before` of the next older page",
                    "schema": _CURSOR,
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                },
                {
                    "name": "event_type",
                    "in": "query",
                    "description": "Only events whose type matches this glob (payment.*)",
                    "schema": _SEARCH_TERM,
                },
                {
                    "name": "q",
                    "in": "query",
                    "description": "Only events whose (masked) body holds this text, any case",
                    "schema": _SEARCH_TERM,
                },
                {
                    "name": "verified",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["true", "false"]},
                },
            ],
            "responses": {
                "200": _ok("Events", _OBJ),
                "400": _err("invalid_request"),
                "404": _err("unknown_endpoint"),
            },
        }
    },
    "/api/endpoints/{endpoint_id}/events/{event_id}/raw": {
        "get": {
            "summary": "One event's body, byte for byte as received, with its original "
            "Content-Type (for forwarding; the headers are in the event's envelope)",
            "security": _ADMIN,
            "parameters": [_ID, _EVENT_ID],
            "responses": {
                "200": {
                    "description": "The raw body (application/octet-stream when the delivery "
                    "had no Content-Type)",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "400": _err("invalid_request (a malformed event id)"),
                "404": _err("unknown_endpoint / unknown_event"),
            },
        }
    },
    "/api/endpoints/{endpoint_id}/backfill": {
        "post": {
            "summary": "Store events fetched from the provider's own API (bridge backfill), "
            "deduplicated as live deliveries; each body at most BRIDGE_MAX_BODY_BYTES",
            "security": _ADMIN,
            "parameters": [_ID],
            "requestBody": _body({"$ref": "#/components/schemas/Backfill"}),
            "responses": {
                "200": _ok("Per event: its cursor and whether it was there already", _OBJ),
                "400": _err("invalid_request"),
                "404": _err("unknown_endpoint"),
                "413": _err("payload_too_large"),
                "503": _err("unavailable (Retry-After); the events answered before are stored"),
            },
        }
    },
    "/api/endpoints/{endpoint_id}/backfill/check": {
        "post": {
            "summary": "Which of these provider event ids the endpoint has (stores nothing)",
            "security": _ADMIN,
            "parameters": [_ID],
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["event_ids"],
                    "properties": {
                        "event_ids": {
                            "type": "array",
                            "maxItems": backfill.MAX_EVENTS,
                            "items": _BACKFILL_ID,
                        }
                    },
                }
            ),
            "responses": {
                "200": _ok("Per event id: its cursor (null when absent) and duplicate", _OBJ),
                "400": _err("invalid_request"),
                "404": _err("unknown_endpoint"),
            },
        }
    },
    "/api/providers": {
        "get": {
            "summary": "Every provider, who picks its secret, and its endpoint options",
            "security": _ADMIN,
            "responses": {"200": _ok("Providers", _OBJ)},
        }
    },
    "/api/endpoints/{endpoint_id}/events/{event_id}/replay": {
        "post": {
            "summary": "Publish a stored event again, as a new event with replay_of set",
            "security": _ADMIN,
            "parameters": [_ID, _EVENT_ID],
            "responses": {
                "201": _ok("The replay's cursor", _OBJ),
                "400": _err("invalid_request"),
                "404": _err("unknown_endpoint / unknown_event"),
            },
        }
    },
    "/api/tokens": {
        "post": {
            "summary": "Mint a subscriber token limited to some channels",
            "security": _ADMIN,
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["channels"],
                    "properties": {
                        "channels": {"type": "array", "minItems": 1, "items": _ID_SCHEMA},
                        "ttl": {"type": "integer", "minimum": 1, "maximum": MAX_TTL},
                    },
                }
            ),
            "responses": {
                "201": _ok("Token", _OBJ),
                "400": _err("invalid_request"),
                "404": _err("unknown_endpoint"),
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This document",
            "security": _ADMIN,
            "responses": {"200": _ok("OpenAPI 3", _OBJ)},
        }
    },
}

SCHEMAS: dict[str, Any] = {
    "Backfill": {
        "type": "object",
        "required": ["events"],
        "properties": {
            "events": {
                "type": "array",
                "maxItems": backfill.MAX_EVENTS,
                "items": {"$ref": "#/components/schemas/BackfillEvent"},
            }
        },
    },
    "BackfillEvent": {
        "type": "object",
        "required": ["event_id"],
        "properties": {
            "event_id": _BACKFILL_ID,
            "event_type": {**_BACKFILL_ID, "nullable": True},
            "received_at": {
                "type": "number",
                "minimum": 0,
                "maximum": backfill.MAX_TIME,
                "description": "unix seconds; 400 when older than now - BRIDGE_DEDUP_TTL",
            },
            "headers": {
                "type": "array",
                "nullable": True,
                "maxItems": backfill.MAX_HEADERS,
                "items": {
                    "type": "object",
                    "required": ["name", "value"],
                    "properties": {
                        "name": {"type": "string", "pattern": f"^{backfill.HEADER_NAME_PATTERN}$"},
                        "value": {
                            "type": "string",
                            "pattern": f"^{backfill.HEADER_VALUE_PATTERN}$",
                        },
                    },
                },
            },
            "body": {"type": "string"},
            "body_base64": {"type": "string", "pattern": f"^{backfill.BASE64_PATTERN}$"},
        },
        "oneOf": [{"required": ["body"]}, {"required": ["body_base64"]}],
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "reason": {"type": "string"},
            "field": {"type": "string"},
            "message": {"type": "string"},
        },
    },
    "Accepted": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "endpoint": {"type": "string"},
            "duplicate": {"type": "boolean"},
        },
    },
    "Endpoint": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "provider": {"type": "string"},
            "url": {"type": "string"},
            "verified": {"type": "boolean"},
            "secrets": {"type": "array", "items": _OBJ},
            "setup": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def document(server_url: str, *, allow_unverified: bool = False) -> dict[str, Any]:
    """The document for a server; `allow_unverified` is whether it accepts provider `none`."""
    paths = {path: {m: _with_401(op) for m, op in ops.items()} for path, ops in PATHS.items()}
    offered = [p for p in providers.REGISTRY.values() if p.requires_secret or allow_unverified]
    new_endpoint = {"oneOf": [_new_endpoint(p) for p in offered]}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Webhook Bridge", "version": __version__},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": {**SCHEMAS, "NewEndpoint": new_endpoint},
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
        },
    }
