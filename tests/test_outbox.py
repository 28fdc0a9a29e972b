"""A socket's outbox (bridge/outbox.py): its bounds on a hand-moved clock, the on_slow policies,
the fast path to the kernel, closing, and frame bytes."""

from __future__ import annotations

import json
from collections.abc import Callable

from bridge.outbox import DROP_OLDEST, LATEST, SLOW_CONSUMER, Outbox, Tag, wire_frame


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


# -- on_slow policies ------------------------------------------------------------------------


class Owner:
    """A channel's subscription, as the outbox sees it: an object with a channel name."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.sent = (0, 0)

    def put(self, outbox: Outbox, seq: int, policy: str, size: int = 100) -> bool:
        tag = Tag(self, policy, (seq, 0), self.sent)
        accepted = outbox.put(b"e" * (size - 1) + bytes([seq % 256]), tag)
        if accepted:
            self.sent = (seq, 0)
        return accepted


def notices(frames: list[bytes]) -> list[dict[str, object]]:
    """The `dropped` frames among wire frames (small ones: a 2-byte header)."""
    found: list[dict[str, object]] = []
    for frame in frames:
        if b'"dropped"' in frame:
            found.append(json.loads(frame[2:]))
    return found


def test_drop_oldest_keeps_the_socket_and_tells_where_the_gap_begins() -> None:
    """Past the bound, a drop_oldest channel loses its oldest queued events, never the socket;
    one `dropped` frame counts them and names the last event handed on before them."""
    outbox, _ = stuck(limit=10, max_bytes=100_000)
    owner = Owner("pay")
    assert all(owner.put(outbox, seq, DROP_OLDEST) for seq in range(1, 31))
    assert outbox.closed is None
    frames = outbox.take()
    (notice,) = notices(frames)
    events = [f for f in frames if b'"dropped"' not in f]
    assert notice["channel"] == "pay"
    assert notice["count"] == 30 - len(events)
    assert notice["after"] == "0-0"  # nothing was handed on before the first dropped one
    assert frames.index(next(f for f in frames if b'"dropped"' in f)) == 0
    assert [f[-1] for f in events] == list(range(31 - len(events), 31))  # the newest kept


def test_drop_oldest_does_not_drop_another_channels_frames() -> None:
    """A close-policy channel's frames filling the outbox still close it as a slow consumer."""
    outbox, _ = stuck(limit=10, max_bytes=100_000)
    dropper = Owner("pay")
    assert dropper.put(outbox, 1, DROP_OLDEST)
    for _ in range(9):
        assert outbox.put(b"x" * 100)
    assert not outbox.put(b"x" * 100)  # a close-policy frame: the policy of its own channel
    assert outbox.closed is not None
    assert outbox.closed[0] == SLOW_CONSUMER


def test_drop_oldest_after_a_taken_batch_names_the_last_event_handed_on() -> None:
    """Once a batch has gone to the writer, a later gap starts after its last event."""
    outbox, _ = stuck(limit=10, max_bytes=100_000)
    owner = Owner("pay")
    for seq in range(1, 6):
        assert owner.put(outbox, seq, DROP_OLDEST)
    assert len(outbox.take()) == 5
    for seq in range(6, 40):
        assert owner.put(outbox, seq, DROP_OLDEST)
    (notice,) = notices(outbox.take())
    assert notice["after"] == "5-0"


def test_latest_keeps_only_the_newest_event_per_channel() -> None:
    """A latest channel's queued event is replaced by its next one: no growth, no notice."""
    outbox, _ = stuck(limit=10, max_bytes=100_000)
    ticker, other = Owner("ticker"), Owner("other")
    for seq in range(1, 101):
        assert ticker.put(outbox, seq, LATEST)
        if seq % 50 == 0:
            assert other.put(outbox, seq, LATEST)
    frames = outbox.take()
    assert outbox.closed is None
    assert notices(frames) == []
    assert [f[-1] for f in frames] == [100, 100]  # ticker's newest, then other's newest


# -- the fast path, closing, framing ---------------------------------------------------------


def recorder(closes: list[tuple[int, str]]) -> Callable[[int, str], bytes]:
    """A `close_now` whose kernel takes the whole close frame, noting each close."""

    def close_now(code: int, reason: str) -> bytes:
        closes.append((code, reason))
        return b""

    return close_now


def test_a_frame_the_kernel_takes_whole_is_not_queued_and_wakes_no_writer() -> None:
    """With nothing queued, put() hands the frame to `direct`; taken whole, nothing waits."""
    outbox = Outbox(10)
    sent: list[bytes] = []
    wakes: list[None] = []

    def direct(frame: bytes) -> int:
        sent.append(frame)
        return len(frame)

    outbox.direct = direct
    outbox.wake = lambda: wakes.append(None)
    assert outbox.put(b"hello")
    assert sent == [b"hello"]
    assert len(outbox) == 0
    assert wakes == []


def test_the_rest_of_a_partly_written_frame_is_queued_first_for_the_writer() -> None:
    """A frame the kernel took in part: its rest is queued ahead of later frames, once woken."""
    outbox = Outbox(10)
    wakes: list[None] = []
    outbox.direct = lambda frame: 3
    outbox.wake = lambda: wakes.append(None)
    assert outbox.put(b"abcdef")
    assert outbox.put(b"next")  # something is queued: no second direct write
    assert outbox.take(timeout=0) == [b"def", b"next"]
    assert wakes == [None, None]


def test_close_with_nothing_queued_sends_the_close_frame_without_a_writer() -> None:
    """An idle outbox closes through `close_now`; the writer is not woken when it took all."""
    outbox = Outbox(10)
    closes: list[tuple[int, str]] = []
    wakes: list[None] = []
    outbox.close_now = recorder(closes)
    outbox.wake = lambda: wakes.append(None)
    outbox.close(4011, "shutting down")
    outbox.close(1000, "a second close does not count")
    assert closes == [(4011, "shutting down")]
    assert outbox.closed == (4011, "shutting down")
    assert wakes == []
    assert not outbox.put(b"late")


def test_close_keeps_what_is_queued_ahead_of_the_close_frame() -> None:
    """Closing (not as a slow consumer) leaves the queued frames for the writer to send first."""
    outbox, _ = stuck()
    closes: list[tuple[int, str]] = []
    outbox.close_now = recorder(closes)
    assert outbox.put(b"one")
    assert outbox.put(b"two")
    outbox.close(4011, "shutting down")
    assert closes == []  # frames wait: the close frame must not overtake them
    assert outbox.take(timeout=0) == [b"one", b"two"]


def test_a_backlog_frame_past_half_the_bound_waits_then_closes_as_slow() -> None:
    """put_backlog waits while the outbox is half full; when no room comes, it is a slow close."""
    outbox, _ = stuck(limit=4)
    assert outbox.put(b"a")
    assert outbox.put(b"b")  # half of 4 frames
    assert not outbox.put_backlog(b"c", timeout=0.01)
    assert outbox.closed is not None
    assert outbox.closed[0] == SLOW_CONSUMER


def test_wire_frames_use_the_length_header_their_size_needs() -> None:
    """RFC 6455 5.2: 7-bit length under 126 bytes, 16-bit under 64 KiB, 64-bit beyond."""
    assert wire_frame("x" * 125)[:2] == bytes((0x81, 125))
    assert wire_frame("x" * 126)[:4] == bytes((0x81, 126, 0, 126))
    big = wire_frame("x" * 65536)
    assert big[:2] == bytes((0x81, 127))
    assert int.from_bytes(big[2:10], "big") == 65536
    assert len(big) == 10 + 65536
