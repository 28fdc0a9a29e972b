"""A socket's queue (bridge/wire/queue.py) on its own: its bounds on a hand-moved clock, the
on_slow policies, closing, and frame bytes. The queue does no I/O: what the connection does
with a refused frame (close as a slow consumer) is in test_wire_connection.py."""

from __future__ import annotations

import json

from bridge.wire.frames import wire_frame
from bridge.wire.queue import DROP_OLDEST, LATEST, Outbox, Tag


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stuck(
    limit: int = 1000, max_bytes: float = 10_000, max_age: float = 10.0
) -> tuple[Outbox, Clock]:
    """A queue on a hand-moved clock, that nothing takes from (the client stopped reading)."""
    clock = Clock()
    return Outbox(limit, max_bytes, max_age, clock), clock


def test_queued_bytes_past_the_bound_are_refused() -> None:
    """Frames of 1 KB into a 10 KB queue: the eleventh is refused, long before 1000 frames."""
    outbox, _ = stuck()
    accepted = [outbox.put(b"x" * 1000) for _ in range(11)]
    assert accepted == [True] * 10 + [False]
    assert len(outbox) == 10


def test_a_frame_larger_than_the_bound_goes_out_alone() -> None:
    """One event bigger than the byte bound is still queued when nothing waits before it."""
    outbox, _ = stuck(max_bytes=1024)
    assert outbox.put(b"x" * 5000)
    assert not outbox.put(b"y")


def test_a_frame_behind_an_old_queued_one_is_refused() -> None:
    """A frame put while the oldest queued one waited past the age bound is refused."""
    outbox, clock = stuck(max_age=10)
    assert outbox.put(b"first")
    clock.now += 9.9
    assert outbox.put(b"second")
    clock.now += 0.2
    assert not outbox.put(b"third")


def test_taking_the_queue_resets_its_bytes_and_age() -> None:
    """Once the writer takes what is queued, the bounds count afresh from the next frame."""
    outbox, clock = stuck(max_bytes=2000, max_age=10)
    assert outbox.put(b"x" * 1500)
    clock.now += 30
    assert outbox.take(timeout=0) == [b"x" * 1500]
    assert outbox.put(b"x" * 1500)  # fresh age and bytes
    assert outbox.put(b"y" * 400)


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
    """A close-policy channel's frame past the bound is refused (the socket closes as a slow
    consumer), though a drop_oldest channel has a frame queued."""
    outbox, _ = stuck(limit=10, max_bytes=100_000)
    dropper = Owner("pay")
    assert dropper.put(outbox, 1, DROP_OLDEST)
    for _ in range(9):
        assert outbox.put(b"x" * 100)
    assert not outbox.put(b"x" * 100)  # a close-policy frame: the policy of its own channel
    assert len(outbox) == 10


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


# -- closing, framing ------------------------------------------------------------------------


def test_only_the_first_close_counts_and_a_closed_queue_refuses_frames() -> None:
    """close() is True once; the queued frames stay for the writer unless discarded."""
    outbox, _ = stuck()
    assert outbox.put(b"one")
    assert outbox.close(4011, "shutting down")
    assert not outbox.close(1000, "a second close does not count")
    assert outbox.closed == (4011, "shutting down")
    assert not outbox.put(b"late")
    assert outbox.take(timeout=0) == [b"one"]


def test_a_discarding_close_drops_what_is_queued() -> None:
    """A slow consumer's queue is dropped at close, not held for a client that is gone."""
    outbox, _ = stuck()
    assert outbox.put(b"one")
    assert outbox.close(4008, "slow consumer", discard=True)
    assert len(outbox) == 0


def test_a_discarding_close_keeps_the_rest_of_a_begun_frame() -> None:
    """The rest of a frame the kernel took in part survives a discarding close, alone."""
    outbox, _ = stuck()
    outbox.put_rest(b"rest")
    assert outbox.put(b"one")
    assert outbox.close(4008, "slow consumer", discard=True)
    assert outbox.take(timeout=0) == [b"rest"]


def test_a_backlog_waits_for_room_until_the_writer_takes_the_queue() -> None:
    """half_full() holds at half the bound; wait_for_room() times out until take() frees it."""
    outbox, _ = stuck(limit=4)
    assert outbox.put(b"a")
    assert not outbox.half_full()
    assert outbox.put(b"b")
    assert outbox.half_full()
    assert not outbox.wait_for_room(0.01)
    assert outbox.take(timeout=0) == [b"a", b"b"]
    assert not outbox.half_full()


def test_wire_frames_use_the_length_header_their_size_needs() -> None:
    """RFC 6455 5.2: 7-bit length under 126 bytes, 16-bit under 64 KiB, 64-bit beyond."""
    assert wire_frame("x" * 125)[:2] == bytes((0x81, 125))
    assert wire_frame("x" * 126)[:4] == bytes((0x81, 126, 0, 126))
    big = wire_frame("x" * 65536)
    assert big[:2] == bytes((0x81, 127))
    assert int.from_bytes(big[2:10], "big") == 65536
    assert len(big) == 10 + 65536
