"""Paddle Billing.

- Header: `Paddle-Signature: ts=<timestamp>;h1=<sig>[;h1=<sig>...]`.
- Signed bytes: `<ts>:<raw body>`.
- Algorithm: HMAC-SHA256, lower-case hex; key = the notification destination's secret key
  (`pdl_ntfset_...`) as-is, UTF-8. Paddle issues it.
- Several `h1` entries (during a secret rotation) are accepted when any one matches; unknown
  keys are ignored; no `h1` at all is a missing signature.
- Replay window: `ts` within `tolerance` of now, both ways. Paddle's SDK defaults to 5 s,
  which rejects deliveries that waited in a queue; the bridge uses the endpoint's tolerance
  (default 300 s).
- Event id: the body's `"notification_id"` (the same on every retry of one notification),
  falling back to `"event_id"`. Event type: the body's `"event_type"`
  (e.g. `subscription.created`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bridge.providers.base import (
    Identity,
    Provider,
    Secret,
    Verdict,
    WebhookRequest,
    decode_signature,
    first_match,
    hmac_digest,
    json_str,
    parse_pairs,
    to_bytes,
)


class Paddle(Provider):
    name: ClassVar[str] = "paddle"
    title: ClassVar[str] = "Paddle Billing"
    table: ClassVar[tuple[str, str, str, str, str]] = (
        "`Paddle-Signature`",
        "Paddle (secret key)",
        "±300 s",
        "body `notification_id`",
        "body `event_type`",
    )
    generates_secret: ClassVar[bool] = False

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        pairs = parse_pairs(self.require(request, "paddle-signature"), ";")
        candidates = [decode_signature(value, "hex") for key, value in pairs if key == "h1"]
        if not candidates:
            raise self.fail("missing_signature", "no h1 signature")
        raw_ts = next((value for key, value in pairs if key == "ts"), None)
        if raw_ts is None:
            raise self.fail("bad_signature", "no ts= timestamp")
        self.check_timestamp(request, raw_ts)
        signed = to_bytes(raw_ts + ":") + request.body
        return first_match(
            self, secrets, candidates, lambda s: hmac_digest(to_bytes(s.value), signed), "h1"
        )

    def identify(self, request: WebhookRequest) -> Identity:
        data = request.json()
        event_id = json_str(data, "notification_id") or json_str(data, "event_id")
        return Identity(event_id, json_str(data, "event_type"))

    def sign(
        self,
        body: bytes,
        secret: str,
        *,
        now: float,
        event_id: str | None = None,
        event_type: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        ts = str(int(now))
        digest = hmac_digest(to_bytes(secret), to_bytes(ts + ":") + body)
        return {"Paddle-Signature": f"ts={ts};h1={digest.hex()}"}

    def setup_steps(self, url: str) -> list[str]:
        return [
            "In the Paddle dashboard open Developer tools > Notifications and choose "
            "New destination (type: webhook).",
            f"Paste this URL as the destination URL: {url}",
            "Select the events to send and save.",
            "Copy the destination's secret key (pdl_ntfset_...) and give it to this bridge "
            "endpoint as its secret; Paddle issues it.",
            "Use the notification simulator to send a test event and check it arrives here.",
        ]
