"""`bridge serve` as an operator runs it: embedded Redis, token, shutdown, no orphans."""

from __future__ import annotations

import re
import shlex
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
import websocket

from tests.support import ROOT, BridgeProcess, Connect, free_port, wait_until


def valkey_children(bridge: BridgeProcess) -> list[psutil.Process]:
    return [child for child, name in bridge.children() if "valkey" in name]


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[BridgeProcess]:
    """A bridge with BRIDGE_REDIS_URL and BRIDGE_ADMIN_TOKEN unset (not started yet)."""
    bridge = BridgeProcess(tmp_path / "data", None, BRIDGE_ADMIN_TOKEN="")
    yield bridge
    bridge.stop(signal.SIGKILL)


def test_embedded_redis_persists_and_stops_with_the_bridge(embedded: BridgeProcess) -> None:
    """With no Redis URL the bridge runs its own; events survive a restart; none is orphaned."""
    embedded.start()
    (server,) = valkey_children(embedded)
    assert "MonkeyPatchWarning" not in embedded.log()  # nothing imported ssl before gevent
    token = (embedded.data_dir / "admin-token").read_text().strip()
    assert f"Dashboard: http://127.0.0.1:{embedded.port}/#token={token}" in embedded.log()
    assert token not in (embedded.data_dir / "redis.log").read_text()
    endpoint = "e" + uuid.uuid4().hex[:8]
    embedded.create_endpoint(endpoint)
    stored = embedded.post_signed(endpoint, b'{"a": 1}', event_id="evt-1").json()["id"]
    assert embedded.stop(signal.SIGTERM) == 0
    assert not server.is_running()

    embedded.start()
    assert embedded.token == token
    events = embedded.api("GET", f"/api/endpoints/{endpoint}/events").json()["events"]
    assert [e["id"] for e in events] == [stored]
    (server,) = valkey_children(embedded)
    assert embedded.stop(signal.SIGINT) == 0
    assert not server.is_running()


def test_killed_bridge_takes_its_redis_along(embedded: BridgeProcess) -> None:
    """Even a SIGKILL of the bridge leaves no valkey-server behind."""
    embedded.start()
    (server,) = valkey_children(embedded)
    embedded.stop(signal.SIGKILL)
    wait_until(lambda: not server.is_running() or server.status() == psutil.STATUS_ZOMBIE)


def test_shutdown_closes_sockets_with_4011(
    tmp_path: Path, redis_url: str, uid: str, connect: Connect
) -> None:
    """On SIGTERM open sockets get close code 4011 and the bridge exits cleanly."""
    bridge = BridgeProcess(tmp_path / "data", redis_url).start()
    try:
        bridge.create_endpoint(uid)
        client = connect(bridge)
        client.subscribe(uid)
        assert bridge.process is not None
        bridge.process.send_signal(signal.SIGTERM)
        assert client.close_code() == 4011
    finally:
        assert bridge.stop() == 0


def test_bad_setting_refuses_to_start_naming_it(tmp_path: Path) -> None:
    """A bad BRIDGE_* value stops `bridge serve` with one line naming the variable."""
    bridge = BridgeProcess(tmp_path / "data", None, BRIDGE_MAX_BODY_BYTES="lots")
    with pytest.raises(AssertionError, match="exited"):
        bridge.start()
    assert re.search(r"BRIDGE_MAX_BODY_BYTES: expected a whole number", bridge.log())
    assert "Traceback" not in bridge.log()


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:1/0?socket_timeout=abc", "redis://127.0.0.1:1/0?colour=blue"]
)
def test_a_redis_url_option_redis_py_would_refuse_stops_start_naming_it(
    tmp_path: Path, url: str
) -> None:
    """A BRIDGE_REDIS_URL whose query redis-py would refuse (a bad value: each worker died
    at boot with a traceback; an unknown name: every request a 500) stops `bridge serve`
    with one line naming the variable."""
    bridge = BridgeProcess(tmp_path / "data", url)
    try:
        with pytest.raises(AssertionError, match="exited"):
            bridge.start()
    finally:
        bridge.stop()
    assert re.search(r"BRIDGE_REDIS_URL: .*(socket_timeout|colour)", bridge.log())
    assert "Traceback" not in bridge.log()


def test_a_redis_that_does_not_answer_is_named_at_start(tmp_path: Path) -> None:
    """A BRIDGE_REDIS_URL nothing answers on: the bridge starts, says so in one line, and
    answers webhooks 503."""
    bridge = BridgeProcess(tmp_path / "data", f"redis://127.0.0.1:{free_port()}/0").start()
    try:
        assert requests.get(bridge.url + "/readyz", timeout=10).status_code == 503
    finally:
        bridge.stop()
    assert "bridge: WARNING: Redis at redis://127.0.0.1:" in bridge.log()
    assert "does not answer (ConnectionError)" in bridge.log()
    assert "Traceback" not in bridge.log()


def test_an_external_redis_is_checked_without_importing_ssl_into_the_workers(
    tmp_path: Path, redis_url: str
) -> None:
    """With BRIDGE_REDIS_URL set, the master's start-up PING leaves gevent to patch ssl in
    each worker: no MonkeyPatchWarning at any worker's boot."""
    bridge = BridgeProcess(tmp_path / "data", redis_url).start()
    try:
        assert requests.get(bridge.url + "/readyz", timeout=10).status_code == 200
    finally:
        bridge.stop()
    assert bridge.log().count("Booting worker") == 2
    assert "MonkeyPatchWarning" not in bridge.log()
    assert "does not answer" not in bridge.log()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BRIDGE_DATA_DIR", "{file}"),  # a file, not a directory
        ("BRIDGE_DATA_DIR", "{file}/data"),  # under a file: it cannot be made
        ("BRIDGE_DATA_DIR", "{tmp}/" + "d" * 300),  # a name past the file system's
        ("BRIDGE_HOST", "a..b"),
        ("BRIDGE_HOST", "\udcff"),  # a byte that is not UTF-8
    ],
)
def test_an_unusable_data_dir_or_host_stops_start_naming_it(
    tmp_path: Path, variable: str, value: str
) -> None:
    """A data dir the bridge cannot make or use, or a host that is no name, stops `bridge
    serve` with one line naming the variable, not a traceback."""
    (tmp_path / "a-file").write_text("")
    value = value.format(file=tmp_path / "a-file", tmp=tmp_path)
    # A Redis URL: with the embedded Redis, a data dir this deep is refused for its socket
    # first (the test above), before the bridge tries to make it.
    bridge = BridgeProcess(tmp_path / "log", f"redis://127.0.0.1:{free_port()}/0")
    bridge.env[variable] = value
    try:
        with pytest.raises(AssertionError, match="exited"):
            bridge.start()
    finally:
        bridge.stop()
    assert re.search(rf"^bridge: {variable}: ", bridge.log(), re.MULTILINE), bridge.log()
    assert "Traceback" not in bridge.log()


def test_procfile_command_serves_webhooks_and_sockets(
    tmp_path: Path, redis_url: str, uid: str, connect: Connect
) -> None:
    """The Procfile's own command line starts a bridge that ingests and pushes events."""
    procfile = (ROOT / "Procfile").read_text()
    command = shlex.split(procfile.split("web:", 1)[1].strip())
    assert command[:3] == ["gunicorn", "-c", "gunicorn.conf.py"]
    assert "--preload" not in command
    bridge = ProcfileBridge(tmp_path / "data", redis_url, command=command)
    bridge.start()
    try:
        bridge.create_endpoint(uid)
        client = connect(bridge)
        client.subscribe(uid)
        cursor = bridge.post_signed(uid, b"{}", event_id="procfile-1").json()["id"]
        assert client.events(1)[0]["id"] == cursor
        assert len(bridge.worker_pids()) == 2
    finally:
        assert bridge.stop() == 0


class ProcfileBridge(BridgeProcess):
    """A bridge started with a given command line (run from the project root)."""

    def __init__(self, data_dir: Path, redis_url: str, command: list[str]) -> None:
        super().__init__(data_dir, redis_url)
        self.command = [str(Path(sys.executable).parent / command[0]), *command[1:]]

    def argv(self) -> list[str]:
        return self.command


def test_secrets_never_reach_the_log(
    tmp_path: Path, redis_url: str, uid: str, connect: Connect
) -> None:
    """Endpoint secrets, the admin token and subscriber tokens are absent from a DEBUG log."""
    secret = "never-log-this-secret-42"
    bridge = BridgeProcess(tmp_path / "data", redis_url, BRIDGE_LOG_LEVEL="DEBUG").start()
    try:
        bridge.create_endpoint(uid, secret=secret)
        assert bridge.post_signed(uid, b"{}", secret=secret, event_id="a").status_code == 202
        assert bridge.post_signed(uid, b"{}", secret="wrong-secret-123").status_code == 401
        minted = bridge.api("POST", "/api/tokens", json={"channels": [uid], "ttl": 60}).json()
        connect(bridge, token=minted["token"], header_auth=False).subscribe(uid)
        connect(bridge, token=minted["token"] + "x", header_auth=False, expect_auth=False)
    finally:
        bridge.stop()
    log = bridge.log()
    assert "GET /ws" in log or "Booting worker" in log  # the log is the bridge's, not empty
    for value in (secret, bridge.token, minted["token"]):
        assert value not in log


def test_upgrade_during_shutdown_is_told_to_go_elsewhere(
    tmp_path: Path, redis_url: str, uid: str, connect: Connect
) -> None:
    """Once a worker is stopping, a new upgrade gets 503 (or 4011), never a socket left to die."""
    bridge = BridgeProcess(tmp_path / "data", redis_url, BRIDGE_WORKERS="1").start()
    try:
        bridge.create_endpoint(uid)
        first = connect(bridge)
        first.subscribe(uid)
        assert bridge.process is not None
        bridge.process.send_signal(signal.SIGTERM)
        assert first.close_code() == 4011
        answer: int | None
        try:
            answer = connect(bridge).close_code()
        except websocket.WebSocketBadStatusException as refused:
            answer = refused.status_code
        except (ConnectionError, websocket.WebSocketException):
            answer = 0  # the worker stopped listening first: also a prompt answer
        assert answer in {503, 4011, 0}
    finally:
        assert bridge.stop() == 0


def test_second_bridge_on_the_same_data_dir_is_refused(
    embedded: BridgeProcess, tmp_path: Path, uid: str
) -> None:
    """A second bridge on a data dir in use exits with one line, and the first keeps working."""
    embedded.start()
    (server,) = valkey_children(embedded)
    second = BridgeProcess(embedded.data_dir, None, BRIDGE_ADMIN_TOKEN="")
    with pytest.raises(AssertionError, match="exited"):
        second.start()
    assert "another bridge is running with data dir" in second.log()
    assert "Traceback" not in second.log()
    assert server.is_running()
    embedded.create_endpoint(uid)
    assert embedded.post_signed(uid, b"{}", event_id="still-1").status_code == 202


def test_embedded_redis_that_dies_is_restarted_with_its_data(
    embedded: BridgeProcess, uid: str
) -> None:
    """If the embedded valkey-server dies, the bridge starts it again and nothing stored is lost."""
    embedded.start()
    (server,) = valkey_children(embedded)
    embedded.create_endpoint(uid)
    kept = embedded.post_signed(uid, b"{}", event_id="before").json()["id"]
    server.kill()
    wait_until(lambda: [p for p in valkey_children(embedded) if p.pid != server.pid], timeout=20)
    # A sender retrying: an attempt that timed out while the new server loaded may still
    # have been stored, so the retry that gets through can be answered 200 (a duplicate).
    wait_until(
        lambda: embedded.post_signed(uid, b"{}", event_id="after").status_code in (200, 202),
        timeout=20,
    )
    events = embedded.api("GET", f"/api/endpoints/{uid}/events").json()["events"]
    assert [e["event_id"] for e in events] == ["before", "after"]
    assert events[0]["id"] == kept


def _data_dir_of_socket_length(parent: Path, length: int) -> Path:
    """A data dir under `parent` whose `redis.sock` path is `length` bytes long."""
    name = "d" * (length - len(str(parent.resolve() / "x" / "redis.sock")) + 1)
    path = parent / name
    assert len(str(path.resolve() / "redis.sock")) == length
    return path


def test_a_data_dir_too_deep_for_the_redis_socket_stops_start_naming_it(tmp_path: Path) -> None:
    """A data dir whose Redis socket path passes the 107 bytes a unix socket holds stops
    `bridge serve` with one line naming BRIDGE_DATA_DIR, the path and the limit, before
    gunicorn or valkey start."""
    deep = _data_dir_of_socket_length(tmp_path, 108)
    bridge = BridgeProcess(tmp_path / "log", None)
    bridge.env["BRIDGE_DATA_DIR"] = str(deep)
    try:
        with pytest.raises(AssertionError, match="exited"):
            bridge.start()
    finally:
        bridge.stop()
    (line,) = bridge.log().splitlines()
    assert line.startswith("bridge: BRIDGE_DATA_DIR: ")
    assert f"{str(deep.resolve() / 'redis.sock')!r}, 108 bytes" in line
    assert "at most 107" in line
    assert not deep.exists()


def test_a_data_dir_whose_socket_just_fits_serves(tmp_path: Path, uid: str) -> None:
    """A data dir whose Redis socket path is exactly 107 bytes long runs the embedded Redis."""
    bridge = BridgeProcess(_data_dir_of_socket_length(tmp_path, 107), None).start()
    try:
        bridge.create_endpoint(uid)
        assert bridge.post_signed(uid, b"{}", event_id="fits").status_code == 202
    finally:
        assert bridge.stop(signal.SIGTERM) == 0
