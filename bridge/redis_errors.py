"""What "Redis is away" looks like, and the StoreUnavailable each failure becomes.

On one server, a Cluster (a slot's node down, a cluster in `fail` state) or behind Sentinel
(a demoted primary refusing writes mid-failover); and "Redis cannot store" (OOM: at
maxmemory with noeviction), temporary for a sender too.
"""

from __future__ import annotations

import redis
from redis.exceptions import (
    ClusterError,
    OutOfMemoryError,
    ReadOnlyError,
    SlotNotCoveredError,
    TryAgainError,
)

from bridge import metrics
from bridge.errors import StoreFull, StoreUnavailable

REDIS_ERRORS = (
    OutOfMemoryError,
    redis.ConnectionError,
    redis.TimeoutError,
    ClusterError,
    SlotNotCoveredError,
    TryAgainError,
    ReadOnlyError,
    OSError,
)


def unavailable(operation: str, exc: BaseException) -> StoreUnavailable:
    """The error to raise for one of REDIS_ERRORS, counted in the metric by its reason."""
    error = kind(exc)(operation, exc)
    metrics.STORE_FAILURES.labels(operation, error.reason).inc()
    return error


def kind(exc: BaseException) -> type[StoreUnavailable]:
    return StoreFull if isinstance(exc, OutOfMemoryError) else StoreUnavailable
