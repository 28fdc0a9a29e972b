"""The append path: one Lua script stores and publishes an event, batched per worker.

The script, as a single atomic step, checks that the endpoint's record is still the one the
delivery was verified against (its digest) and the dedup key,
adds the stream entry (trimmed by count and age), sets the dedup key and publishes the event.
So a delivery is either stored *and* published, or a duplicate, or not stored at all: never
half. Concurrent appends in
one process share a round trip (bridge/batching.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.cluster import RedisCluster
from redis.exceptions import NoScriptError

from bridge import envelope, keys, metrics
from bridge.batching import GroupCommit
from bridge.errors import NotFound, RecordChanged
from bridge.redis_client import Client
from bridge.redis_errors import REDIS_ERRORS, unavailable

_APPEND = """
-- A worker's cached record is a moment behind a change made through another worker. Deleted
-- meanwhile: store nothing. Changed since the delivery was verified against it (a secret
-- removed, the endpoint created again): store nothing, the worker reads it again and retries.
local record = redis.call('GET', KEYS[3])
if not record then return {2, ''} end
if ARGV[9] ~= '' and redis.sha1hex(record) ~= ARGV[9] then return {3, ''} end
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


@dataclass(frozen=True)
class AppendRequest:
    channel: str
    dedup_id: str
    event_type: str | None
    envelope_tail: str
    raw: bytes
    # The endpoint record's digest the delivery was verified against; "" checks only that
    # the endpoint exists (a replay, verified when it first arrived).
    record: str = ""

    def size(self) -> int:
        return len(self.raw) + len(self.envelope_tail)


@dataclass(frozen=True)
class Appended:
    id: str
    duplicate: bool


class Appender:
    """Runs the append script for one client, one request at a time or grouped."""

    def __init__(
        self,
        client: Client,
        *,
        retention_events: int,
        retention_ms: int,
        dedup_ttl: int,
        append_batch: int,
    ) -> None:
        self.client = client
        self.retention_events = retention_events
        self.retention_ms = retention_ms
        self.dedup_ttl = dedup_ttl
        # Each endpoint's events go on its own channel, heard only by workers with a socket on
        # it (shards.py). On a Cluster, SPUBLISH: every node relays a plain PUBLISH to every
        # subscriber connection in the cluster, so pub/sub would not grow with shards.
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

    def append(self, request: AppendRequest) -> Appended:
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
            [keys.stream(channel), keys.dedup(channel, request.dedup_id), keys.endpoint(channel)],
            [
                self.retention_events,
                self.retention_ms,
                self.dedup_ttl,
                keys.events_shard(channel),
                envelope.one_line(request.event_type or ""),
                request.envelope_tail,
                request.raw,
                channel,
                request.record,
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
        return [
            _appended(reply, request.channel)
            for reply, request in zip(replies, requests, strict=True)
        ]

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


def _appended(reply: Any, channel: str) -> Appended | Exception:
    if isinstance(reply, REDIS_ERRORS):
        return unavailable("append", reply)
    if isinstance(reply, Exception):
        return reply  # not Redis being away (a script error): that caller's 500, as before
    created, event_id = reply
    if created == 2:
        return NotFound("endpoint", channel)
    if created == 3:
        # Retried by ingest at once; counted so an operator sees records changing under
        # deliveries (the 503 endpoint_changing when it keeps on) beside Redis's failures.
        metrics.STORE_FAILURES.labels("append", RecordChanged.reason).inc()
        return RecordChanged(channel)
    return Appended(
        id=event_id.decode() if isinstance(event_id, bytes) else event_id, duplicate=not created
    )
