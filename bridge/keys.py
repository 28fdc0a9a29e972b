"""Every Redis key and channel name the bridge uses, in one place.

Per-endpoint keys carry the endpoint id as a hash tag (`{id}`), so the stream and the dedup
keys that one Lua script touches live in the same Redis Cluster slot.
"""

from __future__ import annotations

import hashlib

PREFIX = "wb"

# One pub/sub channel for all events: each worker holds a single subscription and the
# message names its endpoint. See docs/architecture.md for why not one channel per endpoint.
EVENTS_CHANNEL = f"{PREFIX}:events"
ENDPOINT_INDEX = f"{PREFIX}:endpoints"
# Endpoint ids whose record changed: every worker's hub drops its cached copy.
CHANGES_CHANNEL = f"{PREFIX}:endpoint-changes"
# Rejected deliveries as they happen (`<endpoint id>\n<record>`), for admin sockets that
# subscribed with `"rejections": true`.
REJECTIONS_CHANNEL = f"{PREFIX}:rejections"


def endpoint(endpoint_id: str) -> str:
    return f"{PREFIX}:endpoint:{{{endpoint_id}}}"


def stream(endpoint_id: str) -> str:
    return f"{PREFIX}:stream:{{{endpoint_id}}}"


def rejections(endpoint_id: str) -> str:
    return f"{PREFIX}:rejected:{{{endpoint_id}}}"


def dedup(endpoint_id: str, event_id: str) -> str:
    # Event ids come from senders; hashing bounds the key length whatever they send.
    digest = hashlib.sha256(event_id.encode()).hexdigest()[:32]
    return f"{PREFIX}:dedup:{{{endpoint_id}}}:{digest}"
