"""Talking to a running bridge: the admin API (requests) and webhooks, for the CLI, and
`Feed`, the public Python client of the live feed (docs/client.md) for servers. The
WebSocket side is bridge/cli/feed.py; presentation stays in bridge/cli/.

Every failure becomes one of these, each carrying one line fit for `bridge: <line>` on stderr:

    CliError(message)            BridgeError; anything the user must read
    ├── Unreachable(server)      no connection, or no answer in time (`listen` retries these)
    └── Refused(message)         the bridge answered no: 401, a 4xx with a JSON error
        ├── AuthRefused          the token was refused (401 on the API or the WebSocket upgrade)
        └── Gone(message)        the thing asked for does not exist (404)
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

import requests
import urllib3

from bridge import jsontext
from bridge.answers import Shape, misfit
from bridge.auth import TOKEN_FILE
from bridge.config import ClientSettings
from bridge.envelope import PAGE_DEPTH
from bridge.errors import BridgeError

DEFAULT_SERVER = ClientSettings.server
# (connect, read) seconds for every HTTP request.
HTTP_TIMEOUT = (5.0, 30.0)


class CliError(BridgeError):
    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class Unreachable(CliError):
    def __init__(self, server: str, detail: str = "", *, text: str | None = None) -> None:
        self.server = server
        # A bridge started with PORT=<port> is elsewhere than the default the CLI calls:
        # the line names how to point the command at it.
        text = text or (
            f"cannot reach {server}: is the bridge running? (make run; one on another"
            " address: --server URL or BRIDGE_SERVER)"
        )
        super().__init__(text + (f" [{detail}]" if detail else ""))


class Refused(CliError):
    pass


class AuthRefused(Refused):
    pass


class Gone(Refused):
    pass


# -- where to connect, with what ---------------------------------------------------------


def http_url(raw: str) -> SplitResult:
    """An http(s) URL with a host and a usable port, split; ValueError saying what is not."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL, got {_shown(parts)!r}")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError(f"{_shown(parts)!r}: a port is a number from 1 to 65535")
    return parts


def server_url(raw: str) -> str:
    """A bridge's base URL, checked: http(s)://host[:port][/prefix], no trailing slash."""
    parts = http_url(raw)
    # The paths are appended to it: a query or a fragment would swallow them.
    if parts.query or parts.fragment or raw.strip().endswith(("?", "#")):
        raise ValueError(f"{_shown(parts)!r}: a server URL has no ?query or #fragment")
    # requests would send these as Basic auth in place of the admin token.
    if "@" in parts.netloc:
        raise ValueError(
            f"{_shown(parts)!r}: a server URL has no user:password@ (the admin token is"
            " its credential)"
        )
    return raw.strip().rstrip("/")


def _shown(parts: SplitResult) -> str:
    """The URL without its user:password@, which an error line must not echo."""
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=("***@" if "@" in parts.netloc else "") + host).geturl()


@dataclass(frozen=True)
class AdminToken:
    value: str
    source: str  # "BRIDGE_ADMIN_TOKEN" or the file it came from

    def __repr__(self) -> str:
        return f"AdminToken(source={self.source!r})"

    def refused(self, server: str, how: str) -> AuthRefused:
        return AuthRefused(
            f"the admin token was refused by {server} ({how}): check {self.source} "
            "(a bridge that generated its token keeps it in <data dir>/admin-token)"
        )


def admin_token(settings: ClientSettings) -> AdminToken:
    """`BRIDGE_ADMIN_TOKEN`, else `$BRIDGE_DATA_DIR/admin-token` (data dir default ./.bridge)."""
    if settings.admin_token:
        return AdminToken(settings.admin_token, "BRIDGE_ADMIN_TOKEN")
    path = settings.data_dir / TOKEN_FILE
    try:
        value = path.read_text(errors="replace").strip()
    except FileNotFoundError:
        raise CliError(
            f"no admin token: set BRIDGE_ADMIN_TOKEN, or run where the bridge keeps its data "
            f"({path} does not exist)"
        ) from None
    except OSError as exc:
        raise CliError(f"cannot read the admin token from {path}: {exc.strerror}") from None
    if not value:
        raise CliError(f"no admin token: {path} is empty")
    if not (value.isascii() and value.isprintable()):  # as config._header_text, unshown
        raise CliError(f"the admin token in {path} is not one line of printable ASCII")
    return AdminToken(value, str(path))


# -- HTTP ------------------------------------------------------------------------------


def response_json(response: requests.Response) -> Any:
    """An answer's JSON, parsed as the bridge parses a stranger's (jsontext.loads): a server
    or a provider API at a URL the user gave may answer anything, and requests' own parse
    raised RecursionError for JSON nested past the stack. ValueError for what is not JSON.

    Nested as deep as a history page holding a body at the bridge's limit may be."""
    return jsontext.loads(response.content, depth=PAGE_DEPTH)


def _describe(response: requests.Response) -> str:
    """One line from the bridge's JSON error `{"error", "field"?, "message"?, "id"?}`."""
    try:
        data = response_json(response)
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
        if isinstance(exc.args[0] if exc.args else None, urllib3.exceptions.ProtocolError):
            # Reached, then hung up on: not a bridge that is down, nor its port elsewhere.
            raise CliError(
                f"{server} closed the connection without an answer: is that a bridge?"
            ) from exc
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

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        shape: Shape | None = None,
    ) -> Any:
        """The answer's JSON object, checked against `shape` when given (None for an empty
        answer where there is no shape); raises CliError otherwise."""
        response = _send(
            self.server,
            method,
            self.server + path,
            json=body,
            headers={**self._auth(), "Accept": "application/json"},
        )
        self._check(response)
        if not response.content and shape is None:
            return None
        try:
            answer = response_json(response)
        except ValueError:
            answer = None
        # Every answer of the admin API is an object: a list or a string read as one was
        # "No endpoints yet", or an AttributeError.
        wrong = (
            "something that is not a JSON object"
            if not isinstance(answer, dict)
            else shape is not None and misfit(answer, shape)
        )
        if wrong:
            raise CliError(
                f"{self.server}{path} answered {response.status_code} with {wrong}: "
                "is that a bridge?"
            )
        return answer

    def raw(self, endpoint_id: str, event_id: str) -> tuple[bytes, str | None]:
        """An event's body exactly as the provider sent it, and its Content-Type."""
        path = self.endpoint_path(endpoint_id, f"/events/{quote(event_id, safe='')}/raw")
        response = _send(self.server, "GET", self.server + path, headers=self._auth())
        self._check(response)
        return response.content, response.headers.get("Content-Type")

    def endpoint_path(self, endpoint_id: str, tail: str = "") -> str:
        return f"/api/endpoints/{quote(endpoint_id, safe='')}{tail}"

    def secret_path(self, endpoint_id: str, secret_id: str) -> str:
        # Quoted whole: a typed `../../other` must not reach another endpoint's path.
        return self.endpoint_path(endpoint_id, f"/secrets/{quote(secret_id, safe='')}")

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token.value}"}

    def _check(self, response: requests.Response) -> None:
        if response.status_code == 401:
            raise self.token.refused(self.server, "HTTP 401")
        if response.status_code == 404:
            raise Gone(_describe(response))
        if not response.ok:
            raise Refused(_describe(response))


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
        parsed = response_json(response)
    except ValueError:
        parsed = None
    return Answer(response.status_code, parsed, response.text)


class Feed:
    """A bridge's live events in a Python program: iterate, and every event of `channels`
    comes once, in order per channel, across disconnects and bridge restarts.

        feed = Feed("https://hooks.example.com", token, ["stripe-prod"], since=saved)
        for event in feed:          # blocks; reconnects and resumes by itself
            handle(event)
            saved[event["endpoint"]] = event["id"]  # persist it to resume after a crash

    `token` is the admin token or a subscriber token for those channels; `since` maps a
    channel to the cursor to resume after (absent: live from now). Events wait in a bounded
    queue (`queue` events): while it is full the channel is paused at the bridge and resumed
    after the last event queued, so a slow consumer loses nothing and holds no more. The
    first connection failing, a refused token, or a frame the feed cannot parse (it may be
    an event: the iteration stops before it) raises from the iteration (CliError); later
    drops are retried with backoff. `notices` gets one line per state change
    ("away: ...", "back: ...", "stalled: ..."), as `bridge listen` prints them.
    """

    def __init__(
        self,
        url: str,
        token: str,
        channels: Iterable[str],
        *,
        since: Mapping[str, str] | None = None,
        queue_size: int = 1000,
        notices: Any = None,
    ) -> None:
        from bridge.cli.feed import Feed as Live  # the CLI's own feed: no import cycle

        since = since or {}
        resume = {channel: since.get(channel) for channel in channels}
        self._events: queue.Queue[dict[str, Any]] = queue.Queue(queue_size)
        self._live = Live(
            server_url(url), AdminToken(token, "the token given to Feed"), resume,
            notices or (lambda line: None),
        )  # fmt: skip
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._error: BaseException | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="bridge-feed", daemon=True)
            self._thread.start()
        while True:
            try:
                yield self._events.get(timeout=0.2)
            except queue.Empty:
                if self._done.is_set() and self._events.empty():
                    if self._error is not None:
                        raise self._error from None
                    return

    @property
    def cursors(self) -> dict[str, str | None]:
        """Per channel, the last event queued for the iteration (where a reconnect resumes)."""
        return dict(self._live.resume)

    def close(self) -> None:
        """Stop the feed and close its connection (within a second or two); an iteration
        ends once it has yielded the events already queued."""
        self._live.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            self._live.run(self)
        except BaseException as exc:  # raised in the iterating thread
            self._error = exc
        finally:
            self._done.set()

    # The feed's sink (bridge/cli/feed.py: Sink): never blocks the reader.
    def offer(self, channel: str, event: dict[str, Any]) -> bool:
        try:
            self._events.put_nowait(event)
        except queue.Full:
            return False
        return True

    def ready(self, channel: str) -> bool:
        return not self._events.full()
