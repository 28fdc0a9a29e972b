"""Fixtures: a real valkey-server, a real bridge under gunicorn, unique endpoint ids."""

from __future__ import annotations

import fcntl
import os
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from bench.cluster import Cluster
from bench.loopback import PORTS_ENV
from bridge.config import Settings
from bridge.embedded import EmbeddedRedis
from bridge.factory import create_app
from tests.cli_support import Listen, Listeners, Receiver
from tests.support import ADMIN_TOKEN, BridgeProcess, Client, Connect, MakeApp, free_port
from tests.wire_support import OpenWire, connections

# Browser fixtures (playwright, browser, page) for the tests that drive Chromium, and the
# dashboard tests' own (fresh_bridge).
pytest_plugins = ["tests.browser", "tests.dashboard_support"]

# The shared provider table asserts in its helpers; let pytest explain those failures too.
pytest.register_assert_rewrite("tests.provider_cases", "tests.api_support", "tests.ingest_support")


# Ports below the kernel's ephemeral range (32768 and up by default), where no outgoing
# connection takes its local port: one slot of them for each pytest process (xdist worker, or a
# second test run on the machine), claimed by a lock the process holds until it exits.
PORT_SLOTS = range(10)
PORTS_PER_SLOT = 2000
FIRST_PORT = 12000


def pytest_configure(config: pytest.Config) -> None:
    # A shell without job control starts `cmd &` with SIGINT ignored, and every process
    # below inherits that: the tests' Ctrl-C of `bridge listen` then did nothing (8 failed
    # in such a run). A handler, unlike an ignore, is reset to the default at exec.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # An xdist worker takes its own slot, whatever its controller's environment says; the
    # controller runs no test; a process given a range by its parent keeps that one.
    worker = hasattr(config, "workerinput")
    if not worker and (config.getoption("dist", "no") != "no" or PORTS_ENV in os.environ):
        return
    locks = Path(tempfile.gettempdir()) / "webhook-bridge-test-ports"
    locks.mkdir(exist_ok=True)
    ephemeral = _ephemeral_start()
    for slot in PORT_SLOTS:
        if FIRST_PORT + (slot + 1) * PORTS_PER_SLOT > ephemeral:
            break  # a host whose ephemeral range starts lower: its outgoing ports are here
        handle = (locks / f"{slot}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        config.stash[_port_lock] = handle
        first = FIRST_PORT + slot * PORTS_PER_SLOT
        os.environ[PORTS_ENV] = f"{first}-{first + PORTS_PER_SLOT - 1}"
        return
    # Every slot taken: the kernel's choice (bench/loopback.py), as before there were slots.


_port_lock = pytest.StashKey[object]()


def _ephemeral_start(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> int:
    """The first port the kernel hands to outgoing connections (32768 unless tuned)."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """The bundled valkey-server on a free loopback port, shared by the session."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis this test may kill or reconfigure: same port and data dir across restarts."""
    server = EmbeddedRedis(tmp_path / "redis", port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def uid() -> str:
    """A fresh endpoint id, so tests sharing one Redis never see each other's events."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def make_app(redis_url: str, tmp_path: Path) -> Iterator[MakeApp]:
    """Builds in-process apps (settings overridden by keyword) and shuts each down afterwards.

    Shutting down matters: a hub left running keeps reconnecting in the background of
    every later test (one pointed at a dead port would do so for the rest of the session).
    """
    built: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        options: dict[str, Any] = {
            "redis_url": redis_url,
            "data_dir": tmp_path,
            "admin_token": ADMIN_TOKEN,
        }
        built.append(create_app(Settings(**(options | overrides))))
        return built[-1]

    yield make
    for app in built:
        app.extensions["bridge"].close()


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def unverified_app(make_app: MakeApp) -> Flask:
    """An app whose server allows provider `none`."""
    return make_app(allow_unverified=True)


@pytest.fixture
def small_app(make_app: MakeApp) -> Flask:
    """An app that accepts bodies of at most 1024 bytes, and allows provider `none`."""
    return make_app(max_body_bytes=1024, allow_unverified=True)


@pytest.fixture
def dead_app(make_app: MakeApp) -> Flask:
    """An app whose Redis URL points at a closed port."""
    return make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0", retry_after=7)


@pytest.fixture(scope="session")
def bridge(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BridgeProcess]:
    """A real bridge: gunicorn with 2 gevent workers, on the session's Redis."""
    process = BridgeProcess(tmp_path_factory.mktemp("bridge"), redis_server.url).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def tight_bridge(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BridgeProcess]:
    """A bridge with small limits, for timeouts, slow consumers and retention."""
    process = BridgeProcess(
        tmp_path_factory.mktemp("tight"),
        redis_server.url,
        BRIDGE_WS_AUTH_TIMEOUT="0.5",
        BRIDGE_WS_QUEUE_SIZE="50",
        BRIDGE_WS_SEND_TIMEOUT="2",
        BRIDGE_RETENTION_EVENTS="5",
    ).start()
    yield process
    process.stop()


@pytest.fixture
def connect() -> Iterator[Connect]:
    """Open real WebSocket clients to a bridge; all are closed after the test."""
    opened: list[Client] = []

    def open_client(bridge: BridgeProcess, *args: object, **kwargs: object) -> Client:
        client = Client(bridge.ws_url, *args, **kwargs)  # type: ignore[arg-type]
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A real three-primary cluster, shared by a module's tests that leave it whole."""
    started = Cluster(tmp_path_factory.mktemp("cluster")).start()
    yield started
    started.stop()


@pytest.fixture
def wire() -> Iterator[OpenWire]:
    """wire(limit, max_bytes, stuck=False): a socket room Connection over a real upgrade on a
    gevent socket pair, and the client's end (tests/wire_support.py)."""
    yield from connections()


@pytest.fixture
def listen() -> Iterator[Listen]:
    """Start `bridge listen` subprocesses; all are stopped and reaped after the test."""
    started = Listeners()
    yield started
    started.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local app that checks GitHub signatures and answers 200 (401 when they fail)."""
    app = Receiver()
    yield app
    app.close()
