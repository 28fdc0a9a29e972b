"""Settings.from_env: defaults, one clear ConfigError per bad variable, secrets kept out of repr."""

from __future__ import annotations

import re
import stat
from dataclasses import Field, fields
from pathlib import Path
from typing import Any

import pytest

from bridge.auth import TOKEN_FILE, load_or_create_admin_token
from bridge.config import ClientSettings, MiB, Settings, variable_of
from bridge.errors import ConfigError
from tests.support import NOT_WHOLE

GOOD_TOKEN = "a-good-admin-token-0123456789"
ROOT = Path(__file__).resolve().parents[1]


def test_defaults_when_the_environment_is_empty() -> None:
    """With no BRIDGE_* variable set, every setting takes its documented default."""
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.redis_url is None
    assert settings.data_dir == Path(".bridge")
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.admin_token is None
    assert settings.public_url is None
    assert settings.allowed_origins == ()
    assert settings.max_body_bytes == 25 * MiB
    assert settings.allow_unverified is False
    assert settings.timestamp_tolerance == 300
    assert settings.dedup_ttl == 72 * 3600
    assert settings.log_level == "INFO"


def test_blank_values_fall_back_to_defaults() -> None:
    """A variable set to an empty or blank string counts as unset."""
    settings = Settings.from_env(
        {"PORT": "", "BRIDGE_MAX_BODY_BYTES": "  ", "BRIDGE_REDIS_URL": ""}
    )
    assert settings.port == 8000
    assert settings.max_body_bytes == 25 * MiB
    assert settings.redis_url is None


@pytest.mark.parametrize(
    ("variable", "raw", "field", "expected"),
    [
        ("BRIDGE_REDIS_URL", "redis://localhost:6379/0", "redis_url", "redis://localhost:6379/0"),
        (
            "BRIDGE_REDIS_URL",
            "rediss://cache.example:6380",
            "redis_url",
            "rediss://cache.example:6380",
        ),
        ("BRIDGE_REDIS_URL", "unix:///tmp/redis.sock", "redis_url", "unix:///tmp/redis.sock"),
        (
            "BRIDGE_REDIS_URL",
            "redis+cluster://node-a:7000,node-b:7001",
            "redis_url",
            "redis+cluster://node-a:7000,node-b:7001",
        ),
        ("BRIDGE_DATA_DIR", "/var/lib/bridge", "data_dir", Path("/var/lib/bridge")),
        ("PORT", "9001", "port", 9001),
        ("BRIDGE_WORKERS", "4", "workers", 4),
        ("BRIDGE_ADMIN_TOKEN", GOOD_TOKEN, "admin_token", GOOD_TOKEN),
        (
            "BRIDGE_PUBLIC_URL",
            "https://hooks.example.com/",
            "public_url",
            "https://hooks.example.com",
        ),
        (
            "BRIDGE_ALLOWED_ORIGINS",
            "https://a.example, http://b.example:8080/",
            "allowed_origins",
            ("https://a.example", "http://b.example:8080"),
        ),
        ("BRIDGE_MAX_BODY_BYTES", "1024", "max_body_bytes", 1024),
        ("BRIDGE_ALLOW_UNVERIFIED", "true", "allow_unverified", True),
        ("BRIDGE_ALLOW_UNVERIFIED", "YES", "allow_unverified", True),
        ("BRIDGE_ALLOW_UNVERIFIED", "1", "allow_unverified", True),
        ("BRIDGE_ALLOW_UNVERIFIED", "off", "allow_unverified", False),
        ("BRIDGE_TIMESTAMP_TOLERANCE", "60", "timestamp_tolerance", 60),
        ("BRIDGE_WS_SEND_TIMEOUT", "2.5", "ws_send_timeout", 2.5),
        ("BRIDGE_REDIS_TIMEOUT", "0.5", "redis_timeout", 0.5),
        ("BRIDGE_APPEND_BATCH", "1", "append_batch", 1),
        ("BRIDGE_WS_QUEUE_BYTES", "65536", "ws_queue_bytes", 65536),
        ("BRIDGE_WS_QUEUE_AGE", "2.5", "ws_queue_age", 2.5),
        ("BRIDGE_WS_SEND_BUFFER", "0", "ws_send_buffer", 0),
        ("BRIDGE_WS_RATE", "5.5", "ws_rate", 5.5),
        ("BRIDGE_WS_BURST", "7", "ws_burst", 7),
        ("BRIDGE_LOG_LEVEL", "debug", "log_level", "DEBUG"),
    ],
)
def test_good_values_are_parsed(variable: str, raw: str, field: str, expected: object) -> None:
    """A valid value for a variable lands, normalised, in its settings field."""
    settings = Settings.from_env({variable: raw})
    assert getattr(settings, field) == expected


BAD_VALUES = [
    # non-numbers
    ("PORT", "eighty"),
    ("BRIDGE_WORKERS", "two"),
    ("BRIDGE_MAX_BODY_BYTES", "25MiB"),
    ("BRIDGE_MAX_BODY_BYTES", "1.5"),
    ("BRIDGE_TIMESTAMP_TOLERANCE", "5m"),
    ("BRIDGE_DEDUP_TTL", "forever"),
    ("BRIDGE_RETENTION_EVENTS", "lots"),
    ("BRIDGE_WS_SEND_TIMEOUT", "soon"),
    ("BRIDGE_WS_PING_INTERVAL", "nan?"),
    ("BRIDGE_WS_PING_INTERVAL", "nan"),
    ("BRIDGE_WS_SEND_TIMEOUT", "inf"),
    ("BRIDGE_RETRY_AFTER", "x"),
    # out of range
    ("PORT", "0"),
    ("PORT", "65536"),
    ("BRIDGE_WORKERS", "0"),
    ("BRIDGE_WORKERS", "65"),
    ("BRIDGE_TRUSTED_PROXIES", "-1"),
    ("BRIDGE_TRUSTED_PROXIES", "11"),
    ("BRIDGE_MAX_BODY_BYTES", "0"),
    ("BRIDGE_MAX_BODY_BYTES", str(1024 * MiB + 1)),
    ("BRIDGE_TIMESTAMP_TOLERANCE", "0"),
    ("BRIDGE_TIMESTAMP_TOLERANCE", "86401"),
    ("BRIDGE_DEDUP_TTL", "59"),
    ("BRIDGE_RETENTION_EVENTS", "0"),
    ("BRIDGE_RETENTION_SECONDS", "59"),
    ("BRIDGE_WS_QUEUE_SIZE", "0"),
    ("BRIDGE_WS_SEND_TIMEOUT", "0"),
    ("BRIDGE_REDIS_TIMEOUT", "0"),
    ("BRIDGE_REDIS_TIMEOUT", "61"),
    ("BRIDGE_APPEND_BATCH", "0"),
    ("BRIDGE_APPEND_BATCH", "1001"),
    ("BRIDGE_WS_MAX_MESSAGE_BYTES", "255"),
    ("BRIDGE_WS_AUTH_TIMEOUT", "601"),
    ("BRIDGE_WS_QUEUE_BYTES", "1023"),
    ("BRIDGE_WS_QUEUE_AGE", "0"),
    ("BRIDGE_WS_SEND_BUFFER", "-1"),
    ("BRIDGE_WS_RATE", "0"),
    ("BRIDGE_WS_RATE", "fast"),
    ("BRIDGE_WS_BURST", "0"),
    ("BRIDGE_RETRY_AFTER", "0"),
    # bad URL schemes
    ("BRIDGE_REDIS_URL", "http://localhost:6379"),
    ("BRIDGE_REDIS_URL", "localhost:6379"),
    ("BRIDGE_REDIS_URL", "memcached://localhost"),
    ("BRIDGE_REDIS_URL", "redis+cluster://"),
    ("BRIDGE_REDIS_URL", "redis+cluster://node-a:7000,node-b"),
    ("BRIDGE_REDIS_URL", "redis+cluster://node-a:7000/3"),
    ("BRIDGE_REDIS_URL", "redis+sentinel://sentinel-a:26379"),
    ("BRIDGE_REDIS_URL", "redis+sentinel://sentinel-a:26379/mymaster/zero"),
    ("BRIDGE_REDIS_URL", "redis+sentinel://sentinel-a:26379/mymaster?colour=blue"),
    ("BRIDGE_PUBLIC_URL", "ftp://hooks.example.com"),
    ("BRIDGE_PUBLIC_URL", "hooks.example.com"),
    ("BRIDGE_PUBLIC_URL", "https://"),
    ("BRIDGE_ALLOWED_ORIGINS", "https://ok.example,javascript:alert(1)"),
    ("BRIDGE_ALLOWED_ORIGINS", "ws://a.example"),
    ("BRIDGE_ALLOWED_ORIGINS", "a.example"),
    ("BRIDGE_PUBLIC_URL", "https://hooks\udcff.example"),  # a byte that is not UTF-8
    ("BRIDGE_ALLOWED_ORIGINS", "https://a\udcff.example"),
    # bad booleans
    ("BRIDGE_ALLOW_UNVERIFIED", "maybe"),
    ("BRIDGE_ALLOW_UNVERIFIED", "2"),
    ("BRIDGE_ALLOW_UNVERIFIED", "enabled"),
    # what int() takes and a whole number is not (surrounding whitespace is stripped from
    # every setting, so it is absent here)
    *(
        pytest.param("PORT", *p.values, id=f"PORT-{p.id}")
        for p in NOT_WHOLE
        if str(p.values[0]).strip() == p.values[0]
    ),
    ("BRIDGE_WORKERS", "\u0662"),
    ("BRIDGE_BODY_TIMEOUT", "1_0"),
    ("BRIDGE_BODY_TIMEOUT", "\uff15"),
    ("BRIDGE_WS_RATE", "1e3"),
    ("BRIDGE_MAX_BODY_BYTES", "1_048_576"),
    # other bad values
    ("BRIDGE_ADMIN_TOKEN", "short"),
    ("BRIDGE_ADMIN_TOKEN", "x" * 15),
    # a token no Authorization header can carry
    ("BRIDGE_ADMIN_TOKEN", "0123456789abcdef\nsecret"),
    ("BRIDGE_ADMIN_TOKEN", "0123456789abcdef\x00"),
    ("BRIDGE_ADMIN_TOKEN", "0123456789abcdef\u20ac"),
    ("BRIDGE_METRICS_TOKEN", "0123456789abcdef\rsecret"),
    ("BRIDGE_LOG_LEVEL", "LOUD"),
    # unknown settings
    ("BRIDGE_FOO", "1"),
    ("BRIDGE_REDIS_UR", "redis://localhost"),
]


@pytest.mark.parametrize(("variable", "raw"), BAD_VALUES)
def test_bad_value_raises_config_error_naming_the_variable(variable: str, raw: str) -> None:
    """A bad or unknown variable stops start-up with a ConfigError whose .variable names it."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({variable: raw})
    assert caught.value.variable == variable
    assert variable in str(caught.value)
    assert caught.value.problem


def test_the_cli_variable_bridge_server_is_not_unknown() -> None:
    """BRIDGE_SERVER (read by the CLI) may sit in the server's environment without an error."""
    settings = Settings.from_env({"BRIDGE_SERVER": "http://127.0.0.1:8000"})
    assert settings == Settings()


def test_the_error_names_the_bad_variable_among_good_ones() -> None:
    """With several variables set, the error names the one that is wrong, not a neighbour."""
    env = {
        "BRIDGE_REDIS_URL": "redis://localhost:6379",
        "PORT": "8080",
        "BRIDGE_TIMESTAMP_TOLERANCE": "-5",
        "BRIDGE_ADMIN_TOKEN": GOOD_TOKEN,
    }
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert caught.value.variable == "BRIDGE_TIMESTAMP_TOLERANCE"


def test_repr_hides_the_admin_token_and_the_redis_password() -> None:
    """repr(settings) (which ends up in logs) never shows the admin token or the Redis password."""
    token = "very-secret-admin-token-4242"
    password = "hunter2-redis-password"
    settings = Settings.from_env(
        {
            "BRIDGE_ADMIN_TOKEN": token,
            "BRIDGE_REDIS_URL": f"redis://default:{password}@cache.example:6379/0",
        }
    )
    assert settings.admin_token == token
    assert password in (settings.redis_url or "")
    text = repr(settings)
    assert token not in text
    assert password not in text
    assert "Settings(" in text
    assert "port=8000" in text
    assert password not in settings.redis_display
    assert settings.redis_display == "redis://cache.example:6379/0"


def test_load_or_create_admin_token_creates_once_with_mode_0600(tmp_path: Path) -> None:
    """The admin token is generated once into the data dir (mode 0600) and read back after."""
    data_dir = tmp_path / "fresh" / "data"
    token, created = load_or_create_admin_token(data_dir)
    assert created is True
    assert len(token) >= 32
    path = data_dir / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == token

    again, created_again = load_or_create_admin_token(data_dir)
    assert created_again is False
    assert again == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_load_or_create_admin_token_differs_between_data_dirs(tmp_path: Path) -> None:
    """Two data dirs get two different generated tokens (tokens are random, not fixed)."""
    first, _ = load_or_create_admin_token(tmp_path / "one")
    second, _ = load_or_create_admin_token(tmp_path / "two")
    assert first != second


def _documented_defaults() -> dict[str, str]:
    """docs/configuration.md's table: variable -> its default cell."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    rows = re.findall(r"^\| `([A-Z_]+)` \| (.*?) \|", text, flags=re.MULTILINE)
    return dict(rows)


def _as_documented(f: Field[Any]) -> str:
    """A field's default as docs/configuration.md writes it."""
    if f.metadata["shown"] is not None:
        return str(f.metadata["shown"])
    value = f.default
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    if isinstance(value, Path):
        return f"`./{value}`"
    return f"`{value}`"


def test_every_setting_is_documented_with_its_default() -> None:
    """Every BRIDGE_* variable config.py reads has a docs/configuration.md row with its default."""
    source = (ROOT / "bridge" / "config.py").read_text()
    read = set(re.findall(r'"(BRIDGE_[A-Z_]+)"', source))
    # PORT too; a variable both read (BRIDGE_DATA_DIR...) is checked as the server declares it.
    declared: dict[str, Field[Any]] = {}
    for f in (*fields(Settings), *fields(ClientSettings)):
        declared.setdefault(variable_of(f), f)
    assert read <= set(declared), "a BRIDGE_* variable is read outside the settings fields"
    documented = _documented_defaults()
    wrong = {}
    for name, f in declared.items():
        if not (name.startswith("BRIDGE_") or name == "PORT"):
            continue  # the CLI's provider credentials, documented in docs/cli.md
        cell, expected = documented.get(name, "(no row)"), _as_documented(f)
        if cell != expected and not cell.startswith(f"{expected} ("):
            wrong[name] = (cell, expected)
    assert wrong == {}
