"""A hub stopped before its process ends (an app closed, as tests and embedders do) leaves
no connection open on Redis: its listener's client, and the channel subscriptions it held
for sockets, are closed with it."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from bridge import cursor
from bridge.config import Settings
from bridge.embedded import EmbeddedRedis
from bridge.factory import create_app
from bridge.subscription import Subscription
from tests.ingest_support import create
from tests.support import ADMIN_TOKEN
from tests.wire_support import OpenWire


def test_a_stopped_hub_leaves_no_connection_on_redis(
    tmp_path: Path, wire: OpenWire, auth: dict[str, str], uid: str
) -> None:
    """After a socket subscribed (a channel subscription on the hub's client) and the app was
    closed, Redis holds no connection but the test's own."""
    server = EmbeddedRedis(tmp_path / "redis", port=0)
    url = server.start()
    probe = redis.Redis.from_url(url)
    try:
        app = create_app(Settings(redis_url=url, data_dir=tmp_path, admin_token=ADMIN_TOKEN))
        found = app.extensions["bridge"]
        create(app.test_client(), auth, uid)
        connection, _client_end = wire()
        found.hub.subscribe(Subscription(uid, connection, None), cursor.ZERO, lambda s: None)
        assert len(probe.client_list()) > 1  # the hub's listener and its subscription
        found.close()
        deadline = time.monotonic() + 10
        while len(probe.client_list()) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [c["cmd"] for c in probe.client_list()] == ["client|list"]
    finally:
        probe.close()
        server.stop()
