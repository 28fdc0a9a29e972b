"""Xero.

- Header: `x-xero-signature: <sig>` (no prefix, one signature).
- Signed bytes: the raw body.
- Algorithm: HMAC-SHA256, standard base64; key = the app's webhooks key as-is, UTF-8 (Xero
  issues it).
- Replay window: none (Xero signs no timestamp).
- Intent to receive: when the webhook is saved Xero sends correctly and incorrectly signed
  requests whose body has `"events": []`; the bridge answers the good one 200 with an empty
  body (the handshake `{}`), and every bad one 401, as every bad signature is.
- Event id: none per delivery (a batch of events), so the bridge uses the body's hash. Event
  type: each event's `<eventCategory>.<eventType>`, lower-case (`invoice.update`); a batch of
  several kinds gives them sorted and comma-separated.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bridge.providers.base import Identity, Secret, WebhookRequest
from bridge.providers.headers import json_str, json_value
from bridge.providers.schemes import BodyHmac


class Xero(BodyHmac):
    name: ClassVar[str] = "xero"
    title: ClassVar[str] = "Xero"
    table: ClassVar[tuple[str, str, str, str, str]] = (
        "`x-xero-signature`",
        "Xero (webhooks key)",
        "none",
        "hash of the body",
        "events' `eventCategory.eventType`",
    )
    generates_secret: ClassVar[bool] = False
    signature_header: ClassVar[str] = "x-xero-signature"
    encoding: ClassVar[str] = "base64"

    def identify(self, request: WebhookRequest) -> Identity:
        events = json_value(request.json(), "events")
        kinds = {
            f"{json_str(e, 'eventCategory')}.{json_str(e, 'eventType')}".lower()
            for e in (events if isinstance(events, list) else [])
            if json_str(e, "eventCategory") and json_str(e, "eventType")
        }
        return Identity(None, ",".join(sorted(kinds)) or None)

    def handshake(
        self, request: WebhookRequest, secret: Secret | None = None
    ) -> dict[str, Any] | None:
        data = request.json()
        if isinstance(data, dict) and "events" in data and data["events"] in ([], None):
            return {}
        return None

    def setup_steps(self, url: str) -> list[str]:
        return [
            "In the Xero developer portal open My Apps > your app > Webhooks.",
            f"Paste this URL as the Delivery URL and choose the event categories: {url}",
            "Save, copy the Webhooks key and give it to this bridge endpoint as its secret; "
            "Xero issues it.",
            "Press Send 'Intent To Receive': the bridge answers it, and the status turns OK.",
        ]
