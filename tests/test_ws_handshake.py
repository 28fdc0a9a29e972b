"""The WebSocket upgrade's Origin check as RFC 6454 reads an origin (scheme and host in any
case), against real bridges under gunicorn."""

from __future__ import annotations

from pathlib import Path

import pytest
import websocket

from bridge.embedded import EmbeddedRedis
from tests.support import BridgeProcess, Connect


def test_the_bridge_s_own_origin_in_upper_case_is_its_own(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """An origin's scheme and host are case-insensitive: `HTTP://127.0.0.1:port` may open a
    socket as `http://127.0.0.1:port` may."""
    bridge.create_endpoint(uid)
    connect(bridge, origin=bridge.url.upper()).subscribe(uid)


def test_an_allowed_origin_written_in_mixed_case_lets_browsers_in(
    redis_server: EmbeddedRedis, tmp_path: Path, uid: str, connect: Connect
) -> None:
    """BRIDGE_ALLOWED_ORIGINS=https://App.Example.com admits the lower-case Origin every
    browser sends for it, and still refuses another host."""
    allowed = BridgeProcess(
        tmp_path / "bridge", redis_server.url, BRIDGE_ALLOWED_ORIGINS="https://App.Example.com"
    ).start()
    try:
        allowed.create_endpoint(uid)
        connect(allowed, origin="https://app.example.com").subscribe(uid)
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            connect(allowed, origin="https://app.example.org")
        assert refused.value.status_code == 403
    finally:
        allowed.stop()
