"""One WebSocket to a bridge, subscribed to several channels at once (docs/protocol.md):
open it, subscribe with a `since` per channel, read frames, send the protocol's ping.
bridge/cli/feed.py keeps it alive; this module only speaks the protocol.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import simple_websocket

from bridge import closecodes, jsontext
from bridge.answers import EVENT_FRAME, FRAME, misfit
from bridge.client import AdminToken, Refused, Unreachable
from bridge.envelope import FRAME_DEPTH

# A WebSocket connect plus upgrade that takes longer than this counts as unreachable.
WS_CONNECT_TIMEOUT = 10.0
# simple-websocket pings this often; no pong by the next ping means the connection is dead
# (a bridge host that vanished sends no FIN, and we would otherwise wait forever).
WS_PING_INTERVAL = 20.0
_SUBSCRIBE = "sub:"  # ref prefix of our subscribe frames: "sub:<channel>"
_KEEPALIVE = "keepalive"


def ws_url(server: str) -> str:
    """`http://h:p/x` -> `ws://h:p/x/ws`; https gives wss."""
    scheme, rest = server.split("://", 1)
    return ("wss" if scheme == "https" else "ws") + "://" + rest + "/ws"


class Unreadable(Exception):
    """A frame this client could not parse (the message says why): it may have been an
    event, so the feed stops instead of going on past it."""


class Dropped(Exception):
    """The WebSocket closed; `code` is the close code (None when the TCP connection died)."""

    def __init__(self, code: int | None, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(reason)


def _daemon_thread(target: Callable[[], None]) -> threading.Thread:
    """simple-websocket's reader thread, as a daemon so Ctrl-C is never held up by it."""
    return threading.Thread(target=target, daemon=True)


class _Socket(simple_websocket.Client):  # type: ignore[misc]
    """simple_websocket.Client with the connect and the upgrade bounded in time.

    The socket is created with a timeout (see `_open`) so neither a black-holed host nor a
    server that never answers the upgrade hangs us; once upgraded it blocks again, and the
    reader's pings find a dead connection.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            # A refused upgrade (401, 403...) raises from simple-websocket's constructor with
            # its connected socket still open: close it, or every retry holds a descriptor.
            sock = getattr(self, "sock", None)
            if sock is not None:
                sock.close()
            raise

    def handshake(self) -> None:
        super().handshake()
        self.sock.settimeout(None)


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


def _subscribe_frame(channel: str, since: str | None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "subscribe", "channel": channel, "ref": _SUBSCRIBE + channel}
    if since is not None:
        frame["since"] = since
    return frame


def subscribe_answered(frame: Mapping[str, Any]) -> str | None:
    """The channel whose subscribe `frame` answers (`subscribed` or an error), else None."""
    ref = frame.get("ref")
    if isinstance(ref, str) and ref.startswith(_SUBSCRIBE):
        return ref.removeprefix(_SUBSCRIBE)
    return None


class Connection:
    """One WebSocket, subscribed to every channel of `since` (a cursor, or None: live only).

    `subscribed` maps each channel to its `subscribed` frame. Events that arrive while other
    channels are still being subscribed wait in `pending`, in order.
    """

    def __init__(self, server: str, token: AdminToken, since: Mapping[str, str | None]) -> None:
        self.server = server
        self.pending: deque[dict[str, Any]] = deque()
        self.ws = _open(server, token)
        try:
            self.subscribed = self._subscribe(since)
        except BaseException:
            self.close()
            raise

    def _subscribe(self, since: Mapping[str, str | None]) -> dict[str, dict[str, Any]]:
        for channel, cursor in since.items():
            self.send(_subscribe_frame(channel, cursor))
        answers: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + WS_CONNECT_TIMEOUT
        while len(answers) < len(since):
            left = deadline - time.monotonic()
            if left <= 0:
                raise Unreachable(self.server, "no answer to subscribe")
            try:
                received = self._receive(left)
            except Dropped as dropped:
                raise Unreachable(self.server, dropped.reason) from None
            if received is None:
                continue
            frame = received
            if frame.get("type") == "event":
                self.pending.append(frame)
                continue
            answered = subscribe_answered(frame)
            if answered is None or answered not in since:
                continue
            if frame.get("type") == "subscribed":
                answers[answered] = frame
            elif frame.get("type") == "error":
                code, message = frame.get("code"), frame.get("message")
                if code == "unavailable":
                    storage = f"{self.server} cannot reach its storage (Redis); retry later"
                    raise Unreachable(self.server, text=storage)
                raise Refused(f"cannot listen to {answered!r}: {message} ({code})")
        return answers

    def send(self, frame: dict[str, Any]) -> None:
        try:
            self.ws.send(json.dumps(frame))
        except (OSError, simple_websocket.ConnectionClosed):
            raise Unreachable(self.server, "the connection closed") from None

    def subscribe(self, channel: str, since: str | None) -> None:
        """Subscribe (again) mid-stream; answered by a frame that `subscribe_answered` names."""
        self._request(_subscribe_frame(channel, since))

    def unsubscribe(self, channel: str) -> None:
        """Stop `channel`'s events; those already on their way still arrive."""
        self._request({"type": "unsubscribe", "channel": channel})

    def _request(self, frame: dict[str, Any]) -> None:
        try:
            self.send(frame)
        except Unreachable:  # mid-stream, a closed connection is a drop: the feed reconnects
            raise Dropped(None, "connection dropped") from None

    def ping(self) -> None:
        """The protocol's ping; a dead connection shows up as Dropped on the next read."""
        with contextlib.suppress(Unreachable):
            self.send({"type": "ping", "ref": _KEEPALIVE})

    def next(self, timeout: float) -> dict[str, Any] | None:
        """The next frame, or None after `timeout` seconds; raises Dropped when closed."""
        if self.pending:
            return self.pending.popleft()
        return self._receive(timeout)

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        try:
            raw = self.ws.receive(timeout=timeout)
        except simple_websocket.ConnectionClosed as closed:
            code = int(closed.reason) if closed.reason else None
            reason = closecodes.meaning(code)
            raise Dropped(code, reason) from None
        if raw is None:
            return None
        try:
            # jsontext: a hostile server's frame nested 100,000 deep was a RecursionError.
            # FRAME_DEPTH: an event frame wraps a body the bridge keeps up to MAX_DEPTH deep.
            frame = jsontext.loads(raw, depth=FRAME_DEPTH)
        except (ValueError, UnicodeDecodeError) as exc:
            raise Unreadable(str(exc)[:200]) from None
        if not isinstance(frame, dict):
            return None
        if wrong := misfit(frame, EVENT_FRAME if frame.get("type") == "event" else FRAME):
            raise Unreadable(f"{frame.get('type')!r} frame with {wrong}"[:200])
        return frame

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
