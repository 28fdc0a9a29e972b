"""A request body must keep arriving: `PacedInput` cuts a sender that stalls or trickles.

gunicorn bounds the time a client may take to send a request's headers (its keep-alive
timeout) but not its body: a client that declared a Content-Length and then sent nothing, or
a byte every few seconds, held its connection and a greenlet for as long as it liked, and a
few thousand of them fill a worker's connections. So a body may take `grace` seconds, and
must then have averaged `min_rate` bytes a second: at every moment, `received >= (elapsed -
grace) * min_rate` (Apache's mod_reqtimeout `body=...,MinRate=...`, which a trickle cannot
game, unlike an idle timeout that every byte resets). Each read waits at most until that
bound, under a gevent timeout (cumulative over the reads a piece takes). A sender behind it
gets `BodyTooSlow`, a 408 with `Connection: close`, and its connection is closed after it.

A body with a transfer coding besides chunked (`gzip, chunked`: gunicorn removes the
chunking and hands the gzip bytes on, for the app to decode) is refused when first read, a
501: the bridge decodes none, and verifying or storing the coded bytes took them for the
body. A chunked body whose framing gunicorn cannot parse (found only as it is read), or a body
whose sender closed before its Content-Length arrived (gunicorn hands on what came, and
werkzeug took it for the whole body), is `BodyUnframed`, a 400, and its connection is closed
after the answer, which says so: where the next request would start on it is unknown.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

import gevent
from gunicorn.http.errors import (
    ChunkMissingTerminator,
    InvalidChunkExtension,
    InvalidChunkSize,
    NoMoreData,
    ParseException,
)
from werkzeug.exceptions import NotImplemented as NotImplementedCoding

from bridge.errors import BodyTooSlow, BodyUnframed

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# Read in pieces of at most this many bytes, and at most a second's worth at the minimum
# rate: gunicorn returns a read only when all of it is there, so a piece is what the bound
# can be checked against, and a steady sender is given the time its piece takes.
PIECE = 16 * 1024
# gunicorn's Request of each body being read (its `wsgi.input`), from serving.pre_request:
# the body alone does not lead back to it (a Content-Length body's reader holds no request).
# A weak reference to it: the Request holds its body, so a Request held here kept its own
# key alive, and every request a worker ever served stayed in memory (~3 KB each).
REQUESTS: weakref.WeakKeyDictionary[Any, weakref.ref[Any]] = weakref.WeakKeyDictionary()


class PacedInput:
    """`wsgi.input` for one request, read no slower than `grace` + `min_rate` allow."""

    def __init__(
        self,
        inner: Any,
        grace: float,
        min_rate: int,
        declared: int | None = None,
        coding: str | None = None,
    ) -> None:
        self._inner = inner
        self._declared = declared  # its Content-Length; None when chunked
        self._coding = coding  # a transfer coding besides chunked, refused when read
        self._grace = grace
        self._min_rate = min_rate
        self._started = time.monotonic()
        self._piece = min(PIECE, min_rate)
        self.received = 0
        self._ended = False  # a read came back empty: the body is over

    def _paced(self, want: int, read: Callable[[], bytes]) -> bytes:
        """`read()`, which returns at most `want` bytes, by the time they are due."""
        if self._coding is not None:
            self._close_after()
            raise NotImplementedCoding(
                f"transfer coding {self._coding!r} is not supported: send the body chunked only"
            )
        due = self._started + self._grace + (self.received + want) / self._min_rate
        left = due - time.monotonic()
        if left <= 0:
            raise self._too_slow()
        timer = gevent.Timeout(left)
        try:
            with timer:
                data = read()
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            raise self._too_slow() from None
        except NoMoreData:
            raise self._unframed("the connection ended before the last chunk") from None
        except (InvalidChunkSize, ChunkMissingTerminator, InvalidChunkExtension) as exc:
            raise self._unframed(str(exc)) from None
        except ParseException as exc:  # what gunicorn refuses in a header, in the trailer
            raise self._unframed(f"its trailer: {exc}") from None
        except OSError as exc:  # the sender reset the connection (was a 500, a traceback)
            self._close_after()
            raise BodyUnframed(
                f"the connection failed before the body ended: {exc.strerror or exc}"
            ) from None
        if not data and want and self._declared is not None and self.received < self._declared:
            self._close_after()
            raise BodyUnframed(
                f"the connection ended after {self.received} of the {self._declared} bytes "
                "its Content-Length declared"
            )
        self.received += len(data)
        self._ended = self._ended or (not data and want > 0)
        return data

    def _unframed(self, problem: str) -> BodyUnframed:
        self._close_after()
        return BodyUnframed(f"the chunked body is broken: {problem}")

    def _close_after(self) -> None:
        """Have gunicorn close the connection after this answer, with `Connection: close`:
        gunicorn 27 (pinned in requirements.txt) closes it after a body that failed anyway,
        but its answer would still say keep-alive. `must_close` is the flag of gunicorn's
        Request that serving.pre_request sets too."""
        held = REQUESTS.get(self._inner)
        request = held() if held is not None else None
        if request is not None:
            request.must_close = True

    def _too_slow(self) -> BodyTooSlow:
        # RFC 9110 15.5.9: a 408 means the server gave up on the connection. Kept open, its
        # answer said keep-alive while gunicorn drained the rest for its keep-alive timeout.
        self._close_after()
        return BodyTooSlow(self.received, time.monotonic() - self._started, self._min_rate)

    def _at_end(self) -> bool:
        """Whether all of a Content-Length body is in: gunicorn's reader then answers b""
        without reading the socket, so there is nothing to pace. werkzeug reads until it
        gets b"", twice (PacedInput's loop, then its LimitedStream's): without this each was
        a timer of its own, 2 of every webhook's 3."""
        declared = self._declared
        return declared is not None and self._coding is None and self.received >= declared

    def close_unless_finished(self) -> None:
        """Have the connection close after an answer given before the body was all read.
        Kept alive, gunicorn reads the rest to reach the next request, as fast as it comes
        and without yielding (a chunked body that never ends held a worker's whole event
        loop until the keep-alive timeout); closed, post_request drains a bounded 64 KiB."""
        if not (self._ended or self._at_end()):
            self._close_after()

    def read(self, size: int | None = -1) -> bytes:
        pieces = []
        wanted = -1 if size is None or size < 0 else size
        while wanted and not self._at_end():
            want = self._piece if wanted < 0 else min(self._piece, wanted)
            piece = self._paced(want, partial(self._inner.read, want))
            if not piece:
                break
            pieces.append(piece)
            if wanted > 0:
                wanted -= len(piece)
        return b"".join(pieces)

    def readline(self, size: int | None = None) -> bytes:
        want = self._piece if size is None or size < 0 else min(self._piece, size)
        return self._paced(want, partial(self._inner.readline, size))

    def readlines(self, hint: int | None = None) -> list[bytes]:
        return list(self)

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


def wrap(wsgi_app: WSGIApplication, grace: float, min_rate: int) -> WSGIApplication:
    """`wsgi_app` with every request body that comes from a client socket paced."""

    def paced(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # Only a body read from a client's socket (gunicorn's, not a test client's buffer),
        # and only a request that has one (a WebSocket upgrade reads the socket itself).
        length = environ.get("CONTENT_LENGTH")
        codings = [
            c.strip(" \t").lower() for c in environ.get("HTTP_TRANSFER_ENCODING", "").split(",")
        ]
        chunked = "chunked" in codings
        has_body = length not in (None, "", "0") or chunked
        if has_body and "gunicorn.socket" in environ:
            # gunicorn has checked a Content-Length to be digits (a 400 otherwise), and
            # refused every transfer coding but chunked and these three before it.
            declared = None if chunked or not length else int(length)
            coding = next((c for c in codings if c in {"gzip", "deflate", "compress"}), None)
            body = PacedInput(environ["wsgi.input"], grace, min_rate, declared, coding)
            environ["wsgi.input"] = body
            # The answer is started by now (the bridge streams none), not yet sent: its
            # `Connection` header is still to be written.
            answer = wsgi_app(environ, start_response)
            body.close_unless_finished()
            return answer
        return wsgi_app(environ, start_response)

    return paced
