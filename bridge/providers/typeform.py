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

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bridge.providers.base import (
    Identity,
    Provider,
    Secret,
    Verdict,
    WebhookRequest,
    decode_signature,
    encode_signature,
    first_match,
    hmac_digest,
    json_str,
    to_bytes,
)


class Typeform(Provider):
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

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        kind, eq, sig = self.require(request, "typeform-signature").partition("=")
        if not eq or kind.strip() != "sha256":
            raise self.fail("missing_signature", "no sha256= signature")
        body = request.body
        return first_match(
            self,
            secrets,
            [decode_signature(sig, "base64")],
            lambda s: hmac_digest(to_bytes(s.value), body),
            "sha256",
        )

    def identify(self, request: WebhookRequest) -> Identity:
        data = request.json()
        return Identity(json_str(data, "event_id"), json_str(data, "event_type"))

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
        digest = hmac_digest(to_bytes(secret), body)
        return {"Typeform-Signature": "sha256=" + encode_signature(digest, "base64")}

    def setup_steps(self, url: str) -> list[str]:
        return [
            "In Typeform open the form > Connect > Webhooks and choose Add a webhook.",
            f"Paste this URL as the endpoint: {url}",
            "Open the webhook's Edit settings, paste this endpoint's secret into Secret and save.",
            "Turn the webhook on and use View deliveries > Send test request to check it "
            "arrives here.",
        ]
