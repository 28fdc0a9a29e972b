"""Standard Webhooks (also Svix, Clerk, Resend and other Svix-based senders).

- Headers: `webhook-id`, `webhook-timestamp`, `webhook-signature`; Svix-branded senders use
  `svix-id`, `svix-timestamp`, `svix-signature` instead (taken when `webhook-signature` is absent).
- Signed bytes: `<id>.<timestamp>.<raw body>`.
- Algorithm (`v1`): HMAC-SHA256, base64 encoded; the key is the secret without its `whsec_`
  prefix, base64-decoded (the secret is accepted with or without the prefix).
- Algorithm (`v1a`): Ed25519, base64 encoded, for senders that sign with a private key: the
  endpoint's secret is then the sender's public key, `whpk_` followed by base64 of its 32
  bytes, and only `v1a` entries are checked against it. `sign()` (tests and `bridge send`)
  makes `v1a` signatures when given the private key, `whsk_` + base64.
- Signature header: a space-separated list of `<version>,<signature>` entries; `v1` entries
  are checked against `whsec_` secrets and `v1a` entries against `whpk_` keys (`v2` and other
  versions are skipped); any one match is enough.
- Replay window: the timestamp (Unix seconds) must be within `tolerance` of now, both ways.
- Event id: the `webhook-id` header. Event type: the body's JSON `"type"`.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import secrets as _random
from collections.abc import Sequence
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bridge.errors import InvalidInput
from bridge.providers import asymmetric
from bridge.providers.base import Identity, Provider, Secret, SignRequest, Verdict, WebhookRequest
from bridge.providers.headers import (
    OWS,
    decode_key,
    decode_signature,
    encode_signature,
    json_str,
    to_bytes,
)
from bridge.providers.matching import any_digest, first_valid, hmac_digest
from bridge.providers.work import show_work

PREFIX = "whsec_"
PUBLIC_PREFIX = "whpk_"
PRIVATE_PREFIX = "whsk_"


def public_key(secret: str) -> Ed25519PublicKey | None:
    """The Ed25519 key of a `whpk_` secret, or None."""
    return asymmetric.ed25519_public(decode_key(secret.removeprefix(PUBLIC_PREFIX), "base64"))


def private_key(secret: str) -> Ed25519PrivateKey | None:
    """The Ed25519 key of a `whsk_` secret (32-byte seed or 64 bytes seed + public), or None."""
    raw = decode_key(secret.removeprefix(PRIVATE_PREFIX), "base64")
    return asymmetric.ed25519_private(raw)


def signing_key(secret: str) -> bytes:
    """The HMAC key: the base64-decoded secret; a secret that is not base64 is used as UTF-8."""
    raw = secret.removeprefix(PREFIX)
    return decode_key(raw, "base64") or to_bytes(secret)


class StandardWebhooks(Provider):
    name: ClassVar[str] = "standard"
    key_format: ClassVar[str] = "standard-webhooks-secret"
    signed_template: ClassVar[str] = "{webhook-id}.{webhook-timestamp}.{body}"
    generates_secret: ClassVar[bool] = True

    @staticmethod
    def _headers(request: WebhookRequest) -> str:
        return "webhook-" if request.header("webhook-signature") is not None else "svix-"

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        h = self._headers(request)
        header = self.require(request, h + "signature")
        msg_id = self.require(request, h + "id")
        raw_ts = self.require(request, h + "timestamp")
        # Space-separated entries (the spec); runs of OWS count as one separator.
        entries = [entry.partition(",") for entry in re.split(f"[{OWS}]+", header)]
        v1 = [decode_signature(sig, "base64") for version, _, sig in entries if version == "v1"]
        v1a = [decode_signature(sig, "base64") for version, _, sig in entries if version == "v1a"]
        public = {s.id: public_key(s.value) for s in secrets if s.value.startswith(PUBLIC_PREFIX)}
        hmac_secrets = not secrets or len(public) < len(secrets)
        if not (v1 and hmac_secrets) and not (v1a and public):
            raise self.fail(
                "missing_signature", "no v1a signature" if public else "no v1 signature"
            )
        self.check_timestamp(request, raw_ts)
        signed = to_bytes(f"{msg_id}.{raw_ts}.") + request.body
        show_work(
            signed,
            [sig for version, _, sig in entries if version == "v1"],
            [s for s in secrets if s.id not in public],
            lambda s: encode_signature(hmac_digest(signing_key(s.value), signed), "base64"),
        )

        def accepts(secret: Secret, _: bytes) -> bool:
            if secret.id in public:
                found = False
                for sig in v1a:
                    found |= asymmetric.ed25519_valid(public[secret.id], sig, signed)
                return found
            digest = hmac_digest(signing_key(secret.value), signed)
            found = False
            for sig in v1:
                found |= any_digest([digest], sig)
            return found

        verdict = first_valid(self, secrets, [b""], accepts, "v1")
        return (
            dataclasses.replace(verdict, scheme="v1a") if verdict.secret_id in public else verdict
        )

    def identify(self, request: WebhookRequest) -> Identity:
        event_id = request.header("webhook-id") or request.header("svix-id")
        return Identity(event_id or None, json_str(request.json(), "type"))

    def headers_for(self, req: SignRequest) -> dict[str, str]:
        msg_id = req.event_id or "msg_" + _random.token_hex(12)
        ts = str(int(req.now))
        signed = to_bytes(f"{msg_id}.{ts}.") + req.body
        if req.secret.startswith(PRIVATE_PREFIX):
            key = private_key(req.secret)
            if key is None:
                raise InvalidInput("secret", "whsk_ must be followed by a base64 Ed25519 key")
            signature = "v1a," + encode_signature(key.sign(signed), "base64")
        else:
            signature = "v1," + encode_signature(
                hmac_digest(signing_key(req.secret), signed), "base64"
            )
        return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": signature}

    def check_secret(self, secret: str) -> None:
        if secret.startswith(PRIVATE_PREFIX):
            raise InvalidInput(
                "secret", "whsk_ is the sender's private key: give the bridge the whpk_ public key"
            )
        if secret.startswith(PUBLIC_PREFIX):
            if public_key(secret) is None:
                raise InvalidInput("secret", "whpk_ must be followed by a base64 Ed25519 key")
            return
        if not decode_key(secret.removeprefix(PREFIX), "base64"):
            raise InvalidInput(
                "secret", "expected whsec_ followed by base64, as the sender shows it"
            )

    def new_secret(self) -> str:
        return PREFIX + base64.b64encode(_random.token_bytes(24)).decode("ascii")
