"""Stripe.

- Header: `Stripe-Signature: t=<timestamp>,v1=<sig>[,v1=<sig>...][,v0=<sig>]`.
- Signed bytes: `<t>.<raw body>`.
- Algorithm: HMAC-SHA256, lower-case hex; the key is the whole secret (`whsec_...`,
  prefix included) as UTF-8 bytes.
- Only `v1` entries count (several during a secret roll; any one match is enough); `v0` (test
  mode legacy) and unknown keys are ignored; no `v1` at all is a missing signature.
- Replay window: `t` (Unix seconds) within `tolerance` of now, both ways.
- Event id: the body's JSON `"id"` (`evt_...`). Event type: the body's JSON `"type"`.
- Stripe issues the secret (Dashboard: "Signing secret"), so the bridge never generates one.
"""

from __future__ import annotations

from typing import ClassVar

from bridge.providers.base import Identity, WebhookRequest
from bridge.providers.headers import json_str
from bridge.providers.schemes import PairsHmac


class Stripe(PairsHmac):
    name: ClassVar[str] = "stripe"
    generates_secret: ClassVar[bool] = False
    signature_header: ClassVar[str] = "Stripe-Signature"
    # Customers, charges, payment intents and checkout sessions carry these under data.object.
    mask_defaults: ClassVar[tuple[str, ...]] = (
        "data.object.email",
        "data.object.customer_email",
        "data.object.receipt_email",
        "data.object.phone",
        "data.object.address",
        "data.object.shipping",
        "data.object.billing_details",
        "data.object.customer_details",
    )

    def identify(self, request: WebhookRequest) -> Identity:
        data = request.json()
        return Identity(json_str(data, "id"), json_str(data, "type"))
