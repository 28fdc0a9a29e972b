"""Redis clients for the three forms of `BRIDGE_REDIS_URL` (see redis_url.py).

Everything the bridge does is cluster-safe by construction (see keys.py): the Lua script
touches only one endpoint's keys, which share a hash tag; multi-key reads are pipelines of
single-key commands. Endpoint changes and rejections use plain PUBLISH, which a cluster
relays to every node, so a hub may subscribe to them on any node; events use sharded
pub/sub on a Cluster (shards.py).
"""

from __future__ import annotations

import select
from typing import Any

import redis
from gevent import monkey
from redis.client import PubSub
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import BlockingConnectionPool, Connection, ConnectionPool
from redis.sentinel import Sentinel, SentinelConnectionPool

from bridge.errors import ConfigError
from bridge.redis_url import parse

Client = redis.Redis | RedisCluster

CONNECT_TIMEOUT = 2.0
HEALTH_CHECK_INTERVAL = 10
# A packed pipeline up to this size leaves in one write (a batch of appends is at most
# append.BATCH_BYTES beyond its first event); past it, as redis-py sends it: in pieces.
JOIN_BYTES = 2 * 1024 * 1024


def _timeouts(timeout: float) -> dict[str, Any]:
    # Fail fast, so a dead Redis becomes a 503 rather than a hung request.
    return {
        "socket_connect_timeout": min(CONNECT_TIMEOUT, timeout),
        "socket_timeout": timeout,
        "health_check_interval": HEALTH_CHECK_INTERVAL,
    }


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool (it finds the primary) with the blocking pool's bounded waiting."""


# The kernel's poll(2), not gevent's: asked with a zero timeout, it never blocks.
_kernel_poll = monkey.get_original("select", "poll")


def _idle(connection: Connection) -> bool:
    """True where redis-py's `can_read(0)` would answer False: hiredis holds no reply bytes
    and the kernel has nothing (no data, no hang-up) to read on the socket. False where it
    cannot tell at once (no hiredis reader, TLS), which leaves the question to redis-py."""
    sock = connection._sock
    reader = getattr(connection._parser, "_reader", None)
    if sock is None or reader is None or not hasattr(reader, "has_data"):
        return False
    if hasattr(sock, "pending") or reader.has_data():
        return False
    poller = _kernel_poll()
    poller.register(sock.fileno(), select.POLLIN)
    return not poller.poll(0)


def _one_write(pool: ConnectionPool) -> ConnectionPool:
    """Have `pool`'s connections send a packed pipeline in one write, and check an idle
    connection taken from the pool without a round of gevent's loop.

    redis-py packs a pipeline into pieces of about 6 KB and sends each with its own
    `sendall`: a batch of appends (3 KB or so each) became one send per two events, each a
    system call that, on a local socket, runs the server's receive path and wakes it to
    read part of a batch. The bytes are the same, joined.

    The pool asks every connection it hands out `can_read()` (left-over reply bytes mean it
    is out of step). redis-py asks through `select.poll`, which under gevent is gevent's: a
    poll object with a watcher per call and a turn of the loop, ~45 us of CPU per command
    (a PING cost ~75 us with it, ~27 without). The usual answer (nothing to read) comes
    from the kernel's poll here; any other goes to redis-py's own check, as before.
    """
    base: type[Connection] = pool.connection_class

    class OneWrite(base):  # type: ignore[valid-type, misc]  # a class chosen by the URL
        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            pieces = command if isinstance(command, list) and len(command) > 1 else None
            if pieces and sum(len(piece) for piece in pieces) <= JOIN_BYTES:
                command = [b"".join(pieces)]
            super().send_packed_command(command, check_health)

        def can_read(self, timeout: float = 0) -> bool:
            if timeout == 0 and _idle(self):
                return False
            result: bool = super().can_read(timeout)
            return result

    OneWrite.__name__ = OneWrite.__qualname__ = f"OneWrite{base.__name__}"
    pool.connection_class = OneWrite
    return pool


def connect(url: str, max_connections: int, timeout: float) -> Client:
    """A client for `url` in any of its forms; each call may take up to `timeout` seconds.

    Its pool (one per node on a Cluster) holds at most `max_connections`, and a greenlet that
    finds them all busy waits for one (up to `timeout` too) instead of failing: under
    gevent, thousands of requests may want Redis at the same moment, and redis-py's default
    pool refuses the 101st with MaxConnectionsError.
    """
    try:
        target = parse(url)
    except ValueError as exc:
        raise ConfigError("BRIDGE_REDIS_URL", str(exc)) from exc
    options = _timeouts(timeout)
    pool: dict[str, Any] = {"max_connections": max_connections, "timeout": timeout}
    if target.kind == "single":
        if not target.url.startswith("unix:"):
            options.setdefault("socket_keepalive", True)
        # from_pool: the client owns its pool, so close() disconnects it (Redis(connection_pool=)
        # leaves the pool's sockets open for the garbage collector, which warns about them).
        return redis.Redis.from_pool(
            _one_write(BlockingConnectionPool.from_url(target.url, **pool, **options))
        )
    options.setdefault("socket_keepalive", True)
    auth: dict[str, Any] = {"username": target.username, "password": target.password}
    if target.kind == "cluster":
        # The first seed goes in as a URL: only then does redis-py build each node's pool
        # with connection_pool_class (and the URL's scheme carries TLS).
        (host, port), *rest = target.hosts
        scheme = "rediss" if target.tls else "redis"
        return RedisCluster(
            url=f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}",
            startup_nodes=[ClusterNode(h, p) for h, p in rest],  # type: ignore[no-untyped-call]
            connection_pool_class=BlockingConnectionPool,
            **pool,
            **auth,
            **options,
        )
    sentinels = Sentinel(  # type: ignore[no-untyped-call]
        list(target.hosts),
        sentinel_kwargs={
            "password": target.sentinel_password,
            "ssl": target.tls,
            **_timeouts(timeout),
        },
        **options,
    )
    primary: redis.Redis = sentinels.master_for(  # type: ignore[no-untyped-call]
        target.service,
        db=target.db,
        connection_pool_class=_BlockingSentinelPool,
        ssl=target.tls,
        **pool,
        **auth,
    )
    _one_write(primary.connection_pool)
    return primary


def pubsub(client: Client, attempt: int) -> PubSub:
    """A pub/sub connection for plain channels. On a Cluster, attempt n goes to node n (mod
    their number): every node hears every PUBLISH, so a hub whose node died moves on instead
    of waiting for it."""
    connection: PubSub
    if isinstance(client, RedisCluster):
        nodes = client.get_nodes()  # type: ignore[no-untyped-call]
        connection = client.pubsub(node=nodes[attempt % len(nodes)])  # type: ignore[no-untyped-call]
    else:
        connection = client.pubsub()  # type: ignore[no-untyped-call]
    return connection
