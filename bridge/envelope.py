"""The event envelope (docs/api.md, "The event envelope"): built once per event, then carried
as text all the way to the socket.

One event crosses the rooms in one direction: ingest (or backfill) builds the envelope's
JSON without its `id` (`tail`), since the stream assigns the id when it stores it; the
store's append script keeps the tail and publishes `message` lines; the hub reads them back
(`split_message`, `event_fields`), and the hub and the history API put the id in front
(`with_id`) and wrap it in an event frame (`event_frame`) by joining strings. So the body
is serialised once per event, however many sockets get it, and masked once, here.

The pub/sub message is four lines: channel, id, event type, tail. The append script writes
it in Lua (bridge/store.py, which follows this format); an event type is made one line
(`one_line`) before it is stored, and the tail is compact JSON, which has no raw newline.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bridge import jsontext
from bridge.masking import MASK, mask_body
from bridge.timefmt import iso

if TYPE_CHECKING:  # endpoints.py imports the store, which builds on this module
    from bridge.endpoints import Endpoint

# Headers a sender may use to authenticate to us; they are the sender's credentials, not
# part of the event, so they are masked before the envelope is stored or shown.
# X-Gitlab-Token is GitLab's "signature": the endpoint's secret itself, sent in clear.
MASKED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-gitlab-token"})
# How deep the bridge's own JSON gets around a body it stored as JSON (nested up to
# jsontext.MAX_DEPTH): an event frame `{"event": {"body": <body>}}` adds 2 levels, a history
# page `{"events": [{"body": <body>}]}` 3. Clients parse frames and pages with these limits:
# with the body's own, an event nested 127 deep was unreadable to the bridge's own CLI.
FRAME_DEPTH = jsontext.MAX_DEPTH + 2
PAGE_DEPTH = jsontext.MAX_DEPTH + 3


@dataclass(frozen=True)
class Arrival:
    """One event as it reached the bridge: live (a webhook) or fetched (a backfill)."""

    event_id: str
    event_type: str | None
    received_at: float
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    trace: str
    source: str = "webhook"  # or "backfill": fetched from the provider's API afterwards
    parsed: jsontext.Body | None = None  # the body's parse, where the verifier made it


def masked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as every envelope and rejection shows them: credentials replaced by `***`."""
    return {name: ("***" if name in MASKED_HEADERS else value) for name, value in headers.items()}


def tail(
    endpoint: Endpoint,
    arrival: Arrival,
    *,
    verified: bool,
    verification: Mapping[str, Any],
) -> str:
    """The envelope as JSON without its `id` (the stream assigns that when it stores it).

    The body is masked here, once per event, with the endpoint's `mask` paths."""
    built: dict[str, Any] = {
        "endpoint": endpoint.id,
        "provider": endpoint.provider,
        "event_id": arrival.event_id,
        "event_type": arrival.event_type,
        "received_at": iso(arrival.received_at, millis=True),
        "verified": verified,
        "verification": dict(verification),
        "source": arrival.source,
        "headers": masked_headers(arrival.headers),
        "trace": arrival.trace,
    }
    masks = endpoint.options.get("mask", ())
    if not masks:
        built.update(decode_body(arrival.body, arrival.parsed))
    else:
        # Masking changes the tree in place: a parse of its own, not the verifier's.
        parsed = jsontext.parse_body(arrival.body)
        if parsed.kind == "json":
            built["body"] = parsed.value
            mask_body(parsed.value, masks)
        else:
            # Text the paths cannot reach into (a BOM, NaN, a form) may hold what they name:
            # withheld whole, not carried as it came. /raw still has the bytes.
            built["body"] = MASK
    built["replay_of"] = None
    return jsontext.COMPACT.encode(built)


def decode_body(body: bytes, parsed: jsontext.Body | None = None) -> dict[str, Any]:
    """`{"body": parsed JSON or text}`, or `{"body": None, "body_base64": ...}` for non-UTF-8;
    from `parsed` (`jsontext.parse_body(body)`) where it was parsed already.

    Carried as text when it is not JSON for us: NaN, 1e400 (it would be written out as
    Infinity: a frame and a history page no strict parser reads), or nested past
    jsontext.MAX_DEPTH."""
    parsed = parsed or jsontext.parse_body(body)
    if parsed.kind == "bytes":
        return {"body": None, "body_base64": base64.b64encode(body).decode()}
    return {"body": parsed.value}


def with_id(event_id: str, tail: str) -> str:
    """Put the cursor first into a stored envelope, without parsing it again."""
    # An envelope always has fields after the id, so the tail is never "{}".
    return '{"id":"' + event_id + '",' + tail[1:]


def event_frame(channel_json: str, event_id: str, tail: str) -> str:
    """The `event` frame, built by string joining so an event is serialised once per process."""
    return '{"type":"event","channel":' + channel_json + ',"event":' + with_id(event_id, tail) + "}"


def one_line(value: str) -> str:
    """An event type as the message carries it: line breaks would split its fields."""
    return value.replace("\n", " ").replace("\r", " ")


def split_message(data: bytes) -> tuple[str, bytes]:
    """A published message's channel, and the rest undecoded (most workers drop most events
    by their channel, before the envelope, which may be megabytes, is decoded)."""
    head, rest = data.split(b"\n", 1)
    return head.decode(), rest


def event_fields(rest: bytes) -> tuple[str, str, str]:
    """The id, event type and tail of a message, after `split_message`."""
    event_id, event_type, tail = rest.decode().split("\n", 2)
    return event_id, event_type, tail
