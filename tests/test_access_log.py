"""The access log: the bridge's own line is the one gunicorn's generic path writes, and an
operator's other format gets gunicorn's path."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
import requests

from bridge.embedded import EmbeddedRedis
from tests.support import BridgeProcess, wait_until

pytestmark = pytest.mark.gunicorn


class GunicornBridge(BridgeProcess):
    """The bridge under gunicorn with the settings of bridge/serving.py and extra flags."""

    def __init__(self, data_dir: Path, redis_url: str, *flags: str) -> None:
        super().__init__(data_dir, redis_url)
        self.flags = list(flags)

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "-c", "python:bridge.serving", *self.flags]


def _lines(bridge: BridgeProcess, marker: str, count: int) -> list[str]:
    def found() -> list[str] | None:
        lines = [line for line in bridge.log().splitlines() if marker in line]
        return lines if len(lines) >= count else None

    lines: list[str] = wait_until(found)
    return lines


def _raw_request(bridge: BridgeProcess, head: bytes) -> bytes:
    """One request as written (a path requests would normalise); the whole answer."""
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=10) as conn:
        conn.sendall(head)
        answer = b""
        for _ in range(100):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def test_our_line_is_gunicorns_line_for_every_kind_of_answer(
    redis_server: EmbeddedRedis, tmp_path: Path, uid: str
) -> None:
    """For a 202, a 404, a 405, an untraced GET, a HEAD, a declared oversize body and a path
    with quotes and percent signs, the bridge's access line equals gunicorn's own."""
    bridge = GunicornBridge(
        tmp_path / "data", redis_server.url, "--logger-class", "tests.access_twin.Twin"
    ).start()
    try:
        bridge.create_endpoint(uid)
        assert bridge.post_signed(uid, b'{"a":1}', event_id="twin-1").status_code == 202
        assert (
            requests.post(f"{bridge.url}/hooks/no-{uid}", data=b"{}", timeout=10).status_code == 404
        )
        assert requests.get(f"{bridge.url}/hooks/{uid}", timeout=10).status_code == 405
        assert requests.get(f"{bridge.url}/healthz?probe={uid}", timeout=10).status_code == 200
        assert requests.head(f"{bridge.url}/healthz", timeout=10).status_code == 200
        oversize = (
            f"POST /hooks/{uid}?big HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n"
            "Expect: 100-continue\r\n\r\n"
        )
        assert b" 413 " in _raw_request(bridge, oversize.encode())
        odd = (
            f'GET /odd-{uid}/%22q%22/100%25/"raw" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
        )
        assert b" 404 " in _raw_request(bridge, odd.encode())
        markers = [f"/hooks/{uid}", f"/hooks/no-{uid}", f"/odd-{uid}/"]
        for marker in markers:
            lines = _lines(bridge, marker, 2)
            assert len(lines) % 2 == 0, lines
            assert lines[0::2] == lines[1::2]
        (odd_line, _) = _lines(bridge, f"/odd-{uid}/", 2)
        assert f'"GET /odd-{uid}/\\"q\\"/100%/\\"raw\\"" 404' in odd_line
        traced = _lines(bridge, f'"POST /hooks/{uid}" 202', 2)
        assert "trace=-" not in traced[0]
        health = _lines(bridge, '"GET /healthz" 200', 2)
        assert health[0] == health[1]
        assert health[0].endswith("trace=-")
        heads = _lines(bridge, '"HEAD /healthz"', 2)
        assert heads[0] == heads[1]
    finally:
        bridge.stop()


def test_another_format_is_written_by_gunicorns_own_path(
    redis_server: EmbeddedRedis, tmp_path: Path, uid: str
) -> None:
    """An operator's access_log_format with atoms ours does not know (the pid, a request
    header) is honoured as gunicorn documents it."""
    bridge = GunicornBridge(
        tmp_path / "data",
        redis_server.url,
        "--access-logformat",
        "custom %(m)s %(U)s agent=%(a)s pid=%(p)s",
    ).start()
    try:
        headers = {"User-Agent": f"agent-{uid}"}
        assert requests.get(f"{bridge.url}/healthz", headers=headers, timeout=10).ok
        (line,) = _lines(bridge, f"agent=agent-{uid}", 1)
        assert line.startswith("custom GET /healthz agent=")
        assert any(line.endswith(f"pid=<{pid}>") for pid in bridge.worker_pids())
    finally:
        bridge.stop()
