"""GitLab (project, group and system hooks).

- Header: `X-Gitlab-Token: <secret token>`: the secret itself, sent in clear; there is no
  signature, so the body is not covered (use HTTPS).
- Check: the token equals one of the endpoint's secrets, compared in constant time (as
  SHA-256 digests, so the comparison time does not depend on the length either).
- What it proves: that the sender knows the secret, not what the body said. A body changed on
  the way, with the token intact, is accepted; so the envelope says `"verified": true` with
  `"verification": {"scheme": "token", ...}`, and the dashboard flags such events `token`,
  never `verified` (which it keeps for signatures over the body).
- Replay window: none; dedup by the event id stops replays.
- Event id: the `Idempotency-Key` header (GitLab 17.4+, the same on every retry), falling
  back to `X-Gitlab-Event-UUID`. Event type: the `X-Gitlab-Event` header (e.g. `Push Hook`,
  `Merge Request Hook`), falling back to the body's `"object_kind"` (e.g. `push`).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from typing import ClassVar

from bridge.errors import InvalidInput
from bridge.providers.base import Identity, Provider, Secret, SignRequest, Verdict, WebhookRequest
from bridge.providers.headers import json_str, to_bytes
from bridge.providers.matching import first_match


def _digest(text: str) -> bytes:
    return hashlib.sha256(to_bytes(text)).digest()


class GitLab(Provider):
    name: ClassVar[str] = "gitlab"
    signed_template: ClassVar[str] = "nothing: X-Gitlab-Token is the secret itself"
    generates_secret: ClassVar[bool] = True

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        token = _digest(self.require(request, "x-gitlab-token"))
        return first_match(self, secrets, [token], lambda s: _digest(s.value), "token")

    # The token travels as a header value: HTTP drops the spaces around it, and a header
    # read as Latin-1 never equals a token of other characters encoded as UTF-8.
    secret_pattern: ClassVar[str] = r"[!-~](?:[ -~]*[!-~])?"  # noqa: S105 - a pattern

    def check_secret(self, secret: str) -> None:
        if not re.fullmatch(self.secret_pattern, secret):
            raise InvalidInput(
                "secret",
                "GitLab sends the token as a header: use ASCII, without spaces around it",
            )

    def identify(self, request: WebhookRequest) -> Identity:
        event_id = request.header("idempotency-key") or request.header("x-gitlab-event-uuid")
        kind = request.header("x-gitlab-event") or json_str(request.json(), "object_kind")
        return Identity(event_id or None, kind or None)

    def headers_for(self, req: SignRequest) -> dict[str, str]:
        delivery = req.event_id or str(uuid.uuid4())
        return {
            "X-Gitlab-Token": req.secret,
            "X-Gitlab-Event": req.event_type or "Push Hook",
            "X-Gitlab-Event-UUID": delivery,
            "Idempotency-Key": delivery,
        }
