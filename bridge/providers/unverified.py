"""No verification (`none`): every request is accepted and flagged as unverified.

- Headers, signed bytes, algorithm, encoding, prefix: none; no secret is used or needed.
- Replay window: none. Verdicts carry `verified=False` and `secret_id=None`.
- Event id: none (the store falls back to a hash of the body). Event type: the body's JSON
  `"type"` when the body is a JSON object.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from bridge.providers.base import Identity, Provider, Secret, SignRequest, Verdict, WebhookRequest
from bridge.providers.headers import json_str


class Unverified(Provider):
    name: ClassVar[str] = "none"
    generates_secret: ClassVar[bool] = False
    requires_secret: ClassVar[bool] = False

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        return Verdict(verified=False, secret_id=None, scheme="none")

    def identify(self, request: WebhookRequest) -> Identity:
        return Identity(None, json_str(request.json(), "type"))

    def headers_for(self, req: SignRequest) -> dict[str, str]:
        return {}
