"""Every Redis key and channel name the bridge uses, in one place.

Per-endpoint keys carry the endpoint id as a hash tag (`{id}`), so the stream and the dedup
keys that one Lua script touches live in the same Redis Cluster slot.
"""

from __future__ import annotations

import hashlib

PREFIX = "wb"

# Each endpoint's events have their own pub/sub channel (`events_shard`), sharded on a
# Cluster; a worker subscribes to those its sockets need. See docs/architecture.md for why.
SHARD_PREFIX = f"{PREFIX}:events:"
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


def events_shard(endpoint_id: str) -> str:
    """The endpoint's events channel: in the slot of its stream and dedup keys, so on a
    Cluster the append script can SPUBLISH on the shard that runs it."""
    return f"{SHARD_PREFIX}{{{endpoint_id}}}"


def shard_endpoint(channel: bytes) -> str:
    """The endpoint id of a sharded channel name (the inverse of `events_shard`)."""
    return channel.decode()[len(SHARD_PREFIX) + 1 : -1]
