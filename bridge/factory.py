"""`create_app(settings)`: the Flask application factory."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.http import parse_range_header
from werkzeug.middleware.proxy_fix import ProxyFix

from bridge.auth import Authority, load_or_create_admin_token
from bridge.config import Settings
from bridge.endpoints import Endpoints, RecordCache
from bridge.errors import ConfigError
from bridge.hub import Hub
from bridge.redis_client import Client, connect
from bridge.services import Services
from bridge.store import Store
from bridge.web import (
    api,
    backfill_api,
    dashboard,
    events_api,
    health,
    hooks,
    library,
    pacing,
    responses,
    ws,
)
from bridge.wire.adapter import NoThread

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SCHEMES = ("http", "https")
# A Host as a URI may write it (RFC 3986 3.2.2, without sub-delims or %-escapes, which no
# client sends): letters, digits, `.`, `-`, `_`, `~`, or an IP literal; then a port.
URI_HOST = re.compile(r"([a-z0-9._~-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?", re.I)
DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def uri_host(header: str, scheme: str) -> str:
    """A Host werkzeug reads as "" though a URI allows it (a `_`: a docker-compose service
    name such as `webhook_bridge`), lower-cased, without its scheme's default port; "" for
    any other."""
    match = URI_HOST.fullmatch(header)
    if match is None or (match[2] is not None and not 0 < int(match[2]) < 65536):
        return ""
    if match[2] == DEFAULT_PORTS.get(scheme):
        return match[1].lower()
    return header.lower()


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app; it connects lazily, so importing it (gunicorn) starts no thread."""
    settings = settings or Settings.from_env()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not settings.redis_url:
        raise ConfigError(
            "BRIDGE_REDIS_URL",
            "unset in a worker: start with `bridge serve` or `gunicorn -c gunicorn.conf.py "
            "app:app`, which start the embedded Redis and pass its URL on",
        )
    admin_token = settings.admin_token or load_or_create_admin_token(settings.data_dir)[0]

    redis_url = settings.redis_url

    def new_client() -> Client:
        return connect(redis_url, settings.redis_max_connections, settings.redis_timeout)

    client = new_client()
    store = Store(
        client,
        retention_events=settings.retention_events,
        retention_seconds=settings.retention_seconds,
        dedup_ttl=settings.dedup_ttl,
        write_headroom=settings.max_body_bytes,
        append_batch=settings.append_batch,
    )
    app = Flask(__name__, static_folder=None)
    # One byte over the limit: a chunked body (no Content-Length) is cut at this length
    # without an error, so the ingest checks for the extra byte itself (see web/hooks.py).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes + 1
    app.config["SOCK_SERVER_OPTIONS"] = {
        "ping_interval": settings.ws_ping_interval,
        "max_message_size": settings.ws_max_message_bytes,
        "thread_class": NoThread,  # the request greenlet reads (bridge/wire/reader.py)
    }
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # Flask answers OPTIONS on every route itself, an empty text/html 200: no route here
    # serves a cross-origin preflight, so OPTIONS is a 405 JSON like any other method.
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    # werkzeug answers `/hooks//gh` with a 308 to `/hooks/gh` and an HTML page, outside the
    # error handlers; providers do not follow it for a POST. Every path is exact, or a JSON 404.
    app.url_map.merge_slashes = False
    paced = pacing.wrap(app.wsgi_app, settings.body_timeout, settings.body_min_rate)
    app.wsgi_app = paced  # type: ignore[assignment]
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        inner = _lower_scheme(app.wsgi_app)
        app.wsgi_app = ProxyFix(inner, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    cache = RecordCache()
    endpoints = Endpoints(client, allow_unverified=settings.allow_unverified, cache=cache)
    hub = Hub(
        new_client,
        store,
        send_timeout=settings.ws_send_timeout,
        peer_timeout=settings.redis_timeout,
        on_change=cache.invalidate,
        channels=endpoints.ids,
    )
    cache.live = hub.connected.is_set
    app.extensions["bridge"] = Services(
        settings=settings,
        redis=client,
        store=store,
        endpoints=endpoints,
        hub=hub,
        authority=Authority(admin_token),
    )
    responses.register(app, settings.retry_after)

    @app.before_request
    def refuse_declared_oversize() -> None:
        # From the declared length, before a byte is read: with `Expect: 100-continue` the
        # client waits for this answer instead of sending the body (see serving.pre_request).
        if (request.content_length or 0) > settings.max_body_bytes:
            raise RequestEntityTooLarge()

    @app.before_request
    def refuse_invalid_host() -> None:
        # RFC 9112 3.2: a Host that is not `host[:port]` (a space, a path, a port past
        # 65535, an empty value) is a 400. werkzeug reads such a Host as "", so every URL
        # built from it (an endpoint's webhook URL and setup steps, the OpenAPI servers) came
        # out as `http:/hooks/<id>`. Behind a trusted proxy, X-Forwarded-Host/-Port make it.
        if "HTTP_HOST" not in request.environ or request.host:
            return
        # werkzeug reads a Host with a `_` as "" too, which a URI allows: taken as sent.
        request.host = uri_host(request.headers["Host"], request.scheme)
        if not request.host:
            via = " (as X-Forwarded-Host / -Port made it)" if settings.trusted_proxies else ""
            raise BadRequest(f"the Host header{via} is not a host[:port] (RFC 9112 3.2)")

    @app.before_request
    def refuse_unknown_scheme() -> None:
        # Only X-Forwarded-Proto (from a trusted proxy) can make another: `ftp` or
        # `javascript` would otherwise start the webhook URL the API shows.
        if request.scheme not in SCHEMES:
            raise BadRequest("X-Forwarded-Proto must be http or https")

    @app.before_request
    def ignore_unusable_range() -> None:
        # RFC 9110 14.2: a Range of another unit than bytes must be ignored, one that does
        # not parse may be. werkzeug answered those, and a list of ranges (it serves one),
        # 416 range_not_satisfiable on every static file; they get the whole file now, 200.
        value = request.environ.get("HTTP_RANGE")
        if value is not None:
            wanted = parse_range_header(value)
            if wanted is None or wanted.units != "bytes" or len(wanted.ranges) != 1:
                del request.environ["HTTP_RANGE"]

    blueprints = [hooks.bp, api.bp, events_api.bp, backfill_api.bp, ws.bp, health.bp]
    blueprints += [dashboard.bp, library.bp]
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app


def _lower_scheme(app: WSGIApplication) -> WSGIApplication:
    """Inside ProxyFix: the scheme X-Forwarded-Proto gave, in lower case. A scheme is
    case-insensitive (RFC 3986 3.1), and a proxy's `HTTPS` made `HTTPS://host/hooks/<id>`
    URLs, an Origin check no browser passed (it sends `https://`) and Twilio signatures
    checked against a URL Twilio never called."""

    def call(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.url_scheme"] = str(environ.get("wsgi.url_scheme", "http")).lower()
        return app(environ, start_response)

    return call
