"""Discord interactions (slash commands, components, modals via an Interactions Endpoint URL).

- Headers: `X-Signature-Ed25519: <sig>` and `X-Signature-Timestamp: <timestamp>`.
- Signed bytes: `<timestamp><raw body>` (no separator).
- Algorithm: Ed25519; the signature is 64 bytes in hex.
- Secret: the application's Public Key (Developer Portal > General Information), 64 hex
  characters. Discord keeps the private key, so the bridge never generates a secret;
  `sign()` (tests and `bridge send` only) takes an Ed25519 private key in hex (the 32-byte
  seed, or 64 bytes seed + public key as NaCl prints it). A public key given to `sign()`
  cannot be told from a seed: it signs, but with a key nobody can verify against.
- Replay window: the timestamp within `tolerance` of now, both ways (Discord sends at once).
- Handshake: a verified PING (`"type": 1`) is answered with `{"type": 1}` (PONG). Discord also
  sends wrongly signed requests on purpose and expects 401 for them. Other interactions are
  relayed as events; Discord expects an interaction response to each within 3 s (a deferred
  `{"type": 5}` lets a consumer answer later through the interaction's webhook).
- Event id: the body's interaction `"id"`. Event type: the interaction type's name
  (`ping`, `application_command`, `message_component`, `application_command_autocomplete`,
  `modal_submit`), with `.<data.name>` for commands (`application_command.weather`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from bridge.errors import InvalidInput
from bridge.providers import asymmetric
from bridge.providers.base import Identity, Provider, Secret, SignRequest, Verdict, WebhookRequest
from bridge.providers.headers import decode_key, decode_signature, json_str, json_value, to_bytes
from bridge.providers.matching import first_valid
from bridge.providers.work import show_work

PING = 1
# Interaction type -> the deferred response Discord accepts within its 3 s limit: the bot
# (reading the event from the bridge) follows up through Discord's API.
DEFERRED: dict[int, dict[str, Any]] = {
    2: {"type": 5},  # application command: "thinking...", reply later
    3: {"type": 6},  # message component: acknowledge, update later
    4: {"type": 8, "data": {"choices": []}},  # autocomplete: no suggestions
    5: {"type": 6},  # modal submit
}
TYPES = {
    1: "ping",
    2: "application_command",
    3: "message_component",
    4: "application_command_autocomplete",
    5: "modal_submit",
}


def public_key_hex(private_hex: str) -> str | None:
    """The public key (hex) of an Ed25519 private key given in hex, or None."""
    key = asymmetric.ed25519_private(decode_key(private_hex, "hex"))
    return None if key is None else asymmetric.ed25519_public_bytes(key).hex()


class Discord(Provider):
    name: ClassVar[str] = "discord"
    public_key: ClassVar[bool] = True
    key_format: ClassVar[str] = "ed25519-public-key-hex"
    signed_template: ClassVar[str] = "{x-signature-timestamp}{body}"
    generates_secret: ClassVar[bool] = False

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        header = self.require(request, "x-signature-ed25519")
        signature = decode_signature(header, "hex")
        raw_ts = self.require(request, "x-signature-timestamp")
        self.check_timestamp(request, raw_ts)
        signed = to_bytes(raw_ts) + request.body
        show_work(signed, [header], secrets, None)
        keys = {s.id: asymmetric.ed25519_public(decode_key(s.value, "hex")) for s in secrets}
        return first_valid(
            self,
            secrets,
            [signature],
            lambda s, sig: asymmetric.ed25519_valid(keys[s.id], sig, signed),
            "ed25519",
        )

    def identify(self, request: WebhookRequest) -> Identity:
        data = request.json()
        kind = json_value(data, "type")
        name = TYPES.get(kind) if isinstance(kind, int) and not isinstance(kind, bool) else None
        command = json_str(data, "data", "name")
        if name == "application_command" and command:
            name = f"{name}.{command}"
        return Identity(json_str(data, "id"), name)

    def handshake(
        self, request: WebhookRequest, secret: Secret | None = None
    ) -> dict[str, Any] | None:
        kind = json_value(request.json(), "type")
        if kind == PING and not isinstance(kind, bool):
            return {"type": PING}
        return None

    def acknowledge(self, request: WebhookRequest) -> dict[str, Any] | None:
        kind = json_value(request.json(), "type")
        return DEFERRED.get(kind) if isinstance(kind, int) and not isinstance(kind, bool) else None

    def check_secret(self, secret: str) -> None:
        if asymmetric.ed25519_public(decode_key(secret, "hex")) is None:
            raise InvalidInput("secret", "expected the application's Public Key: 64 hex digits")

    def new_secret(self) -> str:
        """A fresh private key in hex, for signing test deliveries (never an endpoint's secret)."""
        return asymmetric.ed25519_new().hex()

    def headers_for(self, req: SignRequest) -> dict[str, str]:
        """Sign with an Ed25519 private key in hex: for tests and `bridge send`."""
        key = asymmetric.ed25519_private(decode_key(req.secret, "hex"))
        if key is None:
            raise InvalidInput("secret", "discord signs with an Ed25519 private key in hex")
        ts = str(int(req.now))
        return {
            "X-Signature-Ed25519": key.sign(to_bytes(ts) + req.body).hex(),
            "X-Signature-Timestamp": ts,
        }
