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
