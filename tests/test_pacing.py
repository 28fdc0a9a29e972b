"""PacedInput without a server: what werkzeug reads through it, and which reads are paced."""

from __future__ import annotations

import io
from typing import Any

import pytest
from werkzeug.wrappers import Request

from bridge.errors import BodyTooSlow, BodyUnframed
from bridge.web import pacing

BODY = b'{"action":"opened"}' * 50


class Inner:
    """gunicorn's body reader as far as PacedInput uses it: b"" once the body is over."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)
        self.reads = 0

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        return self.data.read(size)

    def readline(self, size: int = -1) -> bytes:
        return self.data.readline(size)


def _werkzeug_reads(paced: pacing.PacedInput, declared: int | None) -> bytes:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "SERVER_NAME": "h",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": paced,
        "wsgi.input_terminated": True,  # as gunicorn sets it
    }
    if declared is not None:
        environ["CONTENT_LENGTH"] = str(declared)
    request = Request(environ)
    request.max_content_length = 1024 * 1024 + 1  # as the app's MAX_CONTENT_LENGTH
    return request.get_data(cache=True)


@pytest.fixture
def paced_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    reads: list[int] = []
    real = pacing.PacedInput._paced

    def counted(self: pacing.PacedInput, want: int, read: Any) -> bytes:
        data = real(self, want, read)
        reads.append(len(data))
        return data

    monkeypatch.setattr(pacing.PacedInput, "_paced", counted)
    return reads


def test_a_content_length_body_is_one_paced_read(paced_reads: list[int]) -> None:
    """werkzeug reads until it gets b"" (twice); once the declared length is in, those
    reads are answered without a timer or gunicorn's reader."""
    inner = Inner(BODY)
    paced = pacing.PacedInput(inner, 10.0, 100_000, declared=len(BODY))
    assert _werkzeug_reads(paced, len(BODY)) == BODY
    assert paced_reads == [len(BODY)]
    assert inner.reads == 1
    assert paced.read() == b""


def test_a_body_cut_short_is_still_unframed(paced_reads: list[int]) -> None:
    """A Content-Length body that ends early is still refused as unframed."""
    paced = pacing.PacedInput(Inner(BODY[:100]), 10.0, 100_000, declared=len(BODY))
    with pytest.raises(BodyUnframed):
        _werkzeug_reads(paced, len(BODY))


def test_a_chunked_body_is_read_to_its_end(paced_reads: list[int]) -> None:
    """No declared length: only gunicorn's b"" says the body is over, so it is asked."""
    paced = pacing.PacedInput(Inner(BODY), 10.0, 100_000, declared=None)
    assert _werkzeug_reads(paced, None) == BODY
    assert paced_reads[0] == len(BODY)
    assert paced_reads[1:]
    assert not any(paced_reads[1:])


def test_a_coded_body_is_refused_even_when_empty() -> None:
    """A transfer coding gunicorn does not undo is refused before any byte is read."""
    paced = pacing.PacedInput(Inner(b""), 10.0, 100_000, declared=0, coding="gzip")
    with pytest.raises(Exception, match="transfer coding 'gzip'"):
        paced.read()


def _gunicorn_request() -> Any:
    from gunicorn.config import Config
    from gunicorn.http.parser import RequestParser

    raw = b"POST /hooks/x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"
    return next(RequestParser(Config(), [raw], ("10.0.0.7", 5555)))


def test_a_served_request_is_not_kept() -> None:
    """serving.pre_request hands each request to the pacing; once gunicorn drops it, nothing
    here holds it (a Request held by the map kept its body, the map's key, alive: every
    request a worker served stayed in memory)."""
    import gc
    import weakref

    from bridge import serving

    req = _gunicorn_request()
    serving.pre_request(None, req)
    assert req.body in pacing.REQUESTS
    gone = weakref.ref(req)
    del req
    gc.collect()
    assert gone() is None
    assert len(pacing.REQUESTS) == 0


def test_a_stalled_body_still_closes_its_connection() -> None:
    """A body whose time is up marks gunicorn's request must_close through the weak map."""
    from bridge import serving

    req = _gunicorn_request()
    serving.pre_request(None, req)
    paced = pacing.PacedInput(req.body, -10.0, 1, declared=2)  # its time is up at once
    with pytest.raises(BodyTooSlow):
        paced.read()
    assert req.must_close is True
