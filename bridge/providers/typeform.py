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
    title: ClassVar[str] = "Typeform"
    table: ClassVar[tuple[str, str, str, str, str]] = (
        "`Typeform-Signature` (`sha256=`)",
        "you (generated)",
        "none",
        "body `event_id`",
        "body `event_type`",
    )
    generates_secret: ClassVar[bool] = True
    signature_header: ClassVar[str] = "Typeform-Signature"
    label: ClassVar[str] = "sha256"
    encoding: ClassVar[str] = "base64"

    def identify(self, request: WebhookRequest) -> Identity:
        data = request.json()
        return Identity(json_str(data, "event_id"), json_str(data, "event_type"))

    def setup_steps(self, url: str) -> list[str]:
        return [
            "In Typeform open the form > Connect > Webhooks and choose Add a webhook.",
            f"Paste this URL as the endpoint: {url}",
            "Open the webhook's Edit settings, paste this endpoint's secret into Secret and save.",
            "Turn the webhook on and use View deliveries > Send test request to check it "
            "arrives here.",
        ]
