"""The ingest view reads a webhook's headers from the environ: the same names, values and
order as `dict(request.headers.items())` lowered, which the envelope showed before."""

from __future__ import annotations

import pytest
from gunicorn.config import Config
from gunicorn.http import wsgi
from gunicorn.http.parser import RequestParser
from werkzeug.datastructures import EnvironHeaders

from bridge.web.hooks import headers_of

REQUESTS = {
    "github": (
        b"POST /hooks/gh HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: sha256=00\r\n"
        b"User-Agent: GitHub-Hookshot/1\r\nX-Twice: one\r\nX-Twice: two\r\n\r\n{}"
    ),
    "no content type": b"POST /hooks/gh HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
    "chunked": (
        b"POST /hooks/gh HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n"
        b"x-MiXeD-case: v\r\nauthorization: Basic eDp5\r\n\r\n0\r\n\r\n"
    ),
    "http/1.0": b"POST /hooks/gh HTTP/1.0\r\nContent-Type: text/plain\r\n\r\n",
}


@pytest.mark.parametrize("shape", REQUESTS)
def test_the_headers_werkzeug_reads_in_its_order(shape: str) -> None:
    cfg = Config()
    req = next(RequestParser(cfg, [REQUESTS[shape]], ("10.0.0.7", 5555)))
    _, environ = wsgi.create(req, None, ("10.0.0.7", 5555), ("127.0.0.1", 8000), cfg)
    theirs = {k.lower(): v for k, v in dict(EnvironHeaders(environ).items()).items()}
    ours = headers_of(environ)
    assert list(ours.items()) == list(theirs.items())


def test_cgi_keys_and_their_http_doubles() -> None:
    environ = {
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "",  # empty: not a header
        "HTTP_CONTENT_TYPE": "text/html",  # werkzeug reads the CGI key instead
        "HTTP_X_A_B": "1",
        "REQUEST_METHOD": "POST",
        "wsgi.url_scheme": "http",
    }
    theirs = {k.lower(): v for k, v in dict(EnvironHeaders(environ).items()).items()}
    assert headers_of(environ) == theirs == {"content-type": "application/json", "x-a-b": "1"}
