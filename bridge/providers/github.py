"""GitHub.

- Header: `X-Hub-Signature-256: sha256=<sig>`; the legacy `X-Hub-Signature: sha1=<sig>` is
  checked only when `X-Hub-Signature-256` is absent and the endpoint option `legacy_sha1` is
  true (GitHub Enterprise Server before 3.x, old integrations).
- Signed bytes: the raw body.
- Algorithm: HMAC-SHA256 (legacy HMAC-SHA1), lower-case hex; key = the secret as UTF-8.
- Prefix `sha256=` (`sha1=`) is required; without it there is no signature of a known kind.
- Replay window: none (GitHub sends no timestamp); dedup by the delivery id stops replays.
- Event id: `X-GitHub-Delivery`. Event type: `X-GitHub-Event`, plus `.<action>` when the body
  JSON has a string `"action"` (e.g. `pull_request.opened`; `ping` stays `ping`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import ClassVar

from bridge.providers.base import Identity, Provider, Secret, SignRequest, Verdict, WebhookRequest
from bridge.providers.headers import json_str
from bridge.providers.schemes import hmac_match, hmac_text, labelled


class GitHub(Provider):
    name: ClassVar[str] = "github"
    generates_secret: ClassVar[bool] = True
    option_types: ClassVar[Mapping[str, type]] = {"legacy_sha1": bool}

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        header = request.header("x-hub-signature-256")
        algorithm = "sha256"
        if not header and request.options.get("legacy_sha1") is True:
            header = request.header("x-hub-signature")
            algorithm = "sha1"
        if not header:
            legacy = " (X-Hub-Signature sha1 needs option legacy_sha1)"
            detail = legacy if request.header("x-hub-signature") else ""
            raise self.fail("missing_signature", "header X-Hub-Signature-256 is missing" + detail)
        signature = labelled(self, header, algorithm)
        return hmac_match(self, secrets, [signature], request.body, algorithm=algorithm)

    def identify(self, request: WebhookRequest) -> Identity:
        event = request.header("x-github-event")
        action = json_str(request.json(), "action")
        if event and action:
            event = f"{event}.{action}"
        return Identity(request.header("x-github-delivery"), event or None)

    def headers_for(self, req: SignRequest) -> dict[str, str]:
        return {
            "X-GitHub-Event": (req.event_type or "ping").split(".", 1)[0],
            "X-GitHub-Delivery": req.event_id or str(uuid.uuid4()),
            "X-Hub-Signature-256": "sha256=" + hmac_text(req.secret, req.body),
            "X-Hub-Signature": "sha1=" + hmac_text(req.secret, req.body, "sha1"),
            "User-Agent": "GitHub-Hookshot/bridge",
        }
