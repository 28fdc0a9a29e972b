"""Standard Webhooks (also Svix, Clerk, Resend and other Svix-based senders).

- Headers: `webhook-id`, `webhook-timestamp`, `webhook-signature`; Svix-branded senders use
  `svix-id`, `svix-timestamp`, `svix-signature` instead (taken when `webhook-signature` is absent).
- Signed bytes: `<id>.<timestamp>.<raw body>`.
- Algorithm: HMAC-SHA256, base64 encoded; the key is the secret without its `whsec_` prefix,
  base64-decoded (the secret is accepted with or without the prefix).
- Signature header: a space-separated list of `<version>,<signature>` entries; only `v1` is
  checked (`v1a` Ed25519, `v2` and others are skipped); any one match is enough.
- Replay window: the timestamp (Unix seconds) must be within `tolerance` of now, both ways.
- Event id: the `webhook-id` header. Event type: the body's JSON `"type"`.
"""

from __future__ import annotations

import base64
import secrets as _random
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bridge.errors import InvalidInput
from bridge.providers.base import (
    Identity,
    Provider,
    Secret,
    Verdict,
    WebhookRequest,
    decode_signature,
    encode_signature,
    first_match,
    hmac_digest,
    json_str,
    to_bytes,
)

PREFIX = "whsec_"


def signing_key(secret: str) -> bytes:
    """The HMAC key: the base64-decoded secret; a secret that is not base64 is used as UTF-8."""
    raw = secret.removeprefix(PREFIX)
    return decode_signature(raw, "base64") or to_bytes(secret)


class StandardWebhooks(Provider):
    name: ClassVar[str] = "standard"
    generates_secret: ClassVar[bool] = True

    @staticmethod
    def _headers(request: WebhookRequest) -> str:
        return "webhook-" if request.header("webhook-signature") is not None else "svix-"

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        h = self._headers(request)
        header = self.require(request, h + "signature")
        msg_id = self.require(request, h + "id")
        raw_ts = self.require(request, h + "timestamp")
        candidates = [
            decode_signature(sig, "base64")
            for version, _, sig in (entry.partition(",") for entry in header.split())
            if version == "v1"
        ]
        if not candidates:
            raise self.fail("missing_signature", "no v1 signature")
        self.check_timestamp(request, raw_ts)
        signed = to_bytes(f"{msg_id}.{raw_ts}.") + request.body
        return first_match(
            self, secrets, candidates, lambda s: hmac_digest(signing_key(s.value), signed), "v1"
        )

    def identify(self, request: WebhookRequest) -> Identity:
        event_id = request.header("webhook-id") or request.header("svix-id")
        return Identity(event_id or None, json_str(request.json(), "type"))

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
        msg_id = event_id or "msg_" + _random.token_hex(12)
        ts = str(int(now))
        digest = hmac_digest(signing_key(secret), to_bytes(f"{msg_id}.{ts}.") + body)
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": ts,
            "webhook-signature": "v1," + encode_signature(digest, "base64"),
        }

    def setup_steps(self, url: str) -> list[str]:
        return [
            "In the sender's dashboard (Svix app portal, Clerk, Resend, ...) open Webhooks "
            "and choose Add Endpoint.",
            f"Paste this URL as the endpoint URL: {url}",
            "Subscribe to the event types you want delivered.",
            "Copy the endpoint's signing secret (it starts with whsec_) and add it to this "
            "bridge endpoint; where the sender lets you choose a secret, use this endpoint's.",
            "Send a test event from the dashboard and check it arrives here.",
        ]

    def check_secret(self, secret: str) -> None:
        if not decode_signature(secret.removeprefix(PREFIX), "base64"):
            raise InvalidInput(
                "secret", "expected whsec_ followed by base64, as the sender shows it"
            )

    def new_secret(self) -> str:
        return PREFIX + base64.b64encode(_random.token_bytes(24)).decode("ascii")
