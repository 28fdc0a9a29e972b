"""The OpenAPI document's shared schemas (components): errors, endpoints, and the
endpoint-creation body, one variant per provider, built from what each provider checks."""

from __future__ import annotations

from typing import Any

from bridge import backfill, cursor, providers
from bridge.endpoints import (
    MAX_DESCRIPTION,
    MAX_SECRET_LENGTH,
    MIN_SECRET_LENGTH,
    SECRET_CHARACTERS,
)
from bridge.identifiers import ENDPOINT_ID_SCHEMA
from bridge.providers.base import COMMON_OPTION_RULES, COMMON_OPTIONS, Provider
from bridge.web.operation import OBJECT, Schema

_JSON_TYPES = {int: "integer", str: "string", bool: "boolean", list: "array"}
TIME: Schema = {"type": "string", "format": "date-time"}
TRACE: Schema = {"type": "string", "pattern": "^[0-9a-f]{16}$"}


def _strict(properties: Schema) -> Schema:
    """An object with exactly these properties, every one present."""
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def secret(provider: Provider | None) -> Schema:
    """A secret as Endpoints._secret_value takes it for `provider` (None: not known yet, as
    when adding one): absent, null or "" where the bridge may generate one."""
    given: Schema = {
        "type": "string",
        "minLength": MIN_SECRET_LENGTH,
        "maxLength": MAX_SECRET_LENGTH,
    }
    if provider is not None and provider.key_format:
        given["format"] = provider.key_format  # a key's format is stricter than any pattern
    else:
        rule = provider.secret_pattern if provider is not None else ""
        given["pattern"] = f"^{rule or SECRET_CHARACTERS}$"
    if provider is not None and not provider.generates_secret:
        return given
    return {"nullable": True, "oneOf": [{"type": "string", "maxLength": 0}, given]}


def _new_endpoint(provider: Provider) -> Schema:
    """POST /api/endpoints for one provider: its secret rule and its options."""
    rules: dict[str, Any] = {**COMMON_OPTION_RULES, **provider.option_rules}
    options = {
        name: {"type": _JSON_TYPES[kind], **rules.get(name, {})}
        for name, kind in {**COMMON_OPTIONS, **provider.option_types}.items()
    }
    properties: Schema = {
        "id": ENDPOINT_ID_SCHEMA,
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
        properties["secret"] = secret(provider)
        if not provider.generates_secret:
            required.append("secret")
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


_FIXED: dict[str, Schema] = {
    "Backfill": backfill.REQUEST_SCHEMA,
    "BackfillEvent": backfill.EVENT_SCHEMA,
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
    "Accepted": _strict(
        {
            "id": cursor.SCHEMA,
            "endpoint": ENDPOINT_ID_SCHEMA,
            "duplicate": {"type": "boolean"},
            "trace": TRACE,
        }
    ),
    "Secret": _strict(
        {
            "id": {"type": "string"},
            "value": {"type": "string"},
            "created_at": TIME,
            "expires_at": {**TIME, "nullable": True},  # set while a removed secret retires
        }
    ),
    "Endpoint": _strict(
        {
            "id": ENDPOINT_ID_SCHEMA,
            "provider": {"type": "string"},
            "verified": {"type": "boolean"},
            "description": {"type": "string"},
            "url": {"type": "string"},
            "options": OBJECT,
            "secrets": {"type": "array", "items": ref("Secret")},
            "created_at": TIME,
            "setup": {"type": "array", "items": {"type": "string"}},
            "events": {"type": "integer", "minimum": 0},
        }
    ),
    "EndpointList": _strict({"endpoints": {"type": "array", "items": ref("Endpoint")}}),
    "SecretAdded": _strict({"endpoint": ref("Endpoint"), "secret": ref("Secret")}),
    "Token": _strict(
        {
            "token": {"type": "string"},
            "channels": {"type": "array", "items": ENDPOINT_ID_SCHEMA},
            "expires_at": TIME,
        }
    ),
    "Providers": _strict(
        {
            "providers": {
                "type": "array",
                "items": _strict(
                    {
                        "name": {"type": "string"},
                        "label": {"type": "string"},
                        "public_key": {"type": "boolean"},
                        "generates_secret": {"type": "boolean"},
                        "requires_secret": {"type": "boolean"},
                        "options": {"type": "array", "items": {"type": "string"}},
                        "mask_defaults": {"type": "array", "items": {"type": "string"}},
                    }
                ),
            }
        }
    ),
    "Event": {
        **_strict(
            {
                "id": cursor.SCHEMA,
                "endpoint": ENDPOINT_ID_SCHEMA,
                "provider": {"type": "string"},
                "event_id": {"type": "string", "nullable": True},
                "event_type": {"type": "string", "nullable": True},
                "received_at": TIME,
                "verified": {"type": "boolean"},
                "verification": OBJECT,
                "source": {"type": "string", "enum": ["webhook", "backfill"]},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "body": {"nullable": True},  # parsed JSON, the text, or null (body_base64)
                "trace": {**TRACE, "nullable": True},
                "replay_of": {**cursor.SCHEMA, "nullable": True},
            }
        ),
        "additionalProperties": True,  # body_base64, only where the body is not UTF-8
    },
    "EventPage": {
        "type": "object",
        "required": ["events", "next", "recovered"],
        "properties": {
            "events": {"type": "array", "items": ref("Event")},
            "next": {**cursor.SCHEMA, "nullable": True},
            "recovered": {"type": "boolean"},
            "scanned": {"type": "integer", "minimum": 0},  # only with a search
        },
        "additionalProperties": False,
    },
    "Replayed": _strict(
        {"id": cursor.SCHEMA, "endpoint": ENDPOINT_ID_SCHEMA, "replay_of": cursor.SCHEMA}
    ),
}


def components(*, allow_unverified: bool) -> dict[str, Schema]:
    """Every shared schema; `allow_unverified` is whether the server accepts provider `none`."""
    offered = [p for p in providers.REGISTRY.values() if p.requires_secret or allow_unverified]
    return {**_FIXED, "NewEndpoint": {"oneOf": [_new_endpoint(p) for p in offered]}}
