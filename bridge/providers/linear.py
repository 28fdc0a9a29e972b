"""Linear.

- Header: `Linear-Signature: <sig>` (no prefix, one signature).
- Signed bytes: the raw body.
- Algorithm: HMAC-SHA256, lower-case hex; key = the webhook's signing secret as UTF-8 (Linear
  shows it when the webhook is created).
- Replay window: the body's JSON `"webhookTimestamp"` (Unix milliseconds, inside the signed
  body) must be within 60 s of now, both ways, as Linear's SDK checks; the endpoint option
  `tolerance` overrides the 60 s. The body is parsed only after the signature matched.
- Event id: the `Linear-Delivery` header. Event type: the body's `"type"` and `"action"`, as
  `<type>.<action>` (e.g. `Issue.create`, `Comment.update`); `type` alone without an action.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bridge import jsontext
from bridge.providers.base import Identity, Secret, Verdict, WebhookRequest
from bridge.providers.headers import json_str, json_value
from bridge.providers.schemes import BodyHmac

WINDOW = 60


class Linear(BodyHmac):
    name: ClassVar[str] = "linear"
    generates_secret: ClassVar[bool] = False
    signature_header: ClassVar[str] = "Linear-Signature"

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        verdict = super().verify(request, secrets)
        stamp = json_value(request.json(), "webhookTimestamp")
        if not isinstance(stamp, int | float) or isinstance(stamp, bool):
            raise self.fail("bad_signature", "the body has no numeric webhookTimestamp")
        try:
            seconds = stamp / 1000
        except OverflowError:
            seconds = math.inf
        self.check_skew(request, seconds, request.options.get("tolerance", WINDOW))
        return verdict

    def identify(self, request: WebhookRequest) -> Identity:
        data = request.json()
        kind, action = json_str(data, "type"), json_str(data, "action")
        if kind and action:
            kind = f"{kind}.{action}"
        return Identity(request.header("linear-delivery") or None, kind)

    def sign_body(
        self,
        body: bytes,
        secret: str,
        *,
        now: float,
        event_id: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> bytes:
        """A JSON object body gets `"webhookTimestamp"` = `now` in milliseconds."""
        try:
            data = jsontext.loads(body)
        except (ValueError, UnicodeDecodeError):
            return body
        if not isinstance(data, dict):
            return body
        data["webhookTimestamp"] = int(now * 1000)
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()

    def sent_with(
        self, *, now: float, event_id: str | None, event_type: str | None
    ) -> dict[str, str]:
        return {
            "Linear-Delivery": event_id or str(uuid.uuid4()),
            "Linear-Event": (event_type or "Issue").split(".", 1)[0],
        }
