"""Prometheus metrics. Under gunicorn, every worker writes to PROMETHEUS_MULTIPROC_DIR (set
by gunicorn.conf.py before the workers start) and /metrics sums them, so any worker answers
with the whole server's figures."""

from __future__ import annotations

import functools
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

WEBHOOKS = Counter(
    "bridge_webhooks_total", "Webhook deliveries by endpoint and outcome", ["endpoint", "outcome"]
)


@functools.lru_cache(maxsize=1024)
def webhooks(endpoint: str, outcome: str) -> Counter:
    """`WEBHOOKS.labels(endpoint, outcome)`, the same child, without labels()' checks and
    lock on every delivery (~2 us): nothing removes a child, so the one found stays it."""
    return WEBHOOKS.labels(endpoint, outcome)


VERIFICATION_FAILURES = Counter(
    "bridge_verification_failures_total",
    "Rejected signatures by provider and reason",
    ["provider", "reason"],
)
DUPLICATES = Counter("bridge_duplicates_total", "Redeliveries answered as duplicates", ["endpoint"])
INGEST_SECONDS = Histogram(
    "bridge_ingest_seconds",
    "From request to stored-and-published",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
APPEND_BATCH = Histogram(
    "bridge_append_batch_size",
    "Appends sent to Redis in one round trip (concurrent webhooks share one: batching.py)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1000),
)
DELIVERY_SECONDS = Histogram(
    "bridge_delivery_seconds",
    "From an event's storing (its cursor's time) to its frame handed to a worker's sockets",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0),
)
STORE_FAILURES = Counter(
    "bridge_store_failures_total",
    "Redis calls that failed, by operation and reason (unreachable, full, endpoint_changing)",
    ["operation", "reason"],
)
OPEN_SOCKETS = Gauge(
    "bridge_open_sockets", "Open WebSocket connections", multiprocess_mode="livesum"
)
EVENTS_SENT = Counter("bridge_events_sent_total", "Event frames written to sockets")
SLOW_CLOSES = Counter("bridge_slow_consumer_closes_total", "Sockets closed as slow consumers")
EVENTS_DROPPED = Counter(
    "bridge_events_dropped_total", "Queued event frames dropped for on_slow drop_oldest sockets"
)
HUB_CONNECTED = Gauge(
    "bridge_hub_connected",
    "1 while this worker's hub holds its Redis subscription",
    multiprocess_mode="livemin",
)
HUB_HELD = Gauge(
    "bridge_hub_held_channels",
    "Subscribed channels whose stream a hub cannot read (a Redis Cluster node is down)",
    multiprocess_mode="livemax",
)
# What the pub/sub fan-in costs, the figure scaling.md sizes by. The names say "shard" since
# they came with the Cluster; one server counts as one shard.
HUB_SHARDED = Gauge(
    "bridge_hub_sharded_channels",
    "Endpoint event channels the hubs hold a confirmed (S)SUBSCRIBE for",
    multiprocess_mode="livesum",
)
HUB_SHARD_CONNECTIONS = Gauge(
    "bridge_hub_shard_connections",
    "Pub/sub connections the hubs hold to Redis nodes for endpoint event channels",
    multiprocess_mode="livesum",
)


def exposition() -> tuple[bytes, str]:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
