"""What every provider module implements: verify a request on its raw bytes, and sign one.

A provider is a verifier that can also sign (as standard-webhooks and stripe's SDKs do), so
one parametrised test suite covers every provider, and `bridge send` can make test webhooks.

Rules every implementation follows:
- Verify the raw body bytes exactly as received; never parse JSON before the check passes.
- Compare digests with `hmac.compare_digest`, never `==`.
- Accept when any one of several signatures (in the header) matches any one secret.
- Timestamped schemes reject both stale and future timestamps beyond `tolerance`.
- Raise only `VerificationError` for a bad request, whatever bytes the headers hold.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets as _random
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bridge.errors import InvalidInput, VerificationError


@dataclass(frozen=True)
class Secret:
    """One of an endpoint's secrets; `id` is recorded on every event it verified."""

    id: str
    value: str


@dataclass(frozen=True)
class WebhookRequest:
    """A delivery as the bridge received it. `headers` keys are lower-case."""

    body: bytes
    headers: Mapping[str, str]
    url: str = ""
    now: float = 0.0
    tolerance: int = 300
    options: Mapping[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body parsed as JSON, or None; only call after verification."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None


@dataclass(frozen=True)
class Verdict:
    """The outcome of a successful check. `secret_id` is None for unverified endpoints."""

    verified: bool
    secret_id: str | None
    scheme: str


@dataclass(frozen=True)
class Identity:
    """The provider's own event id and type; None where the provider has none."""

    event_id: str | None
    event_type: str | None


class Provider(ABC):
    name: ClassVar[str]
    # True where the receiver picks the secret (the bridge generates one if none is given);
    # False where the provider issues it (Stripe, Slack, Shopify): then it is required.
    generates_secret: ClassVar[bool] = True
    # False only where verification uses no secret at all (`none`).
    requires_secret: ClassVar[bool] = True
    # Endpoint options this provider accepts beyond the common ones, with their types.
    option_types: ClassVar[Mapping[str, type]] = {}

    @abstractmethod
    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        """Return the verdict, or raise VerificationError(self.name, reason, detail)."""

    @abstractmethod
    def identify(self, request: WebhookRequest) -> Identity:
        """Take the provider's event id and type from a verified request."""

    @abstractmethod
    def sign(
        self,
        body: bytes,
        secret: str,
        *,
        now: float,
        event_id: str | None = None,
        event_type: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        """The headers this provider would send with `body` (used by tests and `bridge send`)."""

    @abstractmethod
    def setup_steps(self, url: str) -> list[str]:
        """Plain-text steps for registering `url` on the provider's side."""

    def handshake(self, request: WebhookRequest) -> dict[str, Any] | None:
        """A JSON answer for a verified provider handshake, or None for a normal event."""
        return None

    def new_secret(self) -> str:
        return _random.token_urlsafe(32)

    def check_secret(self, secret: str) -> None:
        """Refuse, with InvalidInput("secret", ...), a secret that can never verify."""
        return

    def validate_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Check endpoint options when the endpoint is created; raise InvalidInput naming one."""
        clean: dict[str, Any] = {}
        allowed = {"tolerance": int, **self.option_types}
        for key, value in options.items():
            expected = allowed.get(key)
            if expected is None:
                raise InvalidInput(f"options.{key}", f"not an option of provider {self.name}")
            if not isinstance(value, expected) or isinstance(value, bool) is not (expected is bool):
                raise InvalidInput(f"options.{key}", f"must be {expected.__name__}")
            clean[key] = value
        tolerance = clean.get("tolerance")
        if tolerance is not None and not 1 <= tolerance <= 86400:
            raise InvalidInput("options.tolerance", "must be between 1 and 86400 seconds")
        return clean

    # Helpers shared by the HMAC schemes.

    def fail(self, reason: str, detail: str = "") -> VerificationError:
        return VerificationError(self.name, reason, detail)

    def require(self, request: WebhookRequest, name: str) -> str:
        value = request.header(name)
        if not value:
            raise self.fail(VerificationError.MISSING, f"header {name} is missing")
        return value

    def check_timestamp(self, request: WebhookRequest, raw: str) -> int:
        try:
            ts = int(raw.strip())
            skew = request.now - ts  # OverflowError for absurdly large integers
        except (ValueError, OverflowError):
            raise self.fail(VerificationError.BAD, "timestamp is not a whole number") from None
        if abs(skew) > request.tolerance:
            direction = "old" if skew > 0 else "in the future"
            raise self.fail(VerificationError.STALE, f"timestamp {abs(int(skew))} s {direction}")
        return ts


def hmac_digest(key: bytes, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(key, message, getattr(hashlib, algorithm)).digest()


def first_match(
    provider: Provider,
    secrets: Sequence[Secret],
    candidates: Sequence[bytes],
    expected_for: Any,
    scheme: str,
) -> Verdict:
    """Compare every candidate signature with every secret's expected digest, in constant time.

    `expected_for(secret) -> bytes` computes the digest for one secret. All comparisons run
    even after a match so timing does not reveal which secret or position matched.
    """
    if not candidates:
        raise provider.fail(VerificationError.MISSING, "no signature of a known version")
    matched: str | None = None
    for secret in secrets:
        expected = expected_for(secret)
        for candidate in candidates:
            if hmac.compare_digest(expected, candidate) and matched is None:
                matched = secret.id
    if matched is None:
        raise provider.fail(VerificationError.BAD, "no signature matches any secret")
    return Verdict(verified=True, secret_id=matched, scheme=scheme)


# Helpers for parsing attacker-controlled header values: none of them raises.


def to_bytes(text: str) -> bytes:
    """Header text as the bytes a sender signed (UTF-8); lone surrogates pass rather than raise."""
    return text.encode("utf-8", "surrogatepass")


def encode_signature(digest: bytes, encoding: str) -> str:
    """`digest` as lower-case hex or standard padded base64."""
    if encoding == "base64":
        return base64.b64encode(digest).decode("ascii")
    return digest.hex()


def decode_signature(text: str, encoding: str) -> bytes:
    """A candidate signature's bytes; b"" (which matches no digest) when it does not decode.

    Hex is case-insensitive; base64 is the standard alphabet, padding optional.
    """
    try:
        if encoding == "base64":
            text = text.strip()
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        return bytes.fromhex(text)
    except (ValueError, binascii.Error):  # also non-ASCII text
        return b""


def parse_pairs(header: str, sep: str = ",") -> list[tuple[str, str]]:
    """`k=v<sep>k=v` as (key, value) pairs in order, keys repeated as sent; junk gives ("", x)."""
    pairs = []
    for item in header.split(sep):
        key, eq, value = item.partition("=")
        pairs.append((key.strip(), value.strip()) if eq else ("", item.strip()))
    return pairs


def json_str(data: Any, *path: str) -> str | None:
    """The string at `path` inside parsed JSON objects, or None where any step is missing."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data if isinstance(data, str) else None
