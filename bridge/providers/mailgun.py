"""Mailgun (webhooks and routes).

- No signature header: the signature travels in the body. JSON webhooks carry
  `{"signature": {"timestamp", "token", "signature"}, "event-data": {...}}`; legacy webhooks and
  routes post form fields `timestamp`, `token` and `signature` (URL-encoded or multipart). A
  URL-encoded form of over 1,000 fields (Mailgun sends a few dozen) is not looked into. Until
  the signature verifies, only the signature is read: a form's other fields are not decoded,
  and a JSON body over 256 KiB is scanned for its `signature` member without being parsed
  (its whole tree took ~25 times its size in memory, for anyone who posts one).
- Signed bytes: `<timestamp><token>`. The body itself is NOT covered: anyone holding one
  signed (timestamp, token, signature) triple can attach it to another body within the
  window. The window and the token replay check below are what limit that.
- Algorithm: HMAC-SHA256, lower-case hex; key = the account's HTTP webhook signing key as
  UTF-8 (Mailgun issues it).
- Replay window: the timestamp within 15 minutes of now, both ways, as Mailgun's SDK checks;
  the endpoint option `tolerance` overrides it.
- Event id: the `token` (new for every request Mailgun makes), so a replayed token is a
  duplicate: this is the token replay cache Mailgun asks receivers to keep, for as long as
  the bridge keeps dedup ids. Event type: `event-data.event` (JSON) or the `event` form field
  (e.g. `delivered`); None for routes.
"""

from __future__ import annotations

import json
import secrets as _random
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode

from bridge import jsontext
from bridge.providers import forms
from bridge.providers.base import Identity, Provider, Secret, SignRequest, Verdict, WebhookRequest
from bridge.providers.headers import json_str, to_bytes
from bridge.providers.schemes import hmac_match, hmac_text

WINDOW = 900
FIELDS = ("timestamp", "token", "signature")
# Before it is verified, a JSON body larger than this is only searched for its signature:
# the whole tree of a stranger's 22 MB body took the worker ~500 MB.
WHOLE_TREE = 256 * 1024
SIGNATURE_BYTES = 4096  # a signature object's text at most: Mailgun's is ~150 bytes
FORM_FIELDS = frozenset({*FIELDS, "event"})  # the rest of a form (an email's text) stays as sent


def fields_of(request: WebhookRequest, *, verifying: bool = False) -> dict[str, Any]:
    """`timestamp`, `token`, `signature` and `event` wherever this body carries them; while
    `verifying` a large body, without `event`."""
    data = (
        request.memo("mailgun.signature", partial(_signature_only, request))
        if verifying
        else request.json()
    )
    if isinstance(data, dict):
        signature = data.get("signature")
        found = dict(signature) if isinstance(signature, dict) else {}
        found["event"] = json_str(data, "event-data", "event")
        return found
    # Once per request, as the JSON signature is: the debugger verifies again.
    return dict(request.memo("mailgun.form", partial(_form_fields, request)))


def _form_fields(request: WebhookRequest) -> dict[str, str]:
    """The FORM_FIELDS of a form body (the first of each name), {} where there are too many
    fields to look into."""
    content_type = request.header("content-type") or ""
    if content_type.lower().startswith("multipart/"):
        return forms.multipart(request.body, content_type, FORM_FIELDS)
    form: dict[str, str] = {}
    text = request.body.decode("utf-8", "replace")
    try:
        pairs = forms.pairs(text, decode=FORM_FIELDS)
    except ValueError:  # more fields than Mailgun sends: counted before any is parsed
        return {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def _signature_only(request: WebhookRequest) -> Any:
    """The body as JSON (a large one: an object holding only its `signature`), else None."""
    if len(request.body) <= WHOLE_TREE:
        return request.json()
    try:
        signature = jsontext.member(request.body, "signature", max_bytes=SIGNATURE_BYTES)
    except ValueError:
        return None
    return {} if signature is jsontext.MISSING else {"signature": signature}


def _text(value: Any) -> str | None:
    """A signed field as text: strings as they are, whole numbers (JSON) in decimal."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


class Mailgun(Provider):
    name: ClassVar[str] = "mailgun"
    signed_template: ClassVar[str] = "{signature.timestamp}{signature.token}"
    generates_secret: ClassVar[bool] = False

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        fields = fields_of(request, verifying=True)
        timestamp, token, signature = (_text(fields.get(f)) for f in FIELDS)
        if not signature:
            raise self.fail("missing_signature", "the body has no signature field")
        if timestamp is None or token is None:
            raise self.fail("bad_signature", "the body's signature lacks timestamp or token")
        self.check_timestamp(request, timestamp, request.options.get("tolerance", WINDOW))
        return hmac_match(self, secrets, [signature], to_bytes(timestamp + token))

    def identify(self, request: WebhookRequest) -> Identity:
        fields = fields_of(request)
        token, event = _text(fields.get("token")), _text(fields.get("event"))
        return Identity(token or None, event or None)

    def sign_body(
        self,
        body: bytes,
        secret: str,
        *,
        now: float,
        event_id: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> bytes:
        """Put a signature for `now` (token: `event_id` or a fresh one) into the body: under
        `"signature"` for a JSON object, as form fields otherwise."""
        timestamp = str(int(now))
        token = event_id or _random.token_hex(25)
        signature = hmac_text(secret, to_bytes(timestamp + token))
        triple = {"timestamp": timestamp, "token": token, "signature": signature}
        try:
            data = jsontext.loads(body)
        except (ValueError, UnicodeDecodeError):
            data = None
        if isinstance(data, dict):
            data["signature"] = triple
            return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if k not in FIELDS]
        return urlencode([*kept, *triple.items()]).encode()

    def headers_for(self, req: SignRequest) -> dict[str, str]:
        """Only the content type: Mailgun's signature is in the body (see `sign_body`)."""
        try:
            is_json = isinstance(jsontext.loads(req.body), dict)
        except (ValueError, UnicodeDecodeError):
            is_json = False
        return {
            "Content-Type": "application/json" if is_json else "application/x-www-form-urlencoded"
        }
