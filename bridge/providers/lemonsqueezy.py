"""Lemon Squeezy.

- Header: `X-Signature: <sig>` (no prefix, one signature).
- Signed bytes: the raw body.
- Algorithm: HMAC-SHA256, lower-case hex; key = the webhook's signing secret as UTF-8 (you
  choose it, 6 to 40 characters; the bridge generates 32).
- Replay window: none (Lemon Squeezy signs no timestamp).
- Event id: none documented (the bridge uses the body's hash, so an identical redelivery is
  a duplicate). Event type: the `X-Event-Name` header, falling back to the body's
  `"meta.event_name"` (e.g. `order_created`).
"""

from __future__ import annotations

import secrets as _random
from typing import ClassVar

from bridge.providers.base import Identity, WebhookRequest
from bridge.providers.headers import json_str
from bridge.providers.schemes import BodyHmac


class LemonSqueezy(BodyHmac):
    name: ClassVar[str] = "lemonsqueezy"
    generates_secret: ClassVar[bool] = True
    signature_header: ClassVar[str] = "X-Signature"

    def identify(self, request: WebhookRequest) -> Identity:
        kind = request.header("x-event-name") or json_str(request.json(), "meta", "event_name")
        return Identity(None, kind or None)

    def new_secret(self) -> str:
        return _random.token_urlsafe(24)  # 32 characters: Lemon Squeezy allows 6 to 40

    def sent_with(
        self, *, now: float, event_id: str | None, event_type: str | None
    ) -> dict[str, str]:
        return {"X-Event-Name": event_type or "order_created"}
