"""The signature schemes several providers share, each written once.

A provider module picks its scheme by subclassing one of these classes and naming its headers
(and, where they differ, algorithm, encoding, label, keys) in class attributes; it keeps what
is its own: the docstring docs/providers.md shows, `identify` and handshakes (its title, table
row and setup steps are in guides.py). Signatures are checked through `first_match`, so in
constant time, and only `VerificationError` is raised. The key is always the secret as UTF-8.

- `BodyHmac`: HMAC of the raw body in one header, bare or as `<label>=<signature>` (Razorpay,
  Shopify, Xero, Typeform, Lemon Squeezy, Intercom, Linear).
- `V0Hmac`: `v0=<hex>` over `v0:<timestamp>:<raw body>`, the timestamp in a header of its own
  (Slack, Zoom).
- `PairsHmac`: `t=<timestamp>,v1=<hex>,...` in one header over `<t>.<raw body>`, keys and
  separators configurable (Stripe, Calendly, Paddle).

Providers with a scheme of their own (GitHub, Square, Mailgun, generic `hmac`) use the
functions `hmac_match`, `hmac_text` and `labelled` directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from bridge.errors import VerificationError
from bridge.providers.base import Provider, Secret, SignRequest, Verdict, WebhookRequest
from bridge.providers.headers import OWS, decode_signature, encode_signature, parse_pairs, to_bytes
from bridge.providers.matching import first_match, hmac_digest
from bridge.providers.work import show_work


def hmac_text(secret: str, message: bytes, algorithm: str = "sha256", encoding: str = "hex") -> str:
    """The signature of `message` keyed with `secret` (UTF-8), as the sender writes it."""
    return encode_signature(hmac_digest(to_bytes(secret), message, algorithm), encoding)


def hmac_match(
    provider: Provider,
    secrets: Sequence[Secret],
    signatures: Iterable[str],
    message: bytes,
    *,
    algorithm: str = "sha256",
    encoding: str = "hex",
    scheme: str | None = None,
) -> Verdict:
    """Accept when any of `signatures` (text as received) is the HMAC of `message` keyed with
    any secret (UTF-8); `scheme` defaults to the algorithm's name. See `first_match`."""
    signatures = list(signatures)
    show_work(
        message,
        signatures,
        secrets,
        lambda s: hmac_text(s.value, message, algorithm, encoding),
    )
    candidates = [decode_signature(text, encoding) for text in signatures]
    return first_match(
        provider,
        secrets,
        candidates,
        lambda s: hmac_digest(to_bytes(s.value), message, algorithm),
        scheme or algorithm,
    )


def labelled(provider: Provider, value: str, label: str) -> str:
    """The signature in `<label>=<signature>`; without `=`, or with another label (spaces
    around it allowed), there is no signature of a known kind."""
    kind, eq, signature = value.partition("=")
    if not eq or kind.strip(OWS) != label:
        raise provider.fail(VerificationError.MISSING, f"no {label}= signature")
    return signature


class BodyHmac(Provider):
    """One signature of the raw body in `signature_header`: bare, or `<label>=<signature>`
    where `label` is set (then required). `sign` adds the headers of `sent_with`."""

    signature_header: ClassVar[str]
    label: ClassVar[str] = ""
    algorithm: ClassVar[str] = "sha256"
    encoding: ClassVar[str] = "hex"

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        signature = self.require(request, self.signature_header.lower())
        if self.label:
            signature = labelled(self, signature, self.label)
        return hmac_match(
            self,
            secrets,
            [signature],
            request.body,
            algorithm=self.algorithm,
            encoding=self.encoding,
        )

    def headers_for(self, req: SignRequest) -> dict[str, str]:
        signature = hmac_text(req.secret, req.body, self.algorithm, self.encoding)
        label = f"{self.label}=" if self.label else ""
        extra = self.sent_with(now=req.now, event_id=req.event_id, event_type=req.event_type)
        return {self.signature_header: label + signature, **extra}

    def sent_with(
        self, *, now: float, event_id: str | None, event_type: str | None
    ) -> dict[str, str]:
        """The headers the provider sends beside the signature (event id, type...)."""
        return {}


class V0Hmac(Provider):
    """`<signature_header>: v0=<hex>` over `v0:<timestamp>:<raw body>`, HMAC-SHA256, with the
    Unix-seconds timestamp in `timestamp_header` within `tolerance` of now, both ways."""

    signature_header: ClassVar[str]
    timestamp_header: ClassVar[str]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if hasattr(cls, "timestamp_header"):
            cls.signed_template = f"v0:{{{cls.timestamp_header.lower()}}}:{{body}}"

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        header = self.require(request, self.signature_header.lower())
        raw_ts = self.require(request, self.timestamp_header.lower())
        signature = labelled(self, header, "v0")
        self.check_timestamp(request, raw_ts)
        message = to_bytes(f"v0:{raw_ts}:") + request.body
        return hmac_match(self, secrets, [signature], message, scheme="v0")

    def headers_for(self, req: SignRequest) -> dict[str, str]:
        ts = str(int(req.now))
        signature = hmac_text(req.secret, to_bytes(f"v0:{ts}:") + req.body)
        return {self.timestamp_header: ts, self.signature_header: "v0=" + signature}


class PairsHmac(Provider):
    """`<signature_header>: t=<timestamp>,v1=<hex>[,v1=<hex>...]` over `<t>.<raw body>`,
    HMAC-SHA256; the keys, the separator (`,`) and the joiner (`.`) are class attributes.

    Only `signature_key` entries count (any one match is enough), none is a missing signature;
    no `timestamp_key` entry is a bad one; the timestamp must be within `tolerance` of now.
    """

    signature_header: ClassVar[str]
    separator: ClassVar[str] = ","
    timestamp_key: ClassVar[str] = "t"
    signature_key: ClassVar[str] = "v1"
    joiner: ClassVar[str] = "."

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.signed_template = f"{{{cls.timestamp_key}}}{cls.joiner}{{body}}"

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        pairs = parse_pairs(self.require(request, self.signature_header.lower()), self.separator)
        signatures = [value for key, value in pairs if key == self.signature_key]
        if not signatures:
            raise self.fail(VerificationError.MISSING, f"no {self.signature_key} signature")
        raw_ts = next((value for key, value in pairs if key == self.timestamp_key), None)
        if raw_ts is None:
            raise self.fail(VerificationError.BAD, f"no {self.timestamp_key}= timestamp")
        self.check_timestamp(request, raw_ts)
        message = to_bytes(raw_ts + self.joiner) + request.body
        return hmac_match(self, secrets, signatures, message, scheme=self.signature_key)

    def headers_for(self, req: SignRequest) -> dict[str, str]:
        ts = str(int(req.now))
        signature = hmac_text(req.secret, to_bytes(ts + self.joiner) + req.body)
        pairs = f"{self.timestamp_key}={ts}{self.separator}{self.signature_key}={signature}"
        return {self.signature_header: pairs}
