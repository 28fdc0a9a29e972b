"""Calendly (webhook subscriptions, API v2).

- Header: `Calendly-Webhook-Signature: t=<timestamp>,v1=<sig>`.
- Signed bytes: `<t>.<raw body>`.
- Algorithm: HMAC-SHA256, lower-case hex; key = the subscription's signing key as UTF-8 (you
  choose it: the `signing_key` field when creating the subscription through the API).
- Only `v1` entries count (any one match is enough); no `v1` is a missing signature.
- Replay window: `t` within `tolerance` of now, both ways (Calendly's sample uses 3 min).
- Event id: none (the bridge uses the body's hash). Event type: the body's `"event"`
  (e.g. `invitee.created`).
"""

from __future__ import annotations

from typing import ClassVar

from bridge.providers.base import Identity, WebhookRequest
from bridge.providers.headers import json_str
from bridge.providers.schemes import PairsHmac


class Calendly(PairsHmac):
    name: ClassVar[str] = "calendly"
    generates_secret: ClassVar[bool] = True
    signature_header: ClassVar[str] = "Calendly-Webhook-Signature"

    def identify(self, request: WebhookRequest) -> Identity:
        return Identity(None, json_str(request.json(), "event"))
