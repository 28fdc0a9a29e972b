"""Talking to a running bridge, for the CLI: the admin API and webhooks over HTTP (requests),
events over the WebSocket (simple-websocket). Presentation stays in bridge/cli.py.

Every failure becomes one of these, each carrying one line fit for `bridge: <line>` on stderr:

    CliError(message)            BridgeError; anything the user must read
    ├── Unreachable(server)      no connection, or no answer in time (`listen` retries these)
    └── Refused(message)         the bridge answered no: 401, a 4xx with a JSON error
        └── AuthRefused          the token was refused (401 on the API or the WebSocket upgrade)
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import requests
import simple_websocket

from bridge.auth import TOKEN_FILE
from bridge.errors import BridgeError

DEFAULT_SERVER = "http://127.0.0.1:8000"
DEFAULT_DATA_DIR = ".bridge"
# (connect, read) seconds for every HTTP request.
HTTP_TIMEOUT = (5.0, 30.0)
# A WebSocket connect plus upgrade that takes longer than this counts as unreachable.
WS_CONNECT_TIMEOUT = 10.0
# Ping the bridge this often; no pong by the next ping means the connection is dead (a bridge
# host that vanished sends no FIN, and we would otherwise wait forever).
WS_PING_INTERVAL = 20.0
# Reconnect backoff: first wait, doubling up to the cap.
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 10.0
# Close codes of the bridge's own (docs/protocol.md).
CLOSE_UNAUTHORIZED = 4001
CLOSE_REASONS = {
    1000: "closed by the bridge",
    1001: "the bridge went away",
    1005: "connection dropped",
    1006: "connection dropped",
    1008: "ping timeout",
    4008: "too slow reading: the bridge dropped this connection",
    4011: "the bridge is shutting down",
}


class CliError(BridgeError):
    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class Unreachable(CliError):
    def __init__(self, server: str, detail: str = "", *, text: str | None = None) -> None:
        self.server = server
        text = text or f"cannot reach {server}: is the bridge running? (make run)"
        super().__init__(text + (f" [{detail}]" if detail else ""))


class Refused(CliError):
    pass


class AuthRefused(Refused):
    pass


# -- where to connect, with what ---------------------------------------------------------


def server_url(raw: str) -> str:
    """A bridge's base URL, checked: http(s)://host[:port][/prefix], no trailing slash."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {raw!r}")
    return raw.strip().rstrip("/")


def ws_url(server: str) -> str:
    """`http://h:p/x` -> `ws://h:p/x/ws`; https gives wss."""
    scheme, rest = server.split("://", 1)
    return ("wss" if scheme == "https" else "ws") + "://" + rest + "/ws"


@dataclass(frozen=True)
class AdminToken:
    value: str
    source: str  # "BRIDGE_ADMIN_TOKEN" or the file it came from

    def __repr__(self) -> str:
        return f"AdminToken(source={self.source!r})"

    def refused(self, server: str, how: str) -> AuthRefused:
        return AuthRefused(
            f"the admin token was refused by {server} ({how}): check {self.source} "
            "(the bridge prints its token at start-up and keeps it in <data dir>/admin-token)"
        )


def admin_token(env: Mapping[str, str]) -> AdminToken:
    """`BRIDGE_ADMIN_TOKEN`, else `$BRIDGE_DATA_DIR/admin-token` (data dir default ./.bridge)."""
    value = env.get("BRIDGE_ADMIN_TOKEN", "").strip()
    if value:
        return AdminToken(value, "BRIDGE_ADMIN_TOKEN")
    path = Path(env.get("BRIDGE_DATA_DIR", "").strip() or DEFAULT_DATA_DIR) / TOKEN_FILE
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        raise CliError(
            f"no admin token: set BRIDGE_ADMIN_TOKEN, or run where the bridge keeps its data "
            f"({path} does not exist)"
        ) from None
    except OSError as exc:
        raise CliError(f"cannot read the admin token from {path}: {exc.strerror}") from None
    if not value:
        raise CliError(f"no admin token: {path} is empty")
    return AdminToken(value, str(path))


# -- HTTP ------------------------------------------------------------------------------


def _describe(response: requests.Response) -> str:
    """One line from the bridge's JSON error `{"error", "field"?, "message"?, "id"?}`."""
    try:
        data = response.json()
    except ValueError:
        data = None
    status = response.status_code
    if not isinstance(data, dict) or not isinstance(data.get("error"), str):
        return f"{response.request.method} {response.url} answered HTTP {status} (not a bridge?)"
    code = data["error"]
    field, message = data.get("field"), data.get("message")
    if code == "unavailable":
        return "the bridge cannot reach its storage (Redis); retry later"
    if field and message:
        text = f"{field}: {message}"
    elif message:
        text = str(message)
    elif code.startswith("unknown_") and "id" in data:
        text = f"no {code.removeprefix('unknown_')} {data['id']!r}"
    else:
        text = f"HTTP {status}"
    return f"{text} ({code})"


def _send(server: str, method: str, url: str, **kwargs: Any) -> requests.Response:
    try:
        return requests.request(method, url, timeout=HTTP_TIMEOUT, allow_redirects=False, **kwargs)
    except requests.ConnectionError as exc:
        raise Unreachable(server) from exc
    except requests.Timeout as exc:
        raise CliError(f"{server} did not answer within {HTTP_TIMEOUT[1]:.0f} s") from exc
    except requests.RequestException as exc:
        raise CliError(f"{method} {url} failed: {exc}") from exc


class Api:
    """The admin JSON API of one bridge (docs/api.md)."""

    def __init__(self, server: str, token: AdminToken) -> None:
        self.server = server
        self.token = token

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """The answer's JSON (None for an empty answer); raises CliError otherwise."""
        response = _send(
            self.server,
            method,
            self.server + path,
            json=body,
            headers={"Authorization": f"Bearer {self.token.value}", "Accept": "application/json"},
        )
        if response.status_code == 401:
            raise self.token.refused(self.server, "HTTP 401")
        if not response.ok:
            raise Refused(_describe(response))
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"{self.server}{path} answered {response.status_code} with something that is "
                "not JSON: is that a bridge?"
            ) from None

    def endpoint_path(self, endpoint_id: str, tail: str = "") -> str:
        return f"/api/endpoints/{quote(endpoint_id, safe='')}{tail}"


@dataclass(frozen=True)
class Answer:
    """A webhook delivery's answer: the status and the body (JSON when it parses)."""

    status: int
    body: Any
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def show(self) -> str:
        """`<status> <JSON answer>` on one line."""
        if self.body is not None:
            return f"{self.status} {json.dumps(self.body)}"
        text = " ".join(self.text.split())
        return f"{self.status} {text[:500]}".rstrip()


def hook_url(server: str, endpoint_id: str) -> str:
    return f"{server}/hooks/{quote(endpoint_id, safe='')}"


def post_webhook(server: str, endpoint_id: str, body: bytes, headers: Mapping[str, str]) -> Answer:
    """POST a (signed) webhook to `<server>/hooks/<endpoint>` as a provider would."""
    url = hook_url(server, endpoint_id)
    response = _send(server, "POST", url, data=body, headers=dict(headers))
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    return Answer(response.status_code, parsed, response.text)


# -- WebSocket -------------------------------------------------------------------------


def _daemon_thread(target: Callable[[], None]) -> threading.Thread:
    """simple-websocket's reader thread, as a daemon so Ctrl-C is never held up by it."""
    return threading.Thread(target=target, daemon=True)


class _Socket(simple_websocket.Client):  # type: ignore[misc]
    """simple_websocket.Client with the connect and the upgrade bounded in time.

    The socket is created with a timeout (see `_open`) so neither a black-holed host nor a
    server that never answers the upgrade hangs us; once upgraded it blocks again, and the
    reader's pings find a dead connection.
    """

    def handshake(self) -> None:
        super().handshake()
        self.sock.settimeout(None)


class Dropped(Exception):
    """The WebSocket closed; `code` is the close code (None when the TCP connection died)."""

    def __init__(self, code: int | None, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(reason)


def _open(server: str, token: AdminToken) -> Any:
    url = ws_url(server)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(WS_CONNECT_TIMEOUT)  # only for the socket created just below
    try:
        return _Socket.connect(
            url,
            headers={"Authorization": f"Bearer {token.value}"},
            ping_interval=WS_PING_INTERVAL,
            thread_class=_daemon_thread,
        )
    except simple_websocket.ConnectionError as exc:
        status = exc.status_code
        if status == 401:
            raise token.refused(server, "HTTP 401 on the WebSocket upgrade") from None
        if status == 403:
            raise Refused(f"{url} refused the WebSocket (HTTP 403)") from None
        raise Unreachable(server, f"WebSocket upgrade answered HTTP {status}") from None
    except (OSError, simple_websocket.ConnectionClosed) as exc:
        raise Unreachable(server) from exc
    except Exception as exc:  # wsproto's protocol errors: an answer that is not an upgrade
        raise Unreachable(server, f"{type(exc).__name__}: {exc}") from exc
    finally:
        socket.setdefaulttimeout(previous)


class Channel:
    """One WebSocket connection subscribed to one endpoint's channel."""

    def __init__(self, server: str, token: AdminToken, channel: str, since: str | None) -> None:
        self.ws = _open(server, token)
        try:
            self.subscribed = self._subscribe(server, channel, since)
        except BaseException:
            self.close()
            raise

    def _subscribe(self, server: str, channel: str, since: str | None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "subscribe", "channel": channel, "ref": "cli"}
        if since is not None:
            frame["since"] = since
        try:
            self.ws.send(json.dumps(frame))
        except (OSError, simple_websocket.ConnectionClosed):
            raise Unreachable(server, "the connection closed at once") from None
        deadline = time.monotonic() + WS_CONNECT_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            try:
                answer = self.next(left)
            except Dropped as dropped:
                raise Unreachable(server, dropped.reason) from None
            if answer is None or answer.get("ref") != "cli":
                continue
            if answer.get("type") == "subscribed":
                return answer
            if answer.get("type") == "error":
                code, message = answer.get("code"), answer.get("message")
                if code == "unavailable":
                    storage = f"{server} cannot reach its storage (Redis); retry later"
                    raise Unreachable(server, text=storage)
                raise Refused(f"cannot listen to {channel!r}: {message} ({code})")
        raise Unreachable(server, "no answer to subscribe")

    def next(self, timeout: float) -> dict[str, Any] | None:
        """The next frame, or None after `timeout` seconds; raises Dropped when closed."""
        try:
            raw = self.ws.receive(timeout=timeout)
        except simple_websocket.ConnectionClosed as closed:
            code = int(closed.reason) if closed.reason else None
            reason = CLOSE_REASONS.get(code or 1005, f"closed with code {code}")
            raise Dropped(code, reason) from None
        if raw is None:
            return None
        try:
            frame = json.loads(raw)
        except ValueError:
            return {"type": "error", "code": "bad_frame", "message": "a frame that is not JSON"}
        return frame if isinstance(frame, dict) else None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()


def follow(
    server: str,
    token: AdminToken,
    channel: str,
    since: str | None,
    on_event: Callable[[dict[str, Any]], None],
    notice: Callable[[str], None],
) -> NoReturn:
    """Print-loop of `bridge listen`: subscribe, hand each event frame to `on_event`, forever.

    A dropped connection is retried with exponential backoff (first BACKOFF_FIRST s, doubling,
    capped at BACKOFF_CAP s), resuming with `since` = the last event id seen (or the cursor
    the first subscription reported), so nothing is missed or repeated. The first connection
    failing, or any refusal (wrong token, unknown endpoint), raises CliError instead.
    """
    resume = since
    connected_once = False
    delay = BACKOFF_FIRST
    while True:
        if connected_once:  # wait before every reconnect, so a flapping bridge is not hammered
            time.sleep(delay * random.uniform(0.8, 1.0))  # noqa: S311 - jitter, not crypto
            delay = min(delay * 2, BACKOFF_CAP)
        try:
            current = Channel(server, token, channel, resume)
        except Unreachable:
            if not connected_once:  # the bridge was never there: say so, do not wait forever
                raise
            continue
        subscribed = current.subscribed
        if connected_once:
            notice(f"back: reconnected to {server}, resuming {channel} after {resume}")
        elif resume is None:
            notice(f"listening to {channel} on {server} (Ctrl-C to stop)")
        else:
            notice(f"listening to {channel} on {server}, from after {resume} (Ctrl-C to stop)")
        if subscribed.get("recovered") is False:
            notice(
                f"WARNING: the bridge no longer holds every event of {channel} after {resume}: "
                "some events were missed (recovered: false)"
            )
        if resume is None:  # from now on, resume where this subscription started
            resume = str(subscribed.get("cursor") or "0-0")
        connected_once = True
        delay = BACKOFF_FIRST
        try:
            while True:
                frame = current.next(1.0)
                if frame is None:
                    continue
                kind = frame.get("type")
                if kind == "event" and isinstance(frame.get("event"), dict):
                    on_event(frame)
                    resume = str(frame["event"].get("id") or resume)
                elif kind == "error":
                    notice(f"the bridge said: {frame.get('message')} ({frame.get('code')})")
        except Dropped as dropped:
            if dropped.code == CLOSE_UNAUTHORIZED:
                raise token.refused(server, "WebSocket closed with 4001") from None
            notice(
                f"away: lost {server} ({dropped.reason}); reconnecting, will resume after {resume}"
            )
        finally:
            current.close()
