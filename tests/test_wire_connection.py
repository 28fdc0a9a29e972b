"""One connected socket (bridge/wire/connection.py) over a real upgrade on a gevent socket
pair: the fast path to the kernel, the writer taking over what the kernel does not take,
closing as a slow consumer, and the close handshake's frame."""

from __future__ import annotations

import struct
import time

import gevent

from bridge.wire.frames import wire_frame
from bridge.wire.queue import SLOW_CONSUMER
from tests.wire_support import OpenWire, read_frame


def test_a_frame_the_kernel_takes_whole_is_not_queued_and_starts_no_writer(
    wire: OpenWire,
) -> None:
    """With nothing queued, offer() hands the frame to the kernel; taken whole, nothing waits
    and no writer greenlet starts."""
    connection, client_end = wire()
    assert connection.offer(wire_frame('{"type":"pong"}'))
    assert len(connection) == 0
    assert not connection.writer_started
    assert read_frame(client_end) == (1, b'{"type":"pong"}')


def test_the_rest_of_a_partly_written_frame_goes_out_whole_before_later_frames(
    wire: OpenWire,
) -> None:
    """A frame the kernel took in part: its rest is queued ahead of later frames, and the
    writer sends both, in order, whole."""
    connection, client_end = wire(max_bytes=10**7)
    big = b"x" * 1_000_000
    assert connection.offer(wire_frame(big.decode()))
    assert len(connection) == 1  # the kernel took part of it: the rest waits for the writer
    assert connection.offer(wire_frame("next"))
    assert len(connection) == 2
    assert read_frame(client_end) == (1, big)  # reading lets the writer run
    assert read_frame(client_end) == (1, b"next")


def test_a_slow_consumer_close_keeps_the_rest_of_a_partly_written_frame(wire: OpenWire) -> None:
    """A burst that overflows the queue right after the kernel took part of a frame (the
    writer has not run yet) drops the queued events but not that frame's rest: the client
    reads the frame whole, then the 4008 close frame."""
    connection, client_end = wire(limit=5, max_bytes=10**7)
    big = b"x" * 1_000_000
    assert connection.offer(wire_frame(big.decode()))
    assert len(connection) == 1  # the kernel took part of it
    accepted = [connection.offer(wire_frame(str(n))) for n in range(5)]
    assert accepted == [True] * 4 + [False]
    assert read_frame(client_end) == (1, big)
    opcode, payload = read_frame(client_end)
    assert (opcode, struct.unpack("!H", payload[:2])[0]) == (8, SLOW_CONSUMER)


def test_queued_bytes_past_the_bound_close_as_a_slow_consumer(wire: OpenWire) -> None:
    """Frames of 1 KB into a 10 KB queue: the eleventh closes it with 4008, long before 1000,
    and the queued events are dropped (only the close frame waits)."""
    connection, _ = wire(stuck=True)
    accepted = [connection.offer(b"x" * 1000) for _ in range(11)]
    assert accepted == [True] * 10 + [False]
    assert connection.closed is not None
    assert connection.closed[0] == SLOW_CONSUMER
    assert len(connection) == 1  # the close frame, not held events for a client that is gone


def test_a_frame_larger_than_the_bound_goes_out_alone(wire: OpenWire) -> None:
    """One event bigger than the byte bound is still queued when nothing waits before it;
    the next frame then closes the socket as a slow consumer."""
    connection, _ = wire(max_bytes=1024, stuck=True)
    assert connection.offer(b"x" * 5000)
    assert connection.closed is None
    assert not connection.offer(b"y")
    assert connection.closed is not None
    assert connection.closed[0] == SLOW_CONSUMER


def test_close_with_nothing_queued_sends_the_close_frame_without_a_writer(
    wire: OpenWire,
) -> None:
    """An idle socket's close frame goes straight to the kernel; only the first close counts,
    and nothing is sent after it."""
    connection, client_end = wire()
    connection.close(4011, "shutting down")
    connection.close(1000, "a second close does not count")
    assert connection.closed == (4011, "shutting down")
    assert not connection.writer_started
    opcode, payload = read_frame(client_end)
    assert (opcode, struct.unpack("!H", payload[:2])[0], payload[2:]) == (
        8, 4011, b"shutting down"
    )  # fmt: skip
    assert not connection.offer(wire_frame("late"))


def test_close_keeps_what_is_queued_ahead_of_the_close_frame(wire: OpenWire) -> None:
    """Closing (not as a slow consumer) lets the writer send the queued frames first."""
    connection, client_end = wire(max_bytes=10**7)
    big = b"x" * 1_000_000
    assert connection.offer(wire_frame(big.decode()))
    assert connection.offer(wire_frame("two"))
    connection.close(4011, "shutting down")
    assert read_frame(client_end) == (1, big)
    assert read_frame(client_end) == (1, b"two")
    assert read_frame(client_end)[0] == 8


def test_a_backlog_frame_that_finds_no_room_in_time_closes_as_slow(wire: OpenWire) -> None:
    """offer_backlog() waits while the queue is half full; when the writer frees no room
    within the timeout (its client stopped reading), the socket closes as a slow consumer."""
    connection, _ = wire(limit=4, stuck=True)
    accepted = [connection.offer_backlog(wire_frame(str(n)), timeout=0.05) for n in range(20)]
    assert accepted[0]
    assert not accepted[-1]
    assert connection.closed is not None
    assert connection.closed[0] == SLOW_CONSUMER


def test_a_write_stuck_past_the_send_timeout_is_stalled(wire: OpenWire) -> None:
    """The writer waiting in one send shows as stalled to the reaper once the send timeout
    (5 s here) has passed, and not before."""
    connection, _ = wire(stuck=True)
    assert connection.offer(b"x" * 100)
    deadline = time.monotonic() + 5
    while not connection.stalled(time.monotonic() + 5.5) and time.monotonic() < deadline:
        gevent.sleep(0.01)  # the writer starts and waits in its send
    assert connection.stalled(time.monotonic() + 5.5)
    assert not connection.stalled(time.monotonic())
