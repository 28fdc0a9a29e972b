"""The one-server client: a packed pipeline leaves in one write, up to JOIN_BYTES."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from bridge.redis_client import JOIN_BYTES, connect


class _CountingSocket:
    """The connection's real socket, counting the sendall calls made on it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sends = 0

    def sendall(self, data: Any) -> None:
        self.sends += 1
        self.inner.sendall(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def counted(redis_url: str) -> Iterator[tuple[redis.Redis, _CountingSocket]]:
    """A client whose one pooled connection counts its writes."""
    client = connect(redis_url, 1, 5.0)
    assert isinstance(client, redis.Redis)
    client.ping()
    connection = client.connection_pool.get_connection()
    counter = _CountingSocket(connection._sock)
    connection._sock = counter  # type: ignore[assignment]  # a real socket, counted
    connection._parser._sock = counter
    client.connection_pool.release(connection)
    yield client, counter
    client.close()


def test_a_batch_of_appends_is_one_write(
    counted: tuple[redis.Redis, _CountingSocket], uid: str
) -> None:
    """Eight 3 KB commands in a pipeline (redis-py packs them into several pieces) are sent
    in one write, and each is answered and stored."""
    client, counter = counted
    with client.pipeline(transaction=False) as pipe:
        for n in range(8):
            pipe.set(f"{uid}:{n}", bytes([n]) * 3000)
        assert pipe.execute() == [True] * 8
    assert counter.sends == 1
    assert [client.get(f"{uid}:{n}") for n in range(8)] == [bytes([n]) * 3000 for n in range(8)]


def test_a_pipeline_past_the_limit_is_sent_in_pieces(
    counted: tuple[redis.Redis, _CountingSocket], uid: str
) -> None:
    """A value larger than JOIN_BYTES is not copied into one buffer; it arrives whole."""
    client, counter = counted
    big = b"x" * (JOIN_BYTES + 1)
    with client.pipeline(transaction=False) as pipe:
        pipe.set(f"{uid}:small", b"s")
        pipe.set(f"{uid}:big", big)
        assert pipe.execute() == [True, True]
    assert counter.sends > 1
    assert client.get(f"{uid}:big") == big


def test_closing_a_client_closes_its_pooled_connections(redis_url: str) -> None:
    """close() on a client from connect() closes the sockets its pool opened."""
    client = connect(redis_url, 2, 5.0)
    assert isinstance(client, redis.Redis)
    client.ping()
    connection = client.connection_pool.get_connection()
    sock = connection._sock
    assert sock is not None
    client.connection_pool.release(connection)
    client.close()
    assert sock.fileno() == -1


def _pooled(client: redis.Redis) -> Any:
    connection = client.connection_pool.get_connection()
    client.connection_pool.release(connection)
    return connection


def test_an_idle_connection_is_checked_by_the_kernel(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool's check of an idle connection answers from the kernel's poll; redis-py's own
    (gevent's poll, under gevent) is not asked."""
    client = connect(redis_url, 1, 5.0)
    assert isinstance(client, redis.Redis)
    client.ping()
    connection = _pooled(client)
    asked: list[float] = []
    parser = connection._parser
    real = parser.can_read

    def can_read(timeout: float = 0) -> bool:
        asked.append(timeout)
        result: bool = real(timeout)
        return result

    monkeypatch.setattr(parser, "can_read", can_read)
    assert connection.can_read() is False
    assert client.ping() is True
    assert asked == []
    client.close()


def test_a_connection_out_of_step_still_reads_as_readable(redis_url: str) -> None:
    """A reply nobody read (its greenlet killed mid-command) is left-over data: the check
    says so, as redis-py's own does (redis-py 8.1's pool acts on it only with maintenance
    notifications off, which are "auto" by default)."""
    client = connect(redis_url, 1, 5.0)
    assert isinstance(client, redis.Redis)
    client.ping()
    connection = client.connection_pool.get_connection()
    connection.send_command("PING")  # type: ignore[no-untyped-call]  # its +PONG never read
    deadline = time.monotonic() + 5
    while _is_idle(connection) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert connection.can_read() is True
    connection.read_response()
    assert connection.can_read() is False
    client.connection_pool.release(connection)
    client.close()


def test_a_connection_the_server_closed_is_replaced(redis_url: str) -> None:
    """A connection Redis closed (CLIENT KILL, a restart) reads as readable: redis-py's own
    check tells it apart, and the pool opens another."""
    client = connect(redis_url, 1, 5.0)
    assert isinstance(client, redis.Redis)
    client.set("killed", "value")
    connection = _pooled(client)
    own = client.client_id()
    with redis.Redis.from_url(redis_url) as other:
        other.client_kill_filter(_id=own)
    deadline = time.monotonic() + 5
    while _is_idle(connection) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.get("killed") == b"value"
    assert client.client_id() != own
    client.close()


def _is_idle(connection: Any) -> bool:
    from bridge.redis_client import _idle

    return _idle(connection)
