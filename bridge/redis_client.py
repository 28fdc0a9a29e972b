"""Redis clients for the three forms of `BRIDGE_REDIS_URL` (see redis_url.py).

Everything the bridge does is cluster-safe by construction (see keys.py): the Lua script
touches only one endpoint's keys, which share a hash tag; multi-key reads are pipelines of
single-key commands; pub/sub uses plain PUBLISH, which a cluster relays to every node, so
a hub may subscribe on any node.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.client import PubSub
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel

from bridge.errors import ConfigError
from bridge.redis_url import parse

Client = redis.Redis | RedisCluster

# Fail fast, so a dead Redis becomes a 503 rather than a hung request.
_TIMEOUTS: dict[str, Any] = {
    "socket_connect_timeout": 2.0,
    "socket_timeout": 5.0,
    "health_check_interval": 10,
}


def connect(url: str, **overrides: Any) -> Client:
    """A client for `url` in any of its forms, with the bridge's timeouts (`overrides` win)."""
    try:
        target = parse(url)
    except ValueError as exc:
        raise ConfigError("BRIDGE_REDIS_URL", str(exc)) from exc
    options = _TIMEOUTS | overrides
    if target.kind == "single":
        if not target.url.startswith("unix:"):
            options.setdefault("socket_keepalive", True)
        return redis.Redis.from_url(target.url, **options)
    options.setdefault("socket_keepalive", True)
    auth: dict[str, Any] = {
        "username": target.username,
        "password": target.password,
        "ssl": target.tls,
    }
    if target.kind == "cluster":
        nodes = [ClusterNode(host, port) for host, port in target.hosts]  # type: ignore[no-untyped-call]
        return RedisCluster(startup_nodes=nodes, **auth, **options)
    sentinels = Sentinel(  # type: ignore[no-untyped-call]
        list(target.hosts),
        sentinel_kwargs={"password": target.sentinel_password, "ssl": target.tls, **_TIMEOUTS},
        **options,
    )
    primary: redis.Redis = sentinels.master_for(target.service, db=target.db, **auth)  # type: ignore[no-untyped-call]
    return primary


def pubsub(client: Client, attempt: int) -> PubSub:
    """A pub/sub connection. On a Cluster, attempt n goes to node n (mod their number): every
    node hears every PUBLISH, so a hub whose node died moves on instead of waiting for it."""
    connection: PubSub
    if isinstance(client, RedisCluster):
        nodes = client.get_nodes()  # type: ignore[no-untyped-call]
        connection = client.pubsub(node=nodes[attempt % len(nodes)])  # type: ignore[no-untyped-call]
    else:
        connection = client.pubsub()  # type: ignore[no-untyped-call]
    return connection
