"""pacing.REQUESTS without a server: it reaches a request being served and holds none after."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.http.parser import RequestParser

from bridge import serving
from bridge.errors import BodyTooSlow
from bridge.web import pacing


def _gunicorn_request() -> Any:
    raw = b"POST /hooks/x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"
    return next(RequestParser(Config(), [raw], ("10.0.0.7", 5555)))


def test_a_served_request_is_not_kept() -> None:
    """Once gunicorn drops a request, pacing holds nothing of it (a Request held by the map
    kept its body, the map's key, alive: every request a worker served stayed in memory)."""
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
    req = _gunicorn_request()
    serving.pre_request(None, req)
    paced = pacing.PacedInput(req.body, -10.0, 1, declared=2)  # its time is up at once
    with pytest.raises(BodyTooSlow):
        paced.read()
    assert req.must_close is True
