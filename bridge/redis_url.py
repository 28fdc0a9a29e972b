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

import math
import os
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from bridge import numbers

SINGLE = {"redis", "rediss", "unix"}

# What a one-server URL's query may hold: the names redis-py 8.1 (pinned in
# requirements.txt) reads from it and its pool or connection takes, each value checked as
# redis-py would parse it. A bad value raised in every worker as it booted (a traceback
# each, and no bridge); any other name reached the connection as a keyword it does not
# take, so every request was a 500. Flags take any text, as redis-py's to_bool does.
# A unix socket's path lives in sun_path: 108 bytes, the last one its NUL.
MAX_SOCKET_PATH = 107
_WHOLE = {"db", "socket_read_size", "max_connections", "health_check_interval", "ssl_min_version"}
_NUMBER = {"socket_timeout", "socket_connect_timeout", "timeout"}
_FLAG = {"socket_keepalive", "retry_on_timeout", "ssl_check_hostname"}
_TEXT = {"client_name", "lib_name", "lib_version", "username", "password"}
_TLS_TEXT = {"ssl_keyfile", "ssl_certfile", "ssl_ca_certs", "ssl_ca_path", "ssl_password"}
_CERT_REQS = {"none", "optional", "required"}
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
        _check_single(scheme, parts.path, parts.query)
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
    db = _database(segments[1] if len(segments) == 2 else "0")
    return RedisTarget(
        raw,
        "sentinel",
        f"{scheme}://{shown}/{segments[0]}/{db}",
        service=segments[0],
        db=db,
        sentinel_password=options.get("sentinel_password"),
        **common,
    )


def _check_single(scheme: str, path: str, query: str) -> None:
    """Refuse what redis-py would ignore (a database that is not a number reads database 0)
    or raise on later, in each worker."""
    if scheme == "unix":
        if not path:
            raise ValueError("expected unix:///<the socket's path>[?db=N]")
        # Else each connection failed with "AF_UNIX path too long", told as Redis not answering.
        size = len(os.fsencode(unquote(path)))
        if size > MAX_SOCKET_PATH:
            raise ValueError(
                f"the socket's path is {size} bytes, and a unix socket's path may hold at most "
                f"{MAX_SOCKET_PATH}"
            )
    else:
        db = unquote(path).removeprefix("/")
        if db:
            _database(db)
    for name, values in parse_qs(query, keep_blank_values=True).items():
        value = values[0]
        if name in _WHOLE:
            try:
                numbers.whole(value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        elif name in _NUMBER:
            try:
                number = numbers.decimal(value)
            except ValueError:
                number = math.nan
            if not 0 <= number < math.inf:
                raise ValueError(f"{name}: expected a number, got {value!r}")
        elif name == "protocol":
            if value not in {"2", "3"}:
                raise ValueError(f"protocol: expected 2 or 3, got {value!r}")
        elif name == "ssl_cert_reqs" and scheme == "rediss":
            if value.lower() not in _CERT_REQS:
                raise ValueError(
                    f"ssl_cert_reqs: expected none, optional or required, got {value!r}"
                )
        elif not (name in _FLAG | _TEXT or (name in _TLS_TEXT and scheme == "rediss")):
            raise ValueError(f"unknown option {name!r}")


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    host = host.strip("[]")  # [::1]:7000
    try:
        number = numbers.whole(port, 1, 65535)
    except ValueError:
        raise ValueError(f"expected host:port, got {text!r}") from None
    if not host:
        raise ValueError(f"expected host:port, got {text!r}")
    return host, number


def _database(text: str) -> int:
    try:
        return numbers.whole(text)
    except ValueError:
        raise ValueError(f"database must be a number, got {text!r}") from None
