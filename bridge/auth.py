"""Who may do what: the admin token, and short-lived subscriber tokens.

Subscriber tokens are stateless: `wbs1.<payload>.<mac>`, where the payload (base64url JSON)
names the channels, each one's endpoint generation (so a token reads the endpoints it was
minted for, not one created later under a deleted one's id) and the expiry, and the MAC is
HMAC-SHA256 under a key derived from the admin token. Any worker can check one without
asking Redis; changing the admin token revokes them all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bridge.errors import InvalidInput
from bridge.identifiers import is_endpoint_id

TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret
SUBSCRIBER_PREFIX = "wbs1"
MAX_TTL = 7 * 24 * 3600
# A socket may hold 100 subscriptions; a token for more channels than that is a mistake.
MAX_CHANNELS = 100


def load_or_create_admin_token(data_dir: Path) -> tuple[str, bool]:
    """The admin token kept in the data dir, creating it once; returns (token, created)."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / TOKEN_FILE
    token = secrets.token_urlsafe(32)
    try:
        # O_EXCL: when several workers start at once, exactly one writes the token.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            existing = path.read_text().strip()
            if existing:
                return existing, False
            time.sleep(0.02)  # another process is between open and write
        raise InvalidInput(str(path), "admin token file is empty") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token, True


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the admin, or a subscriber limited to some channels."""

    admin: bool
    channels: frozenset[str]
    expires_at: float | None = None
    # The generation of each channel's endpoint when the token was minted; tokens minted
    # before generations were bound have none, and read whatever endpoint has the id.
    generations: Mapping[str, str] = field(default_factory=dict)

    def may_read(self, channel: str) -> bool:
        return self.admin or channel in self.channels

    def minted_for(self, channel: str, generation: str) -> bool:
        """Whether the endpoint of this generation is the one the token was minted for."""
        return self.admin or self.generations.get(channel, generation) == generation


ADMIN = Principal(admin=True, channels=frozenset())


class Authority:
    def __init__(self, admin_token: str) -> None:
        self._admin = admin_token.encode()
        self._key = hmac.new(self._admin, b"webhook-bridge subscriber tokens", "sha256").digest()

    def is_admin(self, token: str) -> bool:
        return token.isascii() and hmac.compare_digest(token.encode(), self._admin)

    def principal(self, token: str, now: float | None = None) -> Principal | None:
        """Who this token is, or None when it is wrong or expired."""
        if not token.isascii():  # tokens are ASCII; this also keeps encode() from failing
            return None
        if self.is_admin(token):
            return ADMIN
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != SUBSCRIBER_PREFIX:
            return None
        expected = self._mac(parts[1])
        if not hmac.compare_digest(expected, parts[2]):
            return None
        try:
            claims = json.loads(_unb64(parts[1]))
            names = [str(c) for c in claims["c"]]
            expires_at = float(claims["e"])
            generations = [str(g) for g in claims.get("g", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        if generations and len(generations) != len(names):
            return None
        if expires_at <= (time.time() if now is None else now):
            return None
        return Principal(
            admin=False,
            channels=frozenset(names),
            expires_at=expires_at,
            generations=dict(zip(names, generations, strict=False)),
        )

    def mint(self, channels: Iterable[str], ttl: int, now: float | None = None) -> Principal:
        given = list(channels)
        names = sorted(set(given))
        if not names:
            raise InvalidInput("channels", "name at least one channel")
        # Counted as given, as the document's maxItems counts them: a name repeated is
        # folded into one, but not to let 101 entries through.
        if len(given) > MAX_CHANNELS:
            raise InvalidInput(
                "channels", f"name at most {MAX_CHANNELS} channels, got {len(given)} entries"
            )
        bad = next((n for n in names if not is_endpoint_id(n)), None)
        if bad is not None:
            raise InvalidInput("channels", f"{bad!r} is not an endpoint id")
        if not 1 <= ttl <= MAX_TTL:
            raise InvalidInput("ttl", f"must be between 1 and {MAX_TTL} seconds")
        expires_at = float(int((time.time() if now is None else now) + ttl))
        return Principal(admin=False, channels=frozenset(names), expires_at=expires_at)

    def encode(self, principal: Principal) -> str:
        names = sorted(principal.channels)
        claims: dict[str, object] = {"c": names, "e": principal.expires_at}
        if principal.generations:
            # A list beside `c`, not a map: 100 channels' names already make a long token.
            claims["g"] = [principal.generations[name] for name in names]
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{SUBSCRIBER_PREFIX}.{payload}.{self._mac(payload)}"

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())


def bearer(header: str | None) -> str | None:
    """The token from an `Authorization: Bearer <token>` header."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
