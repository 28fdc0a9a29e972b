"""Square.

- Header: `x-square-hmacsha256-signature: <sig>` (no prefix, one signature).
- Signed bytes: the notification URL exactly as registered with Square, then the raw body.
- Algorithm: HMAC-SHA256, standard base64; key = the subscription's signature key as UTF-8
  (Square issues it).
- The URL is the public URL the request came to, or the common option `public_url` where
  set; the endpoint option `notification_url` (Square's own name for that URL) wins over
  both when Square was given a different spelling (a proxy, another host name, a trailing
  slash). One of the two is enough; where both are set, `notification_url` is signed.
- Replay window: none (Square signs no timestamp); dedup by the event id stops replays.
- Event id: the body's `"event_id"`. Event type: the body's `"type"` (e.g. `payment.updated`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bridge.errors import InvalidInput
from bridge.providers.base import (
    HTTP_URL,
    URL_SHAPE,
    Identity,
    Provider,
    Secret,
    SignRequest,
    Verdict,
    WebhookRequest,
)
from bridge.providers.headers import json_str, to_bytes
from bridge.providers.schemes import hmac_match, hmac_text


def notification_url(url: str, options: Mapping[str, Any] | None) -> str:
    return str((options or {}).get("notification_url") or url)


class Square(Provider):
    name: ClassVar[str] = "square"
    signed_template: ClassVar[str] = "{notification_url}{body}"
    generates_secret: ClassVar[bool] = False
    signs_url: ClassVar[bool] = True
    option_types: ClassVar[Mapping[str, type]] = {"notification_url": str}
    # The URL as registered with Square, query included: it is what Square signs.
    option_rules: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "notification_url": {"pattern": f"^{HTTP_URL}$"}
    }

    def validate_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        clean = super().validate_options(options)
        url = clean.get("notification_url")
        if url is not None and not re.fullmatch(HTTP_URL, url):
            raise InvalidInput(
                "options.notification_url", f"must be {URL_SHAPE}, without whitespace"
            )
        return clean

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        header = self.require(request, "x-square-hmacsha256-signature")
        url = notification_url(request.url, request.options)
        if not url:
            raise self.fail("bad_signature", "the notification URL is unknown")
        signed = to_bytes(url) + request.body
        return hmac_match(self, secrets, [header], signed, encoding="base64")

    def identify(self, request: WebhookRequest) -> Identity:
        data = request.json()
        return Identity(json_str(data, "event_id"), json_str(data, "type"))

    def headers_for(self, req: SignRequest) -> dict[str, str]:
        """Sign for the option `notification_url`, else `options["url"]` (the URL posted to)."""
        url = notification_url(str(req.options.get("url") or ""), req.options)
        if not url:
            raise InvalidInput("options.url", "square signs the URL: give the URL to post to")
        signature = hmac_text(req.secret, to_bytes(url) + req.body, encoding="base64")
        return {"x-square-hmacsha256-signature": signature}
