"""The event store: one Redis stream per endpoint, deduplicated, published atomically.

`append()` stores and publishes an event in one atomic Lua script (append.py); the rest
reads the stream back (history, one event, where it stands) and keeps the debugger's list
of rejected deliveries.

A stream entry holds `t` (event type), `e` (the envelope as JSON, without its `id`, which
is the entry id itself) and `r` (the raw body bytes, kept so a forwarded event still verifies).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import redis
from redis.cluster import RedisCluster

from bridge import cursor, envelope, keys
from bridge.append import Appended, Appender, AppendRequest
from bridge.cursor import Cursor
from bridge.errors import StoreFull
from bridge.redis_client import Client
from bridge.redis_errors import REDIS_ERRORS, kind, unavailable

# The debugger's list of rejected deliveries per endpoint: short, and gone after a week.
REJECTIONS_KEPT = 50
REJECTIONS_TTL = 7 * 86400
# Envelope bytes one read of the stream returns at most (always at least one event): a page
# of 1,000 events of 20 MB each would have been 20 GB at once, in Redis and in the worker.
READ_BYTES = 8 * 1024 * 1024

# A page of the stream: entries from ARGV[1] to ARGV[2] (XRANGE's bounds, or XREVRANGE's
# when ARGV[5] is "1"), at most ARGV[3] of them and ARGV[4] bytes but always one, without
# their raw bytes `r`; then 1 if entries follow. One entry at a time: a larger COUNT would
# hold all its entries at once, however large each is.
_READ = """
local key, count, budget = KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[4])
local from, to, reverse = ARGV[1], ARGV[2], ARGV[5] == '1'
local entries, bytes = {}, 0
while true do
  local rows
  if reverse then
    rows = redis.call('XREVRANGE', key, from, to, 'COUNT', 1)
  else
    rows = redis.call('XRANGE', key, from, to, 'COUNT', 1)
  end
  local row = rows[1]
  if row == nil then return {entries, 0} end
  if #entries == count then return {entries, 1} end
  local fields, kept, size = row[2], {}, 0
  for i = 1, #fields, 2 do
    if fields[i] ~= 'r' then
      kept[#kept + 1] = fields[i]
      kept[#kept + 1] = fields[i + 1]
      size = size + #fields[i + 1]
    end
  end
  if #entries > 0 and bytes + size > budget then return {entries, 1} end
  entries[#entries + 1] = {row[1], kept}
  bytes = bytes + size
  from = '(' .. row[1]
end
"""


@dataclass(frozen=True)
class StreamState:
    """Where an endpoint's stream stands: the newest id, the newest id ever dropped (by
    retention, or the endpoint's creation: bridge/endpoints.py), and how many events it
    holds and was ever given."""

    last: Cursor
    trimmed: Cursor
    exists: bool
    length: int = 0
    added: int = 0

    @property
    def newest(self) -> Cursor:
        """The newest event's id; 0-0 when the endpoint has had none."""
        return self.last if self.added else cursor.ZERO

    def recovers(self, since: Cursor) -> bool:
        """Whether every event after `since` is still retained (False also after a data reset,
        and for a cursor of an earlier endpoint of the same id)."""
        if since > self.last:
            return False
        if since == cursor.ZERO:
            # "From the start": of this endpoint, whose creation mark is no event missed.
            return self.added == self.length
        return since >= self.trimmed


@dataclass(frozen=True)
class StoredEvent:
    id: str
    event_type: str
    envelope_tail: str  # the envelope JSON without `id`, starting with "{"
    raw: bytes

    def envelope_json(self) -> str:
        return envelope.with_id(self.id, self.envelope_tail)


@dataclass(frozen=True)
class Page:
    """Events read in order, without their raw bytes (`Store.event` has them); `more` when
    the read stopped at its count or byte limit with events left after the last."""

    events: list[StoredEvent]
    more: bool


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
        self._read = client.register_script(_READ)
        self._appender = Appender(
            client,
            retention_events=retention_events,
            retention_ms=retention_seconds * 1000,
            dedup_ttl=dedup_ttl,
            append_batch=append_batch,
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
            return kind(exc).reason
        limit = int(memory.get("maxmemory", 0))
        refuses = limit and memory.get("maxmemory_policy") == "noeviction"
        if refuses and int(memory.get("used_memory", 0)) + self.write_headroom > limit:
            return StoreFull.reason
        return None

    def append(
        self,
        channel: str,
        dedup_id: str,
        event_type: str | None,
        envelope_tail: str,
        raw: bytes,
        *,
        record: str = "",
    ) -> Appended:
        """Store and publish one event (or find it a duplicate); raises StoreUnavailable,
        RecordChanged when the endpoint's record no longer has digest `record` (if given),
        NotFound when the endpoint is gone.

        Concurrent appends in this process share round trips (bridge/batching.py)."""
        return self._appender.append(
            AppendRequest(channel, dedup_id, event_type, envelope_tail, raw, record)
        )

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
            raise unavailable("seen", exc) from exc
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
            length=int(info["length"]),
            added=int(info["entries-added"]),
        )

    def history(self, channel: str, since: Cursor, limit: int) -> Page:
        """Up to `limit` events after `since`, oldest first, and at most READ_BYTES."""
        return self._page(channel, "(" + cursor.text(since), "+", limit, reverse=False)

    def history_before(
        self, channel: str, before: Cursor, limit: int, since: Cursor = cursor.ZERO
    ) -> Page:
        """The newest `limit` events before `before` (and after `since`), at most READ_BYTES
        of them, oldest first; `more` when older ones are left."""
        if before <= since:
            return Page([], more=False)  # nothing lies between (Redis refuses an end of 0-0)
        start, end = "(" + cursor.text(before), "(" + cursor.text(since)
        return self._page(channel, start, end, limit, reverse=True)

    def _page(self, channel: str, start: str, end: str, limit: int, *, reverse: bool) -> Page:
        args: list[str | int] = [start, end, limit, READ_BYTES, "1" if reverse else "0"]
        try:
            entries, more = self._read(keys=[keys.stream(channel)], args=args)
        except REDIS_ERRORS as exc:
            raise unavailable("history", exc) from exc
        events = [_stored(entry_id, dict(_pairs(fields))) for entry_id, fields in entries]
        return Page(events[::-1] if reverse else events, more=bool(more))

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
        """Every retained event after `since` (without its raw bytes), read in batches."""
        while True:
            page = self.history(channel, since, batch)
            yield from page.events
            if not page.more:
                return
            since = cursor.parse(page.events[-1].id)

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


def _stored(entry_id: bytes, fields: dict[bytes, bytes]) -> StoredEvent:
    return StoredEvent(
        id=_text(entry_id),
        event_type=_text(fields.get(b"t", b"")),
        envelope_tail=_text(fields.get(b"e", b"{}")),
        raw=fields.get(b"r", b""),
    )


def _pairs(flat: list[bytes]) -> Iterator[tuple[bytes, bytes]]:
    """[k1, v1, k2, v2] as (k1, v1), (k2, v2)."""
    values = iter(flat)
    return zip(values, values, strict=True)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
