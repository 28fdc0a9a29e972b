"""`POST /hooks/<endpoint>`: where providers deliver webhooks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Request, Response, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from bridge.endpoints import Endpoint
from bridge.ingest import new_trace, receive
from bridge.services import services
from bridge.web.operation import OBJECT, documented, err, ok
from bridge.web.origin import called_url, target
from bridge.web.responses import error, json_answer
from bridge.web.schemas import ref

bp = Blueprint("hooks", __name__)


@bp.after_request
def tell_trace(response: Response) -> Response:
    # On every answer, errors too: the id names the delivery in the log and the debugger.
    # One the screening refused before the view made its trace (a declared 413, a bad
    # Host) gets one of its own, for the access log's line and the sender's report.
    response.headers["X-Bridge-Trace"] = g.get("trace") or new_trace()
    return response


@bp.post("/hooks/<endpoint_id>")
@documented(
    {
        "202": ok("Stored and published", ref("Accepted")),
        "200": ok(
            "Duplicate delivery (`duplicate` true), or a provider handshake's own answer",
            {"anyOf": [ref("Accepted"), OBJECT]},
        ),
        "401": err("invalid_signature, with reason"),
        "404": err("unknown_endpoint"),
        "408": err("body_too_slow: the body stalled or trickled"),
        "413": err("payload_too_large"),
        "503": err("unavailable (Retry-After)"),
    },
    body={"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
)
def ingest(endpoint_id: str) -> Response:
    """Receive a webhook from a provider (signature checked on the raw bytes)"""
    g.trace = trace = new_trace()
    found = services()
    # The hub's subscription is what keeps this worker's endpoint-record cache exact.
    found.hub.ensure_started()
    endpoint = found.endpoints.get(endpoint_id)
    # The request itself, not the context-local proxy each attribute would go through.
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    # Raw bytes first, before anything could parse and re-encode the body: the signature is
    # over the bytes as sent. MAX_CONTENT_LENGTH turns an oversized body into a 413 here.
    body = req.get_data(cache=True)
    settings = found.settings
    if len(body) > settings.max_body_bytes:
        raise RequestEntityTooLarge()

    def url_for(endpoint: Endpoint) -> str:
        # Only URL-signing schemes need the URL the provider called.
        if not endpoint.verifier.signs_url:
            return ""
        return _public_url(endpoint.options, settings.public_url)

    def reread() -> tuple[Endpoint, str]:
        current = found.endpoints.get(endpoint_id, fresh=True)
        return current, url_for(current)

    outcome = receive(
        found.store,
        endpoint,
        body,
        headers_of(req.environ),
        url=url_for(endpoint),
        default_tolerance=settings.timestamp_tolerance,
        trace=trace,
        reread=reread,
        diagnoses=found.diagnoses,
    )
    if outcome.handshake is not None:
        # An empty answer means "200, empty body" (Xero's intent-to-receive).
        return jsonify(outcome.handshake) if outcome.handshake else Response(status=200)
    appended = outcome.appended
    if appended is None:  # pragma: no cover - receive returns one or the other
        return error(500, "internal")
    if outcome.answer is not None:
        return jsonify(outcome.answer)
    return json_answer(
        {
            "id": appended.id,
            "endpoint": endpoint.id,
            "duplicate": appended.duplicate,
            "trace": trace,
        },
        200 if appended.duplicate else 202,
    )


_NOT_HEADERS = frozenset({"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"})


def headers_of(environ: Mapping[str, Any]) -> dict[str, str]:
    """The request's headers, names in lower case: `request.headers` as werkzeug reads them
    from the environ (`EnvironHeaders`: in environ order, Content-Type and -Length from
    their CGI keys when not empty), lowered at once instead of title-cased first."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            if key not in _NOT_HEADERS:
                headers[key[5:].replace("_", "-").lower()] = value
        elif (key == "CONTENT_TYPE" or key == "CONTENT_LENGTH") and value:
            headers[key.replace("_", "-").lower()] = value
    return headers


def _public_url(options: Mapping[str, Any], public_url: str | None) -> str:
    """The URL the provider called, as the public sees it: what URL-signing schemes sign."""
    query = request.query_string.decode("latin-1")
    registered = options.get("public_url")
    if registered:
        return str(registered) + (f"?{query}" if query else "")
    if public_url:
        return public_url + target(request)
    return called_url(request)
