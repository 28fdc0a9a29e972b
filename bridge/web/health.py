"""Liveness, readiness and metrics for operators and load balancers."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from bridge import metrics
from bridge.services import services
from bridge.web.operation import OBJECT, documented, err, ok
from bridge.web.responses import unavailable

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@documented({"200": ok("Running", OBJECT)})
def healthz() -> Response:
    """Liveness"""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@documented({"200": ok("Ready", OBJECT), "503": err("unavailable")})
def readyz() -> Response:
    """Readiness (Redis answers)"""
    found = services()
    reason = found.store.unready()
    if reason is not None:
        return unavailable(found.settings.retry_after, reason)
    return jsonify({"status": "ready"})


@bp.get("/metrics")
@documented({"200": ok("Prometheus text format", {"type": "string"}, media="text/plain")})
def prometheus() -> Response:
    """Prometheus metrics"""
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
