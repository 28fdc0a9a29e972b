"""`GET /ws`: the WebSocket route, its Origin and token checks, and this process's sessions.

The checks run in `before_request`, that is before the upgrade, so a refused browser gets a
plain 403 (or 401) instead of a socket that opens and then closes.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
import time
import weakref
from typing import Any

from flask import Blueprint, Response, g, request
from flask_sock import Sock

from bridge import metrics
from bridge.auth import bearer
from bridge.services import services
from bridge.web.operation import undocumented
from bridge.web.responses import error, unauthorized
from bridge.web.session import SHUTTING_DOWN, UNAUTHORIZED, Session

bp = Blueprint("ws", __name__)
sock = Sock()


class Sessions:
    """The sessions of this process, and a reaper that cuts sockets stuck in one send."""

    def __init__(self) -> None:
        self._live: weakref.WeakSet[Session] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._reaper_pid = 0
        self.shutting_down = False

    def add(self, session: Session) -> None:
        with self._lock:
            self._live.add(session)
            if self.shutting_down:  # upgraded just as the shutdown began
                session.close(SHUTTING_DOWN, "server shutting down")
            if self._reaper_pid != os.getpid():
                self._reaper_pid = os.getpid()
                threading.Thread(target=self._reap, name="bridge-reaper", daemon=True).start()

    def discard(self, session: Session) -> None:
        with self._lock:
            self._live.discard(session)

    def close_all(self, code: int = SHUTTING_DOWN, reason: str = "server shutting down") -> None:
        """Close every socket, and every socket that opens from now on (the worker still
        accepts connections for a moment after SIGTERM)."""
        with self._lock:
            self.shutting_down = True
            live = list(self._live)
        for session in live:
            session.close(code, reason)

    def _reap(self) -> None:
        """Once a second: cut sockets stuck in one send, and those whose peer did not answer
        our close frame; close those whose token expired."""
        while True:
            time.sleep(1.0)
            now, wall = time.monotonic(), time.time()
            stalled, unanswered, expired = [], [], []
            with self._lock:  # one pass: with 20,000 sockets a worker, each pass counts
                for session in self._live:
                    if session.socket.stalled(now):
                        stalled.append(session)
                    elif session.socket.close_unanswered(now):
                        unanswered.append(session)
                    elif session.expired(wall):
                        expired.append(session)
            for session in stalled:
                session.socket.abort()
            for session in unanswered:
                session.socket.cut()
            for session in expired:
                session.close(UNAUTHORIZED, "token expired")


SESSIONS = Sessions()


def _own_origins() -> set[str]:
    """The origins that may open sockets, in lower case: an origin's scheme and host are
    case-insensitive (RFC 6454 4), browsers send them in lower case, and an operator's
    `BRIDGE_ALLOWED_ORIGINS=https://App.example.com` refused every browser."""
    found = services()
    origins = {f"{request.scheme}://{request.host}", *found.settings.allowed_origins}
    if found.settings.public_url:
        origins.add(found.settings.public_url)
    return {o.lower() for o in origins}


@bp.before_request
def guard() -> Response | None:
    # No permessage-deflate: simple-websocket accepts it whenever a client offers it (every
    # browser does), and each compressed socket then holds zlib state of a few hundred KB
    # and compresses every frame separately. Webhook payloads are small; sockets are many.
    request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    if SESSIONS.shutting_down:
        response = error(503, "shutting_down", message="this worker is stopping; reconnect")
        response.headers["Retry-After"] = "1"
        return response
    refused = _bad_handshake()
    if refused is not None:
        return refused
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/").lower() not in _own_origins():
        return error(403, "forbidden_origin", message="this Origin may not open sockets here")
    header = request.headers.get("Authorization")
    if header is not None:
        token = bearer(header)
        principal = services().authority.principal(token) if token else None
        if principal is None:
            return unauthorized("bearer token is wrong or expired")
        g.principal = principal
    return None


def _bad_handshake() -> Response | None:
    """RFC 6455 4.2.1's checks of an upgrade request that wsproto would raise on (a 500)
    rather than answer, or would take: a GET (not HEAD), over HTTP/1.1, ASCII `Connection`
    and `Sec-WebSocket-Protocol`, version 13 only (426 naming it, 4.4), a key of 16 bytes
    in base64."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return None  # a plain GET: simple-websocket's own 400
    if request.method != "GET":  # HEAD: Flask routes it wherever it routes GET
        return error(400, "bad_request", message="a WebSocket upgrade is a GET (RFC 6455 4.1)")
    if request.environ.get("SERVER_PROTOCOL") == "HTTP/1.0":
        return error(400, "bad_request", message="a WebSocket upgrade needs HTTP/1.1")
    # wsproto decodes these as ASCII, and raises on any other byte.
    for name in ("Connection", "Sec-WebSocket-Protocol"):
        if not request.headers.get(name, "").isascii():
            return error(400, "bad_request", message=f"{name} must be ASCII (RFC 6455)")
    if request.headers.get("Sec-WebSocket-Version", "").strip() != "13":
        response = error(
            426, "unsupported_websocket_version", message="this server speaks WebSocket version 13"
        )
        response.headers["Sec-WebSocket-Version"] = "13"
        return response
    key = request.headers.get("Sec-WebSocket-Key", "").strip()
    try:
        valid = len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        return error(
            400, "bad_request", message="Sec-WebSocket-Key must be 16 bytes in base64 (RFC 6455)"
        )
    return None


@sock.route("/ws", bp=bp)  # type: ignore[untyped-decorator]
@undocumented  # a WebSocket, not an HTTP operation: docs/protocol.md
def websocket(ws: Any) -> None:
    session = Session(ws, services(), g.get("principal"))
    SESSIONS.add(session)
    metrics.OPEN_SOCKETS.inc()
    try:
        session.run()
    finally:
        metrics.OPEN_SOCKETS.dec()
        SESSIONS.discard(session)
