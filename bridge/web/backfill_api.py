"""`POST /api/endpoints/<id>/backfill` (store events fetched from the provider's API) and
`.../backfill/check` (which of these event ids does the bridge have). The CLI's `bridge
backfill` calls both; bridge/backfill.py does the work."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from bridge import backfill
from bridge.services import services
from bridge.web.api import json_body, require_admin

bp = Blueprint("backfill_api", __name__, url_prefix="/api/endpoints/<endpoint_id>/backfill")
bp.before_request(require_admin)


@bp.post("")
def store_events(endpoint_id: str) -> Response:
    found = services()
    endpoint = found.endpoints.get(endpoint_id)
    # Every item is checked before the first is stored: a bad one stores nothing.
    settings = found.settings
    items = backfill.arrivals(json_body(), settings.max_body_bytes, settings.dedup_ttl)
    results = backfill.store_all(found.store, endpoint, items)
    return jsonify({"events": [r.as_json() for r in results]})


@bp.post("/check")
def check_events(endpoint_id: str) -> Response:
    found = services()
    endpoint = found.endpoints.get(endpoint_id)
    results = backfill.check(found.store, endpoint, backfill.event_ids(json_body()))
    return jsonify({"events": [r.as_json() for r in results]})
