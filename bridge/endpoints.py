"""Endpoint records: id, provider, secrets and options, stored as JSON in Redis.

The HTTP API and the ingest path both use this module; it knows nothing about HTTP.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets as secrets_module
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import redis

from bridge import jsontext, keys, providers
from bridge.errors import Conflict, InvalidInput, NotFound
from bridge.identifiers import ENDPOINT_ID_PATTERN, is_endpoint_id
from bridge.providers import Provider, Secret
from bridge.redis_client import Client
from bridge.redis_errors import REDIS_ERRORS, unavailable
from bridge.text import SPACE_CLASS, UNSAFE_CLASS, is_unicode

MAX_DESCRIPTION = 500
MIN_SECRET_LENGTH = 8
MAX_SECRETS = 10
MAX_SECRET_LENGTH = 1024
# Any text but what no secret holds and no eye sees: controls, bidirectional controls, line
# separators, the zero-width space and the BOM (a paste from a web page or a file carries
# them), and at least one that is not a space. The OpenAPI document states it as a pattern.
_SECRET_CHARACTER = f"[^{UNSAFE_CLASS}\u200b\ufeff]"
SECRET_CHARACTERS = (
    f"{_SECRET_CHARACTER}*[^{UNSAFE_CLASS}\u200b\ufeff{SPACE_CLASS}]{_SECRET_CHARACTER}*"
)
MAX_GRACE = 30 * 86400

# Creating an endpoint writes its record and starts its stream at the creation moment, by
# Redis's clock (the node that will number its events): last id and max-deleted-entry-id
# both there, no entry counted as added. A cursor from an earlier endpoint of the same id
# (deleted, its events gone with it) is then below what the stream says was dropped, so a
# resume with it is told `recovered: false`; the new endpoint's own ids all come after.
# One ms past TIME: ids the deleted stream gave within this very ms are below it too.
_CREATE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
redis.call('DEL', KEYS[2])
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + 1
local start = string.format('%d', ms) .. '-0'
redis.call('XADD', KEYS[2], start, 'x', '')
redis.call('XDEL', KEYS[2], start)
redis.call('XSETID', KEYS[2], start, 'ENTRIESADDED', 0, 'MAXDELETEDID', start)
return 1
"""


@dataclass(frozen=True)
class StoredSecret:
    id: str
    value: str = field(repr=False)  # never in a log line or a traceback's context
    created_at: float
    # Set when the secret is removed with a grace period (Razorpay, for one, retries old
    # deliveries with the old secret for 24 h); it stops verifying after this moment.
    expires_at: float | None = None

    def live(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class Endpoint:
    id: str
    provider: str
    secrets: tuple[StoredSecret, ...]
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    # New with every creation: dedup memory is scoped to it, so an endpoint deleted and
    # created again under the same id does not answer "duplicate" for the old one's events.
    generation: str = ""
    # The SHA-1 of the record as stored (not stored itself): the append script stores nothing
    # when the record in Redis is no longer the one a delivery was verified against.
    digest: str = field(default="", compare=False, repr=False)

    @property
    def verifier(self) -> Provider:
        return providers.get(self.provider)

    def live_secrets(self, now: float) -> list[Secret]:
        return [Secret(id=s.id, value=s.value) for s in self.secrets if s.live(now)]

    def to_json(self) -> str:
        data = asdict(self)
        del data["digest"]
        data["options"] = dict(self.options)
        return json.dumps(data, separators=(",", ":"))

    def stored(self) -> tuple[str, Endpoint]:
        """The JSON to write, and this record as it will read back (with its digest)."""
        text = self.to_json()
        return text, replace(self, digest=record_digest(text))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Endpoint:
        data = json.loads(raw)
        data["secrets"] = tuple(StoredSecret(**s) for s in data["secrets"])
        return cls(**data, digest=record_digest(raw))


def record_digest(raw: bytes | str) -> str:
    """What the append script compares (`redis.sha1hex` of the stored value): a change
    detector, not a secret, so SHA-1's speed is all that matters."""
    data = raw.encode() if isinstance(raw, str) else raw
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


class RecordCache:
    """This process's copies of endpoint records, so the ingest path skips a round trip.

    Exact, not time-based: every change is published on CHANGES_CHANNEL and the hub calls
    `invalidate`; while the hub is not subscribed (`live()` false) nothing is cached or served,
    since a change could go unheard. `generation` closes the race between reading a record
    and caching it: a copy read before an invalidation arrived is never stored.
    """

    MAX = 10_000

    def __init__(self) -> None:
        self._records: dict[str, Endpoint] = {}
        self.generation = 0
        self.live: Callable[[], bool] = lambda: False

    def lookup(self, endpoint_id: str) -> Endpoint | None:
        return self._records.get(endpoint_id) if self.live() else None

    def offer(self, endpoint: Endpoint, generation: int) -> None:
        if self.live() and generation == self.generation:
            if len(self._records) >= self.MAX:
                self._records.clear()
            self._records[endpoint.id] = endpoint

    def invalidate(self, endpoint_id: str | None) -> None:
        """Forget one record, or all (None: after the subscription was lost or renewed)."""
        self.generation += 1
        if endpoint_id is None:
            self._records.clear()
        else:
            self._records.pop(endpoint_id, None)


class Endpoints:
    def __init__(
        self, client: Client, *, allow_unverified: bool, cache: RecordCache | None = None
    ) -> None:
        self.client = client
        self.allow_unverified = allow_unverified
        self.cache = cache or RecordCache()
        self._create = client.register_script(_CREATE)

    def create(
        self,
        endpoint_id: Any,
        provider_name: Any,
        secret: Any = None,
        description: Any = "",
        options: Any = None,
    ) -> Endpoint:
        if not is_endpoint_id(endpoint_id):
            raise InvalidInput("id", f"must match {ENDPOINT_ID_PATTERN}")
        if not isinstance(provider_name, str):
            raise InvalidInput("provider", "must be a provider name")
        provider = providers.get(provider_name)
        if not provider.requires_secret and not self.allow_unverified:
            raise InvalidInput(
                "provider", "'none' (no verification) is off; set BRIDGE_ALLOW_UNVERIFIED=true"
            )
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            raise InvalidInput(
                "description", f"must be text of at most {MAX_DESCRIPTION} characters"
            )
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise InvalidInput("options", "must be an object")
        _unicode("description", description)
        _unicode("options", options)
        clean_options = provider.validate_options(options)
        secrets: tuple[StoredSecret, ...] = ()
        if provider.requires_secret:
            value = self._secret_value(provider, secret)
            secrets = (StoredSecret(id="s1", value=value, created_at=time.time()),)
        elif secret is not None and secret != "":
            # Kept nowhere and checked against nothing: said, not dropped without a word.
            raise InvalidInput(
                "secret", f"provider {provider.name!r} verifies nothing: send no secret"
            )
        text, endpoint = Endpoint(
            id=endpoint_id,
            provider=provider.name,
            secrets=secrets,
            description=description,
            options=clean_options,
            created_at=time.time(),
            generation=secrets_module.token_hex(4),
        ).stored()
        try:
            # Index first: two commands (two slots on a cluster), and a failure between them
            # must not leave a record that list() never shows. An index entry without a
            # record is skipped by list() and completed by the retried create.
            self.client.sadd(keys.ENDPOINT_INDEX, endpoint_id)
            created = self._create(
                keys=[keys.endpoint(endpoint_id), keys.stream(endpoint_id)], args=[text]
            )
            if not created:
                raise Conflict("endpoint", endpoint_id)
        except REDIS_ERRORS as exc:
            raise unavailable("create endpoint", exc) from exc
        self._changed(endpoint_id)
        return endpoint

    def get(self, endpoint_id: str, *, fresh: bool = False) -> Endpoint:
        """The record; from this process's cache unless `fresh` (read-modify-write needs that)."""
        if not is_endpoint_id(endpoint_id):
            raise NotFound("endpoint", endpoint_id)
        cached = None if fresh else self.cache.lookup(endpoint_id)
        if cached is not None:
            return cached
        generation = self.cache.generation
        try:
            raw = self.client.get(keys.endpoint(endpoint_id))
        except REDIS_ERRORS as exc:
            raise unavailable("read endpoint", exc) from exc
        if raw is None:
            raise NotFound("endpoint", endpoint_id)
        endpoint = Endpoint.from_json(raw)
        self.cache.offer(endpoint, generation)
        return endpoint

    def _changed(self, endpoint_id: str) -> None:
        """Tell every worker (and this one at once) that a record changed."""
        self.cache.invalidate(endpoint_id)
        try:
            self.client.publish(keys.CHANGES_CHANNEL, endpoint_id)
        except REDIS_ERRORS as exc:
            raise unavailable("announce endpoint change", exc) from exc

    def ids(self) -> list[str]:
        """Every endpoint id in the index (one that is mid-create or mid-delete included)."""
        try:
            members: set[bytes] = self.client.smembers(keys.ENDPOINT_INDEX)  # type: ignore[assignment]
        except REDIS_ERRORS as exc:
            raise unavailable("list endpoints", exc) from exc
        return sorted(i.decode() for i in members)

    def list(self) -> list[Endpoint]:
        ids = self.ids()
        try:
            # One GET each, pipelined: MGET cannot span the slots of a Redis Cluster.
            with self.client.pipeline(transaction=False) as pipe:
                for i in ids:
                    pipe.get(keys.endpoint(i))
                raws = pipe.execute()
        except REDIS_ERRORS as exc:
            raise unavailable("list endpoints", exc) from exc
        return [Endpoint.from_json(raw) for raw in raws if raw is not None]

    def generations(self) -> dict[str, str]:
        """Each endpoint's id and generation (which changes when it is created again)."""
        return {endpoint.id: endpoint.generation for endpoint in self.list()}

    def generation(self, endpoint_id: str) -> str | None:
        """The endpoint's generation as stored now, or None when there is no such endpoint."""
        try:
            return self.get(endpoint_id, fresh=True).generation
        except NotFound:
            return None

    def delete(self, endpoint_id: str) -> None:
        self.get(endpoint_id, fresh=True)
        try:
            self.client.delete(
                keys.endpoint(endpoint_id), keys.stream(endpoint_id), keys.rejections(endpoint_id)
            )
            self.client.srem(keys.ENDPOINT_INDEX, endpoint_id)
        except REDIS_ERRORS as exc:
            raise unavailable("delete endpoint", exc) from exc
        self._changed(endpoint_id)

    def add_secret(self, endpoint_id: str, secret: Any = None) -> tuple[Endpoint, StoredSecret]:
        """Add a secret for rotation; the old ones stay valid until removed."""
        added: list[StoredSecret] = []

        def change(endpoint: Endpoint) -> Endpoint:
            if not endpoint.verifier.requires_secret:
                raise InvalidInput("provider", "an unverified endpoint has no secrets")
            if len(endpoint.secrets) >= MAX_SECRETS:
                raise Conflict(
                    "secret", endpoint_id, f"at most {MAX_SECRETS} secrets; remove one first"
                )
            value = self._secret_value(endpoint.verifier, secret)
            # Twice the same value is one secret under two ids: retiring either would look
            # like a rotation while deliveries kept verifying. A retiring one may come back.
            for held in endpoint.secrets:
                if held.expires_at is None and held.value == value:
                    raise Conflict("secret", held.id, f"this value is already secret {held.id}")
            number = max((int(s.id[1:]) for s in endpoint.secrets), default=0) + 1
            added[:] = [StoredSecret(id=f"s{number}", value=value, created_at=time.time())]
            return replace(endpoint, secrets=(*endpoint.secrets, added[0]))

        return self._update(endpoint_id, change), added[0]

    def remove_secret(self, endpoint_id: str, secret_id: str, grace: int = 0) -> Endpoint:
        """Remove a secret now, or let it verify for `grace` more seconds."""
        if not 0 <= grace <= MAX_GRACE:
            raise InvalidInput("grace_seconds", f"must be between 0 and {MAX_GRACE}")

        def change(endpoint: Endpoint) -> Endpoint:
            now = time.time()
            if secret_id not in {s.id for s in endpoint.secrets}:
                raise NotFound("secret", secret_id)
            # A secret in its grace period is on its way out too, so it is no successor: with
            # it counted, removing the one lasting secret left an endpoint that, once the
            # grace ran out, refused every delivery.
            if not any(s.expires_at is None for s in endpoint.secrets if s.id != secret_id):
                raise Conflict(
                    "secret",
                    secret_id,
                    f"{secret_id} is the last live secret and cannot be removed (the others"
                    " are in their grace period, or there are none): add its successor first",
                )
            kept = []
            for s in endpoint.secrets:
                if s.id == secret_id:
                    if grace:
                        kept.append(replace(s, expires_at=now + grace))
                elif s.live(now):  # drop secrets whose grace has run out
                    kept.append(s)
            return replace(endpoint, secrets=tuple(kept))

        return self._update(endpoint_id, change)

    def _update(self, endpoint_id: str, change: Callable[[Endpoint], Endpoint]) -> Endpoint:
        """Read, change and write a record; WATCH makes concurrent changes all land."""
        key = keys.endpoint(endpoint_id)
        try:
            # transaction=True: a cluster client's pipelines are not transactions by default.
            with self.client.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        pipe.watch(key)
                        text, updated = change(self.get(endpoint_id, fresh=True)).stored()
                        pipe.multi()
                        pipe.set(key, text)
                        pipe.execute()
                        self._changed(endpoint_id)
                        return updated
                    except redis.WatchError:
                        continue
        except REDIS_ERRORS as exc:
            raise unavailable("update endpoint", exc) from exc

    @staticmethod
    def _secret_value(provider: Provider, secret: Any) -> str:
        if secret is None or secret == "":
            if not provider.generates_secret:
                raise InvalidInput(
                    "secret", f"{provider.name} issues the signing secret: paste it here"
                )
            return provider.new_secret()
        if not isinstance(secret, str) or not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
            raise InvalidInput(
                "secret", f"must be text of {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters"
            )
        _unicode("secret", secret)
        if not re.fullmatch(SECRET_CHARACTERS, secret):
            # A pasted value's newline, tab or invisible mark: no provider's secret holds one,
            # and the endpoint would have refused every delivery (401) with nothing to say why.
            problem = (
                "must not be only spaces"
                if secret.isspace()
                else "must be visible text, no control or invisible characters (a pasted newline?)"
            )
            raise InvalidInput("secret", problem)
        provider.check_secret(secret)
        return secret


def _unicode(field: str, value: Any) -> None:
    """InvalidInput unless every string in `value` (keys too) is valid Unicode: JSON can
    escape a lone surrogate ("\\ud800"), which no UTF-8 holds, and a record holding one
    broke every client that prints it (`bridge endpoints list` stopped at it)."""
    if any(isinstance(leaf, str) and not is_unicode(leaf) for leaf in jsontext.leaves(value)):
        raise InvalidInput(field, "must be valid Unicode (no lone surrogate)")
