"""Intercom.

- Header: `X-Hub-Signature: sha1=<sig>` (one signature).
- Signed bytes: the raw body.
- Algorithm: HMAC-SHA1, lower-case hex; key = the app's client secret as UTF-8 (Developer
  Hub > your app > Basic information; Intercom issues it). Prefix `sha1=` is required.
- Replay window: none (Intercom signs no timestamp); dedup by the notification id stops
  replays.
- Event id: the body's `"id"` (`notif_...`). Event type: the body's `"topic"`
  (e.g. `conversation.user.created`; `ping` when the webhook is set up).
"""

from __future__ import annotations

from typing import ClassVar

from bridge.providers.base import Identity, WebhookRequest
from bridge.providers.headers import json_str
from bridge.providers.schemes import BodyHmac


class Intercom(BodyHmac):
    name: ClassVar[str] = "intercom"
    generates_secret: ClassVar[bool] = False
    signature_header: ClassVar[str] = "X-Hub-Signature"
    label: ClassVar[str] = "sha1"
    algorithm: ClassVar[str] = "sha1"

    def identify(self, request: WebhookRequest) -> Identity:
        data = request.json()
        return Identity(json_str(data, "id"), json_str(data, "topic"))
