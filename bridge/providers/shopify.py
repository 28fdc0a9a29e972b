"""Shopify.

- Header: `X-Shopify-Hmac-Sha256: <sig>` (no prefix, one signature).
- Signed bytes: the raw body.
- Algorithm: HMAC-SHA256, standard base64; key = the app's client secret (or the shop's webhook
  signing key for admin-created webhooks) as UTF-8. Shopify issues it.
- Replay window: none; dedup by the webhook id stops replays.
- Event id: `X-Shopify-Webhook-Id` (falling back to `X-Shopify-Event-Id`).
  Event type: the `X-Shopify-Topic` header (e.g. `orders/create`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

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
    to_bytes,
)


class Shopify(Provider):
    name: ClassVar[str] = "shopify"
    title: ClassVar[str] = "Shopify"
    table: ClassVar[tuple[str, str, str, str, str]] = (
        "`X-Shopify-Hmac-Sha256`",
        "Shopify (client secret)",
        "none",
        "`X-Shopify-Webhook-Id`",
        "`X-Shopify-Topic`",
    )
    generates_secret: ClassVar[bool] = False

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        header = self.require(request, "x-shopify-hmac-sha256")
        body = request.body
        return first_match(
            self,
            secrets,
            [decode_signature(header, "base64")],
            lambda s: hmac_digest(to_bytes(s.value), body),
            "sha256",
        )

    def identify(self, request: WebhookRequest) -> Identity:
        event_id = request.header("x-shopify-webhook-id") or request.header("x-shopify-event-id")
        return Identity(event_id or None, request.header("x-shopify-topic") or None)

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
        digest = hmac_digest(to_bytes(secret), body)
        return {
            "X-Shopify-Hmac-Sha256": encode_signature(digest, "base64"),
            "X-Shopify-Topic": event_type or "orders/create",
            "X-Shopify-Webhook-Id": event_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": datetime.fromtimestamp(now, UTC).isoformat(),
        }

    def setup_steps(self, url: str) -> list[str]:
        return [
            "In the Shopify admin open Settings > Notifications > Webhooks and choose "
            "Create webhook (apps: add a subscription in shopify.app.toml or via the API).",
            "Pick the event (topic) and the JSON format.",
            f"Paste this URL as the webhook URL: {url}",
            "Copy the signing key shown under the webhooks list (apps: the app's client "
            "secret) and give it to this bridge endpoint as its secret.",
            "Use Send test notification to check deliveries arrive.",
        ]
