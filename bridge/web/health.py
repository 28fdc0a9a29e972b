"""Liveness, readiness and metrics for operators and load balancers."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request

from bridge import metrics
from bridge.auth import bearer
from bridge.services import services
from bridge.web.operation import OBJECT, documented, err, ok
from bridge.web.responses import unauthorized, unavailable

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
@documented(
    {
        "200": ok("Prometheus text format", {"type": "string"}, media="text/plain"),
        "401": err("unauthorized: BRIDGE_METRICS_TOKEN is set; send it or the admin token"),
    }
)
def prometheus() -> Response:
    """Prometheus metrics"""
    found = services()
    expected = found.settings.metrics_token
    if expected is not None:
        token = bearer(request.headers.get("Authorization")) or ""
        # The admin token too: the dashboard's latency panel reads this page with it.
        if not (
            hmac.compare_digest(token.encode(errors="replace"), expected.encode())
            or found.authority.is_admin(token)
        ):
            return unauthorized("send Authorization: Bearer <metrics or admin token>")
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
