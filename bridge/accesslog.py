"""The access log line, written straight from the request instead of gunicorn's atoms.

gunicorn's `Logger.access` builds a dict of every atom its format language knows (every
request header, response header and environ entry, the date, the pid), copies it to escape
quotes, and formats it: a sizeable part of a webhook's worker CPU, for the five fields our
one format uses. `AccessLogger` writes those five itself, the same bytes as gunicorn's path
(tests/test_access_log.py compares the two on a real request); an operator who sets another
`access_log_format` gets gunicorn's own `access()`, which knows every atom.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

# The path without its query (nothing secret travels there today, and nothing ever will be
# logged from it); `trace` is the X-Bridge-Trace a webhook got, so one delivery can be
# followed from this line to the frame a browser received.
FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms trace=%({x-bridge-trace}o)s'

_TRACE = "x-bridge-trace"


class AccessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's logger, with `access()` fast for FORMAT and gunicorn's own for any other."""

    def access(self, resp: Any, req: Any, environ: Mapping[str, Any], request_time: Any) -> None:
        if self.cfg.access_log_format != FORMAT:
            super().access(resp, req, environ, request_time)
            return
        if not self.access_log_enabled:
            return
        try:
            line = self.line(resp, environ, request_time)
            # Preformatted: no args, so logging leaves a `%` in a path as it is.
            self.access_log.info(line)
        except Exception:
            self.error(traceback.format_exc())

    @staticmethod
    def line(resp: Any, environ: Mapping[str, Any], request_time: timedelta) -> str:
        """FORMAT filled in as gunicorn's `atoms` and `SafeAtoms` would fill it."""
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        millis = request_time.seconds * 1000 + int(request_time.microseconds / 1000)
        return (
            f"{_safe(environ.get('REMOTE_ADDR', '-'))} "
            f'"{_safe(environ.get("REQUEST_METHOD"))} {_safe(environ.get("PATH_INFO"))}" '
            f"{_safe(status)} {getattr(resp, 'sent', None)} {millis}ms "
            f"trace={_safe(_last_header(resp.headers, _TRACE))}"
        )


def _last_header(headers: Any, name: str) -> Any:
    # gunicorn keys its atoms dict by lower-cased name, so the last header of a name wins.
    pairs: Iterable[tuple[str, Any]] = headers.items() if hasattr(headers, "items") else headers
    found: Any = "-"
    for key, value in pairs:
        if key.lower() == name:
            found = value
    return found


def _safe(value: Any) -> str:
    # SafeAtoms escapes double quotes in every text atom, and leaves other values as they are.
    return value.replace('"', '\\"') if isinstance(value, str) else str(value)
