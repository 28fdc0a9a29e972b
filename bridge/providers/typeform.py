"""Typeform.

- Header: `Typeform-Signature: sha256=<sig>` (one signature).
- Signed bytes: the raw body.
- Algorithm: HMAC-SHA256, standard base64; key = the webhook's secret as UTF-8 (you choose it
  in the webhook settings or through the Webhooks API). Prefix `sha256=` is required.
- Replay window: none (Typeform signs no timestamp); dedup by the event id stops replays.
- Event id: the body's `"event_id"`. Event type: the body's `"event_type"`
  (`form_response`).
"""

from __future__ import annotations

from typing import ClassVar

from bridge.providers.base import Identity, WebhookRequest
from bridge.providers.headers import json_str
from bridge.providers.schemes import BodyHmac


class Typeform(BodyHmac):
    name: ClassVar[str] = "typeform"
    generates_secret: ClassVar[bool] = True
    signature_header: ClassVar[str] = "Typeform-Signature"
    label: ClassVar[str] = "sha256"
    encoding: ClassVar[str] = "base64"

    def identify(self, request: WebhookRequest) -> Identity:
        data = request.json()
        return Identity(json_str(data, "event_id"), json_str(data, "event_type"))
