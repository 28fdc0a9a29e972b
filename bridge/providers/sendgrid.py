"""SendGrid Event Webhook (signed).

- Headers: `X-Twilio-Email-Event-Webhook-Signature: <sig>` and
  `X-Twilio-Email-Event-Webhook-Timestamp: <unix seconds>`.
- Signed bytes: `<timestamp><raw body>` (no separator; SendGrid's bodies end in `\\r\\n`:
  keep it).
- Algorithm: ECDSA P-256 with SHA-256; the signature is standard base64 of its DER encoding.
- Secret: the verification key SendGrid shows (Settings > Mail Settings > Signed Event
  Webhook): base64 of the public key's SubjectPublicKeyInfo (PEM is accepted too). SendGrid
  keeps the private key, so the bridge never generates a secret. `sign()` (tests and
  `bridge send` only) takes a P-256 private key instead: PKCS#8, PEM or bare base64.
- Replay window: none by default, like SendGrid's SDKs (retries may keep their timestamp);
  set the endpoint option `tolerance` to enforce one, both ways. Dedup by the body's hash
  stops exact replays.
- Event id: none per delivery (a batch of events; each has its own `sg_event_id`), so the
  bridge uses the body's hash. Event type: the events' `"event"` (e.g. `delivered`); a batch
  of several kinds gives them sorted and comma-separated (`delivered,open`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from bridge.errors import InvalidInput
from bridge.providers import asymmetric
from bridge.providers.base import Identity, Provider, Secret, SignRequest, Verdict, WebhookRequest
from bridge.providers.headers import decode_signature, encode_signature, to_bytes
from bridge.providers.matching import first_valid
from bridge.providers.work import show_work

SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"


def batch_type(data: Any) -> str | None:
    """The distinct `"event"` names of a batch (one JSON object or a list of them)."""
    events = data if isinstance(data, list) else [data]
    names = {e["event"] for e in events if isinstance(e, dict) and isinstance(e.get("event"), str)}
    return ",".join(sorted(names)) or None


class SendGrid(Provider):
    name: ClassVar[str] = "sendgrid"
    public_key: ClassVar[bool] = True
    key_format: ClassVar[str] = "p256-public-key"
    signed_template: ClassVar[str] = "{x-twilio-email-event-webhook-timestamp}{body}"
    generates_secret: ClassVar[bool] = False

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        header = self.require(request, SIGNATURE)
        signature = decode_signature(header, "base64")
        raw_ts = self.require(request, TIMESTAMP)
        if "tolerance" in request.options:
            self.check_timestamp(request, raw_ts)
        signed = to_bytes(raw_ts) + request.body
        show_work(signed, [header], secrets, None)
        keys = {s.id: asymmetric.p256_public(s.value) for s in secrets}
        return first_valid(
            self,
            secrets,
            [signature],
            lambda s, sig: asymmetric.p256_valid(keys[s.id], sig, signed),
            "ecdsa-p256",
        )

    def identify(self, request: WebhookRequest) -> Identity:
        return Identity(None, batch_type(request.json()))

    def check_secret(self, secret: str) -> None:
        if asymmetric.p256_public(secret) is None:
            hint = (
                " (that is a private key: paste the verification key)"
                if asymmetric.p256_private(secret)
                else ""
            )
            raise InvalidInput(
                "secret", "expected the base64 P-256 verification key SendGrid shows" + hint
            )

    def new_secret(self) -> str:
        """A fresh private key, for signing test deliveries (never an endpoint's secret)."""
        return asymmetric.p256_new()

    def headers_for(self, req: SignRequest) -> dict[str, str]:
        """Sign with a P-256 private key (PKCS#8 PEM or base64): for tests and `bridge send`."""
        key = asymmetric.p256_private(req.secret)
        if key is None:
            raise InvalidInput("secret", "sendgrid signs with a P-256 private key (PKCS#8)")
        ts = str(int(req.now))
        signature = asymmetric.p256_sign(key, to_bytes(ts) + req.body)
        return {
            "X-Twilio-Email-Event-Webhook-Signature": encode_signature(signature, "base64"),
            "X-Twilio-Email-Event-Webhook-Timestamp": ts,
        }
