"""The admin API's event routes: history, raw bytes, replay, and rejected deliveries."""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, request

from bridge import cursor
from bridge.errors import InvalidInput, NotFound
from bridge.ingest import republish
from bridge.services import services
from bridge.store import StoredEvent
from bridge.web.api import require_admin

bp = Blueprint("events_api", __name__, url_prefix="/api/endpoints/<endpoint_id>")
bp.before_request(require_admin)

MAX_PAGE = 1000
RAW_FALLBACK = "application/octet-stream"


@bp.get("/events")
def events(endpoint_id: str) -> Response:
    """History, oldest first: after `since` going forwards, or, with `before`, the newest
    page before it going backwards; `next` is where the following page starts, either way."""
    found = services()
    found.endpoints.get(endpoint_id)
    since = cursor.parse(request.args.get("since", "0-0"))
    before = request.args.get("before")
    try:
        limit = int(request.args.get("limit", "100"))
    except ValueError:
        raise InvalidInput("limit", "expected a whole number") from None
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
    # One more than asked: `next` is set only when there really is a next page.
    if before is None:
        stored = found.store.history(endpoint_id, since, limit + 1)
        page = stored[:limit]
        following = page[-1].id if len(stored) > limit else None
    else:
        stored = found.store.history_before(
            endpoint_id, cursor.parse(before, "before"), limit + 1, since
        )
        page = stored[-limit:]
        following = page[0].id if len(stored) > limit else None
    return jsonify(
        {
            "events": [json.loads(e.envelope_json()) for e in page],
            "next": following,
            "recovered": found.store.state(endpoint_id).recovers(since),
        }
    )


def _one(endpoint_id: str, event_id: str) -> StoredEvent:
    found = services()
    found.endpoints.get(endpoint_id)
    stored = found.store.event(endpoint_id, cursor.parse(event_id, "event_id"))
    if stored is None:
        raise NotFound("event", event_id)
    return stored


@bp.get("/events/<event_id>/raw")
def raw_event(endpoint_id: str, event_id: str) -> Response:
    """The body exactly as the provider sent it, for forwarding: the envelope's `body` is
    parsed JSON, and re-serialising it would break the provider's signature."""
    stored = _one(endpoint_id, event_id)
    headers = json.loads(stored.envelope_tail).get("headers") or {}
    response = Response(stored.raw, content_type=headers.get("content-type") or RAW_FALLBACK)
    # Untrusted bytes under the bridge's origin: never sniffed, never rendered as a page.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Content-Disposition"] = "attachment"
    return response


@bp.post("/events/<event_id>/replay")
def replay(endpoint_id: str, event_id: str) -> tuple[Response, int]:
    """Publish a stored event again, as a new event marked `replay_of` the original."""
    original = _one(endpoint_id, event_id)
    appended = republish(services().store, endpoint_id, original)
    return jsonify({"id": appended.id, "endpoint": endpoint_id, "replay_of": original.id}), 201


@bp.get("/rejections")
def rejections(endpoint_id: str) -> Response:
    found = services()
    found.endpoints.get(endpoint_id)
    entries = [json.loads(e) for e in found.store.rejections(endpoint_id)]
    return jsonify({"rejections": entries})
