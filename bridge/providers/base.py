"""What every provider module implements: verify a request on its raw bytes, and sign one.

A provider is a verifier that can also sign (as standard-webhooks and stripe's SDKs do), so
one parametrised test suite covers every provider, and `bridge send` can make test webhooks.

Rules every implementation follows:
- Verify the raw body bytes exactly as received; never parse JSON before the check passes.
- Compare digests with `hmac.compare_digest`, never `==`.
- Accept when any one of several signatures (in the header) matches any one secret.
- Timestamped schemes reject both stale and future timestamps beyond `tolerance`.
- Raise only `VerificationError` for a bad request, whatever bytes the headers hold.

Beside it: headers.py parses the header values (never raising), matching.py compares
signatures in constant time, work.py records what was signed for the debugger; guides.py
holds each provider's documentation (title, table row, setup steps), apart from verification.
"""

from __future__ import annotations

import json
import math
import re
import secrets as _random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from bridge import jsontext, masking
from bridge.errors import InvalidInput, VerificationError
from bridge.providers.headers import OWS, UNIX_SECONDS
from bridge.text import SPACE_CLASS

T = TypeVar("T")


@dataclass(frozen=True)
class SignRequest:
    """What `sign` is asked to sign, in one argument: provider modules implement
    `headers_for(req)` rather than repeating `sign`'s keyword list each."""

    body: bytes
    secret: str = field(repr=False)
    now: float
    event_id: str | None = None
    event_type: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Secret:
    """One of an endpoint's secrets; `id` is recorded on every event it verified."""

    id: str
    value: str = field(repr=False)  # never in a log line, a traceback's context or a test diff


@dataclass(frozen=True)
class WebhookRequest:
    """A delivery as the bridge received it. `headers` keys are lower-case."""

    # Not in its repr: a body of megabytes, and headers that can hold a secret in clear
    # (GitLab's X-Gitlab-Token is the endpoint's secret itself).
    body: bytes = field(repr=False)
    headers: Mapping[str, str] = field(repr=False)
    url: str = ""
    now: float = 0.0
    tolerance: int = 300
    options: Mapping[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    # What is worked out of the body once however often it is asked for: the parse that
    # verify, identify and the envelope share (a large body took a second per parse), and
    # what a verifier reads from it (verify runs again for the debugger).
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def memo(self, name: str, work: Callable[[], T]) -> T:
        """`work()` the first time `name` is asked of this request, the same value after."""
        if name not in self._memo:
            self._memo[name] = work()
        found: T = self._memo[name]
        return found

    def parsed(self) -> jsontext.Body:
        """`jsontext.parse_body(body)`, once per request. Shared: code that changes the
        tree (masking) parses a copy of its own instead."""
        return self.memo("body", lambda: jsontext.parse_body(self.body))

    def json(self) -> Any:
        """The body parsed as JSON, or None; only call after verification."""
        parsed = self.parsed()
        if parsed.kind == "json":
            return parsed.value
        # Wider than the envelope's rules, for the id and type: a BOM, UTF-16, NaN, 1e400.
        try:
            return jsontext.loads(self.body)
        except ValueError:
            return None


@dataclass(frozen=True)
class Verdict:
    """The outcome of a successful check. `secret_id` is None for unverified endpoints."""

    verified: bool
    secret_id: str | None
    scheme: str


@dataclass(frozen=True)
class Identity:
    """The provider's own event id and type; None where the provider has none."""

    event_id: str | None
    event_type: str | None


# Options every endpoint takes: the replay window of timestamped schemes, the exact URL
# the provider calls (URL-signing schemes such as Twilio sign it; behind a proxy that rewrites
# paths, the URL the bridge sees is not the one registered), and the JSON paths to mask.
COMMON_OPTIONS: Mapping[str, type] = {"tolerance": int, "public_url": str, "mask": list}
MAX_TOLERANCE = 86400
# What validate_options checks beyond the type, for the OpenAPI document.
# An http(s) URL with a host, no query and no whitespace (enforced by this very pattern).
# The authority as a provider could call it (a URL no request can reach makes every delivery
# fail): a userinfo@ (Twilio signs it), a name of non-empty labels (ASCII, or an IDN as
# written) or a bracketed IPv6 address, and a port from 1 to 65535.
_LABEL = rf"(?:[A-Za-z0-9_~-]|[^\x00-\x7f{SPACE_CLASS}])+"
_PORT = r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_USERINFO = rf"[^@/?#\[\]{SPACE_CLASS}]*@"
_AUTHORITY = rf"(?:{_USERINFO})?(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9A-Fa-f:.]+\])(?::{_PORT})?"
URL_SHAPE = "an http(s) URL of a host name or [IPv6 address] and a port from 1 to 65535"
PUBLIC_URL = rf"https?://{_AUTHORITY}(?:[/#][^?{SPACE_CLASS}]*)?"
HTTP_URL = rf"https?://{_AUTHORITY}(?:[/?#][^{SPACE_CLASS}]*)?"  # the same, with a query allowed
COMMON_OPTION_RULES: Mapping[str, Mapping[str, Any]] = {
    "tolerance": {"minimum": 1, "maximum": MAX_TOLERANCE},
    "public_url": {"pattern": f"^{PUBLIC_URL}$"},
    "mask": masking.SCHEMA,
}


# What an option's type is called in a refusal ("must be int" said little to a CLI user).
_KINDS: Mapping[type, str] = {
    int: "a whole number",
    str: "text (a JSON string)",
    bool: "true or false",
    list: "a list",
}


def _shown(value: Any) -> str:
    """A refused option's value as JSON, cut short: it is quoted back in the 400."""
    text = json.dumps(value[:40] if isinstance(value, str) else value)
    return text if len(text) <= 40 else text[:36] + " ..."


class Provider(ABC):
    name: ClassVar[str]
    # The endpoint's "secret" is the provider's public key (it signs with its private key).
    public_key: ClassVar[bool] = False
    # True where the receiver picks the secret (the bridge generates one if none is given);
    # False where the provider issues it (Stripe, Slack, Shopify): then it is required.
    generates_secret: ClassVar[bool] = True
    # False only where verification uses no secret at all (`none`).
    requires_secret: ClassVar[bool] = True
    # Where the secret is a key that check_secret parses: the OpenAPI `format` naming it.
    key_format: ClassVar[str] = ""
    # A rule check_secret holds every secret to, as a regular expression, for the OpenAPI
    # document; "" where the provider has none beyond the endpoint's own.
    secret_pattern: ClassVar[str] = ""
    # Endpoint options this provider accepts beyond the common ones, with their types.
    option_types: ClassVar[Mapping[str, type]] = {}
    # What its validate_options checks of them beyond the type, as JSON Schema (OpenAPI).
    option_rules: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    # What the signature covers, for the debugger: `{body}` is the raw body, `{name}` a
    # header's value (or a field of the signature header, as Stripe's `t`).
    signed_template: ClassVar[str] = "{body}"
    # The `mask` paths proposed for this provider's payloads (personal data it is known to
    # carry); proposed on the endpoint page, applied only when the endpoint sets them.
    mask_defaults: ClassVar[tuple[str, ...]] = ()
    # True where the signature covers the URL the provider called (`request.url`): only then
    # does the ingest work the public URL out (werkzeug's is a sizeable part of a webhook's
    # CPU); every other provider's requests carry `url=""`.
    signs_url: ClassVar[bool] = False

    @abstractmethod
    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        """Return the verdict, or raise VerificationError(self.name, reason, detail)."""

    @abstractmethod
    def identify(self, request: WebhookRequest) -> Identity:
        """Take the provider's event id and type from a verified request."""

    def sign(
        self,
        body: bytes,
        secret: str,
        *,
        now: float,
        event_id: str | None = None,
        event_type: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        """The headers this provider would send with `body` (used by tests and `bridge send`)."""
        return self.headers_for(SignRequest(body, secret, now, event_id, event_type, options or {}))

    @abstractmethod
    def headers_for(self, req: SignRequest) -> dict[str, str]:
        """What `sign` returns; each provider implements this one."""

    def handshake(
        self, request: WebhookRequest, secret: Secret | None = None
    ) -> dict[str, Any] | None:
        """A JSON answer for a verified provider handshake, or None for a normal event.

        `secret` is the one that verified the request: Zoom's answer is an HMAC made with it.
        An empty dict means "answer 200 with an empty body" (Xero's intent-to-receive).
        """
        return None

    def acknowledge(self, request: WebhookRequest) -> dict[str, Any] | None:
        """The JSON answer a stored event must get instead of the bridge's own 202, or None.

        For senders that read the answer (Discord waits 3 s for an interaction response).
        """
        return None

    def sign_body(
        self,
        body: bytes,
        secret: str,
        *,
        now: float,
        event_id: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The body as this provider would send it; call before `sign`.

        Only schemes that carry signed fields inside the body change it: Mailgun puts its
        signature there, Linear its `webhookTimestamp`. Every other provider returns `body`.
        """
        return body

    def new_secret(self) -> str:
        return _random.token_urlsafe(32)

    def check_secret(self, secret: str) -> None:
        """Refuse, with InvalidInput("secret", ...), a secret that can never verify."""
        return

    def validate_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Check endpoint options when the endpoint is created; raise InvalidInput naming one."""
        clean: dict[str, Any] = {}
        allowed = {**COMMON_OPTIONS, **self.option_types}
        for key, value in options.items():
            expected = allowed.get(key)
            if expected is None:
                raise InvalidInput(f"options.{key}", f"not an option of provider {self.name}")
            wrong = not isinstance(value, expected) or isinstance(value, bool) is not (
                expected is bool
            )
            if key == "tolerance" and (wrong or not 1 <= value <= MAX_TOLERANCE):
                raise InvalidInput(
                    "options.tolerance",
                    f"must be a whole number of seconds from 1 to {MAX_TOLERANCE}, "
                    f"got {_shown(value)}",
                )
            if wrong:
                raise InvalidInput(
                    f"options.{key}", f"must be {_KINDS[expected]}, got {_shown(value)}"
                )
            clean[key] = value
        if "mask" in clean:
            clean["mask"] = masking.validate(clean["mask"])
        public_url = clean.get("public_url")
        # The pattern alone: a scheme, a host, no query (urlsplit would drop a tab or a
        # newline unseen, and raise on a `[` the document allows).
        if public_url is not None and not re.fullmatch(PUBLIC_URL, public_url):
            raise InvalidInput("options.public_url", f"must be {URL_SHAPE}, without a query")
        return clean

    # Helpers shared by the HMAC schemes.

    def fail(self, reason: str, detail: str = "") -> VerificationError:
        return VerificationError(self.name, reason, detail)

    def require(self, request: WebhookRequest, name: str) -> str:
        value = request.header(name)
        if not value:
            raise self.fail(VerificationError.MISSING, f"header {name} is missing")
        return value

    def check_timestamp(
        self, request: WebhookRequest, raw: str, tolerance: int | None = None
    ) -> int:
        """Parse Unix seconds and check them against now, within `tolerance` (default the
        request's) both ways."""
        # int() alone would also take "+1", "1_0", fullwidth or Arabic-Indic digits and any
        # Unicode space: a provider sends ASCII digits, and anything else is not its header.
        text = raw.strip(OWS)
        if not UNIX_SECONDS.fullmatch(text):
            if text.isascii() and text.isdigit():  # past any int64: far in the future
                raise self.fail(VerificationError.STALE, "timestamp out of range")
            raise self.fail(VerificationError.BAD, "timestamp is not a whole number")
        ts = int(text)
        self.check_skew(request, ts, request.tolerance if tolerance is None else tolerance)
        return ts

    def check_skew(self, request: WebhookRequest, seconds: float, tolerance: float) -> None:
        """Raise stale_timestamp when `seconds` (Unix time) is over `tolerance` from now."""
        try:
            skew = request.now - float(seconds)
        except OverflowError:
            skew = math.inf
        if math.isnan(skew):
            raise self.fail(VerificationError.BAD, "timestamp is not a number")
        if math.isinf(skew):
            raise self.fail(VerificationError.STALE, "timestamp out of range")
        if abs(skew) > tolerance:
            direction = "old" if skew > 0 else "in the future"
            raise self.fail(VerificationError.STALE, f"timestamp {abs(int(skew))} s {direction}")
