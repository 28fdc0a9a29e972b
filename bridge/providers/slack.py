"""Slack (Events API, slash commands, interactivity).

- Headers: `X-Slack-Signature: v0=<sig>` and `X-Slack-Request-Timestamp: <unix seconds>`.
- Signed bytes: `v0:<timestamp>:<raw body>` (form bodies exactly as sent, percent-encoding
  intact).
- Algorithm: HMAC-SHA256, lower-case hex; key = the app's Signing Secret as UTF-8 (Slack
  issues it). Prefix `v0=` is the version: without it there is no known signature.
- Replay window: the timestamp within `tolerance` of now, both ways.
- Event id: the JSON body's `"event_id"` (Events API); form bodies carry none, so they get
  the bridge's `sha256:<hex of the body>` (a slash command's `trigger_id` makes each differ).
- Event type: JSON `event_callback` -> the inner `event.type` (e.g. `app_mention`); other
  JSON -> its `"type"` (e.g. `url_verification`); form bodies -> the `command` field (slash
  commands, e.g. `/weather`) or the `type` of the JSON in `payload=` (interactivity).
- Handshake: a verified `url_verification` is answered with `{"challenge": <challenge>}`.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import parse_qs

from bridge import jsontext
from bridge.providers.base import Identity, Secret, WebhookRequest
from bridge.providers.headers import json_str
from bridge.providers.schemes import V0Hmac


def _form_type(body: bytes) -> str | None:
    form = parse_qs(body.decode("utf-8", "replace"))
    if form.get("command"):
        return form["command"][0]
    if form.get("payload"):
        try:
            return json_str(jsontext.loads(form["payload"][0]), "type")
        except ValueError:
            return None
    return None


class Slack(V0Hmac):
    name: ClassVar[str] = "slack"
    generates_secret: ClassVar[bool] = False
    signature_header: ClassVar[str] = "X-Slack-Signature"
    timestamp_header: ClassVar[str] = "X-Slack-Request-Timestamp"

    def identify(self, request: WebhookRequest) -> Identity:
        data = request.json()
        if not isinstance(data, dict):
            return Identity(None, _form_type(request.body))
        kind = json_str(data, "type")
        if kind == "event_callback":
            kind = json_str(data, "event", "type") or kind
        return Identity(json_str(data, "event_id"), kind)

    def handshake(
        self, request: WebhookRequest, secret: Secret | None = None
    ) -> dict[str, Any] | None:
        data = request.json()
        if json_str(data, "type") == "url_verification":
            return {"challenge": json_str(data, "challenge")}
        return None
