"""CPU-heavy work on a large webhook, off the worker's event loop.

Under gevent every socket and request of a worker waits while one greenlet computes: parsing,
masking and encoding again a 22 MB JSON body took ~4 s, and for those seconds no socket of
that worker got a frame and no webhook an answer. Work on a body over LARGE runs in gevent's
thread pool (native threads) instead; the interpreter hands the GIL back to the loop every
switch interval (5 ms), so the loop goes on serving everything else meanwhile. Smaller work
stays in the greenlet: a thread hand-off costs more than parsing a few kilobytes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeVar, cast

import gevent
from gevent import monkey

from bridge import jsontext

LARGE = 256 * 1024  # bytes of body
# Parsing one JSON container costs about as much as this many bytes of plain text: a 241 KB
# body of 120,000 nested brackets took 35-90 ms to parse, some 30 times its size in text.
CONTAINER_BYTES = 64

T = TypeVar("T")


def weight(body: bytes) -> int:
    """What parsing `body` costs, in bytes of plain JSON text: what `run` is given for it."""
    return len(body) + CONTAINER_BYTES * jsontext.containers(body)


def run(size: int, work: Callable[[], T]) -> T:
    """`work()`, in the thread pool when it handles `size` >= LARGE bytes under gevent."""
    if size < LARGE or not monkey.is_module_patched("threading"):
        return work()
    # An exception is carried back as a value: raised out of a pool thread, gevent's hub
    # prints it with the task's repr, whose arguments held the endpoint's secrets.
    result, error = gevent.get_hub().threadpool.apply(partial(_outcome, work))
    if error is not None:
        raise error
    return cast(T, result)


def _outcome(work: Callable[[], T]) -> tuple[T | None, Exception | None]:
    try:
        return work(), None
    except Exception as error:  # every one the caller handles, raised again there
        return None, error
