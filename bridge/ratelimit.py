"""A socket's inbound rate limit: a token bucket, and what to do with a client past it.

A dashboard sends a handful of frames a minute (the odd ping; on (re)connect an auth and one
glob subscribe), and a client subscribing channel by channel at most 100 at once, so the
defaults (20 frames/s, bursts of 200: twice those 100) are never reached by one; a client
that floods is told once (`rate_limited`), its excess frames are dropped unread, and if it
keeps on for another burst's worth while still over, the socket is closed. Without this one
socket could keep a worker answering pings at whatever rate it liked, at the cost of every
other socket there. Every client frame counts: a message (the session asks), and each
WebSocket ping, pong and non-final fragment (the socket's reader asks, bridge/wire/reader.py).

The clock is injected, so the tests move time by hand instead of sleeping.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable


class TokenBucket:
    """`burst` tokens at most, refilled at `rate` per second; each frame takes one."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def take(self) -> bool:
        self._refill()
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    @property
    def full(self) -> bool:
        self._refill()
        return self._tokens >= self.burst


class Verdict(enum.Enum):
    ACCEPT = "accept"  # handle the frame
    WARN = "warn"  # drop it, and tell the client once that it is over the limit
    DROP = "drop"  # drop it silently (the client was told)
    CLOSE = "close"  # the client kept on: close the socket


class InboundLimit:
    """The bucket plus the policy past it: warn once, then close after `burst` more excess.

    The warning is armed again (and the excess forgotten) only once the bucket is full again,
    that is after the client was quiet for `burst / rate` seconds: a client steadily a little
    over the rate gets one warning, then is closed when its excess adds up to a burst.
    """

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket
        self._excess = 0  # frames dropped since the warning

    def check(self) -> Verdict:
        if self._excess and self.bucket.full:
            self._excess = 0
        if self.bucket.take():
            return Verdict.ACCEPT
        self._excess += 1
        if self._excess == 1:
            return Verdict.WARN
        if self._excess > self.bucket.burst:
            return Verdict.CLOSE
        return Verdict.DROP
