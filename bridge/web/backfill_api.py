"""`POST /api/endpoints/<id>/backfill` (store events fetched from the provider's API) and
`.../backfill/check` (which of these event ids does the bridge have). The CLI's `bridge
backfill` calls both; bridge/backfill.py does the work."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from bridge import backfill
from bridge.services import services
from bridge.web.api import json_body, require_admin, screen_query
from bridge.web.operation import OBJECT, documented, err, ok, request_body
from bridge.web.schemas import ref

bp = Blueprint("backfill_api", __name__, url_prefix="/api/endpoints/<endpoint_id>/backfill")
bp.before_request(require_admin)
bp.before_request(screen_query)


@bp.post("")
@documented(
    {
        "200": ok("Per event: its cursor and whether it was there already", OBJECT),
        "400": err("invalid_request"),
        "404": err("unknown_endpoint"),
        "413": err("payload_too_large"),
        "503": err("unavailable (Retry-After); the events answered before are stored"),
    },
    body=request_body(ref("Backfill")),
)
def store_events(endpoint_id: str) -> Response:
    """Store events fetched from the provider's own API (bridge backfill), deduplicated as
    live deliveries; each body at most BRIDGE_MAX_BODY_BYTES"""
    found = services()
    # Fresh, as its digest goes with every append: this worker's cached copy may be a moment
    # behind the endpoint deleted and created again (another generation, so other dedup ids).
    endpoint = found.endpoints.get(endpoint_id, fresh=True)
    # Every item is checked before the first is stored: a bad one stores nothing.
    settings = found.settings
    items = backfill.arrivals(
        json_body(fields=backfill.REQUEST_SCHEMA["properties"]),
        settings.max_body_bytes,
        settings.dedup_ttl,
    )
    results = backfill.store_all(found.store, endpoint, items)
    return jsonify({"events": [r.as_json() for r in results]})


@bp.post("/check")
@documented(
    {
        "200": ok(
            "Per event id: its cursor (null when absent) and duplicate; `accepts_after`, the"
            " oldest received_at a backfill takes (unix seconds, now - BRIDGE_DEDUP_TTL)",
            OBJECT,
        ),
        "400": err("invalid_request"),
        "404": err("unknown_endpoint"),
    },
    body=request_body(backfill.CHECK_SCHEMA),
)
def check_events(endpoint_id: str) -> Response:
    """Which of these provider event ids the endpoint has (stores nothing)"""
    found = services()
    endpoint = found.endpoints.get(endpoint_id)
    results = backfill.check(
        found.store,
        endpoint,
        backfill.event_ids(json_body(fields=backfill.CHECK_SCHEMA["properties"])),
    )
    # The CLI refuses a window that starts earlier, before it lists anything.
    accepts_after = backfill.oldest_accepted(found.settings.dedup_ttl)
    return jsonify({"events": [r.as_json() for r in results], "accepts_after": accepts_after})
