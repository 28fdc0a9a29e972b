"""Client frames of `/ws`, parsed into typed commands: a pure function, no socket, no Redis.

Everything a client sends arrives here first, so this is where the worst inputs land (10,000
nested arrays, numbers of thousands of digits, a `channel` with a trailing newline, a `since`
that is a list): every one gives `BadFrame` with the code and message of its error frame,
never another exception. What depends on who asks (may this token read that channel, does
the endpoint exist) is the session's business.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from bridge import cursor, jsontext
from bridge.errors import InvalidInput
from bridge.identifiers import is_endpoint_id
from bridge.wire.queue import CLOSE, POLICIES

Ref = str | int | None
CHANNEL_GLOB = re.compile(r"[a-z0-9_*?-]{1,64}")
MAX_SINCE_CHANNELS = 10_000
# The longest frame such a map makes: an id of 63 characters, a cursor of 41, their quotes,
# colon and comma (~1.1 MB), and room for the rest of the frame.
MAX_SUBSCRIBE_BYTES = MAX_SINCE_CHANNELS * (63 + 41 + 6) + 4096
SUBSCRIBE_FIELDS = frozenset({"type", "channel", "since", "filter", "on_slow", "rejections", "ref"})


@dataclass(frozen=True)
class Auth:
    token: str | None  # None: not a string (answered like a wrong token)


@dataclass(frozen=True)
class Subscribe:
    channel: str
    since: cursor.Cursor | None
    pattern: str | None  # the event-type filter
    on_slow: str = CLOSE
    rejections: bool = False  # also the channel's rejected deliveries, live (admin only)
    ignored: tuple[str, ...] = ()  # members a subscribe has no use for (a misspelt `sinse`)


@dataclass(frozen=True)
class Follow:
    """A subscribe whose channel is a glob (admin only): every matching endpoint, and those
    created later, each resumed from its own cursor in `since`."""

    channels: str  # the glob: `*`, `stripe-*`
    since: Mapping[str, cursor.Cursor]
    pattern: str | None  # the event-type filter
    on_slow: str = CLOSE
    rejections: bool = False
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unsubscribe:
    channel: str  # an endpoint id or a glob, as a subscribe takes


@dataclass(frozen=True)
class Ping:
    pass


Command = Auth | Subscribe | Follow | Unsubscribe | Ping


class BadFrame(Exception):
    """A client frame the bridge refuses: answered with an `error` frame, the socket stays."""

    def __init__(self, code: str, message: str, ref: Ref = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.ref = ref


def parse(raw: str | bytes) -> tuple[Command, Ref]:
    """A client frame to (command, ref); raises BadFrame, and nothing else, for a bad one."""
    return command(*decode(raw))


def decode(raw: str | bytes) -> tuple[dict[str, Any], Ref]:
    """A client frame to its JSON object and its `ref`; BadFrame if it is neither."""
    try:
        # Nesting limited: "[" * 60_000 fits in one frame. A member given twice is refused
        # as the admin API refuses it: json.loads would settle for the last silently.
        message = jsontext.loads(raw, unique=True)
    except jsontext.DuplicateMember as exc:
        raise BadFrame("bad_request", f"frame is not settled JSON: {exc}") from None
    except ValueError as exc:  # UnicodeDecodeError is one; so are depth and digit limits
        raise BadFrame(
            "bad_request", f"frame is not JSON the bridge reads: {jsontext.problem(exc)}"
        ) from None
    if not isinstance(message, dict):
        raise BadFrame("bad_request", "frame must be a JSON object with a type")
    ref = message.get("ref")
    if not isinstance(ref, str | int) or isinstance(ref, bool):
        ref = None
    return message, ref


def command(message: dict[str, Any], ref: Ref) -> tuple[Command, Ref]:
    """A decoded client frame to its command; BadFrame for an unknown type or a bad field."""
    kind = message.get("type")
    try:
        if kind == "subscribe":
            return _subscribe(message), ref
        if kind == "unsubscribe":
            return Unsubscribe(_channel(message.get("channel"))), ref
        if kind == "ping":
            return Ping(), ref
        if kind == "auth":
            token = message.get("token")
            return Auth(token if isinstance(token, str) else None), ref
    except InvalidInput as exc:
        raise BadFrame("bad_request", str(exc), ref) from None
    raise BadFrame("bad_request", f"unknown type {_shown(kind)}", ref)


def _subscribe(message: dict[str, Any]) -> Subscribe | Follow:
    since, pattern = message.get("since"), _pattern(message.get("filter"))
    on_slow = message.get("on_slow", CLOSE)
    if on_slow not in POLICIES:
        raise InvalidInput("on_slow", "expected " + " / ".join(POLICIES))
    rejections = message.get("rejections", False)
    if not isinstance(rejections, bool):
        raise InvalidInput("rejections", "expected true or false")
    channel = _channel(message.get("channel"))
    # Named back in `subscribed`, not refused: a client that sends a field of its own keeps
    # working, and one that misspelt `since` or `filter` is told why nothing was replayed.
    ignored = tuple(sorted(name[:64] for name in message if name not in SUBSCRIBE_FIELDS))[:10]
    if is_channel_glob(channel):
        return Follow(channel, _since_map(since), pattern, on_slow, rejections, ignored)
    return Subscribe(channel, _since(since), pattern, on_slow, rejections, ignored)


def _channel(value: Any) -> str:
    """A subscribe's or an unsubscribe's channel: an endpoint id or a glob."""
    if not is_channel_glob(value) and not is_endpoint_id(value):
        raise InvalidInput("channel", "must be an endpoint id, or a glob such as stripe-*")
    return str(value)


def is_channel_glob(value: object) -> TypeGuard[str]:
    """`*`, `stripe-*`, `gh-?`: endpoint-id characters and at least one `*` or `?`."""
    return (
        isinstance(value, str)
        and CHANNEL_GLOB.fullmatch(value) is not None
        and ("*" in value or "?" in value)
    )


def _since_map(value: Any) -> dict[str, cursor.Cursor]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_SINCE_CHANNELS:
        raise InvalidInput(
            "since", f"with a glob channel, a map of up to {MAX_SINCE_CHANNELS} ids to cursors"
        )
    since = {}
    for channel, raw in value.items():
        if not is_endpoint_id(channel) or not isinstance(raw, str):
            raise InvalidInput("since", f"{_shown(channel)}: expected an endpoint id and a cursor")
        try:
            since[channel] = cursor.parse(raw)
        except InvalidInput as exc:  # which of a map of thousands is bad
            raise InvalidInput("since", f"{_shown(channel)}: {exc.problem}") from None
    return since


def _since(value: Any) -> cursor.Cursor | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("since", "expected a cursor string like 1732590000000-0")
    return cursor.parse(value)


def _pattern(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"event_type"}:
        raise InvalidInput("filter", 'expected {"event_type": "<glob>"}')
    pattern = value.get("event_type")
    if pattern is None:
        return None
    if not isinstance(pattern, str) or not 0 < len(pattern) <= 200:
        raise InvalidInput("filter.event_type", "expected a glob such as payment.*")
    return pattern


def _shown(kind: Any) -> str:
    """The unknown type, quoted, and short: it goes back in the error message."""
    if isinstance(kind, str | int | float | bool) or kind is None:
        text = repr(kind)
    else:
        text = f"<{type(kind).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."
