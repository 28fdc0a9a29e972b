"""A gunicorn logger for tests/test_access_log.py: every request logged twice, by the
bridge's `AccessLogger.access` and then by gunicorn's own `Logger.access`, in one call."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from bridge.accesslog import AccessLogger


class Twin(AccessLogger):
    """Both lines for each request: ours first, then gunicorn's."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        super().access(resp, req, environ, request_time)
        Logger.access(self, resp, req, environ, request_time)
