"""The event store: one Redis stream per endpoint, deduplicated, published atomically.

`append()` runs one Lua script that, as a single atomic step, checks the dedup key, adds the
stream entry (trimmed by count and age), sets the dedup key and publishes the event. So a
delivery is either stored *and* published, or a duplicate, or not stored at all: never half.

A stream entry holds `t` (event type), `e` (the envelope as JSON, without its `id`, which
is the entry id itself) and `r` (the raw body bytes, kept so a forwarded event still verifies).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis
from redis.cluster import RedisCluster
from redis.exceptions import (
    ClusterError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    SlotNotCoveredError,
    TryAgainError,
)

from bridge import cursor, envelope, keys, metrics
from bridge.batching import GroupCommit
from bridge.cursor import Cursor
from bridge.errors import StoreFull, StoreUnavailable
from bridge.redis_client import Client

_APPEND = """
local existing = redis.call('GET', KEYS[2])
if existing then return {0, existing} end
local id = redis.call('XADD', KEYS[1], '*', 't', ARGV[5], 'e', ARGV[6], 'r', ARGV[7])
-- Trim by count and by age, and record the newest id trimmed (XTRIM alone does not) as the
-- stream's max-deleted-entry-id: a resume `since` older than that has missed events.
local dropped = nil
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[1])
if excess > 0 then
  local doomed = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)
  dropped = doomed[#doomed][1]
end
local now = redis.call('TIME')
local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[2])
-- XREVRANGE from below the oldest entry walks the whole stream: ask only when the oldest
-- entry is past the age limit (XRANGE - + COUNT 1 reads the first entry, cheap).
local aged = {}
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #oldest > 0 and tonumber(string.match(oldest[1][1], '^(%d+)')) < cutoff then
  aged = redis.call('XREVRANGE', KEYS[1], '(' .. string.format('%d', cutoff) .. '-0', '-',
                    'COUNT', 1)
end
if #aged > 0 and (dropped == nil or newer(aged[1][1], dropped)) then dropped = aged[1][1] end
if dropped then
  local ms, seq = string.match(dropped, '(%d+)-(%d+)')
  redis.call('XTRIM', KEYS[1], 'MINID', ms .. '-' .. string.format('%d', tonumber(seq) + 1))
  redis.call('XSETID', KEYS[1], id, 'MAXDELETEDID', dropped)
end
redis.call('SET', KEYS[2], id, 'EX', ARGV[3])
-- the message format of bridge/envelope.py: channel, id, event type, envelope tail
redis.call('%PUBLISH%', ARGV[4], ARGV[8] .. '\\n' .. id .. '\\n' .. ARGV[5] .. '\\n' .. ARGV[6])
return {1, id}
"""

_NEWER = """
local function newer(a, b)
  local am, as = string.match(a, '(%d+)-(%d+)')
  local bm, bs = string.match(b, '(%d+)-(%d+)')
  am, bm = tonumber(am), tonumber(bm)
  if am ~= bm then return am > bm end
  return tonumber(as) > tonumber(bs)
end
"""

# A batch of appends stops growing past this many bytes of events (its first may be larger):
# a pipeline is built whole in memory before it is sent.
BATCH_BYTES = 1024 * 1024

# The debugger's list of rejected deliveries per endpoint: short, and gone after a week.
REJECTIONS_KEPT = 50
REJECTIONS_TTL = 7 * 86400

# What "Redis is away" looks like, on one server, a Cluster (a slot's node down, a cluster
# in `fail` state) or behind Sentinel (a demoted primary refusing writes mid-failover); and
# "Redis cannot store" (OOM: at maxmemory with noeviction), temporary for a sender too.
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
    error = _kind(exc)(operation, exc)
    metrics.STORE_FAILURES.labels(operation, error.reason).inc()
    return error


def _kind(exc: BaseException) -> type[StoreUnavailable]:
    return StoreFull if isinstance(exc, OutOfMemoryError) else StoreUnavailable


@dataclass(frozen=True)
class AppendRequest:
    channel: str
    dedup_id: str
    event_type: str | None
    envelope_tail: str
    raw: bytes

    def size(self) -> int:
        return len(self.raw) + len(self.envelope_tail)


@dataclass(frozen=True)
class Appended:
    id: str
    duplicate: bool


@dataclass(frozen=True)
class StreamState:
    """Where an endpoint's stream stands: the newest id and the newest id ever trimmed."""

    last: Cursor
    trimmed: Cursor
    exists: bool

    def recovers(self, since: Cursor) -> bool:
        """Whether every event after `since` is still retained (False also after a data reset)."""
        if since > self.last:
            return False
        return since >= self.trimmed


@dataclass(frozen=True)
class StoredEvent:
    id: str
    event_type: str
    envelope_tail: str  # the envelope JSON without `id`, starting with "{"
    raw: bytes

    def envelope_json(self) -> str:
        return envelope.with_id(self.id, self.envelope_tail)


class Store:
    def __init__(
        self,
        client: Client,
        *,
        retention_events: int,
        retention_seconds: int,
        dedup_ttl: int,
        write_headroom: int = 0,
        append_batch: int = 1,
    ) -> None:
        self.client = client
        self.write_headroom = write_headroom
        self.retention_events = retention_events
        self.retention_ms = retention_seconds * 1000
        self.dedup_ttl = dedup_ttl
        # On a Cluster every node relays a plain PUBLISH to every subscriber connection in the
        # cluster, so pub/sub would not grow with shards: there each endpoint's events go on its
        # own sharded channel, which only its slot's shard relays (see hub.py, shards.py).
        self.sharded = isinstance(client, RedisCluster)
        publish = "SPUBLISH" if self.sharded else "PUBLISH"
        self._append = client.register_script(_NEWER + _APPEND.replace("%PUBLISH%", publish))
        # 1: each append its own round trip (tests of one append's failure modes, tools).
        self._group: GroupCommit[AppendRequest, Appended | Exception] | None = None
        if append_batch > 1:
            self._group = GroupCommit(
                self._append_batch,
                max_items=append_batch,
                max_bytes=BATCH_BYTES,
                size=AppendRequest.size,
            )

    def unready(self) -> str | None:
        """Why a webhook may not be stored now ("unreachable", "full"), or None.

        A Redis at maxmemory still answers PING while it refuses writes, so on one server
        (or Sentinel's primary) this reads INFO memory: with `noeviction`, less room than
        the largest webhook accepted (`write_headroom`) counts as full. A Cluster is only
        asked to answer; a full node shows as 503 `full` on its own endpoints' webhooks.
        """
        try:
            if isinstance(self.client, RedisCluster):
                self.client.ping()
                return None
            memory = self.client.info("memory")
        except REDIS_ERRORS as exc:
            return _kind(exc).reason
        limit = int(memory.get("maxmemory", 0))
        refuses = limit and memory.get("maxmemory_policy") == "noeviction"
        if refuses and int(memory.get("used_memory", 0)) + self.write_headroom > limit:
            return StoreFull.reason
        return None

    def append(
        self, channel: str, dedup_id: str, event_type: str | None, envelope_tail: str, raw: bytes
    ) -> Appended:
        """Store and publish one event (or find it a duplicate); raises StoreUnavailable.

        Concurrent appends in this process share round trips (bridge/batching.py)."""
        request = AppendRequest(channel, dedup_id, event_type, envelope_tail, raw)
        if self._group is None:
            outcome = self._append_batch([request])[0]
        else:
            outcome = self._group.submit(request)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _script_input(self, request: AppendRequest) -> tuple[list[str], list[str | int | bytes]]:
        channel = request.channel
        return (
            [keys.stream(channel), keys.dedup(channel, request.dedup_id)],
            [
                self.retention_events,
                self.retention_ms,
                self.dedup_ttl,
                keys.events_shard(channel) if self.sharded else keys.EVENTS_CHANNEL,
                envelope.one_line(request.event_type or ""),
                request.envelope_tail,
                request.raw,
                channel,
            ],
        )

    def _append_batch(self, requests: list[AppendRequest]) -> list[Appended | Exception]:
        """Run the append script for each request, in order, in one round trip (a Cluster
        pipeline sends each node its own share at once); one outcome per request, so a
        node that is down or full fails only its own endpoints' appends."""
        metrics.APPEND_BATCH.observe(len(requests))
        try:
            if len(requests) == 1:
                script_keys, args = self._script_input(requests[0])
                replies: list[Any] = [self._append(keys=script_keys, args=args)]
            else:
                replies = self._pipelined(requests)
        except REDIS_ERRORS as exc:
            if len(requests) > 1 and isinstance(self.client, RedisCluster):
                # A Cluster pipeline fails whole when one node cannot be reached (before it
                # writes to any): the others' appends go again alone, each to its own node.
                return [self._append_batch([request])[0] for request in requests]
            return [unavailable("append", exc) for _ in requests]
        return [_appended(reply) for reply in replies]

    def _pipelined(self, requests: list[AppendRequest]) -> list[Any]:
        # EVALSHA itself: a pipeline given the Script object asks SCRIPT EXISTS first,
        # a second round trip per batch. A server that lost its scripts (restarted) says
        # NOSCRIPT, not run, so exactly those are loaded and sent again.
        replies: list[Any] = [None] * len(requests)
        pending = list(range(len(requests)))
        for attempt in range(2):
            with self.client.pipeline(transaction=False) as pipe:
                for i in pending:
                    script_keys, args = self._script_input(requests[i])
                    # By name: a Cluster pipeline refuses `evalsha()`, for scripts whose
                    # keys could span slots (ours share the endpoint's hash tag).
                    pipe.execute_command(
                        "EVALSHA", self._append.sha, len(script_keys), *script_keys, *args
                    )
                answers = pipe.execute(raise_on_error=False)
            for i, answer in zip(pending, answers, strict=True):
                replies[i] = answer
            pending = [i for i in pending if isinstance(replies[i], NoScriptError)]
            if not pending or attempt:
                break
            self.client.script_load(self._append.script)
        return replies

    def seen(self, channel: str, dedup_ids: list[str]) -> list[str | None]:
        """The cursor each dedup id was first stored under, or None: what `append` would
        answer as a duplicate, without storing (one round trip; the keys share a slot)."""
        if not dedup_ids:
            return []
        try:
            found: list[bytes | None] = self.client.mget(  # type: ignore[assignment]
                [keys.dedup(channel, d) for d in dedup_ids]
            )
        except REDIS_ERRORS as exc:
            raise StoreUnavailable("seen", exc) from exc
        return [None if value is None else _text(value) for value in found]

    def state(self, channel: str) -> StreamState:
        try:
            info = self.client.xinfo_stream(keys.stream(channel))
        except REDIS_ERRORS as exc:  # first: CLUSTERDOWN is a ResponseError too
            raise unavailable("state", exc) from exc
        except redis.ResponseError:  # no such key
            return StreamState(last=cursor.ZERO, trimmed=cursor.ZERO, exists=False)
        return StreamState(
            last=cursor.parse(_text(info["last-generated-id"])),
            trimmed=cursor.parse(_text(info["max-deleted-entry-id"])),
            exists=True,
        )

    def history(self, channel: str, since: Cursor, limit: int) -> list[StoredEvent]:
        """Up to `limit` events after `since`, oldest first."""
        try:
            rows: list[tuple[bytes, dict[bytes, bytes]]] = self.client.xrange(  # type: ignore[assignment]
                keys.stream(channel), min="(" + cursor.text(since), max="+", count=limit
            )
        except REDIS_ERRORS as exc:
            raise unavailable("history", exc) from exc
        return [_stored(entry_id, fields) for entry_id, fields in rows]

    def history_before(
        self, channel: str, before: Cursor, limit: int, since: Cursor = cursor.ZERO
    ) -> list[StoredEvent]:
        """The newest `limit` events before `before` (and after `since`), oldest first."""
        if before <= since:
            return []  # nothing lies between (and Redis refuses an exclusive end of 0-0)
        try:
            rows: list[tuple[bytes, dict[bytes, bytes]]] = self.client.xrevrange(  # type: ignore[assignment]
                keys.stream(channel),
                max="(" + cursor.text(before),
                min="(" + cursor.text(since),
                count=limit,
            )
        except REDIS_ERRORS as exc:
            raise unavailable("history", exc) from exc
        return [_stored(entry_id, fields) for entry_id, fields in reversed(rows)]

    def event(self, channel: str, event_id: Cursor) -> StoredEvent | None:
        """The one event with this id, or None when it never existed or was trimmed."""
        entry = cursor.text(event_id)
        try:
            rows: list[tuple[bytes, dict[bytes, bytes]]] = self.client.xrange(  # type: ignore[assignment]
                keys.stream(channel), min=entry, max=entry, count=1
            )
        except REDIS_ERRORS as exc:
            raise unavailable("event", exc) from exc
        return _stored(*rows[0]) if rows else None

    def replay_after(self, channel: str, since: Cursor, batch: int = 500) -> Iterator[StoredEvent]:
        """Every retained event after `since`, read in batches."""
        while True:
            events = self.history(channel, since, batch)
            yield from events
            if len(events) < batch:
                return
            since = cursor.parse(events[-1].id)

    def counts(self, channels: list[str]) -> dict[str, int]:
        """How many events each channel retains, in one round trip."""
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for channel in channels:
                    pipe.xlen(keys.stream(channel))
                lengths = pipe.execute() if channels else []
        except REDIS_ERRORS as exc:
            raise unavailable("counts", exc) from exc
        return dict(zip(channels, (int(n) for n in lengths), strict=True))

    def record_rejection(self, channel: str, entry: str) -> None:
        """Keep a rejected delivery in a short list (newest first) for the debugger."""
        key = keys.rejections(channel)
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.lpush(key, entry)
                pipe.ltrim(key, 0, REJECTIONS_KEPT - 1)
                pipe.expire(key, REJECTIONS_TTL)
                pipe.publish(keys.REJECTIONS_CHANNEL, channel + "\n" + entry)
                pipe.execute()
        except REDIS_ERRORS as exc:
            raise unavailable("record rejection", exc) from exc

    def rejections(self, channel: str) -> list[str]:
        try:
            entries: list[bytes] = self.client.lrange(keys.rejections(channel), 0, -1)  # type: ignore[assignment]
        except REDIS_ERRORS as exc:
            raise unavailable("rejections", exc) from exc
        return [e.decode() for e in entries]

    def drop_stream(self, channel: str) -> None:
        try:
            self.client.delete(keys.stream(channel))
        except REDIS_ERRORS as exc:
            raise unavailable("delete", exc) from exc


def _appended(reply: Any) -> Appended | Exception:
    if isinstance(reply, REDIS_ERRORS):
        return unavailable("append", reply)
    if isinstance(reply, Exception):
        return reply  # not Redis being away (a script error): that caller's 500, as before
    created, event_id = reply
    return Appended(id=_text(event_id), duplicate=not created)


def _stored(entry_id: bytes, fields: dict[bytes, bytes]) -> StoredEvent:
    return StoredEvent(
        id=_text(entry_id),
        event_type=_text(fields.get(b"t", b"")),
        envelope_tail=_text(fields.get(b"e", b"{}")),
        raw=fields.get(b"r", b""),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
