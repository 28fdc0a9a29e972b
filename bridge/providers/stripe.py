"""Stripe.

- Header: `Stripe-Signature: t=<timestamp>,v1=<sig>[,v1=<sig>...][,v0=<sig>]`.
- Signed bytes: `<t>.<raw body>`.
- Algorithm: HMAC-SHA256, lower-case hex; the key is the whole secret (`whsec_...`,
  prefix included) as UTF-8 bytes.
- Only `v1` entries count (several during a secret roll; any one match is enough); `v0` (test
  mode legacy) and unknown keys are ignored; no `v1` at all is a missing signature.
- Replay window: `t` (Unix seconds) within `tolerance` of now, both ways.
- Event id: the body's JSON `"id"` (`evt_...`). Event type: the body's JSON `"type"`.
- Stripe issues the secret (Dashboard: "Signing secret"), so the bridge never generates one.
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


class Stripe(Provider):
    name: ClassVar[str] = "stripe"
    title: ClassVar[str] = "Stripe"
    table: ClassVar[tuple[str, str, str, str, str]] = (
        "`Stripe-Signature`",
        "Stripe (`whsec_…`)",
        "±300 s",
        "body `id`",
        "body `type`",
    )
    generates_secret: ClassVar[bool] = False

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        pairs = parse_pairs(self.require(request, "stripe-signature"))
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
        data = request.json()
        return Identity(json_str(data, "id"), json_str(data, "type"))

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
        return {"Stripe-Signature": f"t={ts},v1={digest.hex()}"}

    def setup_steps(self, url: str) -> list[str]:
        return [
            "In the Stripe Dashboard open Developers > Webhooks and choose Add endpoint.",
            f"Paste this URL as the endpoint URL: {url}",
            "Select the events to send and create the endpoint.",
            "Reveal the endpoint's Signing secret (whsec_...) and give it to this bridge "
            "endpoint as its secret; Stripe issues it, the bridge cannot choose one.",
            "Use Send test webhook (or `stripe trigger`) to check deliveries arrive.",
        ]
