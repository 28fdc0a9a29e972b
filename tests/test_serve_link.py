"""The dashboard link `bridge serve` prints with a generated admin token: the whole sign-in
link on a terminal, where `make run` shows it; never the token in a log kept of stdout."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import ROOT, BridgeProcess, free_port


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    """What a terminal showed until `needle` and the rest of its line came, or the timeout."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:  # the child closed the terminal: it exited
                break
            if needle in seen and seen.split(needle, 1)[1].count(b"\n"):
                break
    return seen


@pytest.mark.gunicorn
def test_a_terminal_gets_the_sign_in_link(tmp_path: Path) -> None:
    """On a terminal the link carries the generated token and the bridge's public URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env.update(
        PORT=str(port),
        BRIDGE_DATA_DIR=str(tmp_path / "data"),
        BRIDGE_WORKERS="1",
        BRIDGE_PUBLIC_URL="https://hooks.example.com",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge", "serve"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
    )  # fmt: skip
    os.close(follower)
    try:
        shown = _read_until(leader, b"Admin token kept in", 30).decode(errors="replace")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        os.close(leader)
    token = (tmp_path / "data" / "admin-token").read_text().strip()
    assert f"Dashboard: https://hooks.example.com/#token={token}" in shown, shown


@pytest.mark.gunicorn
def test_a_log_gets_the_link_without_the_token(tmp_path: Path) -> None:
    """Written to a file (a service's log), the line names the dashboard but not the token."""
    bridge = BridgeProcess(tmp_path / "data", None, BRIDGE_ADMIN_TOKEN="").start()
    try:
        log = bridge.log()
        token = (bridge.data_dir / "admin-token").read_text().strip()
        assert f"Dashboard: http://127.0.0.1:{bridge.port}/ (sign in with the admin token)" in log
        assert f"Admin token kept in {bridge.data_dir / 'admin-token'}" in log
        assert token not in log
    finally:
        bridge.stop(signal.SIGTERM)
