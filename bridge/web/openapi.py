"""The OpenAPI 3 description of every HTTP route, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from bridge import __version__

_ERROR = {"$ref": "#/components/schemas/Error"}
_JSON_ERROR = {"content": {"application/json": {"schema": _ERROR}}}


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {"application/json": {"schema": schema}}
    return answer


def _err(description: str) -> dict[str, Any]:
    return {"description": description, **_JSON_ERROR}


_ID = {
    "name": "endpoint_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"},
}
_OBJ = {"type": "object"}
_ADMIN: list[dict[str, list[str]]] = [{"admin": []}]


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


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
            "responses": {"200": _ok("Endpoints", _OBJ), "401": _err("unauthorized")},
        },
        "post": {
            "summary": "Create an endpoint",
            "security": _ADMIN,
            "requestBody": _body({"$ref": "#/components/schemas/NewEndpoint"}),
            "responses": {
                "201": _ok("Created", {"$ref": "#/components/schemas/Endpoint"}),
                "400": _err("invalid_request"),
                "401": _err("unauthorized"),
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
                "401": _err("unauthorized"),
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
                        "schema": {"type": "object", "properties": {"secret": {"type": "string"}}}
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
                    "schema": {"type": "integer", "minimum": 0},
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
                {"name": "since", "in": "query", "schema": {"type": "string"}},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
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
            "parameters": [
                _ID,
                {
                    "name": "event_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9]+(-[0-9]+)?$"},
                },
            ],
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
    "/api/providers": {
        "get": {
            "summary": "Every provider, who picks its secret, and its endpoint options",
            "security": _ADMIN,
            "responses": {"200": _ok("Providers", _OBJ), "401": _err("unauthorized")},
        }
    },
    "/api/endpoints/{endpoint_id}/events/{event_id}/replay": {
        "post": {
            "summary": "Publish a stored event again, as a new event with replay_of set",
            "security": _ADMIN,
            "parameters": [
                _ID,
                {"name": "event_id", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
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
                        "channels": {"type": "array", "items": {"type": "string"}},
                        "ttl": {"type": "integer", "minimum": 1},
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
    "NewEndpoint": {
        "type": "object",
        "required": ["id", "provider"],
        "properties": {
            "id": {"type": "string"},
            "provider": {"type": "string"},
            "secret": {"type": "string"},
            "description": {"type": "string"},
            "options": {"type": "object"},
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


def document(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Webhook Bridge", "version": __version__},
        "servers": [{"url": server_url}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
        },
    }
