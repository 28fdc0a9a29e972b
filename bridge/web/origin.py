"""The URL a request was made to, as its client wrote it: what URL-signing providers
(Twilio, Square) sign, and the base of the webhook URLs the API shows.

werkzeug's `request.url` and `host_url` are IRIs, not what was sent: they decode
percent-escapes (`?Name=%C3%A9` to `é`, `%7E` to `~`) and punycode hosts
(`xn--bcher-kva.example` to `bücher.example`), neither of which a provider signed, and they
raise on a host Python's IDNA 2003 codec refuses (`xn--strae-oqa.de`, which is straße.de, or
`xn--a`): a 500 for any stranger's POST to a URL-signing endpoint.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from flask import Request


def origin(req: Request) -> str:
    """`scheme://host[:port]`, the host as the Host header (or a trusted proxy) gave it."""
    return f"{req.scheme}://{req.host}"


def target(req: Request) -> str:
    """The path and query as the request line sent them (RAW_URI: gunicorn, werkzeug's
    server and test client set it; a server that does not gets the path quoted again), the
    absolute form (`http://a/b?c`) cut to its path."""
    raw = req.environ.get("RAW_URI")
    if not isinstance(raw, str) or not raw:
        query = req.query_string.decode("latin-1")
        return quote(req.path) + (f"?{query}" if query else "")
    if raw.startswith("/"):
        return raw
    parts = urlsplit(raw)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def called_url(req: Request) -> str:
    """The whole URL, as the client called it."""
    return origin(req) + target(req)
