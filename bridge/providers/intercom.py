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
    to_bytes,
)


class Intercom(Provider):
    name: ClassVar[str] = "intercom"
    title: ClassVar[str] = "Intercom"
    table: ClassVar[tuple[str, str, str, str, str]] = (
        "`X-Hub-Signature` (`sha1=`)",
        "Intercom (client secret)",
        "none",
        "body `id`",
        "body `topic`",
    )
    generates_secret: ClassVar[bool] = False

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        kind, eq, sig = self.require(request, "x-hub-signature").partition("=")
        if not eq or kind.strip() != "sha1":
            raise self.fail("missing_signature", "no sha1= signature")
        body = request.body
        return first_match(
            self,
            secrets,
            [decode_signature(sig.strip(), "hex")],
            lambda s: hmac_digest(to_bytes(s.value), body, "sha1"),
            "sha1",
        )

    def identify(self, request: WebhookRequest) -> Identity:
        data = request.json()
        return Identity(json_str(data, "id"), json_str(data, "topic"))

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
        return {"X-Hub-Signature": "sha1=" + hmac_digest(to_bytes(secret), body, "sha1").hex()}

    def setup_steps(self, url: str) -> list[str]:
        return [
            "In the Intercom Developer Hub open your app > Webhooks.",
            f"Paste this URL as the endpoint URL: {url}",
            "Select the topics to send and save (Intercom sends a ping).",
            "Under Basic information copy the app's client secret and give it to this bridge "
            "endpoint as its secret; Intercom issues it.",
        ]
