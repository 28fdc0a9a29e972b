"""Razorpay.

- Header: `X-Razorpay-Signature: <sig>` (no prefix, one signature).
- Signed bytes: the raw body (the SDK's fixture ends in a newline: never strip it).
- Algorithm: HMAC-SHA256, lower-case hex; key = the webhook secret as UTF-8 (the receiver
  chooses it in the Razorpay Dashboard).
- Replay window: none; dedup by the event id stops replays. Razorpay retries with the old
  secret for up to 24 h after a change, so keep the old secret for a grace period.
- Event id: the `x-razorpay-event-id` header. Event type: the body's JSON `"event"`.
"""

from __future__ import annotations

import secrets as _random
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bridge.providers.base import (
    Identity,
    Provider,
    Secret,
    Verdict,
    WebhookRequest,
    decode_signature,
    first_match,
    hmac_digest,
    json_str,
    to_bytes,
)


class Razorpay(Provider):
    name: ClassVar[str] = "razorpay"
    title: ClassVar[str] = "Razorpay"
    table: ClassVar[tuple[str, str, str, str, str]] = (
        "`X-Razorpay-Signature`",
        "you (generated)",
        "none",
        "`x-razorpay-event-id`",
        "body `event`",
    )
    generates_secret: ClassVar[bool] = True

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        candidate = decode_signature(self.require(request, "x-razorpay-signature").strip(), "hex")
        body = request.body
        return first_match(
            self, secrets, [candidate], lambda s: hmac_digest(to_bytes(s.value), body), "sha256"
        )

    def identify(self, request: WebhookRequest) -> Identity:
        return Identity(request.header("x-razorpay-event-id"), json_str(request.json(), "event"))

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
        return {
            "X-Razorpay-Signature": hmac_digest(to_bytes(secret), body).hex(),
            "X-Razorpay-Event-Id": event_id or _random.token_urlsafe(10),
        }

    def setup_steps(self, url: str) -> list[str]:
        return [
            "In the Razorpay Dashboard open Account & Settings > Webhooks and choose "
            "Add New Webhook.",
            f"Paste this URL as the Webhook URL: {url}",
            "Paste this endpoint's secret into the Secret field.",
            "Select the active events and create the webhook.",
            "When you change the secret, add the new one here first and keep the old one for "
            "24 h: Razorpay retries old events with the old secret.",
        ]
