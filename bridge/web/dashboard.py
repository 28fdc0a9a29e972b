"""The dashboard: a static page at `/` (its files live in bridge/static)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory
from werkzeug.exceptions import NotFound

from bridge.web.operation import documented, ok, undocumented
from bridge.web.responses import conditional

STATIC = Path(__file__).resolve().parent.parent / "static"

bp = Blueprint("dashboard", __name__)

# Payloads are untrusted: the page renders them as text, and the policy forbids inline
# script, so even a rendering bug cannot run what a webhook sender wrote.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@bp.get("/")
@documented({"200": ok("The dashboard page", {"type": "string"}, media="text/html")})
def index() -> Response:
    """The live dashboard (HTML; log in with a token)"""
    return _static("index.html")


@bp.get("/static/<path:name>")
@undocumented  # the page's own files
def static(name: str) -> Response:
    # safe_join drops a trailing slash: `app.js/` was app.js, whose relative imports a
    # browser then resolves under `app.js/`. A file's path is exact, as every other is.
    if name.endswith("/"):
        raise NotFound()
    return _static(name)


def _static(name: str) -> Response:
    response = conditional(lambda: send_from_directory(STATIC, name, max_age=0))
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
