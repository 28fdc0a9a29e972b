"""The event store's retention, against the real valkey-server."""

from __future__ import annotations

import time

import pytest
import redis

from bridge import cursor, keys
from bridge.endpoints import Endpoints
from bridge.errors import NotFound
from bridge.store import Store


def make(client: redis.Redis, endpoint: str, events: int = 100, seconds: int = 3600) -> Store:
    """A store, and the endpoint whose events it is to hold (appends need its record)."""
    Endpoints(client, allow_unverified=False).create(endpoint, "github", "store-test-secret-1")
    return Store(client, retention_events=events, retention_seconds=seconds, dedup_ttl=60)


def test_age_retention_trims_and_records_what_it_trimmed(
    redis_client: redis.Redis, uid: str
) -> None:
    """Events older than the age limit are trimmed, and resume from before them says so."""
    store = make(redis_client, uid, seconds=0)  # everything from an earlier millisecond is too old
    first = store.append(uid, "a", "t", '{"n":1}', b"1").id
    time.sleep(0.002)  # the next append must fall in a later millisecond than the first
    second = store.append(uid, "b", "t", '{"n":2}', b"2").id
    assert [e.id for e in store.history(uid, cursor.ZERO, 10)] == [second]
    state = store.state(uid)
    assert state.trimmed == cursor.parse(first)
    assert not state.recovers(cursor.ZERO)
    assert state.recovers(cursor.parse(first))


def test_count_retention_keeps_the_newest(redis_client: redis.Redis, uid: str) -> None:
    """With a count limit, the newest events are kept and the trimmed ones are recorded."""
    store = make(redis_client, uid, events=3)
    ids = [store.append(uid, str(n), "t", "{}", b"").id for n in range(5)]
    assert [e.id for e in store.history(uid, cursor.ZERO, 10)] == ids[2:]
    assert store.state(uid).trimmed == cursor.parse(ids[1])


def test_young_stream_is_not_trimmed_by_age(redis_client: redis.Redis, uid: str) -> None:
    """Events younger than the age limit all stay, and resume from the start recovers."""
    store = make(redis_client, uid)
    ids = [store.append(uid, str(n), "t", "{}", b"").id for n in range(5)]
    assert [e.id for e in store.history(uid, cursor.ZERO, 10)] == ids
    assert store.state(uid).recovers(cursor.ZERO)


def test_an_append_for_a_deleted_endpoint_stores_and_publishes_nothing(
    redis_client: redis.Redis, uid: str
) -> None:
    """An append arriving after its endpoint was deleted (a worker's cached record a moment
    behind) is NotFound, and leaves no stream behind for the deleted endpoint."""
    store = make(redis_client, uid)
    store.append(uid, "before", "t", "{}", b"")
    Endpoints(redis_client, allow_unverified=False).delete(uid)
    with pytest.raises(NotFound):
        store.append(uid, "after", "t", "{}", b"")
    assert not redis_client.exists(keys.stream(uid))
