"""JSON answers and the mapping from the bridge's exceptions to HTTP.

Every error is `{"error": "<code>", ...}` with a fitting status: never an HTML page, never a
stack trace.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
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


def json_answer(value: dict[str, Any], status: int) -> Response:
    """`jsonify(value)` with `status`: the same bytes and headers, without the work Flask's
    JSON provider does per call (its arguments gathered, an encoder made) where the app's
    provider writes compact JSON (Flask's own, outside debug mode, as the bridge sets it:
    ASCII, keys unsorted); with any other it is jsonify. `value` holds strings, numbers,
    booleans and None only, which Flask's `default` is never asked to convert. The webhook
    answer's, ~5 us a call (tests/test_json_answer.py compares it with jsonify's)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    provider = app.json
    compact = provider.compact
    if (
        type(provider) is DefaultJSONProvider
        and not ((compact is None and app.debug) or compact is False)
        and provider.ensure_ascii
        and not provider.sort_keys
    ):
        return app.response_class(  # type: ignore[no-any-return]
            jsontext.COMPACT.encode(value) + "\n", status=status, mimetype=provider.mimetype
        )
    response = jsonify(value)
    response.status_code = status
    return response


def error(status: int, code: str, **extra: Any) -> Response:
    response = jsonify({"error": code, **extra})
    response.status_code = status
    return response


def unauthorized(message: str) -> Response:
    """401 asking for a bearer token (RFC 6750)."""
    response = error(401, "unauthorized", message=message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="webhook-bridge"'
    return response


def unavailable(
    retry_after: int, reason: str = StoreUnavailable.reason, message: str | None = None
) -> Response:
    """503 with Retry-After; `reason` is a StoreUnavailable's ("unreachable", "full")."""
    message = message or f"storage is {reason}; retry later"
    response = error(503, "unavailable", reason=reason, message=message)
    response.headers["Retry-After"] = str(retry_after)
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


def json_412(response: Response) -> Response:
    """A file's answer, with werkzeug's 412 for an If-Match naming none of its versions
    (whose body was the whole file) made the JSON error every other refusal is."""
    if response.status_code != 412:
        return response
    response.close()  # the file it would have sent
    return error(
        412,
        "precondition_failed",
        message="If-Match names no version of this file (a plain GET answers its ETag)",
    )


def _upgrade_mismatch() -> Response:
    if request.path == WS_PATH:
        message = "/ws takes only a WebSocket upgrade (Upgrade: websocket, Connection: upgrade)"
    else:
        message = (
            f"a WebSocket upgrade is accepted only on {WS_PATH}; {request.method} "
            f"{request.path} is plain HTTP: send it without Upgrade: websocket"
        )
    return error(400, "bad_request", message=message)


def register(app: Flask, settings: Settings) -> None:
    retry_after = settings.retry_after

    @app.errorhandler(VerificationError)
    def _verification(exc: VerificationError) -> Response:
        return error(401, "invalid_signature", reason=exc.reason)

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound) -> Response:
        # Cut as an unknown JSON field is: no id is longer, and the rest is a stranger's.
        return error(404, f"unknown_{exc.kind}", id=exc.key[:64])

    @app.errorhandler(InvalidInput)
    def _invalid(exc: InvalidInput) -> Response:
        return error(400, "invalid_request", field=exc.field, message=exc.problem)

    @app.errorhandler(Conflict)
    def _conflict(exc: Conflict) -> Response:
        return error(409, "conflict", message=str(exc))

    @app.errorhandler(BodyTooSlow)
    def _too_slow(exc: BodyTooSlow) -> Response:
        return error(408, "body_too_slow", message=str(exc))

    @app.errorhandler(BodyUnframed)
    def _unframed(exc: BodyUnframed) -> Response:
        return error(400, "bad_request", message=str(exc))

    @app.errorhandler(StoreUnavailable)
    def _unavailable(exc: StoreUnavailable) -> Response:
        log.warning("503: %s", exc)
        return unavailable(retry_after, exc.reason, exc.advice)

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
        return _http(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = exc.description or ""
        if status == 413:  # werkzeug's sentence names no limit, and every 413 is this one
            message = f"the body is over the {settings.max_body_bytes}-byte limit"
        response = error(status, _HTTP_CODES.get(status, "http_error"), message=message)
        for name, value in exc.get_headers():
            if name.lower() != "content-type":  # e.g. Allow on a 405
                response.headers[name] = value
        return response

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

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error(500, "internal", message="unexpected error; see the server log")
