"""Calendly (webhook subscriptions, API v2).

- Header: `Calendly-Webhook-Signature: t=<timestamp>,v1=<sig>`.
- Signed bytes: `<t>.<raw body>`.
- Algorithm: HMAC-SHA256, lower-case hex; key = the subscription's signing key as UTF-8 (you
  choose it: the `signing_key` field when creating the subscription through the API).
- Only `v1` entries count (any one match is enough); no `v1` is a missing signature.
- Replay window: `t` within `tolerance` of now, both ways (Calendly's sample uses 3 min).
- Event id: none (the bridge uses the body's hash). Event type: the body's `"event"`
  (e.g. `invitee.created`).
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


class Calendly(Provider):
    name: ClassVar[str] = "calendly"
    title: ClassVar[str] = "Calendly"
    table: ClassVar[tuple[str, str, str, str, str]] = (
        "`Calendly-Webhook-Signature`",
        "you (generated)",
        "±300 s",
        "hash of the body",
        "body `event`",
    )
    generates_secret: ClassVar[bool] = True

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        pairs = parse_pairs(self.require(request, "calendly-webhook-signature"))
        candidates = [decode_signature(value, "hex") for key, value in pairs if key == "v1"]
        if not candidates:
            raise self.fail("missing_signature", "no v1 signature")
        raw_ts = next((value for key, value in pairs if key == "t"), None)
        if raw_ts is None:
            raise self.fail("bad_signature", "no t= timestamp")
        self.check_timestamp(request, raw_ts)
        signed = to_bytes(raw_ts + ".") + request.body
        return first_match(
            self, secrets, candidates, lambda s: hmac_digest(to_bytes(s.value), signed), "v1"
        )

    def identify(self, request: WebhookRequest) -> Identity:
        return Identity(None, json_str(request.json(), "event"))

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
        digest = hmac_digest(to_bytes(secret), to_bytes(ts + ".") + body)
        return {"Calendly-Webhook-Signature": f"t={ts},v1={digest.hex()}"}

    def setup_steps(self, url: str) -> list[str]:
        return [
            "Calendly webhooks are created through its API (paid plans): POST "
            "https://api.calendly.com/webhook_subscriptions with a personal access token.",
            f'Send this URL as "url": {url}',
            'Send this endpoint\'s secret as "signing_key", with the "events" to send '
            '(e.g. invitee.created) and the "organization" (and "scope").',
            "Book a test meeting and check the event arrives here.",
        ]
