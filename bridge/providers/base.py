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
import math
import re
import secrets as _random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from bridge import jsontext, masking
from bridge.errors import InvalidInput, VerificationError


@dataclass(frozen=True)
class SignRequest:
    """What `sign` is asked to sign, in one argument: provider modules implement
    `headers_for(req)` rather than repeating `sign`'s keyword list each."""

    body: bytes
    secret: str
    now: float
    event_id: str | None = None
    event_type: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


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
            return jsontext.loads(self.body)
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


# Options every endpoint takes: the replay window of timestamped schemes, the exact URL
# the provider calls (URL-signing schemes such as Twilio sign it; behind a proxy that rewrites
# paths, the URL the bridge sees is not the one registered), and the JSON paths to mask.
COMMON_OPTIONS: Mapping[str, type] = {"tolerance": int, "public_url": str, "mask": list}
MAX_TOLERANCE = 86400


class Provider(ABC):
    name: ClassVar[str]
    # docs/providers.md: the section title, and the summary table's cells after the name
    # (signature header, who picks the secret, timestamp window, event id, event type).
    title: ClassVar[str] = ""
    # The endpoint's "secret" is the provider's public key (it signs with its private key).
    public_key: ClassVar[bool] = False
    table: ClassVar[tuple[str, str, str, str, str]] = ("", "", "", "", "")
    # True where the receiver picks the secret (the bridge generates one if none is given);
    # False where the provider issues it (Stripe, Slack, Shopify): then it is required.
    generates_secret: ClassVar[bool] = True
    # False only where verification uses no secret at all (`none`).
    requires_secret: ClassVar[bool] = True
    # Where the secret is a key that check_secret parses: the OpenAPI `format` naming it.
    key_format: ClassVar[str] = ""
    # Endpoint options this provider accepts beyond the common ones, with their types.
    option_types: ClassVar[Mapping[str, type]] = {}
    # What the signature covers, for the debugger: `{body}` is the raw body, `{name}` a
    # header's value (or a field of the signature header, as Stripe's `t`).
    signed_template: ClassVar[str] = "{body}"
    # The `mask` paths proposed for this provider's payloads (personal data it is known to
    # carry); proposed on the endpoint page, applied only when the endpoint sets them.
    mask_defaults: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        """Return the verdict, or raise VerificationError(self.name, reason, detail)."""

    @abstractmethod
    def identify(self, request: WebhookRequest) -> Identity:
        """Take the provider's event id and type from a verified request."""

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
        return self.headers_for(SignRequest(body, secret, now, event_id, event_type, options or {}))

    @abstractmethod
    def headers_for(self, req: SignRequest) -> dict[str, str]:
        """What `sign` returns; each provider implements this one."""

    @abstractmethod
    def setup_steps(self, url: str) -> list[str]:
        """Plain-text steps for registering `url` on the provider's side."""

    def handshake(
        self, request: WebhookRequest, secret: Secret | None = None
    ) -> dict[str, Any] | None:
        """A JSON answer for a verified provider handshake, or None for a normal event.

        `secret` is the one that verified the request: Zoom's answer is an HMAC made with it.
        An empty dict means "answer 200 with an empty body" (Xero's intent-to-receive).
        """
        return None

    def acknowledge(self, request: WebhookRequest) -> dict[str, Any] | None:
        """The JSON answer a stored event must get instead of the bridge's own 202, or None.

        For senders that read the answer (Discord waits 3 s for an interaction response).
        """
        return None

    def sign_body(
        self,
        body: bytes,
        secret: str,
        *,
        now: float,
        event_id: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The body as this provider would send it; call before `sign`.

        Only schemes that carry signed fields inside the body change it: Mailgun puts its
        signature there, Linear its `webhookTimestamp`. Every other provider returns `body`.
        """
        return body

    def new_secret(self) -> str:
        return _random.token_urlsafe(32)

    def check_secret(self, secret: str) -> None:
        """Refuse, with InvalidInput("secret", ...), a secret that can never verify."""
        return

    def validate_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Check endpoint options when the endpoint is created; raise InvalidInput naming one."""
        clean: dict[str, Any] = {}
        allowed = {**COMMON_OPTIONS, **self.option_types}
        for key, value in options.items():
            expected = allowed.get(key)
            if expected is None:
                raise InvalidInput(f"options.{key}", f"not an option of provider {self.name}")
            if not isinstance(value, expected) or isinstance(value, bool) is not (expected is bool):
                raise InvalidInput(f"options.{key}", f"must be {expected.__name__}")
            clean[key] = value
        tolerance = clean.get("tolerance")
        if tolerance is not None and not 1 <= tolerance <= MAX_TOLERANCE:
            raise InvalidInput(
                "options.tolerance", f"must be between 1 and {MAX_TOLERANCE} seconds"
            )
        if "mask" in clean:
            clean["mask"] = masking.validate(clean["mask"])
        public_url = clean.get("public_url")
        if public_url is not None:
            parts = urlsplit(public_url)
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query:
                raise InvalidInput("options.public_url", "must be an http(s) URL without a query")
        return clean

    # Helpers shared by the HMAC schemes.

    def fail(self, reason: str, detail: str = "") -> VerificationError:
        return VerificationError(self.name, reason, detail)

    def require(self, request: WebhookRequest, name: str) -> str:
        value = request.header(name)
        if not value:
            raise self.fail(VerificationError.MISSING, f"header {name} is missing")
        return value

    def check_timestamp(
        self, request: WebhookRequest, raw: str, tolerance: int | None = None
    ) -> int:
        """Parse Unix seconds and check them against now, within `tolerance` (default the
        request's) both ways."""
        # int() alone would also take "+1", "1_0", fullwidth or Arabic-Indic digits and any
        # Unicode space: a provider sends ASCII digits, and anything else is not its header.
        text = raw.strip(OWS)
        if not UNIX_SECONDS.fullmatch(text):
            raise self.fail(VerificationError.BAD, "timestamp is not a whole number")
        ts = int(text)
        self.check_skew(request, ts, request.tolerance if tolerance is None else tolerance)
        return ts

    def check_skew(self, request: WebhookRequest, seconds: float, tolerance: float) -> None:
        """Raise stale_timestamp when `seconds` (Unix time) is over `tolerance` from now."""
        try:
            skew = request.now - float(seconds)
        except OverflowError:
            skew = math.inf
        if math.isnan(skew):
            raise self.fail(VerificationError.BAD, "timestamp is not a number")
        if math.isinf(skew):
            raise self.fail(VerificationError.STALE, "timestamp out of range")
        if abs(skew) > tolerance:
            direction = "old" if skew > 0 else "in the future"
            raise self.fail(VerificationError.STALE, f"timestamp {abs(int(skew))} s {direction}")


@dataclass(frozen=True)
class Work:
    """What one verification signed, for the signature debugger: the message, each live
    secret's signature of it (as the sender writes it), and the signatures received."""

    message: bytes
    expected: Mapping[str, str]
    received: tuple[str, ...]


# Set only while the debugger re-runs a rejected verification: the live path records nothing.
_WORK: ContextVar[list[Work] | None] = ContextVar("bridge_verification_work", default=None)


@contextmanager
def recording_work() -> Iterator[list[Work]]:
    """Collect the `Work` of the verifications run inside (the debugger's `with`)."""
    shown: list[Work] = []
    token = _WORK.set(shown)
    try:
        yield shown
    finally:
        _WORK.reset(token)


def show_work(
    message: bytes,
    received: Iterable[str],
    secrets: Sequence[Secret],
    expected_for: Callable[[Secret], str] | None,
) -> None:
    """Record a verification's work when the debugger asks; `expected_for` is None where a
    signature cannot be recomputed (a public key verifies, only the sender can sign)."""
    shown = _WORK.get()
    if shown is not None:
        expected = {s.id: expected_for(s) for s in secrets} if expected_for else {}
        shown.append(Work(message, expected, tuple(received)))


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


def first_valid(
    provider: Provider,
    secrets: Sequence[Secret],
    candidates: Sequence[bytes],
    accepts: Callable[[Secret, bytes], bool],
    scheme: str,
) -> Verdict:
    """Like `first_match`, where a digest cannot simply be recomputed and compared.

    `accepts(secret, candidate)` checks one candidate: a public-key signature (Ed25519, ECDSA)
    or a set of digests compared in constant time (Twilio's URL variants). It must not raise.
    Every pair is checked, even after a match.
    """
    if not candidates:
        raise provider.fail(VerificationError.MISSING, "no signature of a known version")
    matched: str | None = None
    for secret in secrets:
        for candidate in candidates:
            if accepts(secret, candidate) and matched is None:
                matched = secret.id
    if matched is None:
        raise provider.fail(VerificationError.BAD, "no signature matches any secret")
    return Verdict(verified=True, secret_id=matched, scheme=scheme)


def any_digest(expected: Sequence[bytes], candidate: bytes) -> bool:
    """True when `candidate` equals any of `expected`; compares with every one of them."""
    found = False
    for digest in expected:
        found |= hmac.compare_digest(digest, candidate)
    return found


# Helpers for parsing attacker-controlled header values: none of them raises.


def to_bytes(text: str) -> bytes:
    """Header text as the bytes a sender signed (UTF-8); lone surrogates pass rather than raise."""
    return text.encode("utf-8", "surrogatepass")


def encode_signature(digest: bytes, encoding: str) -> str:
    """`digest` as lower-case hex or standard padded base64."""
    if encoding == "base64":
        return base64.b64encode(digest).decode("ascii")
    return digest.hex()


# HTTP's optional whitespace (RFC 9110 5.6.3): the only whitespace a signature header may
# carry around its parts. str.strip() and bytes.fromhex() would also skip NEL, NBSP, the
# C0 separators or a newline inside a digest, which no sender writes and no spec allows.
OWS = " \t"
# Unix seconds as providers write them: ASCII digits, at most 19 (an int64).
UNIX_SECONDS = re.compile(r"[0-9]{1,19}")
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def decode_signature(text: str, encoding: str) -> bytes:
    """A candidate signature's bytes; b"" (which matches no digest) when it does not decode.

    Surrounding OWS (space, tab) is ignored; hex is case-insensitive, digits only; base64
    is the standard alphabet, padding optional.
    """
    text = text.strip(OWS)
    try:
        if encoding == "base64":
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        if not HEX_DIGITS.issuperset(text):
            return b""
        return bytes.fromhex(text)
    except (ValueError, binascii.Error):  # also non-ASCII text
        return b""


def decode_key(text: str, encoding: str) -> bytes:
    """A key pasted by a user (hex or base64) as bytes, b"" when it does not decode; unlike a
    received signature, any surrounding whitespace (a copied newline) is ignored."""
    return decode_signature(text.strip(), encoding)


def parse_pairs(header: str, sep: str = ",") -> list[tuple[str, str]]:
    """`k=v<sep>k=v` as (key, value) pairs in order, keys repeated as sent; junk gives ("", x)."""
    pairs = []
    for item in header.split(sep):
        key, eq, value = item.partition("=")
        pairs.append((key.strip(OWS), value.strip(OWS)) if eq else ("", item.strip(OWS)))
    return pairs


def json_value(data: Any, *path: str) -> Any:
    """The value at `path` inside parsed JSON objects, or None where any step is missing."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def json_str(data: Any, *path: str) -> str | None:
    """The string at `path` inside parsed JSON objects, or None where any step is missing."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data if isinstance(data, str) else None
