"""`create_app(settings)`: the Flask application factory."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from bridge.auth import Authority, load_or_create_admin_token
from bridge.config import Settings
from bridge.debugger import DIAGNOSIS_BURST, DIAGNOSIS_SHARE, Budget
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
    screening,
    ws,
)
from bridge.wire.adapter import NoThread

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


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
    # without an error, so a reader checks for the extra byte itself (web/api.py; webhooks
    # are read with the same limit by web/hooks.py's read_body).
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
    cache = RecordCache()
    endpoints = Endpoints(client, allow_unverified=settings.allow_unverified, cache=cache)
    hub = Hub(
        new_client,
        store,
        send_timeout=settings.ws_send_timeout,
        peer_timeout=settings.redis_timeout,
        on_change=cache.invalidate,
        channels=endpoints.generations,
        generation=endpoints.generation,
    )
    cache.live = hub.connected.is_set
    app.extensions["bridge"] = found = Services(
        settings=settings,
        redis=client,
        store=store,
        endpoints=endpoints,
        hub=hub,
        authority=Authority(admin_token),
        diagnoses=Budget(DIAGNOSIS_SHARE, DIAGNOSIS_BURST),
    )
    # Innermost first: webhooks answered ahead of Flask, inside the pacing and the proxy's
    # headers every request gets.
    served = pacing.wrap(
        hooks.HookRoute(app.wsgi_app, found), settings.body_timeout, settings.body_min_rate
    )
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        served = ProxyFix(_lower_scheme(served), x_for=n, x_proto=n, x_host=n, x_port=n)
    app.wsgi_app = served  # type: ignore[method-assign,assignment]
    responses.register(app, settings)

    screening.register(app, settings)

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
