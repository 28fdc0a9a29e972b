"""Per-endpoint channels under churn, on one worker: sockets join and leave an endpoint while
its events flow, its channel is released and subscribed again, and every socket still gets
each event after its cursor exactly once, in order."""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import websocket

from bridge import cursor
from bridge.embedded import EmbeddedRedis
from tests.support import (
    BridgeProcess,
    Client,
    Connect,
    ConnectionClosedError,
    channel_subscribers,
    deliver,
    events_through,
    unread_by_redis,
    wait_until,
)

pytestmark = pytest.mark.gunicorn

ROUNDS = 25  # sockets opened per churn test, at most
ROUND_SECONDS = 15.0  # and for at most this long


@pytest.fixture(scope="module")
def one_worker(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BridgeProcess]:
    """A bridge with one worker, so every socket shares one hub and its channels."""
    process = BridgeProcess(
        tmp_path_factory.mktemp("churn"), redis_server.url, BRIDGE_WORKERS="1"
    ).start()
    yield process
    process.stop()


class Poster(threading.Thread):
    """Posts webhooks to one endpoint one after the other, until finished (or `limit` are
    posted); `ids` in posting order."""

    def __init__(self, bridge: BridgeProcess, endpoint: str, limit: int = 3000) -> None:
        super().__init__(daemon=True)
        self.bridge, self.endpoint, self.limit = bridge, endpoint, limit
        self.ids: list[str] = []
        self.failure: BaseException | None = None
        self._done = threading.Event()

    def run(self) -> None:
        try:
            while not self._done.is_set() and len(self.ids) < self.limit:
                answer = deliver(self.bridge, self.endpoint)
                assert answer.status_code == 202, answer.text
                self.ids.append(answer.json()["id"])
        except BaseException as exc:  # reported by finish()
            self.failure = exc

    def rounds(self) -> Iterator[int]:
        """Round numbers for a test's churn, up to ROUNDS, while this posts and for at most
        ROUND_SECONDS."""
        deadline = time.monotonic() + ROUND_SECONDS
        for n in range(ROUNDS):
            if not self.is_alive() or time.monotonic() > deadline:
                return
            yield n

    def finish(self) -> list[str]:
        """Stop posting; every id posted."""
        self._done.set()
        self.join(30)
        assert not self.is_alive(), "the poster did not stop within 30 s"
        assert self.failure is None, self.failure
        assert self.ids
        return self.ids


class Reader(threading.Thread):
    """Reads one client's event ids until told to stop and `last` is among them."""

    def __init__(self, client: Client) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.ids: list[str] = []
        self.last: str | None = None
        self.failure: BaseException | None = None

    def run(self) -> None:
        deadline = time.monotonic() + 60
        try:
            while self.last is None or self.last not in self.ids:
                assert time.monotonic() < deadline, "reading for 60 s"
                try:
                    self.ids.extend(e["id"] for e in self.client.events(1, timeout=0.5))
                except websocket.WebSocketTimeoutException:
                    continue  # nothing for now: see whether `last` was named meanwhile
        except BaseException as exc:
            self.failure = exc

    def through(self, last: str) -> list[str]:
        self.last = last
        self.join(30)
        assert not self.is_alive(), "the reader did not see the last event within 30 s"
        assert self.failure is None, self.failure
        return self.ids


def steady_flow(
    bridge: BridgeProcess, redis_client: redis.Redis, endpoint: str, connect: Connect
) -> tuple[Reader, Poster]:
    """A socket subscribed to `endpoint` (its channel confirmed) and read in a thread, and
    webhooks posted to it in another: both started."""
    steady = connect(bridge)
    steady.subscribe(endpoint)
    wait_until(lambda: channel_subscribers(redis_client, endpoint) == 1)
    reader, poster = Reader(steady), Poster(bridge, endpoint)
    reader.start()
    poster.start()
    return reader, poster


def ordered(ids: list[str]) -> bool:
    parsed = [cursor.parse(i) for i in ids]
    return all(a < b for a, b in itertools.pairwise(parsed))


def after(ids: list[str], start: str, through: str) -> list[str]:
    low, high = cursor.parse(start), cursor.parse(through)
    return [i for i in ids if low < cursor.parse(i) <= high]


def test_a_steady_socket_misses_nothing_while_another_joins_and_leaves(
    one_worker: BridgeProcess, redis_client: redis.Redis, uid: str, connect: Connect
) -> None:
    """A socket that stays subscribed gets every event exactly once, in order, while a second
    socket on the same worker subscribes, reads a little and disconnects, over and over."""
    one_worker.create_endpoint(uid)
    reader, poster = steady_flow(one_worker, redis_client, uid, connect)
    for _ in poster.rounds():
        passing = connect(one_worker)
        passing.subscribe(uid)
        assert ordered([e["id"] for e in passing.events(3)])
        passing.close()
    posted = poster.finish()
    assert reader.through(posted[-1]) == posted


def test_a_resume_right_after_the_channel_was_released_gets_every_later_event_once(
    one_worker: BridgeProcess, redis_client: redis.Redis, uid: str, connect: Connect
) -> None:
    """When an endpoint's last socket leaves and a new one subscribes with `since` the last
    cursor it saw, at once (the release may be in flight) or once the channel is released,
    the sockets together get every event exactly once, in order."""
    one_worker.create_endpoint(uid)
    client = connect(one_worker)
    start = client.subscribe(uid)["cursor"]
    poster = Poster(one_worker, uid)
    poster.start()
    seen: list[str] = []
    for n in poster.rounds():
        seen.extend(e["id"] for e in client.events(2 + n % 4))
        client.close()
        if n % 3 == 2:  # now and then the channel is released before the resume
            wait_until(lambda: channel_subscribers(redis_client, uid) == 0)
        client = connect(one_worker)
        client.subscribe(uid, since=seen[-1])
    posted = poster.finish()
    seen.extend(events_through(client, posted[-1]))
    assert seen == after(posted, start, posted[-1])


def test_a_live_subscribe_gets_everything_after_its_cursor_once_in_order(
    one_worker: BridgeProcess, redis_client: redis.Redis, uid: str, connect: Connect
) -> None:
    """A socket subscribed without `since` while events flow (the channel cold or already
    held) gets, from its first event on, every event after its `subscribed` cursor exactly
    once and in order."""
    one_worker.create_endpoint(uid)
    poster = Poster(one_worker, uid)
    poster.start()
    runs: list[tuple[str, list[str]]] = []
    for n in poster.rounds():
        if n % 2 == 0:  # cold: no socket holds the channel
            wait_until(lambda: channel_subscribers(redis_client, uid) == 0)
        client = connect(one_worker)
        subscribed = client.subscribe(uid)["cursor"]
        runs.append((subscribed, [e["id"] for e in client.events(4)]))
        client.close()
    posted = poster.finish()
    assert runs
    for subscribed, ids in runs:
        assert ids == after(posted, subscribed, ids[-1]), subscribed


def test_a_long_resume_is_not_closed_when_its_channel_is_subscribed_again_meanwhile(
    own_redis: EmbeddedRedis, tmp_path: Path, uid: str, connect: Connect
) -> None:
    """A socket resuming a backlog far longer than its queue gets the whole backlog once, in
    order, and stays open, though its worker's pub/sub connection is killed and the channel
    subscribed again (and the gap read) while the backlog is still being sent."""
    bridge = BridgeProcess(
        tmp_path / "bridge", own_redis.url, BRIDGE_WORKERS="1", BRIDGE_WS_QUEUE_SIZE="50"
    ).start()
    admin = redis.Redis.from_url(own_redis.url)
    try:
        bridge.create_endpoint(uid)
        body = json.dumps({"pad": "x" * 4000}).encode()  # more than the kernel buffers hold
        posted = [bridge.post_signed(uid, body, event_id=uuid.uuid4().hex) for _ in range(400)]
        assert all(answer.status_code == 202 for answer in posted)
        ids = [answer.json()["id"] for answer in posted]
        client = connect(bridge)
        client.subscribe(uid, since="0-0")
        seen = [e["id"] for e in client.events(30)]
        # The backlog waits on this client; meanwhile its channel is subscribed again.
        assert channel_subscribers(admin, uid) == 1
        assert admin.client_kill_filter(_type="pubsub") >= 1
        wait_until(lambda: channel_subscribers(admin, uid) == 1)
        try:
            seen.extend(events_through(client, ids[-1]))
        except ConnectionClosedError as closed:
            raise AssertionError(f"closed {closed.code} after {len(seen)} of {len(ids)}") from None
        assert seen == ids
    finally:
        admin.close()
        bridge.stop()


def test_a_channel_churned_within_the_poll_window_is_released_after_its_last_socket(
    one_worker: BridgeProcess, redis_client: redis.Redis, uid: str, connect: Connect
) -> None:
    """An endpoint whose sockets join and leave faster than the hub polls, while another
    endpoint's events flow on the same pub/sub connection, ends with its channel released,
    and the other endpoint's socket still gets every one of its events once, in order."""
    churned, busy = f"{uid}-c", f"{uid}-b"
    for endpoint in (churned, busy):
        one_worker.create_endpoint(endpoint)
    reader, poster = steady_flow(one_worker, redis_client, busy, connect)
    for n in poster.rounds():
        for _ in range(1 + n % 3):
            passing = connect(one_worker)
            passing.subscribe(churned)
            passing.close()
        if n % 4 == 3:
            wait_until(lambda: channel_subscribers(redis_client, churned) == 0)
    posted = poster.finish()
    assert reader.through(posted[-1]) == posted
    wait_until(lambda: channel_subscribers(redis_client, churned) == 0)


def test_a_channel_taken_back_before_its_unsubscribe_was_answered_is_released_later(
    own_redis: EmbeddedRedis, tmp_path: Path, uid: str, connect: Connect
) -> None:
    """An endpoint's last socket leaves and a new one subscribes while Redis is frozen
    (SIGSTOP), so the worker's UNSUBSCRIBE is answered only after its SUBSCRIBE went out;
    once that socket leaves too, the channel is released, not held for nobody."""
    bridge = BridgeProcess(tmp_path / "bridge", own_redis.url, BRIDGE_WORKERS="1").start()
    admin = redis.Redis.from_url(own_redis.url)
    assert own_redis.process is not None
    redis_pid = own_redis.process.pid
    try:
        bridge.create_endpoint(uid)
        # Other endpoints' sockets keep the worker's pub/sub connection (it would end with
        # its last channel, and with it the unanswered UNSUBSCRIBE); two of them, so that it
        # is the one with three channels beside the hub's listener (two).
        for kept in (f"{uid}-kept", f"{uid}-kept2"):
            bridge.create_endpoint(kept)
            connect(bridge).subscribe(kept)
        first = connect(bridge)
        first.subscribe(uid)
        assert channel_subscribers(admin, uid) == 1
        (events,) = [c for c in admin.client_list(_type="pubsub") if c["sub"] == "3"]
        events_port = int(events["addr"].rsplit(":", 1)[1])

        def unread() -> int:
            return unread_by_redis(own_redis.port, events_port)

        os.kill(redis_pid, signal.SIGSTOP)
        try:
            first.close()
            wait_until(lambda: unread() > 0)  # the worker's UNSUBSCRIBE went out, unanswered
            sent = unread()
            second = connect(bridge)
            second.send({"type": "subscribe", "channel": uid})
            wait_until(lambda: unread() > sent)  # and its SUBSCRIBE after it
        finally:
            os.kill(redis_pid, signal.SIGCONT)
        assert second.recv()["type"] == "subscribed"
        second.close()
        wait_until(lambda: channel_subscribers(admin, uid) == 0)
    finally:
        admin.close()
        bridge.stop()
