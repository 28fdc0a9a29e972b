"""Liveness, readiness and metrics for operators and load balancers."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from bridge import metrics
from bridge.services import services
from bridge.web.responses import unavailable

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    found = services()
    reason = found.store.unready()
    if reason is not None:
        return unavailable(found.settings.retry_after, reason)
    return jsonify({"status": "ready"})


@bp.get("/metrics")
def prometheus() -> Response:
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
