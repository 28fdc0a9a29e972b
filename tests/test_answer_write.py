"""An answer's head and first body piece leave in one send (serving.send_head_with_body).

No server: gunicorn's own parser, WSGI environ and Response, as in a worker, each answer
written twice, by gunicorn's own `write` and by the one-send one: the bytes on the wire must
be the same, only the number of sends differs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.http import wsgi
from gunicorn.http.parser import RequestParser

from bridge import serving

GET = b"GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n"
HEAD = b"HEAD /api/x HTTP/1.1\r\nHost: h\r\n\r\n"
OLD = b"GET /api/x HTTP/1.0\r\n\r\n"


class Recorder:
    """A socket that records each send; `send` takes at most `take` bytes (a full buffer)."""

    def __init__(self, take: int | None = None) -> None:
        self.sends: list[bytes] = []
        self.take = take

    def sendall(self, data: bytes) -> None:
        self.sends.append(bytes(data))

    def send(self, data: bytes) -> int:
        taken = bytes(data[: self.take] if self.take is not None else data)
        self.sends.append(taken)
        return len(taken)


@pytest.fixture
def one_send() -> Iterator[None]:
    original = wsgi.Response.write
    serving.send_head_with_body()
    yield
    wsgi.Response.write = original


def _answer(
    raw: bytes,
    status: str,
    headers: list[tuple[str, str]],
    pieces: list[bytes],
    take: int | None = None,
) -> list[bytes]:
    cfg = Config()
    sock = Recorder(take)
    req = next(RequestParser(cfg, [raw], ("10.0.0.7", 5555)))
    resp, _ = wsgi.create(req, sock, ("10.0.0.7", 5555), ("127.0.0.1", 8000), cfg)
    resp.start_response(status, headers)
    for piece in pieces:
        resp.write(piece)
    resp.close()
    return sock.sends


def _both(*args: Any) -> tuple[list[bytes], list[bytes]]:
    original = wsgi.Response.write
    theirs = _answer(*args)
    serving.send_head_with_body()
    try:
        ours = _answer(*args)
    finally:
        wsgi.Response.write = original
    return theirs, ours


JSON = [("Content-Type", "application/json"), ("X-Bridge-Trace", "t1")]
BIG = b"x" * (serving.ONE_SEND_BYTES + 1)
CASES = {
    "webhook ack": (GET, "202 ACCEPTED", [*JSON, ("Content-Length", "11")], [b'{"id":"1"}\n'], 1),
    "empty": (GET, "200 OK", [("Content-Length", "0")], [b""], 1),
    "head": (HEAD, "200 OK", [*JSON, ("Content-Length", "11")], [b'{"id":"1"}\n'], 1),
    "no body at all": (GET, "204 NO CONTENT", [], [], 1),
    # head + first piece together; the next pieces as gunicorn sends them
    "pieces": (GET, "200 OK", [("Content-Length", "6")], [b"ab", b"cd", b"ef"], 3),
    "chunked": (GET, "200 OK", [("Content-Type", "text/plain")], [b"ab", b"cd"], 3),
    "http/1.0 unframed": (OLD, "200 OK", [], [b"ab", b"cd"], 2),
    "over the limit": (GET, "200 OK", [("Content-Length", str(len(BIG)))], [BIG], 2),
    # gunicorn drops what goes past Content-Length: the head goes out alone, then nothing
    "past its length": (GET, "200 OK", [("Content-Length", "2")], [b"ab", b"cd"], 1),
}


@pytest.mark.parametrize("case", CASES)
def test_the_same_bytes_in_fewer_sends(case: str) -> None:
    raw, status, headers, pieces, sends = CASES[case]
    theirs, ours = _both(raw, status, headers, pieces)
    assert b"".join(ours) == b"".join(theirs)
    assert len(ours) == sends
    assert ours[0].startswith(b"HTTP/1.")


def test_a_non_bytes_piece_is_refused_as_gunicorn_does(one_send: None) -> None:
    with pytest.raises(TypeError):
        _answer(GET, "200 OK", [("Content-Length", "2")], ["ab"])  # type: ignore[list-item]


def test_installed_once(one_send: None) -> None:
    patched = wsgi.Response.write
    serving.send_head_with_body()
    assert wsgi.Response.write is patched


def test_what_a_short_send_left_is_sent_after_it(one_send: None) -> None:
    body = b"x" * 1000
    sends = _answer(GET, "200 OK", [("Content-Length", "1000")], [body], take=100)
    assert len(sends) == 2
    assert len(sends[0]) == 100
    assert b"".join(sends).endswith(b"\r\n\r\n" + body)
