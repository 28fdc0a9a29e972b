"""The bytes of a server's WebSocket frame, made once per event and shared by every socket."""

from __future__ import annotations

import json
import struct
from typing import Any


def wire_frame(text: str) -> bytes:
    """A whole, unmasked WebSocket text frame (RFC 6455 5.2): what a server writes. Every
    socket gets the same bytes, so each event is framed once per process (no
    permessage-deflate: web/ws.py refuses it)."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def json_frame(message: dict[str, Any]) -> bytes:
    """A protocol message (`subscribed`, `error`, ...) as a frame, in compact JSON."""
    return wire_frame(json.dumps(message, separators=(",", ":")))
