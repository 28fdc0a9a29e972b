"""The embedded Redis is restarted when it dies, and the log says how it ended (a real
valkey-server, killed)."""

from __future__ import annotations

import logging
import os
import signal

import pytest
import redis

from bridge.embedded import EmbeddedRedis, exit_status
from tests.support import wait_until


def test_a_killed_server_is_logged_as_killed_and_restarted(
    own_redis: EmbeddedRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGKILL is logged as `was killed by SIGKILL` (it read `exited with 0` when gunicorn's
    master had reaped it), and a new server answers on the same address."""
    caplog.set_level(logging.ERROR, logger="bridge.embedded")
    own_redis.supervise()
    first = own_redis.process
    assert first is not None
    os.kill(first.pid, signal.SIGKILL)
    wait_until(lambda: own_redis.process is not first and own_redis.process is not None)
    wait_until(lambda: redis.Redis.from_url(own_redis.url).ping())
    assert "embedded redis was killed by SIGKILL; restarting it" in caplog.messages


def test_a_status_reaped_elsewhere_is_not_called_a_clean_exit() -> None:
    """Popen reads 0 for a child whose status another waitpid took: the log says so."""
    assert "collected by another process" in exit_status(0)
    assert exit_status(1) == "exited with status 1"
    assert exit_status(-15) == "was killed by SIGTERM"
