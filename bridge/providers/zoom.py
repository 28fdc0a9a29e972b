"""Zoom (event subscriptions of a Zoom app).

- Headers: `x-zm-signature: v0=<sig>` and `x-zm-request-timestamp: <unix seconds>`.
- Signed bytes: `v0:<timestamp>:<raw body>`.
- Algorithm: HMAC-SHA256, lower-case hex; key = the app's Secret Token as UTF-8 (Zoom issues
  it). Prefix `v0=` is the version: without it there is no known signature.
- Replay window: the timestamp within `tolerance` of now, both ways (Zoom names none).
- Event id: none (the bridge uses the body's hash). Event type: the body's `"event"`
  (e.g. `meeting.started`).
- Handshake: a verified `endpoint.url_validation` event is answered with
  `{"plainToken": <payload.plainToken>, "encryptedToken": <hex HMAC-SHA256 of plainToken
  keyed with the Secret Token that verified the request>}`; Zoom repeats it every 72 hours.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bridge.providers.base import Identity, Secret, WebhookRequest
from bridge.providers.headers import json_str, to_bytes
from bridge.providers.schemes import V0Hmac, hmac_text

VALIDATION = "endpoint.url_validation"


class Zoom(V0Hmac):
    name: ClassVar[str] = "zoom"
    generates_secret: ClassVar[bool] = False
    signature_header: ClassVar[str] = "x-zm-signature"
    timestamp_header: ClassVar[str] = "x-zm-request-timestamp"

    def identify(self, request: WebhookRequest) -> Identity:
        return Identity(None, json_str(request.json(), "event"))

    def handshake(
        self, request: WebhookRequest, secret: Secret | None = None
    ) -> dict[str, Any] | None:
        data = request.json()
        if json_str(data, "event") != VALIDATION or secret is None:
            return None
        plain = json_str(data, "payload", "plainToken") or ""
        encrypted = hmac_text(secret.value, to_bytes(plain))
        return {"plainToken": plain, "encryptedToken": encrypted}
