"""Ingest: verify a delivery on its raw bytes, build its envelope, store and publish it."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge import jsontext, metrics
from bridge.debugger import diagnose
from bridge.endpoints import Endpoint
from bridge.errors import StoreUnavailable, VerificationError
from bridge.masking import mask_body
from bridge.providers import WebhookRequest
from bridge.store import Appended, Store, StoredEvent
from bridge.timefmt import iso

# Headers a sender may use to authenticate to us; they are the sender's credentials, not
# part of the event, so they are masked before the envelope is stored or shown.
# X-Gitlab-Token is GitLab's "signature": the endpoint's secret itself, sent in clear.
MASKED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-gitlab-token"})
PREVIEW_BYTES = 2048

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What to answer: a stored (or duplicate) event, or a provider handshake."""

    appended: Appended | None = None
    handshake: dict[str, Any] | None = None
    # The provider's own answer to a stored event, sent instead of the bridge's (Discord).
    answer: dict[str, Any] | None = None


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
) -> Outcome:
    """Verify and store one delivery; raises VerificationError or StoreUnavailable.

    `trace` names this delivery from the HTTP answer to the frame a browser gets: it is
    written into the envelope and kept with a rejection."""
    started = time.perf_counter()
    trace = trace or new_trace()
    provider = endpoint.verifier
    request = WebhookRequest(
        body=body,
        headers={k.lower(): v for k, v in headers.items()},
        url=url,
        now=time.time() if now is None else now,
        tolerance=int(endpoint.options.get("tolerance", default_tolerance)),
        options=endpoint.options,
    )
    secrets = endpoint.live_secrets(request.now)
    try:
        verdict = provider.verify(request, secrets)
    except VerificationError as exc:
        metrics.VERIFICATION_FAILURES.labels(provider.name, exc.reason).inc()
        metrics.WEBHOOKS.labels(endpoint.id, "rejected").inc()
        _keep_rejection(store, endpoint, request, exc, trace)
        raise
    secret = next((s for s in secrets if s.id == verdict.secret_id), None)
    handshake = provider.handshake(request, secret)
    if handshake is not None:
        metrics.WEBHOOKS.labels(endpoint.id, "handshake").inc()
        return Outcome(handshake=handshake)
    identity = provider.identify(request)
    event_id = identity.event_id or body_hash(body)
    tail = envelope_tail(
        endpoint,
        Arrival(
            event_id=event_id,
            event_type=identity.event_type,
            received_at=request.now,
            headers=request.headers,
            body=body,
            trace=trace,
        ),
        verified=verdict.verified,
        verification={"scheme": verdict.scheme, "secret_id": verdict.secret_id},
    )
    appended = store.append(
        endpoint.id, dedup_id(endpoint, event_id), identity.event_type, tail, body
    )
    if appended.duplicate:
        metrics.DUPLICATES.labels(endpoint.id).inc()
        metrics.WEBHOOKS.labels(endpoint.id, "duplicate").inc()
    else:
        metrics.WEBHOOKS.labels(endpoint.id, "accepted").inc()
        metrics.INGEST_SECONDS.observe(time.perf_counter() - started)
    return Outcome(appended=appended, answer=provider.acknowledge(request))


def _keep_rejection(
    store: Store, endpoint: Endpoint, request: WebhookRequest, error: VerificationError, trace: str
) -> None:
    entry = {
        "id": secrets.token_hex(8),
        "trace": trace,
        "received_at": iso(request.now, millis=True),
        "reason": error.reason,
        "headers": _masked(request.headers),
        "body_bytes": len(request.body),
        "body_preview": request.body[:PREVIEW_BYTES].decode("utf-8", "replace"),
        "diagnosis": diagnose(
            endpoint.verifier, request, endpoint.live_secrets(request.now), error
        ),
    }
    try:
        store.record_rejection(endpoint.id, json.dumps(entry, separators=(",", ":")))
    except StoreUnavailable:
        log.warning("could not keep a rejected delivery for %s", endpoint.id)


def _masked(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: ("***" if name in MASKED_HEADERS else value) for name, value in headers.items()}


def republish(store: Store, endpoint_id: str, original: StoredEvent) -> Appended:
    """Store and publish a stored event again, as a new event marked `replay_of` it.

    The raw bytes and headers are the original's, so the replay still verifies wherever it is
    forwarded; it has its own dedup id, so it is never taken for a redelivery.
    """
    envelope = json.loads(original.envelope_tail)
    envelope["received_at"] = iso(time.time(), millis=True)
    envelope["trace"] = new_trace()
    envelope["replay_of"] = original.id
    tail = json.dumps(envelope, separators=(",", ":"))
    dedup_id = "replay:" + secrets.token_hex(16)
    return store.append(endpoint_id, dedup_id, original.event_type or None, tail, original.raw)


def new_trace() -> str:
    """A delivery's trace id: 16 hex characters, random, so it reveals nothing."""
    return secrets.token_hex(8)


def body_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def dedup_id(endpoint: Endpoint, event_id: str) -> str:
    """The dedup key of a provider event id: scoped to this creation of the endpoint."""
    return f"{endpoint.generation}:{event_id}"


@dataclass(frozen=True)
class Arrival:
    """One event as it reached the bridge: live (a webhook) or fetched (a backfill)."""

    event_id: str
    event_type: str | None
    received_at: float
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    trace: str
    source: str = "webhook"  # or "backfill": fetched from the provider's API afterwards


def envelope_tail(
    endpoint: Endpoint,
    arrival: Arrival,
    *,
    verified: bool,
    verification: Mapping[str, Any],
) -> str:
    """The envelope as JSON without its `id` (the stream assigns that when it stores it).

    The body is masked here, once per event, with the endpoint's `mask` paths."""
    envelope: dict[str, Any] = {
        "endpoint": endpoint.id,
        "provider": endpoint.provider,
        "event_id": arrival.event_id,
        "event_type": arrival.event_type,
        "received_at": iso(arrival.received_at, millis=True),
        "verified": verified,
        "verification": dict(verification),
        "source": arrival.source,
        "headers": _masked(arrival.headers),
        "trace": arrival.trace,
    }
    envelope.update(decode_body(arrival.body))
    mask_body(envelope["body"], endpoint.options.get("mask", ()))
    envelope["replay_of"] = None
    return json.dumps(envelope, separators=(",", ":"))


def decode_body(body: bytes) -> dict[str, Any]:
    """`{"body": parsed JSON or text}`, or `{"body": None, "body_base64": ...}` for non-UTF-8."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {"body": None, "body_base64": base64.b64encode(body).decode()}
    try:
        # Carried as text when it is not JSON for us: NaN, or nested past jsontext.MAX_DEPTH.
        return {"body": jsontext.loads(text)}
    except ValueError:
        return {"body": text}
