"""What every request passes before a route sees it: its declared length, its Host, its
scheme and its Range, each refused with a 4xx naming it, or made usable."""

from __future__ import annotations

import ipaddress
import re

from flask import Flask, Request, request
from werkzeug.exceptions import BadRequest, NotFound, RequestEntityTooLarge
from werkzeug.http import parse_range_header
from werkzeug.sansio.utils import get_content_length

from bridge.config import Settings

SCHEMES = ("http", "https")
# A Host as a URI may write it (RFC 3986 3.2.2, without sub-delims or %-escapes, which no
# client sends): letters, digits, `.`, `-`, `_`, `~`, or an IP literal; then a port.
URI_HOST = re.compile(r"([a-z0-9._~-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?", re.I)
DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def register(app: Flask, settings: Settings) -> None:
    """Screen every request Flask serves with one hook (each hook Flask runs costs a call
    per request); web/hooks.py's HookRoute screens the webhooks it serves ahead of Flask."""

    max_body_bytes, behind_proxy = settings.max_body_bytes, bool(settings.trusted_proxies)

    @app.before_request
    def screen_request() -> None:
        # The request itself: each attribute read through the context-local proxy costs a
        # lookup of its own, and these read a dozen.
        screen(request._get_current_object(), max_body_bytes, behind_proxy)  # type: ignore[attr-defined]


def screen(req: Request, max_body_bytes: int, behind_proxy: bool) -> None:
    """Refuse `req` with an HTTPException naming what is wrong with it, or make it usable."""
    refuse_declared_oversize(req, max_body_bytes)
    screen_target(req, behind_proxy)
    refuse_invalid_host(req, behind_proxy)
    refuse_unknown_scheme(req)
    ignore_unusable_range(req)


def refuse_declared_oversize(req: Request, max_body_bytes: int) -> None:
    # From the declared length, before a byte is read: with `Expect: 100-continue` the
    # client waits for this answer instead of sending the body (see serving.pre_request).
    # `req.content_length` as werkzeug works it out, from the environ keys its headers read
    # (each header read through them costs a name conversion of its own).
    environ = req.environ
    declared = get_content_length(
        environ.get("CONTENT_LENGTH"), environ.get("HTTP_TRANSFER_ENCODING")
    )
    if (declared or 0) > max_body_bytes:
        raise RequestEntityTooLarge()


_DOUBLE_SLASH = "no route has a path that starts with //"
_ENCODED_SLASH = "no route has an encoded slash (%2F) in its path"


def screen_target(req: Request, behind_proxy: bool) -> None:
    """The request line's target, which routing does not hold to its rules. werkzeug's
    matching drops leading slashes, so `//api/endpoints` reached `/api/endpoints` past any
    rule a proxy keeps for that path: it is the 404 of a path no route has. An absolute-form
    target (`http://host/path`, as a forward proxy sends) names the authority, which RFC 9112
    3.2.2 says replaces Host: held to the Host rule and made the Host (behind a trusted proxy
    the forwarded headers make it instead), where it was ignored whatever it said."""
    raw = req.environ.get("RAW_URI")
    if not isinstance(raw, str) or raw[:1] == "/" or raw == "*" or not raw:
        refuse_unroutable_path(raw or req.path)
        return
    scheme, sep, rest = raw.partition("://")
    authority = rest.split("/", 1)[0].split("?", 1)[0]
    if not sep or scheme.lower() not in SCHEMES or not is_host_port(authority):
        raise BadRequest(
            "the request target is not a path or an http(s) URL of host[:port] (RFC 9112 3.2)"
        )
    refuse_unroutable_path(rest[len(authority) :])
    if not behind_proxy:
        req.environ["HTTP_HOST"] = authority
        req.host = uri_host(authority, req.scheme)


def refuse_unroutable_path(target: str) -> None:
    """A path as the request line wrote it that routing would take for another: gunicorn
    decodes `%2F` into a `/` before routing, and werkzeug drops leading slashes, so
    `/%2Fapi/endpoints` and `/api%2Fendpoints` reached `/api/endpoints` as `//api/endpoints`
    did. No route's path has either (ids, cursors and file names have no `/`)."""
    path = target.split("?", 1)[0]
    if path.startswith("//"):
        raise NotFound(_DOUBLE_SLASH)
    if "%2f" in path.lower():
        raise NotFound(_ENCODED_SLASH)


def refuse_invalid_host(req: Request, behind_proxy: bool) -> None:
    # RFC 9112 3.2: a Host that is not `host[:port]` (a space, a path, a port past 65535,
    # an empty value) is a 400. werkzeug reads such a Host as "", so every URL built from
    # it (an endpoint's webhook URL and setup steps, the OpenAPI servers) came out as
    # `http:/hooks/<id>`. Behind a trusted proxy, X-Forwarded-Host/-Port make it.
    if "HTTP_HOST" not in req.environ:
        # RFC 9112 3.2 again: an HTTP/1.1 request without one is a 400 too. HTTP/1.0 has no
        # Host to send; its URLs are built from the address it reached.
        if req.environ.get("SERVER_PROTOCOL") == "HTTP/1.1":
            raise BadRequest("an HTTP/1.1 request must send a Host header (RFC 9112 3.2)")
        return
    header = req.headers["Host"]
    # werkzeug keeps what it can of some Hosts no URI has (`a.com:80:80` becomes `a.com:80`),
    # so the header itself is held to the grammar too.
    if req.host and is_host_port(header):
        return
    # werkzeug reads a Host with a `_` as "" too, which a URI allows: taken as sent.
    req.host = uri_host(header, req.scheme)
    if not req.host:
        via = " (as X-Forwarded-Host / -Port made it)" if behind_proxy else ""
        raise BadRequest(f"the Host header{via} is not a host[:port] (RFC 9112 3.2)")


def refuse_unknown_scheme(req: Request) -> None:
    # Only X-Forwarded-Proto (from a trusted proxy) can make another: `ftp` or
    # `javascript` would otherwise start the webhook URL the API shows.
    if req.scheme not in SCHEMES:
        raise BadRequest("X-Forwarded-Proto must be http or https")


def ignore_unusable_range(req: Request) -> None:
    # RFC 9110 14.2: a Range of another unit than bytes must be ignored, one that does not
    # parse may be. werkzeug answered those, and a list of ranges (it serves one), 416
    # range_not_satisfiable on every static file; they get the whole file now, 200.
    value = req.environ.get("HTTP_RANGE")
    if value is not None:
        wanted = parse_range_header(value)
        if wanted is None or wanted.units != "bytes" or len(wanted.ranges) != 1:
            del req.environ["HTTP_RANGE"]


def ip_literal_ok(host: str) -> bool:
    """False for `[...]` that is no IPv6 address (`[1.2.3.4]`, `[:]`): RFC 3986 3.2.2 has no
    other IP literal anyone sends, and werkzeug takes any bracketed text as a host."""
    if not host.startswith("["):
        return True
    literal = host[1:].split("]", 1)[0]
    try:
        ipaddress.IPv6Address(literal)
    except ValueError:
        return False
    return True


def is_host_port(header: str) -> bool:
    """Whether `header` is `host[:port]` as URI_HOST writes it: no empty name label (`a..b`,
    `.a`: no name has one, and the IDNA codec refuses them), a bracketed host an IPv6
    address, a port from 1 to 65535."""
    match = URI_HOST.fullmatch(header)
    if match is None or ".." in header or header[:1] == "." or not ip_literal_ok(match[1]):
        return False
    return match[2] is None or 0 < int(match[2]) < 65536


def uri_host(header: str, scheme: str) -> str:
    """A Host werkzeug reads as "" though a URI allows it (a `_`: a docker-compose service
    name such as `webhook_bridge`), lower-cased, without its scheme's default port; "" for
    any other."""
    match = URI_HOST.fullmatch(header)
    if match is None or not is_host_port(header):
        return ""
    if match[2] == DEFAULT_PORTS.get(scheme):
        return match[1].lower()
    return header.lower()
