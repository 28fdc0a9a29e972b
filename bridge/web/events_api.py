"""The admin API's event routes: history, raw bytes, replay, and rejected deliveries."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request

from bridge import cursor as cursors
from bridge.errors import NotFound
from bridge.ingest import republish
from bridge.search import SCAN_BUDGET, TERM_SCHEMA, Search
from bridge.services import services
from bridge.store import Store, StoredEvent
from bridge.web.api import require_admin, screen_query, whole_arg
from bridge.web.operation import OBJECT, documented, err, ok, query
from bridge.web.schemas import ref

bp = Blueprint("events_api", __name__, url_prefix="/api/endpoints/<endpoint_id>")
bp.before_request(require_admin)
bp.before_request(screen_query)

MAX_PAGE = 1000
SCAN_BATCH = 500  # entries read per round trip while searching
RAW_FALLBACK = "application/octet-stream"


@bp.get("/events")
@documented(
    {
        "200": ok("Events", ref("EventPage")),
        "400": err("invalid_request"),
        "404": err("unknown_endpoint"),
    },
    query=(
        query("since", cursors.SCHEMA),
        query(
            "before",
            cursors.SCHEMA,
            "The newest `limit` events before this cursor (exclusive), still oldest first; "
            "`next` is then the `before` of the next older page",
        ),
        query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
        query("event_type", TERM_SCHEMA, "Only events whose type matches this glob (payment.*)"),
        query("q", TERM_SCHEMA, "Only events whose (masked) body holds this text, any case"),
        query("verified", {"type": "string", "enum": ["true", "false"]}),
    ),
)
def events(endpoint_id: str) -> Response:
    """Event history, oldest first

    After `since` going forwards, or, with `before`, the newest page before it going
    backwards; `next` is where the following page starts, either way."""
    found = services()
    found.endpoints.get(endpoint_id)
    since = cursors.parse(request.args.get("since", "0-0"))
    before = request.args.get("before")
    limit = whole_arg("limit", 100, 1, MAX_PAGE)
    search = Search.from_args(request.args)
    end = None if before is None else cursors.parse(before, "before")
    page, following, scanned = _page(found.store, endpoint_id, since, end, limit, search)
    answer: dict[str, Any] = {
        "events": [json.loads(e.envelope_json()) for e in page],
        "next": following,
        "recovered": found.store.state(endpoint_id).recovers(since),
    }
    if search.active:
        answer["scanned"] = scanned
    return jsonify(answer)


def _page(
    store: Store,
    endpoint_id: str,
    since: cursors.Cursor,
    before: cursors.Cursor | None,
    limit: int,
    search: Search,
) -> tuple[list[StoredEvent], str | None, int]:
    """Up to `limit` events, oldest first: forwards after `since`, or the newest before
    `before`; with `next`, where the following page starts (None: nothing is left), and how
    many entries were looked at."""
    if not search.active:  # fewer than `limit` where they come to Store's READ_BYTES
        if before is None:
            page = store.history(endpoint_id, since, limit)
            return page.events, page.events[-1].id if page.more else None, len(page.events)
        page = store.history_before(endpoint_id, before, limit, since)
        return page.events, page.events[0].id if page.more else None, len(page.events)
    # A search reads batches until the page is full, the stream ends, or SCAN_BUDGET entries
    # were looked at; then `next` is where it stopped, so a sparse match costs bounded time.
    backwards = before is not None
    found: list[StoredEvent] = []
    scanned, stopped_at = 0, None
    while scanned < SCAN_BUDGET:
        if before is None:
            batch = store.history(endpoint_id, since, SCAN_BATCH)
            rows = batch.events
        else:
            batch = store.history_before(endpoint_id, before, SCAN_BATCH, since)
            rows = batch.events[::-1]
        for event in rows:
            scanned += 1
            if search.matches(event):
                found.append(event)
                if len(found) == limit:
                    return _oldest_first(found, backwards), event.id, scanned
        if not batch.more:
            return _oldest_first(found, backwards), None, scanned
        stopped_at = rows[-1].id
        if before is None:
            since = cursors.parse(stopped_at)
        else:
            before = cursors.parse(stopped_at)
    return _oldest_first(found, backwards), stopped_at, scanned


def _oldest_first(events: list[StoredEvent], backwards: bool) -> list[StoredEvent]:
    return events[::-1] if backwards else events


def _one(endpoint_id: str, cursor: str) -> StoredEvent:
    found = services()
    found.endpoints.get(endpoint_id)
    # The field is the cursor: an envelope's `event_id` is the provider's id, not this.
    stored = found.store.event(endpoint_id, cursors.parse(cursor, "cursor"))
    if stored is None:
        raise NotFound("event", cursor)
    return stored


@bp.get("/events/<cursor>/raw")
@documented(
    {
        "200": ok(
            "The raw body (application/octet-stream when the delivery had no Content-Type)",
            {"type": "string", "format": "binary"},
            media="*/*",
        ),
        "400": err("invalid_request (a malformed event id)"),
        "404": err("unknown_endpoint / unknown_event"),
    }
)
def raw_event(endpoint_id: str, cursor: str) -> Response:
    """One event's body, byte for byte as received, with its original Content-Type (for
    forwarding; the headers are in the event's envelope)

    The envelope's `body` is parsed JSON, and re-serialising it would break the provider's
    signature."""
    stored = _one(endpoint_id, cursor)
    headers = json.loads(stored.envelope_tail).get("headers") or {}
    response = Response(stored.raw, content_type=headers.get("content-type") or RAW_FALLBACK)
    # Untrusted bytes under the bridge's origin: never sniffed, never rendered as a page.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Content-Disposition"] = "attachment"
    return response


@bp.post("/events/<cursor>/replay")
@documented(
    {
        "201": ok("The replay's cursor", ref("Replayed")),
        "400": err("invalid_request"),
        "404": err("unknown_endpoint / unknown_event"),
    }
)
def replay(endpoint_id: str, cursor: str) -> tuple[Response, int]:
    """Publish a stored event again, as a new event marked `replay_of` the original."""
    original = _one(endpoint_id, cursor)
    appended = republish(services().store, endpoint_id, original)
    return jsonify({"id": appended.id, "endpoint": endpoint_id, "replay_of": original.id}), 201


@bp.get("/rejections")
@documented({"200": ok("Rejections", OBJECT), "404": err("unknown_endpoint")})
def rejections(endpoint_id: str) -> Response:
    """Recently rejected deliveries, newest first, with a diagnosis of each"""
    found = services()
    found.endpoints.get(endpoint_id)
    entries = [json.loads(e) for e in found.store.rejections(endpoint_id)]
    return jsonify({"rejections": entries})
