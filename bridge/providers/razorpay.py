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
from typing import ClassVar

from bridge.providers.base import Identity, WebhookRequest
from bridge.providers.headers import json_str
from bridge.providers.schemes import BodyHmac


class Razorpay(BodyHmac):
    name: ClassVar[str] = "razorpay"
    generates_secret: ClassVar[bool] = True
    signature_header: ClassVar[str] = "X-Razorpay-Signature"

    def identify(self, request: WebhookRequest) -> Identity:
        return Identity(request.header("x-razorpay-event-id"), json_str(request.json(), "event"))

    def sent_with(
        self, *, now: float, event_id: str | None, event_type: str | None
    ) -> dict[str, str]:
        return {"X-Razorpay-Event-Id": event_id or _random.token_urlsafe(10)}
