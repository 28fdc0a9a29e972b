"""Paddle Billing.

- Header: `Paddle-Signature: ts=<timestamp>;h1=<sig>[;h1=<sig>...]`.
- Signed bytes: `<ts>:<raw body>`.
- Algorithm: HMAC-SHA256, lower-case hex; key = the notification destination's secret key
  (`pdl_ntfset_...`) as-is, UTF-8. Paddle issues it.
- Several `h1` entries (during a secret rotation) are accepted when any one matches; unknown
  keys are ignored; no `h1` at all is a missing signature.
- Replay window: `ts` within `tolerance` of now, both ways. Paddle's SDK defaults to 5 s,
  which rejects deliveries that waited in a queue; the bridge uses the endpoint's tolerance
  (default 300 s).
- Event id: the body's `"notification_id"` (the same on every retry of one notification),
  falling back to `"event_id"`. Event type: the body's `"event_type"`
  (e.g. `subscription.created`).
"""

from __future__ import annotations

from typing import ClassVar

from bridge.providers.base import Identity, WebhookRequest
from bridge.providers.headers import json_str
from bridge.providers.schemes import PairsHmac


class Paddle(PairsHmac):
    name: ClassVar[str] = "paddle"
    generates_secret: ClassVar[bool] = False
    signature_header: ClassVar[str] = "Paddle-Signature"
    separator: ClassVar[str] = ";"
    timestamp_key: ClassVar[str] = "ts"
    signature_key: ClassVar[str] = "h1"
    joiner: ClassVar[str] = ":"

    def identify(self, request: WebhookRequest) -> Identity:
        data = request.json()
        event_id = json_str(data, "notification_id") or json_str(data, "event_id")
        return Identity(event_id, json_str(data, "event_type"))
