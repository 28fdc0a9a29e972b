"""Ingest: verify a delivery on its raw bytes, build its envelope, store and publish it."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from bridge import debugger, envelope, metrics, offload
from bridge.append import Appended
from bridge.debugger import Budget, diagnose
from bridge.endpoints import Endpoint
from bridge.errors import RecordChanged, StoreUnavailable, VerificationError
from bridge.providers import Verdict, WebhookRequest
from bridge.store import Store, StoredEvent
from bridge.text import is_unicode, replaced_surrogates
from bridge.timefmt import iso

PREVIEW_BYTES = 2048
# Characters of each header value a rejection keeps: a stranger's 100 headers of 8 KB would
# otherwise make each of the 50 records kept a week (and each `rejected` frame) 800 KB.
HEADER_PREVIEW = 1024

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What to answer: a stored (or duplicate) event, or a provider handshake."""

    appended: Appended | None = None
    handshake: dict[str, Any] | None = None
    # The provider's own answer to a stored event, sent instead of the bridge's (Discord).
    answer: dict[str, Any] | None = None


# Reads of the endpoint's record one delivery may make when it keeps changing under it.
RECORD_READS = 3


def receive(
    store: Store,
    endpoint: Endpoint,
    body: bytes,
    headers: Mapping[str, str],
    *,
    url: str,
    default_tolerance: int,
    trace: str | None = None,
    now: float | None = None,
    reread: Callable[[], tuple[Endpoint, str]] | None = None,
    diagnoses: Budget | None = None,
) -> Outcome:
    """Verify and store one delivery; raises VerificationError or StoreUnavailable.

    `trace` names this delivery from the HTTP answer to the frame a browser gets: it is
    written into the envelope and kept with a rejection. `endpoint` may be this worker's
    cached record, a moment behind a change made through another worker: `reread` reads it
    (and the `url` for it) from Redis, for a delivery that fails against the copy (a secret
    added a moment ago) and one whose append finds the record changed (RecordChanged: a
    secret removed, the endpoint created again), which stores nothing. `diagnoses` bounds the
    CPU a rejection's diagnosis spends on the body (None: unbounded, for trusted callers)."""
    started = time.perf_counter()
    trace = trace or new_trace()
    arrived = time.time() if now is None else now
    lowered = {k.lower(): v for k, v in headers.items()}
    for attempt in range(RECORD_READS):
        request = WebhookRequest(
            body=body,
            headers=lowered,
            url=url,
            now=arrived,
            tolerance=int(endpoint.options.get("tolerance", default_tolerance)),
            options=endpoint.options,
        )
        provider = endpoint.verifier
        secrets = endpoint.live_secrets(request.now)
        try:
            # Verifying may parse the body (Mailgun's signature is in it).
            verdict = offload.run(_weight(request), partial(provider.verify, request, secrets))
        except VerificationError as exc:
            if reread is not None and attempt == 0:
                current, current_url = reread()
                if current.digest != endpoint.digest:
                    endpoint, url = current, current_url
                    continue
            metrics.VERIFICATION_FAILURES.labels(provider.name, exc.reason).inc()
            metrics.webhooks(endpoint.id, "rejected").inc()
            _keep_rejection(store, endpoint, request, exc, trace, diagnoses)
            raise
        secret = next((s for s in secrets if s.id == verdict.secret_id), None)
        handshake = provider.handshake(request, secret)
        if handshake is not None:
            metrics.webhooks(endpoint.id, "handshake").inc()
            return Outcome(handshake=handshake)
        try:
            appended = _store(store, endpoint, request, verdict, trace)
        except RecordChanged:
            if reread is None or attempt + 1 == RECORD_READS:
                raise
            endpoint, url = reread()
            continue
        if appended.duplicate:
            metrics.DUPLICATES.labels(endpoint.id).inc()
            metrics.webhooks(endpoint.id, "duplicate").inc()
        else:
            metrics.webhooks(endpoint.id, "accepted").inc()
            metrics.INGEST_SECONDS.observe(time.perf_counter() - started)
        return Outcome(appended=appended, answer=provider.acknowledge(request))
    raise RecordChanged(endpoint.id)  # pragma: no cover - the last attempt raises above


def _store(
    store: Store, endpoint: Endpoint, request: WebhookRequest, verdict: Verdict, trace: str
) -> Appended:
    event_id, event_type, tail = offload.run(
        _weight(request), partial(_envelope, endpoint, request, verdict, trace)
    )
    return store.append(
        endpoint.id,
        dedup_id(endpoint, event_id),
        event_type,
        tail,
        request.body,
        record=endpoint.digest,
    )


def _weight(request: WebhookRequest) -> int:
    return request.memo("offload.weight", partial(offload.weight, request.body))


def _envelope(
    endpoint: Endpoint, request: WebhookRequest, verdict: Verdict, trace: str
) -> tuple[str, str | None, str]:
    """The delivery's event id, event type and envelope tail: all the parsing and encoding
    of the body, so that a large one can be done off the event loop."""
    identity = endpoint.verifier.identify(request)
    # A JSON string may hold a lone surrogate ("\ud800"), which no UTF-8 can: redis-py
    # raised on it (a 500) in the dedup key or the stream's type field. Such an id is no
    # provider's; the body's hash stands in (an exact redelivery is still a duplicate).
    event_id = identity.event_id
    if not event_id or not is_unicode(event_id):
        event_id = body_hash(request.body)
    event_type = identity.event_type
    if event_type is not None and not is_unicode(event_type):
        event_type = replaced_surrogates(event_type)
    tail = envelope.tail(
        endpoint,
        envelope.Arrival(
            event_id=event_id,
            event_type=event_type,
            received_at=request.now,
            headers=request.headers,
            body=request.body,
            trace=trace,
            parsed=request.parsed(),
        ),
        verified=verdict.verified,
        verification={"scheme": verdict.scheme, "secret_id": verdict.secret_id},
    )
    return event_id, event_type, tail


def _keep_rejection(
    store: Store,
    endpoint: Endpoint,
    request: WebhookRequest,
    error: VerificationError,
    trace: str,
    diagnoses: Budget | None,
) -> None:
    live = endpoint.live_secrets(request.now)
    work = partial(diagnose, endpoint.verifier, request, live, error, diagnoses)
    entry = {
        "id": secrets.token_hex(8),
        "trace": trace,
        "received_at": iso(request.now, millis=True),
        "reason": error.reason,
        "headers": {
            name: value if len(value) <= HEADER_PREVIEW else _cut(value)
            for name, value in envelope.masked_headers(request.headers).items()
        },
        "body_bytes": len(request.body),
        "body_preview": request.body[:PREVIEW_BYTES].decode("utf-8", "replace"),
        "diagnosis": offload.run(_weight(request) * debugger.PASSES, work),
    }
    try:
        store.record_rejection(endpoint.id, json.dumps(entry, separators=(",", ":")))
    except StoreUnavailable:
        log.warning("could not keep a rejected delivery for %s", endpoint.id)


def _cut(value: str) -> str:
    return f"{value[:HEADER_PREVIEW]}… ({len(value)} characters)"


def republish(store: Store, endpoint_id: str, original: StoredEvent) -> Appended:
    """Store and publish a stored event again, as a new event marked `replay_of` it.

    The raw bytes and headers are the original's, so the replay still verifies wherever it is
    forwarded; it has its own dedup id, so it is never taken for a redelivery.
    """
    replayed = json.loads(original.envelope_tail)
    replayed["received_at"] = iso(time.time(), millis=True)
    replayed["trace"] = new_trace()
    replayed["replay_of"] = original.id
    tail = json.dumps(replayed, separators=(",", ":"))
    dedup_id = "replay:" + secrets.token_hex(16)
    return store.append(endpoint_id, dedup_id, original.event_type or None, tail, original.raw)


def new_trace() -> str:
    """A delivery's trace id: 16 hex characters, random, so it reveals nothing."""
    # secrets.token_hex(8) is os.urandom(8).hex() through two calls more.
    return os.urandom(8).hex()


def body_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def dedup_id(endpoint: Endpoint, event_id: str) -> str:
    """The dedup key of a provider event id: scoped to this creation of the endpoint."""
    return f"{endpoint.generation}:{event_id}"
