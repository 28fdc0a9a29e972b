"""The inbound rate limit of a socket (bridge/ratelimit.py), on a clock moved by hand."""

from __future__ import annotations

from bridge.config import Settings
from bridge.ratelimit import InboundLimit, TokenBucket, Verdict
from bridge.web.session import MAX_SUBSCRIPTIONS


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limit(rate: float = 20, burst: int = 50) -> tuple[InboundLimit, Clock]:
    clock = Clock()
    return InboundLimit(TokenBucket(rate, burst, clock)), clock


def test_a_burst_passes_and_the_next_frame_does_not() -> None:
    """A full bucket lets `burst` frames through at once and refuses the one after."""
    bucket = TokenBucket(20, 50, Clock())
    assert all(bucket.take() for _ in range(50))
    assert not bucket.take()


def test_tokens_come_back_at_the_rate_and_never_past_the_burst() -> None:
    """An empty bucket regains `rate` tokens a second, and an idle one holds `burst` at most."""
    clock = Clock()
    bucket = TokenBucket(20, 50, clock)
    while bucket.take():
        pass
    clock.now += 0.5
    assert sum(bucket.take() for _ in range(100)) == 10
    clock.now += 3600
    assert sum(bucket.take() for _ in range(100)) == 50


def test_a_dashboard_pace_is_never_limited() -> None:
    """A frame every 0.1 s for ten minutes, with a burst of 40 at the start, is all accepted."""
    check, clock = limit()
    verdicts = [check.check() for _ in range(40)]
    for _ in range(6000):
        clock.now += 0.1
        verdicts.append(check.check())
    assert set(verdicts) == {Verdict.ACCEPT}


def test_a_flood_is_warned_once_then_dropped_then_closed() -> None:
    """Past the burst: one WARN, DROPs up to another burst's worth of excess, then CLOSE."""
    check, _ = limit(burst=50)
    verdicts = [check.check() for _ in range(50 + 50 + 1)]
    assert verdicts[:50] == [Verdict.ACCEPT] * 50
    assert verdicts[50] is Verdict.WARN
    assert verdicts[51:100] == [Verdict.DROP] * 49
    assert verdicts[100] is Verdict.CLOSE


def test_a_client_steadily_over_the_rate_is_warned_once_and_closed_in_the_end() -> None:
    """At 25 frames/s against 20/s, the client gets one warning and is closed, not warned
    again each time a token comes back."""
    check, clock = limit()
    verdicts: list[Verdict] = []
    while Verdict.CLOSE not in verdicts and len(verdicts) < 10_000:
        clock.now += 0.04
        verdicts.append(check.check())
    assert verdicts.count(Verdict.WARN) == 1
    assert verdicts[-1] is Verdict.CLOSE


def test_a_client_that_slows_down_until_the_bucket_is_full_starts_afresh() -> None:
    """After a warning, a quiet spell that refills the bucket forgets the excess and re-arms
    the warning."""
    check, clock = limit(burst=50)
    for _ in range(60):
        check.check()
    clock.now += 50 / 20
    assert [check.check() for _ in range(50)] == [Verdict.ACCEPT] * 50
    assert check.check() is Verdict.WARN


def test_the_defaults_let_a_dashboard_reconnect_with_every_subscription_at_once() -> None:
    """At the default settings, an auth and 100 subscribes (all a socket may hold) sent at
    once are all accepted, and a dashboard with 400 endpoints is not closed on reconnect."""
    defaults = Settings()
    check = InboundLimit(TokenBucket(defaults.ws_rate, defaults.ws_burst, Clock()))
    assert {check.check() for _ in range(1 + MAX_SUBSCRIPTIONS)} == {Verdict.ACCEPT}
    assert Verdict.CLOSE not in {check.check() for _ in range(400 - 1 - MAX_SUBSCRIPTIONS)}
