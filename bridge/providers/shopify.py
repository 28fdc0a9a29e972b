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
from datetime import UTC, datetime
from typing import ClassVar

from bridge.providers.base import Identity, WebhookRequest
from bridge.providers.schemes import BodyHmac


class Shopify(BodyHmac):
    name: ClassVar[str] = "shopify"
    generates_secret: ClassVar[bool] = False
    signature_header: ClassVar[str] = "X-Shopify-Hmac-Sha256"
    # Orders and customers: the buyer's contact details and every address they carry.
    mask_defaults: ClassVar[tuple[str, ...]] = (
        "email",
        "contact_email",
        "phone",
        "customer.email",
        "customer.phone",
        "customer.first_name",
        "customer.last_name",
        "customer.default_address",
        "customer.addresses",
        "billing_address",
        "shipping_address",
        "addresses",
        "default_address",
    )
    encoding: ClassVar[str] = "base64"

    def identify(self, request: WebhookRequest) -> Identity:
        event_id = request.header("x-shopify-webhook-id") or request.header("x-shopify-event-id")
        return Identity(event_id or None, request.header("x-shopify-topic") or None)

    def sent_with(
        self, *, now: float, event_id: str | None, event_type: str | None
    ) -> dict[str, str]:
        return {
            "X-Shopify-Topic": event_type or "orders/create",
            "X-Shopify-Webhook-Id": event_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": datetime.fromtimestamp(now, UTC).isoformat(),
        }
