"""A socket's outbox (bridge/outbox.py) bounded by frames, bytes and age, on a hand-moved clock."""

from __future__ import annotations

from bridge.outbox import SLOW_CONSUMER, Outbox


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stuck(
    limit: int = 1000, max_bytes: float = 10_000, max_age: float = 10.0
) -> tuple[Outbox, Clock]:
    """An outbox whose kernel takes nothing (the client stopped reading)."""
    clock = Clock()
    outbox = Outbox(limit, max_bytes, max_age, clock)
    outbox.direct = lambda frame: 0
    return outbox, clock


def test_queued_bytes_past_the_bound_close_as_a_slow_consumer() -> None:
    """Frames of 1 KB into a 10 KB outbox: the eleventh closes it with 4008, long before 1000."""
    outbox, _ = stuck()
    accepted = [outbox.put(b"x" * 1000) for _ in range(11)]
    assert accepted == [True] * 10 + [False]
    assert outbox.closed is not None
    assert outbox.closed[0] == SLOW_CONSUMER
    assert len(outbox) == 0  # the backlog is dropped, not held for a client that is gone


def test_a_frame_larger_than_the_bound_goes_out_alone() -> None:
    """One event bigger than the byte bound is still queued when nothing waits before it."""
    outbox, _ = stuck(max_bytes=1024)
    assert outbox.put(b"x" * 5000)
    assert outbox.closed is None
    assert not outbox.put(b"y")
    assert outbox.closed is not None
    assert outbox.closed[0] == SLOW_CONSUMER


def test_an_old_queued_frame_closes_as_a_slow_consumer() -> None:
    """A frame put while the oldest queued one waited past the age bound closes the outbox."""
    outbox, clock = stuck(max_age=10)
    assert outbox.put(b"first")
    clock.now += 9.9
    assert outbox.put(b"second")
    clock.now += 0.2
    assert not outbox.put(b"third")
    assert outbox.closed is not None
    assert outbox.closed[0] == SLOW_CONSUMER


def test_taking_the_queue_resets_its_bytes_and_age() -> None:
    """Once the writer takes what is queued, the bounds count afresh from the next frame."""
    outbox, clock = stuck(max_bytes=2000, max_age=10)
    assert outbox.put(b"x" * 1500)
    clock.now += 30
    assert outbox.take(timeout=0) == [b"x" * 1500]
    outbox.writing = False
    assert outbox.put(b"x" * 1500)  # queued (the kernel takes nothing), fresh age and bytes
    assert outbox.put(b"y" * 400)
    assert outbox.closed is None
