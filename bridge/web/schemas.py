"""The OpenAPI document's shared schemas (components): errors, endpoints, and the
endpoint-creation body, one variant per provider, built from what each provider checks."""

from __future__ import annotations

from typing import Any

from bridge import backfill, providers
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
            "secrets": {"type": "array", "items": OBJECT},
            "setup": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def components(*, allow_unverified: bool) -> dict[str, Schema]:
    """Every shared schema; `allow_unverified` is whether the server accepts provider `none`."""
    offered = [p for p in providers.REGISTRY.values() if p.requires_secret or allow_unverified]
    return {**_FIXED, "NewEndpoint": {"oneOf": [_new_endpoint(p) for p in offered]}}
