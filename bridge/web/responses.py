"""JSON answers and the mapping from the bridge's exceptions to HTTP.

Every error is `{"error": "<code>", ...}` with a fitting status: never an HTML page, never a
stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import WebsocketMismatch

from bridge import jsontext
from bridge.errors import (
    BodyTooSlow,
    BodyUnframed,
    Conflict,
    InvalidInput,
    NotFound,
    StoreUnavailable,
    VerificationError,
)

if TYPE_CHECKING:
    from bridge.config import Settings

log = logging.getLogger(__name__)
WS_PATH = "/ws"  # bridge/web/ws.py's route
JSON = "application/json"


def json_bytes(value: dict[str, Any]) -> bytes:
    """`value` as the bridge's own answers (every error, the webhook's) write it: compact,
    ASCII, ended by a newline, the bytes jsonify writes outside debug mode (the app's JSON
    provider, as the factory sets it), in debug mode too and without Flask."""
    return (jsontext.COMPACT.encode(value) + "\n").encode("ascii")


@dataclass(frozen=True)
class Answer:
    """An answer made without Flask: its status, its JSON body (None: no body) and the
    headers it needs besides; `as_response` makes it Flask's, web/hooks.py writes it itself."""

    status: int
    body: dict[str, Any] | None
    headers: tuple[tuple[str, str], ...] = ()


def empty(status: int) -> Response:
    """An answer without a body, and so without the text/html type Flask would give it."""
    response = Response(status=status)
    del response.headers["Content-Type"]
    return response


def error(status: int, code: str, **extra: Any) -> Response:
    return as_response(Answer(status, {"error": code, **extra}))


def unauthorized(message: str) -> Response:
    """401 asking for a bearer token (RFC 6750)."""
    response = error(401, "unauthorized", message=message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="webhook-bridge"'
    return response


def unavailable(
    retry_after: int, reason: str = StoreUnavailable.reason, message: str | None = None
) -> Response:
    """503 with Retry-After; `reason` is a StoreUnavailable's ("unreachable", "full")."""
    return as_response(_unavailable(retry_after, reason, message))


def _unavailable(retry_after: int, reason: str, message: str | None) -> Answer:
    message = message or f"storage is {reason}; retry later"
    body = {"error": "unavailable", "reason": reason, "message": message}
    return Answer(503, body, (("Retry-After", str(retry_after)),))


def as_response(answer: Answer) -> Response:
    if answer.body is None:
        response = empty(answer.status)
    else:
        response = Response(json_bytes(answer.body), answer.status, mimetype=JSON)
    response.headers.extend(answer.headers)
    return response


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    412: "precondition_failed",
    416: "range_not_satisfiable",
    501: "not_implemented",  # as gunicorn's own 501 (bridge/serving.py)
}


def conditional(send: Callable[[], Response]) -> Response:
    """A file's answer, `send()`, under its request's preconditions in RFC 9110 13.2.2's
    order where werkzeug's make_conditional has them otherwise: `If-Match: *` is true of a
    file that exists (werkzeug answered 412), a failing If-Match is a 412 before any Range
    is served (werkzeug: 206 or 416), and without If-Match an If-Unmodified-Since the file
    changed after is a 412 (werkzeug ignored it). Every 412 is JSON, with no file."""
    environ = request.environ
    if str(environ.get("HTTP_IF_MATCH", "")).strip() == "*":
        del environ["HTTP_IF_MATCH"]  # read by werkzeug only from here on
    asked_range = None
    if "HTTP_IF_MATCH" in environ or "HTTP_IF_UNMODIFIED_SINCE" in environ:
        # Checked against the whole file first: werkzeug serves (or refuses, 416) a Range
        # before it looks at them. Rare enough (no browser sends either for a GET) to open
        # the file twice where they hold.
        asked_range = environ.pop("HTTP_RANGE", None)
    response = send()
    failed = _failed_precondition(response)
    if failed is not None:
        response.close()  # the file it would have sent
        return error(412, "precondition_failed", message=failed)
    if asked_range is not None:
        response.close()
        environ["HTTP_RANGE"] = asked_range
        response = send()
    return response


def _failed_precondition(response: Response) -> str | None:
    etag, _ = response.get_etag()
    if request.if_match or response.status_code == 412:
        if response.status_code == 412 or etag is None or not request.if_match.is_strong(etag):
            return "If-Match names no version of this file (a plain GET answers its ETag)"
        return None
    since, changed = request.if_unmodified_since, response.last_modified
    if since is not None and changed is not None and changed > since:
        return "the file changed after If-Unmodified-Since (a plain GET answers Last-Modified)"
    return None


def _upgrade_mismatch() -> Response:
    if request.path == WS_PATH:
        message = "/ws takes only a WebSocket upgrade (Upgrade: websocket, Connection: upgrade)"
    else:
        message = (
            f"a WebSocket upgrade is accepted only on {WS_PATH}; {request.method} "
            f"{request.path} is plain HTTP: send it without Upgrade: websocket"
        )
    return error(400, "bad_request", message=message)


def refusal(exc: Exception, settings: Settings) -> Answer:
    """The answer to the exception a request ended with: the bridge's own errors and
    werkzeug's HTTP ones by their kind, any other a 500, logged with its traceback."""
    if isinstance(exc, VerificationError):
        return Answer(401, {"error": "invalid_signature", "reason": exc.reason})
    if isinstance(exc, NotFound):
        # Cut as an unknown JSON field is: no id is longer, and the rest is a stranger's.
        return Answer(404, {"error": f"unknown_{exc.kind}", "id": exc.key[:64]})
    if isinstance(exc, InvalidInput):
        body = {"error": "invalid_request", "field": exc.field, "message": exc.problem}
        return Answer(400, body)
    if isinstance(exc, Conflict):
        return Answer(409, {"error": "conflict", "message": str(exc)})
    if isinstance(exc, BodyTooSlow):
        return Answer(408, {"error": "body_too_slow", "message": str(exc)})
    if isinstance(exc, BodyUnframed):
        return Answer(400, {"error": "bad_request", "message": str(exc)})
    if isinstance(exc, StoreUnavailable):
        log.warning("503: %s", exc)
        return _unavailable(settings.retry_after, exc.reason, exc.advice)
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        message = exc.description or ""
        if status == 413:  # werkzeug's sentence names no limit, and every 413 is this one
            message = f"the body is over the {settings.max_body_bytes}-byte limit"
        body = {"error": _HTTP_CODES.get(status, "http_error"), "message": message}
        # e.g. Allow on a 405
        headers = tuple((k, v) for k, v in exc.get_headers() if k.lower() != "content-type")
        return Answer(status, body, headers)
    log.error("unhandled error", exc_info=exc)
    return Answer(500, {"error": "internal", "message": "unexpected error; see the server log"})


def register(app: Flask, settings: Settings) -> None:
    @app.errorhandler(Exception)
    def _refused(exc: Exception) -> Response:
        # Flask's lookup by class finds this for werkzeug's HTTPExceptions too.
        return as_response(refusal(exc, settings))

    @app.errorhandler(WebsocketMismatch)
    def _not_an_upgrade(exc: WebsocketMismatch) -> Response:
        # werkzeug's routing: /ws asked without `Upgrade: websocket` and `Connection:
        # upgrade`, or another path asked with them. Its own sentence names neither.
        return _upgrade_mismatch()

    @app.errorhandler(MethodNotAllowed)
    def _not_allowed(exc: MethodNotAllowed) -> Response:
        # werkzeug reports a wrong method before a WebSocket mismatch: an upgrade of
        # GET /api/endpoints was a 405 "Allow: POST", the method it had asked for refused.
        if _upgrade_elsewhere():
            return _upgrade_mismatch()
        return _refused(exc)

    def _upgrade_elsewhere() -> bool:
        """Whether this is a WebSocket upgrade of a route that takes the method over HTTP."""
        adapter = app.url_map.bind_to_environ(request.environ)
        if not adapter.websocket:
            return False
        try:
            adapter.match(method=request.method, websocket=False)
        except HTTPException:
            return False
        return True
