"""`BRIDGE_REDIS_URL`: its three forms, checked and taken apart (clients: redis_client.py).

- `redis://`, `rediss://`, `unix://`: one server (redis-py's own URL syntax).
- `redis+cluster://[[user]:password@]host:port[,host:port...]` (`rediss+cluster://` for TLS):
  a Redis Cluster, found from any of the seed nodes listed.
- `redis+sentinel://[[user]:password@]host:port[,host:port...]/<service>[/db]`
  (`rediss+sentinel://`): the primary that the listed Sentinels name for `<service>`,
  followed across failovers. The credentials are the data nodes'; Sentinels that need a
  password of their own take `?sentinel_password=...`.

Only the standard library here: gunicorn's master validates settings before its gevent
workers patch the world, and importing redis-py would import ssl too early.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

SINGLE = {"redis", "rediss", "unix"}
CLUSTER = {"redis+cluster", "rediss+cluster"}
SENTINEL = {"redis+sentinel", "rediss+sentinel"}


@dataclass(frozen=True)
class RedisTarget:
    """Where the bridge's Redis is; `display` is safe to log (no credentials)."""

    url: str = field(repr=False)
    kind: Literal["single", "cluster", "sentinel"]
    display: str
    hosts: tuple[tuple[str, int], ...] = ()
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    service: str = ""
    db: int = 0
    sentinel_password: str | None = field(default=None, repr=False)


def parse(raw: str) -> RedisTarget:
    """Check `raw` and take it apart; ValueError names what is wrong (never the password)."""
    scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
    if scheme in SINGLE:
        parts = urlsplit(raw)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return RedisTarget(raw, "single", f"{scheme}://{host}{port}{parts.path}")
    if scheme not in CLUSTER | SENTINEL:
        raise ValueError(
            "expected redis://, rediss://, unix://, redis+cluster:// or redis+sentinel://"
        )
    rest = raw.split("://", 1)[1]
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, _, hostlist = netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    hosts = tuple(_host_port(h) for h in hostlist.split(","))
    options = {k: v[-1] for k, v in parse_qs(query).items()}
    unknown = set(options) - {"sentinel_password"}
    if unknown:
        raise ValueError(f"unknown option {sorted(unknown)[0]!r}")
    segments = [unquote(s) for s in path.split("/") if s]
    shown = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in hosts)
    common: dict[str, Any] = {
        "hosts": hosts,
        "username": unquote(username) or None,
        "password": unquote(password) or None,
        "tls": scheme.startswith("rediss"),
    }
    if scheme in CLUSTER:
        if segments not in ([], ["0"]):
            raise ValueError("a Redis Cluster has only database 0: leave the path empty")
        if options:
            raise ValueError("sentinel_password applies to redis+sentinel:// only")
        return RedisTarget(raw, "cluster", f"{scheme}://{shown}", **common)
    if not segments or len(segments) > 2:
        raise ValueError("expected redis+sentinel://host:port[,host:port]/<service>[/db]")
    db = segments[1] if len(segments) == 2 else "0"
    if not db.isdigit():
        raise ValueError(f"database must be a number, got {db!r}")
    return RedisTarget(
        raw,
        "sentinel",
        f"{scheme}://{shown}/{segments[0]}/{db}",
        service=segments[0],
        db=int(db),
        sentinel_password=options.get("sentinel_password"),
        **common,
    )


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    host = host.strip("[]")  # [::1]:7000
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got {text!r}")
    return host, int(port)
