"""Backfill: events fetched afterwards from a provider's own API (`bridge backfill`), stored
exactly as a live delivery of the same event would be.

The dedup key is the one ingest uses (`ingest.dedup_id`), so an event the bridge already
has, live or backfilled before, is answered as a duplicate and not stored twice. The
envelope is ingest's too, with `source: "backfill"` and `verification.scheme:
"provider_api"`: what vouches for the event is the provider's authenticated API, which the
CLI called with the provider's token, not a signature over the bytes (the API hands back
the payload re-encoded, so the original signature would not match them anyway).

The limits below are what the route validates and what the OpenAPI document states.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge import envelope, metrics
from bridge.endpoints import Endpoint
from bridge.envelope import Arrival
from bridge.errors import InvalidInput
from bridge.ingest import dedup_id, new_trace
from bridge.providers.headers import HEADER_NAME
from bridge.store import Store

MAX_EVENTS = 100  # per request: Stripe's and GitHub's largest page
MAX_ID_LENGTH = 256
MAX_HEADERS = 100
MAX_HEADER_VALUE = 8192
MAX_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second datetime can show
SCHEME = "provider_api"
# Event ids and types as providers write them: visible ASCII, no spaces.
ID_PATTERN = f"[!-~]{{1,{MAX_ID_LENGTH}}}"
# A value of visible ASCII, spaces and tabs.
HEADER_VALUE_PATTERN = f"[\\t -~]{{0,{MAX_HEADER_VALUE}}}"
# Exactly what base64.b64decode(validate=True) accepts.
BASE64_PATTERN = "(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"

# What arrivals() and event_ids() take, for the OpenAPI document.
_ID_SCHEMA = {"type": "string", "pattern": f"^{ID_PATTERN}$"}
EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event_id"],
    "properties": {
        "event_id": _ID_SCHEMA,
        "event_type": {**_ID_SCHEMA, "nullable": True},
        "received_at": {
            "type": "number",
            "minimum": 0,
            "maximum": MAX_TIME,
            "description": "unix seconds; 400 when older than now - BRIDGE_DEDUP_TTL",
        },
        "headers": {
            "type": "array",
            "nullable": True,
            "maxItems": MAX_HEADERS,
            "items": {
                "type": "object",
                "required": ["name", "value"],
                "properties": {
                    "name": {"type": "string", "pattern": f"^{HEADER_NAME}$"},
                    "value": {"type": "string", "pattern": f"^{HEADER_VALUE_PATTERN}$"},
                },
                "additionalProperties": False,
            },
        },
        "body": {"type": "string"},
        "body_base64": {"type": "string", "pattern": f"^{BASE64_PATTERN}$"},
    },
    "oneOf": [{"required": ["body"]}, {"required": ["body_base64"]}],
    "additionalProperties": False,
}
REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["events"],
    "properties": {
        "events": {
            "type": "array",
            "maxItems": MAX_EVENTS,
            "items": {"$ref": "#/components/schemas/BackfillEvent"},
        }
    },
    "additionalProperties": False,
}
CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event_ids"],
    "properties": {"event_ids": {"type": "array", "maxItems": MAX_EVENTS, "items": _ID_SCHEMA}},
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Result:
    """One event's answer: its cursor (the first one, for a duplicate; None when a check
    found it absent) and whether the bridge had it already."""

    event_id: str
    id: str | None
    duplicate: bool

    def as_json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "id": self.id, "duplicate": self.duplicate}


def _text(value: Any, field: str, pattern: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise InvalidInput(field, f"must match {pattern}")
    return value


def _list(data: Mapping[str, Any], name: str) -> list[Any]:
    items = data.get(name)
    if not isinstance(items, list) or len(items) > MAX_EVENTS:
        raise InvalidInput(name, f"must be a list of at most {MAX_EVENTS}")
    return items


def event_ids(data: Mapping[str, Any]) -> list[str]:
    """`{"event_ids": [...]}`, checked."""
    ids = _list(data, "event_ids")
    return [_text(v, f"event_ids[{n}]", ID_PATTERN) for n, v in enumerate(ids)]


def _only(item: Mapping[str, Any], schema: Mapping[str, Any], field: str, what: str) -> None:
    """Refuse a member the schema does not name: a misspelt `recieved_at` was dropped, and
    the event stored as received now."""
    unknown = sorted(set(item) - set(schema["properties"]))
    if unknown:
        taken = ", ".join(sorted(schema["properties"]))
        raise InvalidInput(f"{field}.{unknown[0][:64]}", f"not a field of {what}; it takes {taken}")


def _headers(value: Any, field: str) -> dict[str, str]:
    """`[{"name", "value"}...]` (a list, so the OpenAPI document can state the name rule)."""
    if value is None:
        return {}
    if not isinstance(value, list) or len(value) > MAX_HEADERS:
        raise InvalidInput(field, f"must be a list of at most {MAX_HEADERS} headers")
    headers = {}
    for n, header in enumerate(value):
        if not isinstance(header, dict):
            raise InvalidInput(f"{field}[{n}]", "must be an object {name, value}")
        _only(header, EVENT_SCHEMA["properties"]["headers"]["items"], f"{field}[{n}]", "a header")
        name = _text(header.get("name"), f"{field}[{n}].name", HEADER_NAME)
        value = _text(header.get("value"), f"{field}[{n}].value", HEADER_VALUE_PATTERN)
        # As HTTP parses a field (RFC 9110 5.5): no message carries surrounding whitespace, and
        # a stored value with it cannot be sent on (replay, listen --forward-to refuse it).
        headers[name.lower()] = value.strip(" \t")
    return headers


def _body(item: Mapping[str, Any], field: str, max_body: int) -> bytes:
    if ("body" in item) == ("body_base64" in item):
        raise InvalidInput(field, "give exactly one of body (text) and body_base64")
    text, encoded = item.get("body"), item.get("body_base64")
    if "body" in item:
        if not isinstance(text, str):
            raise InvalidInput(f"{field}.body", "must be text")
        try:
            body = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, from \\ud800 in the JSON
            raise InvalidInput(f"{field}.body", "must be valid Unicode") from None
    else:
        if not isinstance(encoded, str) or not re.fullmatch(BASE64_PATTERN, encoded):
            raise InvalidInput(f"{field}.body_base64", "must be base64")
        try:
            body = base64.b64decode(encoded, validate=True)
        except binascii.Error:  # pragma: no cover - the pattern admits only valid base64
            raise InvalidInput(f"{field}.body_base64", "must be base64") from None
    if len(body) > max_body:
        raise InvalidInput(field, f"body over {max_body} bytes (BRIDGE_MAX_BODY_BYTES)")
    return body


def oldest_accepted(dedup_ttl: int, now: float | None = None) -> float:
    """The oldest `received_at` a backfill takes (unix seconds): the dedup window's start."""
    return (time.time() if now is None else now) - dedup_ttl


def arrivals(
    data: Mapping[str, Any], max_body: int, dedup_ttl: int, now: float | None = None
) -> list[Arrival]:
    """`{"events": [...]}`, every item checked before any is stored.

    An event older than the dedup window is refused: its live delivery's key may have
    expired while the event itself is still in the stream, and storing it again would hand
    subscribers a second copy they cannot tell from a new payment."""
    now = time.time() if now is None else now
    oldest = oldest_accepted(dedup_ttl, now)
    found = []
    for n, item in enumerate(_list(data, "events")):
        field = f"events[{n}]"
        if not isinstance(item, dict):
            raise InvalidInput(field, "must be an object")
        _only(item, EVENT_SCHEMA, field, "an event")
        event_type = item.get("event_type")  # absent or null: the provider names none
        if event_type is not None:
            event_type = _text(event_type, f"{field}.event_type", ID_PATTERN)
        received_at = item.get("received_at", now)
        if (
            not isinstance(received_at, int | float)
            or isinstance(received_at, bool)
            or not 0 <= received_at <= MAX_TIME
        ):
            raise InvalidInput(f"{field}.received_at", f"must be unix seconds, 0 to {MAX_TIME}")
        if received_at < oldest:
            raise InvalidInput(
                f"{field}.received_at",
                f"older than BRIDGE_DEDUP_TTL ({dedup_ttl} s): the bridge no longer remembers "
                "event ids that old and cannot tell whether it has this one; backfill a shorter "
                "window",
            )
        found.append(
            Arrival(
                event_id=_text(item.get("event_id"), f"{field}.event_id", ID_PATTERN),
                event_type=event_type,
                received_at=float(received_at),
                headers=_headers(item.get("headers"), f"{field}.headers"),
                body=_body(item, field, max_body),
                trace=new_trace(),
                source="backfill",
            )
        )
    return found


def store_all(store: Store, endpoint: Endpoint, items: list[Arrival]) -> list[Result]:
    """Store each in order; a StoreUnavailable midway (RecordChanged too: the endpoint
    changed since `endpoint` was read) leaves the earlier ones stored (a retry answers them
    as duplicates)."""
    results = []
    for arrival in items:
        tail = envelope.tail(
            endpoint, arrival, verified=True, verification={"scheme": SCHEME, "secret_id": None}
        )
        appended = store.append(
            endpoint.id, dedup_id(endpoint, arrival.event_id), arrival.event_type, tail,
            arrival.body, record=endpoint.digest,
        )  # fmt: skip
        outcome = "duplicate" if appended.duplicate else "backfilled"
        metrics.webhooks(endpoint.id, outcome).inc()
        results.append(Result(arrival.event_id, appended.id, appended.duplicate))
    return results


def check(store: Store, endpoint: Endpoint, ids: list[str]) -> list[Result]:
    """Which of these provider event ids the bridge has (as `store_all` would answer)."""
    cursors = store.seen(endpoint.id, [dedup_id(endpoint, i) for i in ids])
    return [Result(i, c, c is not None) for i, c in zip(ids, cursors, strict=True)]
