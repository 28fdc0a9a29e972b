"""The event store's retention, against the real valkey-server."""

from __future__ import annotations

import time

import pytest
import redis

from bench.cluster import Cluster
from bridge import cursor, keys, redis_client
from bridge.endpoints import Endpoints
from bridge.errors import NotFound
from bridge.store import READ_BYTES, Store


def make(
    client: redis_client.Client, endpoint: str, events: int = 100, seconds: int = 3600
) -> Store:
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
    assert [e.id for e in store.history(uid, cursor.ZERO, 10).events] == [second]
    state = store.state(uid)
    assert state.trimmed == cursor.parse(first)
    assert not state.recovers(cursor.ZERO)
    assert state.recovers(cursor.parse(first))


def test_count_retention_keeps_the_newest(redis_client: redis.Redis, uid: str) -> None:
    """With a count limit, the newest events are kept and the trimmed ones are recorded."""
    store = make(redis_client, uid, events=3)
    ids = [store.append(uid, str(n), "t", "{}", b"").id for n in range(5)]
    assert [e.id for e in store.history(uid, cursor.ZERO, 10).events] == ids[2:]
    assert store.state(uid).trimmed == cursor.parse(ids[1])


def test_young_stream_is_not_trimmed_by_age(redis_client: redis.Redis, uid: str) -> None:
    """Events younger than the age limit all stay, and resume from the start recovers."""
    store = make(redis_client, uid)
    ids = [store.append(uid, str(n), "t", "{}", b"").id for n in range(5)]
    assert [e.id for e in store.history(uid, cursor.ZERO, 10).events] == ids
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


def recreated(client: redis_client.Client, uid: str) -> tuple[Store, list[str], str]:
    """An endpoint given three events, deleted, created again with the same id and given a
    fourth: the store, the first three cursors, the fourth."""
    store = make(client, uid)
    old = [store.append(uid, f"c{n}", "t", "{}", b"").id for n in (1, 2, 3)]
    Endpoints(client, allow_unverified=False).delete(uid)
    store = make(client, uid)
    return store, old, store.append(uid, "c4", "t", "{}", b"").id


def assert_old_cursors_are_not_recovered(client: redis_client.Client, uid: str) -> None:
    store, old, new = recreated(client, uid)
    state = store.state(uid)
    assert [e.id for e in store.history(uid, cursor.parse(old[0]), 10).events] == [new]
    assert [state.recovers(cursor.parse(c)) for c in old] == [False, False, False]
    assert state.recovers(cursor.parse(new))
    assert state.recovers(cursor.ZERO)  # from the start of the endpoint as it is now
    assert state.newest == cursor.parse(new)


def test_a_cursor_from_before_the_endpoint_was_created_again_is_not_recovered(
    redis_client: redis.Redis, uid: str
) -> None:
    """After an endpoint is deleted and created again under its id, a resume from any of the
    old endpoint's cursors is not recovered (its events are gone); from 0-0 or from the new
    endpoint's own cursors it is."""
    assert_old_cursors_are_not_recovered(redis_client, uid)


def test_a_new_endpoint_with_no_events_recovers_from_the_start(
    redis_client: redis.Redis, uid: str
) -> None:
    """A fresh endpoint's stream starts at its creation: 0-0 recovers, its newest is 0-0."""
    state = make(redis_client, uid).state(uid)
    assert state.newest == cursor.ZERO
    assert state.recovers(cursor.ZERO)
    assert not state.recovers((1, 0))  # a cursor no endpoint of this id gave since


def test_on_a_cluster_a_cursor_from_before_the_endpoint_was_created_again_is_not_recovered(
    cluster: Cluster, uid: str
) -> None:
    """On a Redis Cluster too (the record and stream share the endpoint's slot, so its node
    both marks the creation and numbers the events), the old endpoint's cursors are not
    recovered after it is created again."""
    client = redis_client.connect(cluster.url, max_connections=4, timeout=5)
    try:
        assert_old_cursors_are_not_recovered(client, uid)
    finally:
        client.close()


MIB = 1024 * 1024


def large_events(store: Store, endpoint: str, sizes_mib: list[int]) -> list[str]:
    """Append one event per size, each envelope that many MiB (and a raw body as large)."""
    ids = []
    for n, size in enumerate(sizes_mib):
        tail = '{"pad":"' + "x" * (size * MIB) + '"}'
        ids.append(store.append(endpoint, f"big-{n}", "t", tail, b"r" * size * MIB).id)
    return ids


def test_a_read_stops_at_its_byte_limit_and_the_next_goes_on(
    redis_client: redis.Redis, uid: str
) -> None:
    """Pages of large events hold at most READ_BYTES (one event at least), none lost or twice."""
    store = make(redis_client, uid)
    ids = large_events(store, uid, [3, 3, 3, 9, 1])
    pages, since = [], cursor.ZERO
    while True:
        page = store.history(uid, since, 100)
        pages.append([e.id for e in page.events])
        sizes = [len(e.envelope_tail) for e in page.events]
        assert len(sizes) == 1 or sum(sizes) <= READ_BYTES
        assert all(e.raw == b"" for e in page.events)  # Store.event() has them
        if not page.more:
            break
        since = cursor.parse(page.events[-1].id)
    assert pages == [ids[0:2], ids[2:3], ids[3:4], ids[4:5]]
    assert [e.id for e in store.replay_after(uid, cursor.ZERO)] == ids


def test_a_backward_read_stops_at_its_byte_limit_oldest_first(
    redis_client: redis.Redis, uid: str
) -> None:
    """Read before a cursor, large events come newest-page first, each page oldest first."""
    store = make(redis_client, uid)
    ids = large_events(store, uid, [1, 3, 3, 3])
    newest = store.history_before(uid, cursor.parse("9999999999999-0"), 100)
    assert ([e.id for e in newest.events], newest.more) == (ids[2:], True)
    older = store.history_before(uid, cursor.parse(ids[2]), 100)
    assert ([e.id for e in older.events], older.more) == (ids[:2], False)


def test_a_read_of_exactly_its_count_says_whether_more_follow(
    redis_client: redis.Redis, uid: str
) -> None:
    """A page that ends at its count is `more` only when another event is stored after it."""
    store = make(redis_client, uid)
    ids = [store.append(uid, str(n), "t", "{}", b"").id for n in range(4)]
    assert store.history(uid, cursor.ZERO, 3).more
    last = store.history(uid, cursor.parse(ids[0]), 3)
    assert ([e.id for e in last.events], last.more) == (ids[1:], False)
