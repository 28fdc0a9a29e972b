"""The bridge's exceptions: a shallow tree whose members carry the objects involved.

    BridgeError
    ├── ConfigError(variable, value, problem)       bad BRIDGE_* setting, raised at start-up
    ├── VerificationError(provider, reason, detail) a webhook that failed its signature check
    ├── StoreUnavailable(operation, cause)           Redis did not answer; callers answer 503
    │   ├── StoreFull(operation, cause)              Redis is at maxmemory and refused a write
    │   └── RecordChanged(endpoint_id)               an endpoint changed under a delivery, each try
    ├── NotFound(kind, key)                          an endpoint (or other record) that is absent
    ├── Conflict(kind, key)                          creating something that already exists
    ├── InvalidInput(field, problem)                 a request that names a bad field
    ├── BodyTooSlow(received, elapsed, min_rate)     a request body that stalled or trickled
    ├── BodyUnframed(problem)                        a body its framing does not delimit
    ├── LibraryChanged(attribute)                    an upgrade moved an internal the bridge uses
    └── SocketClosed(code, reason)                   a WebSocket closed, by either side

Only the HTTP layer (bridge/web/) maps these to status codes.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base class of every error the bridge raises on purpose."""


class ConfigError(BridgeError):
    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable}: {problem}")


class VerificationError(BridgeError):
    """`reason` is one of the contract's codes; `detail` is for logs and the debugger only."""

    MISSING = "missing_signature"
    BAD = "bad_signature"
    STALE = "stale_timestamp"

    def __init__(self, provider: str, reason: str, detail: str = "") -> None:
        self.provider = provider
        self.reason = reason
        self.detail = detail
        super().__init__(f"{provider}: {reason}" + (f" ({detail})" if detail else ""))


class StoreUnavailable(BridgeError):
    reason = "unreachable"  # what the 503 answer, /readyz and the metric call it

    def __init__(self, operation: str, cause: BaseException | None = None) -> None:
        self.operation = operation
        self.cause = cause
        super().__init__(f"Redis {self.reason} during {operation}: {cause!r}")

    # The 503 answer's message where "storage is <reason>; retry later" would not fit.
    advice: str | None = None


class StoreFull(StoreUnavailable):
    """Redis answers but cannot store: it is at `maxmemory` with `noeviction`. Like an
    unreachable Redis it is temporary for the sender (503, retry), not the sender's fault."""

    reason = "full"


class RecordChanged(StoreUnavailable):
    """The endpoint's record changed (a secret removed, the endpoint deleted and created
    again) between the read a delivery was verified against and its append, so nothing was
    stored; the ingest path reads the record again and retries. Raised to the sender only
    when it kept changing, as a 503: temporary, retry."""

    reason = "endpoint_changing"

    def __init__(self, endpoint_id: str) -> None:
        self.endpoint_id = endpoint_id
        super().__init__("append", None)

    advice = "the endpoint changed while this delivery was stored; retry"


class NotFound(BridgeError):
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} {key!r}")


class Conflict(BridgeError):
    """What the request asks clashes with what is stored (a 409): by default, `key` exists."""

    def __init__(self, kind: str, key: str, problem: str = "") -> None:
        self.kind = kind
        self.key = key
        super().__init__(problem or f"{kind} {key!r} already exists")


class InvalidInput(BridgeError):
    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class BodyTooSlow(BridgeError):
    """A request's body fell behind BRIDGE_BODY_TIMEOUT and BRIDGE_BODY_MIN_RATE (a 408)."""

    def __init__(self, received: int, elapsed: float, min_rate: int) -> None:
        self.received = received
        self.elapsed = elapsed
        self.min_rate = min_rate
        super().__init__(
            f"the body came slower than {min_rate} bytes/s: {received} bytes read in "
            f"{elapsed:.1f} s"
        )


class BodyUnframed(BridgeError):
    """A request's body is not the one its framing declares (a chunk size that is not hex, a
    missing CRLF, a trailer past gunicorn's limits, the connection ended before the last
    chunk or before its Content-Length): a 400. `problem` says which, as a sentence."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem[:200])


class LibraryChanged(BridgeError):
    """simple-websocket, wsproto or gevent no longer has an internal that
    bridge/wire/adapter.py relies on: the pinned versions were upgraded without checking it."""

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute
        super().__init__(f"{attribute} is gone: see bridge/wire/adapter.py")


class SocketClosed(BridgeError):
    """A WebSocket's connection is closed, by the peer or by the bridge; reading ends.
    `code` is the peer's close code when it sent one (else None)."""

    def __init__(self, code: int | None, reason: str | None) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"socket closed ({code}: {reason})")
