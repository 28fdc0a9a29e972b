"""`bridge endpoints delete` asks a person at a terminal first; `--yes` and scripts do not."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

from tests.cli_support import cli_env, ok
from tests.support import ROOT, BridgeProcess


def _at_a_terminal(bridge: BridgeProcess, uid: str, typed: bytes, *flags: str) -> tuple[int, str]:
    """`delete uid` with a terminal as stdin and stdout, answering its prompt with `typed`."""
    leader, follower = pty.openpty()
    argv = ["endpoints", "delete", uid, *flags, "--server", bridge.url]
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge", *argv],
        cwd=ROOT, env=cli_env(), stdin=follower, stdout=follower, stderr=follower,
    )  # fmt: skip
    os.close(follower)
    shown = b""
    deadline = time.monotonic() + 30
    answered = False
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the command exited and its terminal closed
                    break
                shown += chunk
            if not answered and b"[y/N]" in shown:
                os.write(leader, typed)
                answered = True
            if process.poll() is not None and not ready:
                break
        return process.wait(timeout=30), shown.decode(errors="replace")
    finally:
        os.close(leader)


def test_no_at_the_prompt_keeps_the_endpoint(bridge: BridgeProcess, uid: str) -> None:
    """Anything but y at the prompt, which names the stored events, deletes nothing."""
    bridge.create_endpoint(uid)
    bridge.post_signed(uid, b"{}", event_id="kept")
    status, shown = _at_a_terminal(bridge, uid, b"n\n")
    assert f"Delete endpoint {uid} and its 1 stored event(s)? [y/N]" in shown
    assert (status, f"Kept {uid}: nothing deleted." in shown) == (1, True)
    assert bridge.api("GET", f"/api/endpoints/{uid}").status_code == 200


def test_yes_at_the_prompt_deletes(bridge: BridgeProcess, uid: str) -> None:
    """y at the prompt deletes the endpoint."""
    bridge.create_endpoint(uid)
    status, shown = _at_a_terminal(bridge, uid, b"y\n")
    assert (status, f"Deleted endpoint {uid}" in shown) == (0, True), shown
    assert bridge.api("GET", f"/api/endpoints/{uid}").status_code == 404


def test_a_script_and_yes_delete_without_asking(bridge: BridgeProcess, uid: str) -> None:
    """Without a terminal, and with --yes at one, delete asks nothing."""
    bridge.create_endpoint(uid)
    assert "[y/N]" not in ok("endpoints", "delete", uid, "--server", bridge.url)
    assert bridge.api("GET", f"/api/endpoints/{uid}").status_code == 404
    bridge.create_endpoint(uid)
    status, shown = _at_a_terminal(bridge, uid, b"", "--yes")
    assert (status, "[y/N]" in shown) == (0, False), shown
    assert bridge.api("GET", f"/api/endpoints/{uid}").status_code == 404
