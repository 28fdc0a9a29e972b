"""Every WebSocket close code a client of `/ws` can see, in one table (docs/protocol.md).

The server closes with these, the CLI explains them, and browsers get the same table as an
ES module (`/close-codes.js`, imported by `/client.js`), so no client keeps its own copy and
decides differently what is worth a reconnect.

`reconnect` says what a client should do next:
- `resume`: reconnect (with backoff) and subscribe again with `since`; nothing is lost.
- `token`: reconnect only with a new token (a subscriber token expired or was refused).
- `never`: reconnecting would only repeat what caused the close.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

Reconnect = Literal["resume", "token", "never"]


@dataclass(frozen=True)
class CloseCode:
    code: int
    name: str
    meaning: str  # one line, as the CLI prints it
    reconnect: Reconnect


NORMAL = CloseCode(1000, "normal", "closed by the bridge", "resume")
GOING_AWAY = CloseCode(1001, "going_away", "the bridge went away", "resume")
# 1005 and 1006 are never sent: a WebSocket library reports them when no close frame came.
NO_STATUS = CloseCode(1005, "no_status", "connection dropped", "resume")
ABNORMAL = CloseCode(1006, "abnormal", "connection dropped", "resume")
# 1002 and 1007 are wsproto's: a client that broke the protocol would only break it again.
PROTOCOL_ERROR = CloseCode(
    1002, "protocol_error", "the client broke the WebSocket protocol", "never"
)
INVALID_PAYLOAD = CloseCode(1007, "invalid_payload", "a client frame was not valid UTF-8", "never")
POLICY_VIOLATION = CloseCode(
    1008, "policy_violation", "ping timeout, unfinished frame or rate limit exceeded", "resume"
)
MESSAGE_TOO_BIG = CloseCode(1009, "message_too_big", "a client frame was too large", "never")
UNAUTHORIZED = CloseCode(4001, "unauthorized", "the bridge refused this token", "token")
SLOW_CONSUMER = CloseCode(
    4008, "slow_consumer", "too slow reading: the bridge dropped this connection", "resume"
)
SHUTTING_DOWN = CloseCode(4011, "shutting_down", "the bridge is shutting down", "resume")

CATALOGUE: tuple[CloseCode, ...] = (
    NORMAL,
    GOING_AWAY,
    PROTOCOL_ERROR,
    NO_STATUS,
    ABNORMAL,
    INVALID_PAYLOAD,
    POLICY_VIOLATION,
    MESSAGE_TOO_BIG,
    UNAUTHORIZED,
    SLOW_CONSUMER,
    SHUTTING_DOWN,
)
BY_CODE = {entry.code: entry for entry in CATALOGUE}


def _entry(code: int | None) -> CloseCode | None:
    # None: the connection died without a close frame, which libraries report as 1005.
    return BY_CODE.get(code or NO_STATUS.code)


def meaning(code: int | None) -> str:
    """What a close with `code` means, in one line (None: the connection died, no code)."""
    entry = _entry(code)
    return entry.meaning if entry else f"closed with code {code}"


def wants_new_token(code: int | None) -> bool:
    """Whether a close with `code` is worth a reconnect only with another token."""
    entry = _entry(code)
    return entry is not None and entry.reconnect == "token"


def gives_up(code: int | None) -> bool:
    """Whether a close with `code` is not worth a reconnect at all (it would repeat)."""
    entry = _entry(code)
    return entry is not None and entry.reconnect == "never"


def es_module() -> str:
    """The table as an ES module, for browsers (`/close-codes.js`)."""
    table = {
        str(entry.code): {
            "name": entry.name,
            "meaning": entry.meaning,
            "reconnect": entry.reconnect,
        }
        for entry in CATALOGUE
    }
    return (
        "// Generated from bridge/closecodes.py: the close codes of /ws (docs/protocol.md).\n"
        f"export const CLOSE_CODES = Object.freeze({json.dumps(table, indent=2)});\n"
    )
