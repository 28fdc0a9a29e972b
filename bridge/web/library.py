"""The browser client library for users' own pages (docs/client.md): `/client.js`, the
`/close-codes.js` it imports (generated from bridge/closecodes.py) and `/client.d.ts`.

Pages on other origins import these as ES modules, and a cross-origin module script is
fetched in CORS mode: without `Access-Control-Allow-Origin` the browser refuses it. The code
is public and fetched without credentials, so `*` is right (and never needs `Vary`).
Caching: revalidate every time (`no-cache` plus the ETag), so a bridge upgrade reaches every
page at its next load while an unchanged file costs a 304.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import Blueprint, Response, request, send_from_directory

from bridge import closecodes
from bridge.web.dashboard import STATIC
from bridge.web.operation import documented, ok
from bridge.web.responses import conditional

bp = Blueprint("library", __name__)

JAVASCRIPT = "text/javascript"  # Flask adds the charset
CLOSE_CODES_JS = closecodes.es_module().encode()


def _text(description: str, media: str) -> dict[str, dict[str, object]]:
    return {"200": ok(description, {"type": "string"}, media=media)}


@bp.get("/client.js")
@documented(_text("The library, an ES module", "text/javascript"))
def client_js() -> Response:
    """The browser client library (docs/client.md), importable from any origin"""
    return _public(lambda: send_from_directory(STATIC, "client.js", mimetype=JAVASCRIPT))


@bp.get("/client.d.ts")
@documented(_text("TypeScript declarations", "application/typescript"))
def client_d_ts() -> Response:
    """TypeScript declarations of /client.js, for editors"""
    return _public(
        lambda: send_from_directory(STATIC, "client.d.ts", mimetype="application/typescript")
    )


@bp.get("/close-codes.js")
@documented(_text("The catalogue, an ES module", "text/javascript"))
def close_codes_js() -> Response:
    """The WebSocket close codes and whether each is worth a reconnect (docs/protocol.md)"""
    return _public(_close_codes)


def _close_codes() -> Response:
    response = Response(CLOSE_CODES_JS, mimetype=JAVASCRIPT)
    response.set_etag(hashlib.sha256(CLOSE_CODES_JS).hexdigest()[:32])
    response.make_conditional(request)  # in place: a matching If-None-Match gets a 304
    return response


def _public(send: Callable[[], Response]) -> Response:
    response = conditional(send)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache"
    return response
