"""`POST /hooks/<endpoint>`: where providers deliver webhooks.

`HookRoute` answers them ahead of Flask, a WSGI layer inside the body pacing and ProxyFix
(bridge/factory.py): Flask's machinery around the view (its contexts, routing over every
rule, the hooks, the Response object) was ~15% of a webhook's CPU, the largest cost left
that was not the job itself (docs/performance.md). A webhook still passes the screening
every Flask request does, its answers are the bytes Flask's would be, and its errors are
answered by the same `refusal` as Flask's handlers (web/responses.py). The Flask rule stays:
routing gives the other methods their 405, the OpenAPI document its operation, and its view
serves what HookRoute hands on, a POST with an Upgrade header (which werkzeug's routing may
take for a WebSocket handshake, a 400 of its own), with the trace HookRoute gave it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Request, Response, request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.sansio.utils import get_content_length

from bridge.endpoints import Endpoint
from bridge.ingest import new_trace, receive
from bridge.services import Services, services
from bridge.web import screening
from bridge.web.operation import OBJECT, documented, err, ok
from bridge.web.origin import called_url, target
from bridge.web.responses import JSON, Answer, as_response, json_bytes, refusal
from bridge.web.schemas import ref

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

bp = Blueprint("hooks", __name__)
PREFIX = "/hooks/"
# The environ key of the trace HookRoute gives a webhook it hands on to Flask.
TRACE = "bridge.trace"


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
    # The request itself, not the context-local proxy each attribute would go through.
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    trace = req.environ.get(TRACE) or new_trace()
    return as_response(deliver(services(), req, endpoint_id, trace))


class HookRoute:
    """A WSGI app answering `POST /hooks/<id>` itself and handing the rest to `app`."""

    def __init__(self, app: WSGIApplication, found: Services) -> None:
        self._app = app
        self._found = found
        self._behind_proxy = bool(found.settings.trusted_proxies)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        endpoint_id = hook_id(environ)
        if endpoint_id is None:
            return self._app(environ, start_response)
        # On every answer, errors too: the id names the delivery in the log and the debugger.
        trace = new_trace()
        if "HTTP_UPGRADE" in environ:
            return self._app(environ, _traced(environ, start_response, trace))
        found = self._found
        settings = found.settings
        req = Request(environ)
        try:
            screening.screen(req, settings.max_body_bytes, self._behind_proxy)
            answer = deliver(found, req, endpoint_id, trace)
        except Exception as exc:  # what Flask's error handler would have been given
            answer = refusal(exc, settings)
        # The headers as_response's Response would write, in its order.
        if answer.body is None:
            body = b""
            headers = [("Content-Length", "0")]
        else:
            body = json_bytes(answer.body)
            headers = [("Content-Type", JSON), ("Content-Length", str(len(body)))]
        headers.extend(answer.headers)
        headers.append(("X-Bridge-Trace", trace))
        phrase = HTTP_STATUS_CODES.get(answer.status, "unknown").upper()  # as werkzeug writes it
        start_response(f"{answer.status} {phrase}", headers)
        return [body]


def _traced(environ: WSGIEnvironment, start_response: StartResponse, trace: str) -> StartResponse:
    """`start_response` for a webhook handed to Flask: whatever answers it (the view, which
    takes `trace` from the environ, or routing's own refusal of a WebSocket handshake on a
    webhook URL) answers with `trace`."""
    environ[TRACE] = trace

    def traced(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, ("X-Bridge-Trace", trace)], exc_info)

    return traced


def hook_id(environ: WSGIEnvironment) -> str | None:
    """The endpoint id of a POST werkzeug's routing would give `ingest`, None for any other.
    Its path as routing reads it: PATH_INFO's bytes as UTF-8 (bad bytes replaced), leading
    slashes dropped (screening refuses them)."""
    if str(environ.get("REQUEST_METHOD", "")).upper() != "POST":
        return None
    # A WSGI string is latin-1 (PEP 3333); "replace" keeps a server's stray other character
    # from raising here, outside the refusals.
    raw = str(environ.get("PATH_INFO", "")).encode("latin-1", "replace")
    path = "/" + raw.decode("utf-8", "replace").lstrip("/")
    endpoint_id = path[len(PREFIX) :]
    if not path.startswith(PREFIX) or not endpoint_id or "/" in endpoint_id:
        return None
    return endpoint_id


def deliver(found: Services, req: Request, endpoint_id: str, trace: str) -> Answer:
    """Verify, store and publish the webhook `req` brings to `endpoint_id`, or raise what
    `refusal` answers."""
    # The hub's subscription is what keeps this worker's endpoint-record cache exact.
    found.hub.ensure_started()
    endpoint = found.endpoints.get(endpoint_id)
    # Raw bytes first, before anything could parse and re-encode the body: the signature is
    # over the bytes as sent. A byte past the limit makes it a 413.
    settings = found.settings
    body = read_body(req.environ, settings.max_body_bytes + 1)
    if len(body) > settings.max_body_bytes:
        raise RequestEntityTooLarge()

    def url_for(endpoint: Endpoint) -> str:
        # Only URL-signing schemes need the URL the provider called.
        if not endpoint.verifier.signs_url:
            return ""
        return _public_url(req, endpoint.options, settings.public_url)

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
        return Answer(200, outcome.handshake or None)
    if outcome.answer is not None:
        return Answer(200, outcome.answer)
    appended = outcome.appended
    assert appended is not None, "receive returns an append or a handshake"
    return Answer(
        200 if appended.duplicate else 202,
        {
            "id": appended.id,
            "endpoint": endpoint.id,
            "duplicate": appended.duplicate,
            "trace": trace,
        },
    )


def read_body(environ: WSGIEnvironment, limit: int) -> bytes:
    """The body, at most `limit` bytes, read as werkzeug's `get_data` would (the rule of its
    get_input_stream: a stream the server ends itself is read to its end, any other to its
    Content-Length, none without one) but without its LimitedStream, whose bookkeeping
    around each read was 3% of a webhook's instructions."""
    stream = environ["wsgi.input"]
    declared = None
    if "wsgi.input_terminated" not in environ:
        length, coding = environ.get("CONTENT_LENGTH"), environ.get("HTTP_TRANSFER_ENCODING")
        declared = get_content_length(length, coding)
        if declared is None:
            return b""
        limit = min(limit, declared)
    pieces = []
    left = limit
    while left > 0 and (piece := stream.read(left)):
        pieces.append(piece)
        left -= len(piece)
    if left and declared is not None:
        raise ClientDisconnected()  # the stream ended before its Content-Length
    return b"".join(pieces)


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


def _public_url(req: Request, options: Mapping[str, Any], public_url: str | None) -> str:
    """The URL the provider called, as the public sees it: what URL-signing schemes sign."""
    query = req.query_string.decode("latin-1")
    registered = options.get("public_url")
    if registered:
        return str(registered) + (f"?{query}" if query else "")
    if public_url:
        return public_url + target(req)
    return called_url(req)
