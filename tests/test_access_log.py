"""The access logger works out only the atoms its format shows, each as gunicorn's own would.

No server: gunicorn's own parser and WSGI environ make the request, as in a worker; each of
gunicorn's atoms is compared with ours, so a gunicorn upgrade that changes one fails here.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger
from gunicorn.http import wsgi
from gunicorn.http.parser import RequestParser

from bridge import serving
from bridge.text import escaped

NOW = "[04/Dec/2026:21:00:00 +0000]"

REQUESTS = {
    "webhook": (
        b"POST /hooks/gh?x=1&y=%22 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\nX-GitHub-Event: push\r\n"
        b'Referer: https://a.example/"q"\r\nUser-Agent: GitHub-Hookshot/1\r\n'
        b"Authorization: Basic dXNlcjpwYXNz\r\nX-Twice: one\r\nX-Twice: two\r\n\r\n{}"
    ),
    "bare": b"GET /healthz HTTP/1.0\r\n\r\n",
    "control": b"GET /hooks/x%0aforged%1b[31m HTTP/1.1\r\nHost: h\r\n\r\n",
    # RIGHT-TO-LEFT OVERRIDE and LINE SEPARATOR, percent-encoded UTF-8 in the path: WSGI
    # reads the path as Latin-1, so each reaches the log as three characters, one a C1
    "bidi": b"GET /hooks/x%E2%80%AEgp.exe%E2%80%A8forged HTTP/1.1\r\nHost: h\r\n\r\n",
}


class Sink:
    def sendall(self, data: bytes) -> None:
        pass


def _exchange(cfg: Config, raw: bytes) -> tuple[Any, Any, dict[str, Any]]:
    req = next(RequestParser(cfg, [raw], ("10.0.0.7", 5555)))
    resp, environ = wsgi.create(req, Sink(), ("10.0.0.7", 5555), ("127.0.0.1", 8000), cfg)
    resp.start_response(
        "202 ACCEPTED",
        [("Content-Type", "application/json"), ("Content-Length", "5"), ("X-Bridge-Trace", "t1")],
    )
    resp.write(b"hello")
    return resp, req, environ


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _loggers(
    access_log_format: str, accesslog: str | None = None
) -> tuple[Logger, serving.AccessLogger]:
    cfg = Config()
    cfg.set("access_log_format", access_log_format)
    cfg.set("accesslog", accesslog)
    theirs, ours = Logger(cfg), serving.AccessLogger(cfg)
    for logger in (theirs, ours):
        logger.now = lambda: NOW
    return theirs, ours


@pytest.mark.parametrize("shape", sorted(REQUESTS))
def test_every_gunicorn_atom_is_the_same(shape: str) -> None:
    theirs, _ = _loggers(serving.access_log_format)
    resp, req, environ = _exchange(theirs.cfg, REQUESTS[shape])
    took = timedelta(seconds=1, microseconds=2500)
    every = theirs.atoms(resp, req, environ, took)
    for name in [*every, "{absent}i", "{absent}o", "{absent}e", "{x}z", "z"]:
        _, ours = _loggers(f"%({name})s")
        mine = ours.atoms(resp, req, environ, took)
        if name not in every:
            assert name not in mine or mine == every  # "-" in the line, as gunicorn writes
            continue
        expected = every[name]
        assert mine[name] == (escaped(expected) if isinstance(expected, str) else expected)


@pytest.mark.parametrize("shape", sorted(REQUESTS))
@pytest.mark.parametrize(
    "access_log_format",
    [
        serving.access_log_format,
        '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({X-Twice}i)s %(missing)s',
    ],
)
def test_the_line_is_the_one_gunicorn_writes(shape: str, access_log_format: str) -> None:
    """The same line, control characters escaped (gunicorn's own leaves them raw)."""
    theirs, ours = _loggers(access_log_format, accesslog="-")  # stdout, which pytest captures
    resp, req, environ = _exchange(theirs.cfg, REQUESTS[shape])
    took = timedelta(microseconds=1500)
    lines: list[str] = []
    for logger in (theirs, ours):
        kept = Kept()
        logger.access_log.addHandler(kept)
        logger.access(resp, req, environ, took)
        logger.access_log.removeHandler(kept)
        lines += kept.lines
    assert len(lines) == 2
    assert lines[1] == escaped(lines[0])
    assert "\n" not in lines[1]
    assert "\x1b" not in lines[1]
    assert not {"\u202e", "\u2028"} & set(lines[1])
