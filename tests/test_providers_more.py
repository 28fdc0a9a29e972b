"""The providers beyond the core six: vectors, round trips, negatives, handshakes, SDK oracles.

Also property tests (hypothesis) over every provider in the registry, and the check that
docs/providers.md is what `python -m bridge.providers.docs` renders.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import nacl.signing
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from discord_interactions import verify_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paddle_billing.Notifications import Secret as PaddleSecret
from paddle_billing.Notifications.PaddleSignature import PaddleSignature
from sendgrid.helpers.eventwebhook import EventWebhook
from twilio.request_validator import RequestValidator

from bridge.errors import InvalidInput, VerificationError
from bridge.providers import REGISTRY, asymmetric, get
from bridge.providers.base import Identity, Secret, WebhookRequest
from bridge.providers.discord import public_key_hex
from bridge.providers.docs import render
from bridge.providers.twilio import json_url
from tests.test_providers import NASTY, NOW, VECTORS, after, b64_to_hex, hex_to_b64

MISSING, BAD, STALE = VerificationError.MISSING, VerificationError.BAD, VerificationError.STALE
VECTOR_PROVIDERS = {"twilio", "paddle", "square", "sendgrid"}
DOCS = Path(__file__).resolve().parents[1] / "docs" / "providers.md"
HOOK_URL = "https://bridge.example.com/hooks/ep-1"
PROPERTY = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def make_request(
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float = NOW,
    url: str = "",
    options: Mapping[str, Any] | None = None,
) -> WebhookRequest:
    options = dict(options or {})
    return WebhookRequest(
        body=body,
        headers={k.lower(): v for k, v in headers.items()},
        url=url,
        now=now,
        tolerance=int(options.get("tolerance", 300)),
        options=options,
    )


# Fixed key pairs for the public-key schemes (RFC 8032 test 1 for Ed25519).

ED_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
ED_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
P256_KEY = ec.derive_private_key(0x1F2E3D4C5B6A7988, ec.SECP256R1())
P256_PRIVATE = base64.b64encode(
    P256_KEY.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
).decode()
P256_PUBLIC = asymmetric.p256_public_text(P256_KEY)


def whsk(seed: bytes) -> str:
    return "whsk_" + base64.b64encode(seed).decode()


def whpk_of(secret: str) -> str:
    """The whpk_ public key of a whsk_ private key."""
    key = asymmetric.ed25519_private(base64.b64decode(secret.removeprefix("whsk_")))
    assert key is not None
    return "whpk_" + base64.b64encode(asymmetric.ed25519_public_bytes(key)).decode()


def discord_public(secret: str) -> str:
    public = public_key_hex(secret)
    assert public is not None
    return public


def p256_public(secret: str) -> str:
    key = asymmetric.p256_private(secret)
    assert key is not None
    return asymmetric.p256_public_text(key)


def same(secret: str) -> str:
    return secret


# 1. Published vectors


def load_vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]
    return [v for v in vectors if v["provider"] in VECTOR_PROVIDERS]


def vector_request(vector: Mapping[str, Any]) -> WebhookRequest:
    return make_request(
        vector["body"].encode(),
        vector["headers"],
        now=float(vector.get("now", NOW)),
        url=vector.get("url", ""),
    )


@pytest.mark.parametrize("vector", [pytest.param(v, id=v["id"]) for v in load_vectors()])
def test_official_vector(vector: dict[str, Any]) -> None:
    """A published vector is accepted exactly when it is marked valid, at its `now` and URL."""
    provider = get(vector["provider"])
    other = P256_PUBLIC if vector["provider"] == "sendgrid" else "another-secret"
    secrets = [Secret("other", other), Secret("vector", vector["secret"])]
    if vector["valid"]:
        verdict = provider.verify(vector_request(vector), secrets)
        assert (verdict.verified, verdict.secret_id) == (True, "vector")
    else:
        with pytest.raises(VerificationError) as caught:
            provider.verify(vector_request(vector), secrets)
        assert caught.value.reason == BAD


def test_official_vectors_cover_these_providers() -> None:
    """The vector file holds valid vectors for each of these providers, and invalid ones too."""
    seen = {(v["provider"], v["valid"]) for v in load_vectors()}
    assert {p for p, valid in seen if valid} == VECTOR_PROVIDERS
    assert {p for p, valid in seen if not valid} >= {"square", "sendgrid"}


@pytest.mark.parametrize(
    "vector_id",
    ["twilio-docs-example", "twilio-sdk-port-443", "twilio-sdk-json-bodySHA256"],
)
def test_twilio_vector_fails_at_another_url(vector_id: str) -> None:
    """A Twilio vector checked against a URL other than the one signed is rejected."""
    vector = next(v for v in load_vectors() if v["id"] == vector_id)
    request = make_request(
        vector["body"].encode(), vector["headers"], url=vector["url"].replace("bar=2", "bar=3")
    )
    with pytest.raises(VerificationError) as caught:
        get("twilio").verify(request, [Secret("s", vector["secret"])])
    assert caught.value.reason == BAD


def test_twilio_json_vector_rejects_changed_body() -> None:
    """Twilio's JSON vector with one byte of the body changed fails its bodySHA256 check."""
    vector = next(v for v in load_vectors() if v["id"] == "twilio-sdk-json-bodySHA256")
    request = make_request(
        vector["body"].replace("true", "True").encode(), vector["headers"], url=vector["url"]
    )
    with pytest.raises(VerificationError) as caught:
        get("twilio").verify(request, [Secret("s", vector["secret"])])
    assert caught.value.reason == BAD
    assert "bodySHA256" in caught.value.detail


def test_paddle_vector_outside_window_is_stale() -> None:
    """Paddle's vector checked 301 s after its timestamp gives stale_timestamp."""
    vector = next(v for v in load_vectors() if v["id"] == "paddle-sdk-standard-payload")
    request = make_request(vector["body"].encode(), vector["headers"], now=vector["now"] + 301)
    with pytest.raises(VerificationError) as caught:
        get("paddle").verify(request, [Secret("s", vector["secret"])])
    assert caught.value.reason == STALE


VECTOR_IDENTITY = {
    "paddle-sdk-standard-payload": Identity("ntf_01hs0tqfrhgkyp39x4wyvy7h6n", "customer.created"),
    "square-sdk-test-notification": Identity(
        "ac3ac95b-f97d-458c-a6e6-18981597e05f", "webhooks.test_notification"
    ),
    "sendgrid-sdk-dropped": Identity(None, "dropped"),
    "twilio-docs-example": Identity(None, None),
}


@pytest.mark.parametrize("vector_id", sorted(VECTOR_IDENTITY))
def test_official_vector_identity(vector_id: str) -> None:
    """identify() takes the event id and type from where each provider puts them."""
    vector = next(v for v in load_vectors() if v["id"] == vector_id)
    assert get(vector["provider"]).identify(vector_request(vector)) == VECTOR_IDENTITY[vector_id]


def test_ed25519_rfc8032_vector() -> None:
    """Our Ed25519 check accepts RFC 8032's test 1 and rejects it with a changed message."""
    signature = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065"
        "224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    key = asymmetric.ed25519_public(bytes.fromhex(ED_PUBLIC))
    assert asymmetric.ed25519_valid(key, signature, b"")
    assert not asymmetric.ed25519_valid(key, signature, b"\x00")
    assert public_key_hex(ED_SEED) == ED_PUBLIC


# 2. Round trips and the negatives every scheme must reject


@dataclass(frozen=True)
class Case:
    """One provider configuration, with the header mutations its scheme must reject.

    `secret` signs; `public_of(secret)` is what the endpoint stores (the same text for HMAC,
    the public key for Ed25519 and ECDSA). `fresh()` makes another signing secret.
    """

    id: str
    provider: str
    secret: str
    body: bytes
    signature_header: str
    other_encoding: Callable[[str], str] | None
    prefix_variants: tuple[tuple[str, Callable[[str], str], str], ...] = ()
    signed_headers: tuple[str, ...] = ()
    window: int | None = None
    covered: bool = True
    url: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    public_of: Callable[[str], str] = same
    fresh: Callable[[], str] | None = None

    @property
    def endpoint_secret(self) -> str:
        return self.public_of(self.secret)

    def new_secret(self) -> str:
        return self.fresh() if self.fresh else get(self.provider).new_secret()

    def signed(
        self, *, now: float = NOW, secret: str = "", body: bytes | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body as sent and the lower-cased headers for it."""
        provider = get(self.provider)
        key = secret or self.secret
        options = {**self.options, "url": self.url}
        sent = provider.sign_body(
            self.body if body is None else body,
            key,
            now=now,
            event_id="evt-roundtrip",
            options=options,
        )
        headers = provider.sign(sent, key, now=now, event_id="evt-roundtrip", options=options)
        return sent, {k.lower(): v for k, v in headers.items()}

    def request(self, body: bytes, headers: Mapping[str, str]) -> WebhookRequest:
        return make_request(body, headers, url=self.url, options=self.options)


TWILIO_FORM = (
    b"AccountSid=AC0123456789abcdef&Body=Hello+there%21&From=%2B14155550100"
    b"&MessageSid=SM0123456789abcdef&SmsStatus=received&To=%2B14155550199"
)
TWILIO_JSON = b'{"type":"com.twilio.messaging.message.delivered","data":{"messageSid":"SM1"}}'
TWILIO_URL = "https://bridge.example.com/hooks/tw-1?tenant=acme"

CASES = [
    Case(
        id="twilio-form",
        provider="twilio",
        secret="12345abcdef12345abcdef12345abcde",
        body=TWILIO_FORM,
        signature_header="x-twilio-signature",
        other_encoding=b64_to_hex,
        prefix_variants=(("sha1-prefix", lambda v: "sha1=" + v, BAD),),
        covered=False,
        url=TWILIO_URL,
    ),
    Case(
        id="twilio-json",
        provider="twilio",
        secret="12345abcdef12345abcdef12345abcde",
        body=TWILIO_JSON,
        signature_header="x-twilio-signature",
        other_encoding=b64_to_hex,
        prefix_variants=(("sha1-prefix", lambda v: "sha1=" + v, BAD),),
        url=json_url(TWILIO_URL, TWILIO_JSON),
    ),
    Case(
        id="paddle",
        provider="paddle",
        secret="pdl_ntfset_01hs0t3tw21j988db1pam5xg8m_GrOWLNef+vmtjJYq4mSnHNzvc8uWoJ1I",
        body=b'{"event_id":"evt_01","event_type":"subscription.created","data":{"id":"sub_1"}}',
        signature_header="paddle-signature",
        other_encoding=lambda v: re.sub(r"h1=(\w+)", lambda m: "h1=" + hex_to_b64(m[1]), v),
        prefix_variants=(
            ("h2-only", lambda v: v.replace("h1=", "h2="), MISSING),
            ("no-key", lambda v: v.replace("h1=", ""), MISSING),
            ("no-ts", lambda v: v.split(";", 1)[1], BAD),
            ("comma-separated", lambda v: v.replace(";", ","), MISSING),
        ),
        window=300,
    ),
    Case(
        id="square",
        provider="square",
        secret="Ibxx_5AKakO-3qeNVR61Dw",
        body=b'{"merchant_id":"ML1","type":"payment.updated","event_id":"e-1","data":{}}',
        signature_header="x-square-hmacsha256-signature",
        other_encoding=b64_to_hex,
        prefix_variants=(("sha256-prefix", lambda v: "sha256=" + v, BAD),),
        url=HOOK_URL,
    ),
    Case(
        id="square-notification-url",
        provider="square",
        secret="Ibxx_5AKakO-3qeNVR61Dw",
        body=b'{"merchant_id":"ML1","type":"payment.created","event_id":"e-2","data":{}}',
        signature_header="x-square-hmacsha256-signature",
        other_encoding=b64_to_hex,
        url="http://10.0.0.5:8080/hooks/ep-1",
        options={"notification_url": "https://pay.example.com/square"},
    ),
    Case(
        id="linear",
        provider="linear",
        secret="lin_wh_0123456789abcdef0123456789abcdef",
        body=b'{"action":"create","type":"Issue","data":{"id":"i-1","title":"Bug"}}',
        signature_header="linear-signature",
        other_encoding=hex_to_b64,
        prefix_variants=(("sha256-prefix", lambda v: "sha256=" + v, BAD),),
        window=60,
    ),
    Case(
        id="zoom",
        provider="zoom",
        secret="zoom_secret_token_0123456789",
        body=b'{"event":"meeting.started","event_ts":1732590000000,"payload":{"object":{}}}',
        signature_header="x-zm-signature",
        other_encoding=after("v0=", hex_to_b64),
        prefix_variants=(
            ("no-prefix", lambda v: v.removeprefix("v0="), MISSING),
            ("v1-prefix", lambda v: "v1=" + v.removeprefix("v0="), MISSING),
        ),
        signed_headers=("x-zm-request-timestamp",),
        window=300,
    ),
    Case(
        id="sendgrid",
        provider="sendgrid",
        secret=P256_PRIVATE,
        body=b'[{"email":"a@example.com","event":"delivered","sg_event_id":"ZHJ"}]\r\n',
        signature_header="x-twilio-email-event-webhook-signature",
        other_encoding=b64_to_hex,
        prefix_variants=(("v1-prefix", lambda v: "v1," + v, BAD),),
        signed_headers=("x-twilio-email-event-webhook-timestamp",),
        public_of=p256_public,
    ),
    Case(
        id="sendgrid-window",
        provider="sendgrid",
        secret=P256_PRIVATE,
        body=b'[{"email":"a@example.com","event":"open","sg_event_id":"ZHK"}]\r\n',
        signature_header="x-twilio-email-event-webhook-signature",
        other_encoding=b64_to_hex,
        signed_headers=("x-twilio-email-event-webhook-timestamp",),
        window=300,
        options={"tolerance": 300},
        public_of=p256_public,
    ),
    Case(
        id="mailgun-json",
        provider="mailgun",
        secret="key-0123456789abcdef0123456789abcdef",
        body=b'{"event-data":{"event":"delivered","id":"Ase7i2zsRYeDXztHGENqRA"}}',
        signature_header="",
        other_encoding=None,
        window=900,
        covered=False,
    ),
    Case(
        id="mailgun-form",
        provider="mailgun",
        secret="key-0123456789abcdef0123456789abcdef",
        body=b"event=opened&recipient=alice%40example.com&domain=mg.example.com",
        signature_header="",
        other_encoding=None,
        window=900,
        covered=False,
    ),
    Case(
        id="intercom",
        provider="intercom",
        secret="intercom-client-secret-0123456789",
        body=b'{"type":"notification_event","topic":"conversation.user.created","id":"notif_1"}',
        signature_header="x-hub-signature",
        other_encoding=after("sha1=", hex_to_b64),
        prefix_variants=(
            ("no-prefix", lambda v: v.removeprefix("sha1="), MISSING),
            ("sha256-prefix", lambda v: "sha256=" + v.removeprefix("sha1="), MISSING),
        ),
    ),
    Case(
        id="gitlab",
        provider="gitlab",
        secret="glwh-token-0123456789abcdef",
        body=b'{"object_kind":"push","ref":"refs/heads/main"}',
        signature_header="x-gitlab-token",
        other_encoding=None,
        prefix_variants=(("bearer", lambda v: "Bearer " + v, BAD),),
        covered=False,
    ),
    Case(
        id="discord",
        provider="discord",
        secret=ED_SEED,
        body=b'{"id":"1234","type":2,"data":{"name":"weather"},"token":"t"}',
        signature_header="x-signature-ed25519",
        other_encoding=hex_to_b64,
        prefix_variants=(("0x-prefix", lambda v: "0x" + v, BAD),),
        signed_headers=("x-signature-timestamp",),
        window=300,
        public_of=discord_public,
    ),
    Case(
        id="typeform",
        provider="typeform",
        secret="typeform-secret-0123456789",
        body=b'{"event_id":"01HZ","event_type":"form_response","form_response":{"form_id":"f"}}',
        signature_header="typeform-signature",
        other_encoding=after("sha256=", b64_to_hex),
        prefix_variants=(
            ("no-prefix", lambda v: v.removeprefix("sha256="), MISSING),
            ("sha1-prefix", lambda v: "sha1=" + v.removeprefix("sha256="), MISSING),
        ),
    ),
    Case(
        id="calendly",
        provider="calendly",
        secret="calendly-signing-key-0123456789",
        body=b'{"created_at":"2024-11-26T03:00:00Z","event":"invitee.created","payload":{}}',
        signature_header="calendly-webhook-signature",
        other_encoding=lambda v: v.split(",v1=")[0] + ",v1=" + hex_to_b64(v.split(",v1=")[1]),
        prefix_variants=(
            ("v0-only", lambda v: v.replace("v1=", "v0="), MISSING),
            ("no-t", lambda v: v.split(",", 1)[1], BAD),
        ),
        window=300,
    ),
    Case(
        id="lemonsqueezy",
        provider="lemonsqueezy",
        secret="lemon-secret-0123456789",
        body=b'{"meta":{"event_name":"order_created"},"data":{"id":"1","type":"orders"}}',
        signature_header="x-signature",
        other_encoding=hex_to_b64,
        prefix_variants=(("sha256-prefix", lambda v: "sha256=" + v, BAD),),
    ),
    Case(
        id="xero",
        provider="xero",
        secret="OSd0eLlVIY9ZhViEqlDUh4+6n6M+Lo+eDaEJheJ6OCCgWwIz2D3JIAU6jPMipHRbgKTLz2uJ+xiACXGDBLrgdA==",
        body=b'{"events":[{"eventCategory":"INVOICE","eventType":"UPDATE"}],"entropy":"X"}',
        signature_header="x-xero-signature",
        other_encoding=b64_to_hex,
        prefix_variants=(("sha256-prefix", lambda v: "sha256=" + v, BAD),),
    ),
    Case(
        id="standard-v1a",
        provider="standard",
        secret=whsk(bytes.fromhex(ED_SEED)),
        body=b'{"type":"invoice.paid","data":{"id":"in_1","amount":4200}}',
        signature_header="webhook-signature",
        other_encoding=after("v1a,", b64_to_hex),
        prefix_variants=(
            ("no-version", lambda v: v.removeprefix("v1a,"), MISSING),
            ("v1-only", lambda v: "v1," + v.removeprefix("v1a,"), MISSING),
            ("v2-only", lambda v: "v2," + v.removeprefix("v1a,"), MISSING),
        ),
        signed_headers=("webhook-id", "webhook-timestamp"),
        window=300,
        public_of=whpk_of,
        fresh=lambda: whsk(asymmetric.ed25519_new()),
    ),
]
HEADER_CASES = [c for c in CASES if c.signature_header]
COVERED = [c for c in CASES if c.covered]
ENCODED = [c for c in CASES if c.other_encoding is not None]
TIMED = [c for c in CASES if c.window is not None]


def case_params(cases: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.id) for c in cases]


def reason_of(case: Case, body: bytes, headers: Mapping[str, str]) -> str:
    with pytest.raises(VerificationError) as caught:
        get(case.provider).verify(case.request(body, headers), [Secret("s", case.endpoint_secret)])
    assert caught.value.provider == case.provider
    return caught.value.reason


def test_cases_cover_every_new_provider() -> None:
    """Every provider in the registry has a case here or in test_providers.py."""
    core = {"standard", "stripe", "github", "razorpay", "shopify", "slack", "hmac", "none"}
    assert {c.provider for c in CASES} | core == set(REGISTRY)


@pytest.mark.parametrize("case", case_params(CASES))
def test_round_trip_accepts_with_second_secret(case: Case) -> None:
    """A signed request verifies, and the verdict names the one secret that matched."""
    body, headers = case.signed()
    secrets = [
        Secret("old", case.public_of(case.new_secret())),
        Secret("new", case.endpoint_secret),
    ]
    verdict = get(case.provider).verify(case.request(body, headers), secrets)
    assert (verdict.verified, verdict.secret_id) == (True, "new")


@pytest.mark.parametrize("case", case_params(COVERED))
def test_tampered_body_rejected(case: Case) -> None:
    """Changing one byte of the signed body gives bad_signature."""
    body, headers = case.signed()
    tampered = bytearray(body)
    tampered[len(tampered) // 2] ^= 1
    assert reason_of(case, bytes(tampered), headers) == BAD


@pytest.mark.parametrize("case", case_params(COVERED))
def test_reserialised_body_rejected(case: Case) -> None:
    """A body re-serialised through json.loads/json.dumps no longer verifies."""
    body, headers = case.signed()
    reserialised = json.dumps(json.loads(body)).encode()
    assert reserialised != body
    assert reason_of(case, reserialised, headers) == BAD


@pytest.mark.parametrize("case", case_params(CASES))
def test_wrong_secret_rejected(case: Case) -> None:
    """A request signed with another secret gives bad_signature."""
    body, headers = case.signed(secret=case.new_secret())
    assert reason_of(case, body, headers) == BAD


@pytest.mark.parametrize("case", case_params(HEADER_CASES))
def test_missing_signature_header(case: Case) -> None:
    """Removing the signature header gives missing_signature."""
    body, headers = case.signed()
    del headers[case.signature_header]
    assert reason_of(case, body, headers) == MISSING


@pytest.mark.parametrize(
    ("case", "header"),
    [pytest.param(c, h, id=f"{c.id}-{h}") for c in CASES for h in c.signed_headers],
)
def test_missing_signed_header(case: Case, header: str) -> None:
    """Removing a signed header other than the signature (timestamp, id) gives missing_signature."""
    body, headers = case.signed()
    del headers[header]
    assert reason_of(case, body, headers) == MISSING


@pytest.mark.parametrize("case", case_params(ENCODED))
def test_wrong_encoding_rejected(case: Case) -> None:
    """The right signature in the other encoding (hex for base64, base64 for hex) is rejected."""
    assert case.other_encoding is not None
    body, headers = case.signed()
    recoded = case.other_encoding(headers[case.signature_header])
    assert recoded != headers[case.signature_header]
    headers[case.signature_header] = recoded
    assert reason_of(case, body, headers) == BAD


@pytest.mark.parametrize(
    ("case", "mutate", "reason"),
    [
        pytest.param(c, mutate, reason, id=f"{c.id}-{label}")
        for c in CASES
        for label, mutate, reason in c.prefix_variants
    ],
)
def test_prefix_variants_rejected(case: Case, mutate: Callable[[str], str], reason: str) -> None:
    """A missing or wrong version prefix is rejected with the reason that fits the scheme."""
    body, headers = case.signed()
    headers[case.signature_header] = mutate(headers[case.signature_header])
    assert reason_of(case, body, headers) == reason


def _offsets(cases: list[Case], inside: bool) -> list[Any]:
    return [
        pytest.param(c, sign * ((c.window or 0) + (-1 if inside else 1)), id=f"{c.id}{sign:+d}")
        for c in cases
        for sign in (-1, 1)
    ]


@pytest.mark.parametrize(("case", "offset"), _offsets(TIMED, inside=False))
def test_timestamp_outside_window_is_stale(case: Case, offset: int) -> None:
    """A correctly signed timestamp just past the window, either way, gives stale_timestamp."""
    body, headers = case.signed(now=NOW + offset)
    assert reason_of(case, body, headers) == STALE


@pytest.mark.parametrize(("case", "offset"), _offsets(TIMED, inside=True))
def test_timestamp_inside_window_accepted(case: Case, offset: int) -> None:
    """A correctly signed timestamp just inside the window, either way, is accepted."""
    body, headers = case.signed(now=NOW + offset)
    verdict = get(case.provider).verify(
        case.request(body, headers), [Secret("s", case.endpoint_secret)]
    )
    assert verdict.verified


@pytest.mark.parametrize("offset", [-86_400 * 30, 86_400 * 30])
def test_sendgrid_has_no_window_by_default(offset: int) -> None:
    """Without the tolerance option SendGrid, like its SDKs, accepts any signed timestamp."""
    case = next(c for c in CASES if c.id == "sendgrid")
    body, headers = case.signed(now=NOW + offset)
    assert get("sendgrid").verify(case.request(body, headers), [Secret("s", P256_PUBLIC)]).verified


@pytest.mark.parametrize("tolerance", [30, 3600])
def test_linear_window_follows_tolerance_option(tolerance: int) -> None:
    """Linear's 60 s window gives way to the endpoint's tolerance option."""
    case = next(c for c in CASES if c.id == "linear")
    body, headers = case.signed(now=NOW - 45)
    request = make_request(body, headers, options={"tolerance": tolerance})
    if tolerance < 45:
        with pytest.raises(VerificationError) as caught:
            get("linear").verify(request, [Secret("s", case.secret)])
        assert caught.value.reason == STALE
    else:
        assert get("linear").verify(request, [Secret("s", case.secret)]).verified


@pytest.mark.parametrize(
    "stamp",
    ['"1732590000000"', "null", "true", "1e999", "NaN", "-Infinity", "9" * 400, "[1]"],
)
def test_linear_bad_webhook_timestamp(stamp: str) -> None:
    """A Linear body whose webhookTimestamp is not a sane number is rejected, never accepted."""
    secret = "lin_wh_secret"
    body = b'{"type":"Issue","webhookTimestamp":' + stamp.encode() + b"}"
    headers = get("linear").sign(body, secret, now=NOW)
    with pytest.raises(VerificationError) as caught:
        get("linear").verify(make_request(body, headers), [Secret("s", secret)])
    assert caught.value.reason in {BAD, STALE}


def test_linear_signature_checked_before_timestamp() -> None:
    """A stale Linear body with a wrong signature reports the signature, not the timestamp."""
    case = next(c for c in CASES if c.id == "linear")
    body, headers = case.signed(now=NOW - 3600, secret="another")
    assert reason_of(case, body, headers) == BAD


@pytest.mark.parametrize(
    ("case_id", "combine"),
    [
        ("paddle", lambda bad, good: f"{good};h1=dummy;{bad.split(';')[1]}"),
        ("calendly", lambda bad, good: f"{good},{bad.split(',')[1]}"),
        ("standard-v1a", lambda bad, good: f"v1,{bad[4:]} {bad} v2,x {good}"),
    ],
)
def test_one_good_signature_among_several_accepted(
    case_id: str, combine: Callable[[str, str], str]
) -> None:
    """A header listing several signatures verifies when any one of them matches."""
    case = next(c for c in CASES if c.id == case_id)
    body, good = case.signed()
    _, bad = case.signed(secret=case.new_secret())
    good[case.signature_header] = combine(bad[case.signature_header], good[case.signature_header])
    verdict = get(case.provider).verify(
        case.request(body, good), [Secret("s", case.endpoint_secret)]
    )
    assert verdict.verified


# 3. Hostile header values


@pytest.mark.parametrize("value", NASTY, ids=[f"nasty{i}" for i in range(len(NASTY))])
@pytest.mark.parametrize(
    ("case", "header"),
    [
        pytest.param(c, h, id=f"{c.id}-{h}")
        for c in HEADER_CASES
        for h in (c.signature_header, *c.signed_headers)
    ],
)
def test_garbage_header_raises_only_verification_error(case: Case, header: str, value: str) -> None:
    """Any junk in a signed header is rejected with VerificationError and nothing else."""
    body, headers = case.signed()
    headers[header] = value
    assert reason_of(case, body, headers) in {MISSING, BAD, STALE}


MAILGUN_KEY = "key-0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("value", [*NASTY, 7, -1, 10**400, None, True, [], {"a": 1}, 1.5])
@pytest.mark.parametrize("name", ["timestamp", "token", "signature"])
def test_mailgun_garbage_field_raises_only_verification_error(name: str, value: Any) -> None:
    """Junk in any of Mailgun's signature fields is rejected with VerificationError only."""
    body = get("mailgun").sign_body(b'{"event-data":{"event":"opened"}}', MAILGUN_KEY, now=NOW)
    data = json.loads(body)
    data["signature"][name] = value
    garbage = json.dumps(data).encode()
    with pytest.raises(VerificationError) as caught:
        get("mailgun").verify(make_request(garbage, {}), [Secret("s", MAILGUN_KEY)])
    assert caught.value.reason in {MISSING, BAD, STALE}


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b'{"event-data":{"event":"opened"}}', "application/json", MISSING),
        (b'{"signature":"abc"}', "application/json", MISSING),
        (b'{"signature":{"signature":"00"}}', "application/json", BAD),
        (b"event=opened&token=t", "application/x-www-form-urlencoded", MISSING),
        (b"timestamp=1&signature=00", "application/x-www-form-urlencoded", BAD),
        (b"\xff\xfe--x\r\n", "multipart/form-data; boundary=x", MISSING),
        (b"--x\r\nContent-Disposition: form-data\r\n\r\n--x--", "multipart/form-data", MISSING),
        (b"", "", MISSING),
    ],
)
def test_mailgun_missing_fields(body: bytes, content_type: str, reason: str) -> None:
    """A Mailgun body without its signature fields is rejected with the fitting reason."""
    request = make_request(body, {"content-type": content_type})
    with pytest.raises(VerificationError) as caught:
        get("mailgun").verify(request, [Secret("s", MAILGUN_KEY)])
    assert caught.value.reason == reason


def _multipart(fields: Mapping[str, str], boundary: str = "b0undary") -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ]
    return ("".join(parts) + f"--{boundary}--\r\n").encode()


def test_mailgun_multipart_route_verifies() -> None:
    """A Mailgun route post as multipart/form-data verifies from its form fields."""
    form = get("mailgun").sign_body(b"recipient=a%40b.c", MAILGUN_KEY, now=NOW, event_id="tok-1")
    fields = dict(parse_qsl(form.decode()))
    body = _multipart({"subject": "Hi", **fields, "body-plain": "text\r\nmore"})
    request = make_request(body, {"Content-Type": 'multipart/form-data; boundary="b0undary"'})
    assert get("mailgun").verify(request, [Secret("s", MAILGUN_KEY)]).verified
    assert get("mailgun").identify(request) == Identity("tok-1", None)


def test_mailgun_body_is_not_covered() -> None:
    """Mailgun signs only timestamp+token: a changed event body still verifies (documented)."""
    body = get("mailgun").sign_body(
        b'{"event-data":{"event":"opened"}}', MAILGUN_KEY, now=NOW, event_id="tok-2"
    )
    changed = body.replace(b"opened", b"failed")
    assert get("mailgun").verify(make_request(changed, {}), [Secret("s", MAILGUN_KEY)]).verified


def test_mailgun_token_is_the_dedup_id() -> None:
    """Mailgun's event id is the signed token, so a replayed token is a duplicate."""
    first = get("mailgun").sign_body(b'{"event-data":{"event":"a"}}', MAILGUN_KEY, now=NOW)
    second = get("mailgun").sign_body(b'{"event-data":{"event":"a"}}', MAILGUN_KEY, now=NOW)
    ids = {get("mailgun").identify(make_request(b, {})).event_id for b in (first, second)}
    assert len(ids) == 2
    assert all(isinstance(i, str) and len(i) == 50 for i in ids)


def test_mailgun_numeric_timestamp_accepted() -> None:
    """A JSON Mailgun signature whose timestamp is a number (not text) still verifies."""
    token = "f" * 50
    signature = hmac.new(
        MAILGUN_KEY.encode(), f"{int(NOW)}{token}".encode(), hashlib.sha256
    ).hexdigest()
    body = json.dumps(
        {"signature": {"timestamp": int(NOW), "token": token, "signature": signature}}
    ).encode()
    assert get("mailgun").verify(make_request(body, {}), [Secret("s", MAILGUN_KEY)]).verified


def test_gitlab_body_is_not_covered() -> None:
    """GitLab sends its token, not a signature: any body with the right token verifies."""
    headers = get("gitlab").sign(b"{}", "glwh-token", now=NOW)
    request = make_request(b'{"object_kind":"anything"}', headers)
    verdict = get("gitlab").verify(request, [Secret("a", "other-token"), Secret("b", "glwh-token")])
    assert (verdict.secret_id, verdict.scheme) == ("b", "token")


# 4. Handshakes


ZOOM_SECRET = "zoom_secret_token_0123456789"


def test_zoom_url_validation_answered_with_hmac_of_plain_token() -> None:
    """Zoom's endpoint.url_validation gets plainToken back with its HMAC under the secret."""
    body = (
        b'{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1,'
        b'"event":"endpoint.url_validation"}'
    )
    headers = get("zoom").sign(body, ZOOM_SECRET, now=NOW)
    request = make_request(body, headers)
    secret = Secret("s1", ZOOM_SECRET)
    assert get("zoom").verify(request, [secret]).verified
    expected = hmac.new(ZOOM_SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert get("zoom").handshake(request, secret) == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": expected,
    }


def test_zoom_other_events_are_not_handshakes() -> None:
    """Zoom's ordinary events, and a validation without the verifying secret, get no answer."""
    event = make_request(b'{"event":"meeting.started","payload":{}}', {})
    validation = make_request(b'{"event":"endpoint.url_validation","payload":{}}', {})
    assert get("zoom").handshake(event, Secret("s", ZOOM_SECRET)) is None
    assert get("zoom").handshake(validation) is None


def test_discord_ping_answered_with_pong() -> None:
    """A verified Discord PING (type 1) is answered {"type": 1}; commands are events."""
    discord = get("discord")
    ping = b'{"id":"1","application_id":"2","type":1,"version":1}'
    headers = discord.sign(ping, ED_SEED, now=NOW)
    request = make_request(ping, headers)
    assert discord.verify(request, [Secret("s", ED_PUBLIC)]).verified
    assert discord.handshake(request) == {"type": 1}
    assert discord.handshake(make_request(b'{"type":2,"id":"3"}', {})) is None
    assert discord.handshake(make_request(b'{"type":true}', {})) is None


def test_discord_ping_with_bad_signature_is_rejected() -> None:
    """Discord's deliberately mis-signed PING is rejected (the bridge answers 401)."""
    ping = b'{"id":"1","type":1}'
    headers = get("discord").sign(ping, get("discord").new_secret(), now=NOW)
    with pytest.raises(VerificationError) as caught:
        get("discord").verify(make_request(ping, headers), [Secret("s", ED_PUBLIC)])
    assert caught.value.reason == BAD


XERO_KEY = CASES[[c.id for c in CASES].index("xero")].secret
XERO_ITR = b'{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"FMLHZNKCVK"}'
XERO_BATCH = (
    b'{"events":[{"eventCategory":"CONTACT","eventType":"CREATE"},'
    b'{"eventCategory":"INVOICE","eventType":"UPDATE"}]}'
)


def test_xero_intent_to_receive_answered_empty() -> None:
    """A correctly signed Xero intent-to-receive is answered with an empty handshake."""
    headers = get("xero").sign(XERO_ITR, XERO_KEY, now=NOW)
    request = make_request(XERO_ITR, headers)
    assert get("xero").verify(request, [Secret("s", XERO_KEY)]).verified
    assert get("xero").handshake(request) == {}
    events = next(c for c in CASES if c.id == "xero").body
    assert get("xero").handshake(make_request(events, {})) is None


def test_xero_intent_to_receive_with_wrong_signature_is_rejected() -> None:
    """Xero's deliberately mis-signed intent-to-receive is rejected (401), not answered."""
    headers = get("xero").sign(XERO_ITR, "not-the-key", now=NOW)
    with pytest.raises(VerificationError) as caught:
        get("xero").verify(make_request(XERO_ITR, headers), [Secret("s", XERO_KEY)])
    assert caught.value.reason == BAD


# 5. Identity, options, secrets


IDENTIFY = [
    ("twilio", {"i-twilio-idempotency-token": "itk-1"}, TWILIO_FORM, ("itk-1", "message.received")),
    ("twilio", {}, b"CallSid=CA1&CallStatus=completed", (None, "call.completed")),
    (
        "twilio",
        {},
        b"MessageSid=SM1&MessageStatus=delivered&SmsStatus=sent",
        (None, "message.delivered"),
    ),
    ("twilio", {}, b"Foo=bar", (None, None)),
    ("paddle", {}, b'{"event_id":"evt_1","event_type":"x.y"}', ("evt_1", "x.y")),
    ("square", {}, b'{"event_id":"e","type":"payment.created"}', ("e", "payment.created")),
    (
        "linear",
        {"linear-delivery": "d-1"},
        b'{"type":"Issue","action":"update"}',
        ("d-1", "Issue.update"),
    ),
    ("linear", {}, b'{"type":"Comment"}', (None, "Comment")),
    ("zoom", {}, b'{"event":"meeting.ended","payload":{}}', (None, "meeting.ended")),
    (
        "sendgrid",
        {},
        b'[{"event":"open"},{"event":"delivered"},{"event":"open"}]',
        (None, "delivered,open"),
    ),
    ("sendgrid", {}, b'{"event":"bounce"}', (None, "bounce")),
    ("sendgrid", {}, b"[]", (None, None)),
    (
        "mailgun",
        {},
        b'{"signature":{"token":"tk"},"event-data":{"event":"failed"}}',
        ("tk", "failed"),
    ),
    ("mailgun", {}, b"token=tk2&event=clicked", ("tk2", "clicked")),
    ("intercom", {}, b'{"id":"notif_9","topic":"ping"}', ("notif_9", "ping")),
    (
        "gitlab",
        {"idempotency-key": "ik", "x-gitlab-event-uuid": "u", "x-gitlab-event": "Push Hook"},
        b"{}",
        ("ik", "Push Hook"),
    ),
    (
        "gitlab",
        {"x-gitlab-event-uuid": "u"},
        b'{"object_kind":"merge_request"}',
        ("u", "merge_request"),
    ),
    (
        "discord",
        {},
        b'{"id":"9","type":2,"data":{"name":"weather"}}',
        ("9", "application_command.weather"),
    ),
    ("discord", {}, b'{"id":"8","type":3,"data":{"custom_id":"b"}}', ("8", "message_component")),
    ("discord", {}, b'{"id":"7","type":99}', ("7", None)),
    ("typeform", {}, b'{"event_id":"01H","event_type":"form_response"}', ("01H", "form_response")),
    ("calendly", {}, b'{"event":"invitee.canceled"}', (None, "invitee.canceled")),
    (
        "lemonsqueezy",
        {"x-event-name": "order_refunded"},
        b'{"meta":{"event_name":"x"}}',
        (None, "order_refunded"),
    ),
    (
        "lemonsqueezy",
        {},
        b'{"meta":{"event_name":"subscription_created"}}',
        (None, "subscription_created"),
    ),
    ("xero", {}, XERO_BATCH, (None, "contact.create,invoice.update")),
    ("xero", {}, XERO_ITR, (None, None)),
]


@pytest.mark.parametrize(("name", "headers", "body", "expected"), IDENTIFY)
def test_identify_sample(
    name: str, headers: dict[str, str], body: bytes, expected: tuple[str | None, str | None]
) -> None:
    """identify() reads the provider's own event id and type from a realistic delivery."""
    assert get(name).identify(make_request(body, headers, url=HOOK_URL)) == Identity(*expected)


def test_twilio_json_identity_uses_body_type() -> None:
    """A Twilio JSON delivery (URL with bodySHA256) takes its type from the JSON body."""
    request = make_request(TWILIO_JSON, {}, url=json_url(TWILIO_URL, TWILIO_JSON))
    assert get("twilio").identify(request).event_type == "com.twilio.messaging.message.delivered"


@pytest.mark.parametrize(
    ("name", "event_type", "expected"),
    [
        ("twilio", None, ("evt-7", "message.received")),
        ("linear", "Issue.create", ("evt-7", "Issue.create")),
        ("gitlab", "Merge Request Hook", ("evt-7", "Merge Request Hook")),
        ("lemonsqueezy", "order_created", (None, "order_created")),
    ],
)
def test_sign_puts_id_and_type_where_provider_does(
    name: str, event_type: str | None, expected: tuple[str | None, str | None]
) -> None:
    """sign() puts the event id and type where the provider sends them, for identify() to find."""
    case = next(c for c in CASES if c.provider == name)
    options = {"url": case.url}
    body = get(name).sign_body(case.body, case.secret, now=NOW, event_id="evt-7", options=options)
    headers = get(name).sign(
        body, case.secret, now=NOW, event_id="evt-7", event_type=event_type, options=options
    )
    assert get(name).identify(case.request(body, headers)) == Identity(*expected)


@pytest.mark.parametrize("name", ["twilio", "square"])
def test_url_signing_providers_need_a_url_to_sign(name: str) -> None:
    """Twilio and Square refuse to sign without the URL the request will be posted to."""
    with pytest.raises(InvalidInput) as caught:
        get(name).sign(b"{}", "secret", now=NOW)
    assert caught.value.field == "options.url"


@pytest.mark.parametrize("name", ["twilio", "square"])
def test_url_signing_providers_reject_unknown_url(name: str) -> None:
    """Without a public URL, Twilio and Square deliveries are rejected and the detail says why."""
    case = next(c for c in CASES if c.provider == name)
    body, headers = case.signed()
    request = make_request(body, headers, url="")
    with pytest.raises(VerificationError) as caught:
        get(name).verify(request, [Secret("s", case.secret)])
    assert caught.value.reason == BAD
    assert "URL" in caught.value.detail


def test_square_notification_url_option_overrides_request_url() -> None:
    """Square checks against the notification_url option, not the URL the bridge saw."""
    case = next(c for c in CASES if c.id == "square-notification-url")
    body, headers = case.signed()
    request = make_request(body, headers, url=case.options["notification_url"])
    assert get("square").verify(request, [Secret("s", case.secret)]).verified
    without = make_request(body, headers, url=case.url)
    with pytest.raises(VerificationError):
        get("square").verify(without, [Secret("s", case.secret)])


@pytest.mark.parametrize(
    ("options", "field_name"),
    [
        ({"notification_url": "ftp://x"}, "options.notification_url"),
        ({"notification_url": 7}, "options.notification_url"),
        ({"url": "https://x"}, "options.url"),
    ],
)
def test_square_options_rejected(options: dict[str, Any], field_name: str) -> None:
    """Square's options are checked when the endpoint is created and a bad one is named."""
    with pytest.raises(InvalidInput) as caught:
        get("square").validate_options(options)
    assert caught.value.field == field_name


def test_square_options_accepted() -> None:
    """A valid notification_url comes back as given."""
    options = {"notification_url": "https://pay.example.com/square", "tolerance": 60}
    assert get("square").validate_options(options) == options


@pytest.mark.parametrize(
    ("name", "secret", "accepted"),
    [
        ("sendgrid", P256_PUBLIC, True),
        ("sendgrid", f"-----BEGIN PUBLIC KEY-----\n{P256_PUBLIC}\n-----END PUBLIC KEY-----", True),
        ("sendgrid", P256_PRIVATE, False),
        ("sendgrid", "not a key at all", False),
        ("sendgrid", base64.b64encode(b"x" * 91).decode(), False),
        ("discord", ED_PUBLIC, True),
        ("discord", ED_PUBLIC.upper(), True),
        ("discord", ED_PUBLIC[:-2], False),
        ("discord", "z" * 64, False),
        ("standard", "whpk_" + base64.b64encode(bytes.fromhex(ED_PUBLIC)).decode(), True),
        ("standard", "whpk_" + base64.b64encode(b"short").decode(), False),
        ("standard", whsk(bytes.fromhex(ED_SEED)), False),
        ("standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", True),
    ],
)  # fmt: skip
def test_check_secret_for_public_key_schemes(name: str, secret: str, accepted: bool) -> None:
    """Public-key providers accept only a public key of their kind as the endpoint's secret."""
    if accepted:
        get(name).check_secret(secret)
    else:
        with pytest.raises(InvalidInput) as caught:
            get(name).check_secret(secret)
        assert caught.value.field == "secret"


@pytest.mark.parametrize(
    ("name", "secret"),
    [("sendgrid", P256_PUBLIC), ("discord", "not hex"), ("standard", "whsk_" + "A" * 8)],
)
def test_sign_refuses_a_secret_that_is_no_private_key(name: str, secret: str) -> None:
    """Signing with text that is no private key of the scheme is refused, naming the secret."""
    with pytest.raises(InvalidInput) as caught:
        get(name).sign(b"{}", secret, now=NOW)
    assert caught.value.field == "secret"


def test_registry_secret_policy_for_new_providers() -> None:
    """Only schemes where the receiver picks the secret generate one."""
    new = {c.provider for c in CASES} - {"standard"}
    generated = {name for name in new if REGISTRY[name].generates_secret}
    assert generated == {"gitlab", "typeform", "calendly", "lemonsqueezy"}
    assert all(REGISTRY[name].requires_secret for name in new)


def test_lemonsqueezy_secret_fits_its_limit() -> None:
    """A generated Lemon Squeezy secret fits its 6-to-40-character limit."""
    secret = get("lemonsqueezy").new_secret()
    assert 6 <= len(secret) <= 40
    assert secret != get("lemonsqueezy").new_secret()


# 6. Twilio's URL and parameter rules


def twilio_signature(url: str, params: str = "", token: str = "12345") -> str:
    digest = hmac.new(token.encode(), (url + params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@pytest.mark.parametrize(
    ("signed_url", "received_url"),
    [
        ("https://example.com:443/hook?a=1", "https://example.com/hook?a=1"),
        ("https://example.com/hook?a=1", "https://example.com:443/hook?a=1"),
        ("http://example.com:80/hook", "http://example.com/hook"),
        ("https://example.com/hook", "https://example.com:8443/hook"),
        ("https://user:pw@example.com:443/hook", "https://user:pw@example.com/hook"),
        ("https://[2001:db8::1]:443/hook", "https://[2001:db8::1]/hook"),
    ],
)
def test_twilio_url_tried_with_and_without_default_port(signed_url: str, received_url: str) -> None:
    """The URL is tried as received, without its port and with the default port."""
    headers = {"x-twilio-signature": twilio_signature(signed_url, "Digits1")}
    request = make_request(b"Digits=1", headers, url=received_url)
    assert get("twilio").verify(request, [Secret("s", "12345")]).verified


@pytest.mark.parametrize(
    ("signed_url", "received_url"),
    [
        ("https://example.com:8443/hook", "https://example.com/hook"),
        ("http://example.com/hook", "https://example.com/hook"),
        ("https://example.com/hook/", "https://example.com/hook"),
        ("https://example.com/hook?a=1", "https://example.com/hook?a=2"),
    ],
)
def test_twilio_other_url_rejected(signed_url: str, received_url: str) -> None:
    """A URL differing in anything but the default port does not verify."""
    headers = {"x-twilio-signature": twilio_signature(signed_url, "Digits1")}
    request = make_request(b"Digits=1", headers, url=received_url)
    with pytest.raises(VerificationError) as caught:
        get("twilio").verify(request, [Secret("s", "12345")])
    assert caught.value.reason == BAD


@pytest.mark.parametrize(
    ("body", "params"),
    [
        (b"b=2&a=1&c=", "a1b2c"),
        (b"a=2&a=1&a=2", "a1a2"),
        (b"a=2&a=1&a=2", "a1a2a2"),
        (b"x=%E2%9C%93+ok&y=a%2Bb", "x\u2713 oky" + "a+b"),
        (b"B=1&a=2", "B1a2"),
        (b"", ""),
    ],
)
def test_twilio_params_sorted_and_decoded(body: bytes, params: str) -> None:
    """Form params are decoded and sorted by name; repeated values with or without dedup."""
    url = "https://example.com/hook"
    headers = {"x-twilio-signature": twilio_signature(url, params)}
    verdict = get("twilio").verify(make_request(body, headers, url=url), [Secret("s", "12345")])
    assert verdict.verified


def test_twilio_sha256_signature_settings() -> None:
    """A request whose signature settings name HMAC_SHA256 is checked with HMAC-SHA256."""
    url, body = "https://example.com/hook", b"CallSid=CA1&CallStatus=ringing"
    expected = RequestValidator("shared-key-secret").compute_signature(
        url, dict(parse_qsl(body.decode())), "HMAC_SHA256"
    )
    headers = {
        "x-twilio-signature": expected,
        "x-twilio-webhooks-signature-settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256",
    }
    verdict = get("twilio").verify(
        make_request(body, headers, url=url), [Secret("s", "shared-key-secret")]
    )
    assert (verdict.verified, verdict.scheme) == (True, "sha256")
    headers["x-twilio-webhooks-signature-settings"] = "algorithm=HMAC_SHA1"
    with pytest.raises(VerificationError):
        get("twilio").verify(
            make_request(body, headers, url=url), [Secret("s", "shared-key-secret")]
        )


def test_twilio_unknown_algorithm_rejected() -> None:
    """Signature settings naming an unknown algorithm are rejected, whatever the signature."""
    case = CASES[0]
    body, headers = case.signed()
    headers["x-twilio-webhooks-signature-settings"] = "algorithm=HMAC_MD5"
    assert reason_of(case, body, headers) == BAD


# 7. Official SDKs as independent oracles


def test_twilio_sdk_signature_verifies_with_ours() -> None:
    """A form signature computed by twilio's RequestValidator verifies with our provider."""
    params = dict(parse_qsl(TWILIO_FORM.decode()))
    signature = RequestValidator("sdk-token").compute_signature(TWILIO_URL, params)
    request = make_request(TWILIO_FORM, {"X-Twilio-Signature": signature}, url=TWILIO_URL)
    assert get("twilio").verify(request, [Secret("s", "sdk-token")]).verified


def test_our_twilio_signature_verifies_with_sdk() -> None:
    """Our form signature passes twilio's RequestValidator, and fails it for a changed param."""
    headers = get("twilio").sign(TWILIO_FORM, "sdk-token", now=NOW, options={"url": TWILIO_URL})
    validator = RequestValidator("sdk-token")
    params = dict(parse_qsl(TWILIO_FORM.decode()))
    assert validator.validate(TWILIO_URL, params, headers["X-Twilio-Signature"])
    params["Body"] = "Hello there?"
    assert not validator.validate(TWILIO_URL, params, headers["X-Twilio-Signature"])


def test_twilio_json_both_ways_with_sdk() -> None:
    """JSON deliveries: the SDK accepts ours, and we accept the SDK's, with bodySHA256 checked."""
    url = json_url(TWILIO_URL, TWILIO_JSON)
    validator = RequestValidator("sdk-token")
    ours = get("twilio").sign(TWILIO_JSON, "sdk-token", now=NOW, options={"url": url})
    assert validator.validate(url, TWILIO_JSON.decode(), ours["X-Twilio-Signature"])
    theirs = validator.compute_signature(url, {})
    request = make_request(TWILIO_JSON, {"X-Twilio-Signature": theirs}, url=url)
    assert get("twilio").verify(request, [Secret("s", "sdk-token")]).verified


@pytest.mark.parametrize("port", [":443", ""])
def test_twilio_sdk_port_variants_agree(port: str) -> None:
    """The SDK and we agree on a URL signed with or without the default port."""
    signed_url = f"https://example.com{port}/hook"
    received = "https://example.com/hook" if port else "https://example.com:443/hook"
    signature = RequestValidator("t0ken").compute_signature(signed_url, {"A": "1"})
    assert RequestValidator("t0ken").validate(received, {"A": "1"}, signature)
    request = make_request(b"A=1", {"X-Twilio-Signature": signature}, url=received)
    assert get("twilio").verify(request, [Secret("s", "t0ken")]).verified


def test_our_sendgrid_signature_verifies_with_sdk() -> None:
    """Our ECDSA signature passes sendgrid's EventWebhook, and fails it for a changed body."""
    body = next(c for c in CASES if c.id == "sendgrid").body
    headers = get("sendgrid").sign(body, P256_PRIVATE, now=NOW)
    signature = headers["X-Twilio-Email-Event-Webhook-Signature"]
    timestamp = headers["X-Twilio-Email-Event-Webhook-Timestamp"]
    webhook = EventWebhook(P256_PUBLIC)
    assert webhook.verify_signature(body.decode(), signature, timestamp)
    assert not webhook.verify_signature(body.decode().replace("a@", "b@"), signature, timestamp)


def test_our_discord_signature_verifies_with_sdk() -> None:
    """Our Ed25519 signature passes discord-interactions (PyNaCl), and fails for a changed body."""
    body = b'{"id":"1","type":2,"data":{"name":"ping"}}'
    headers = get("discord").sign(body, ED_SEED, now=NOW)
    signature, ts = headers["X-Signature-Ed25519"], headers["X-Signature-Timestamp"]
    assert verify_key(body, signature, ts, ED_PUBLIC)
    assert not verify_key(body + b" ", signature, ts, ED_PUBLIC)


def test_nacl_signature_verifies_with_ours() -> None:
    """A Discord-style signature made by PyNaCl verifies with our provider."""
    body = b'{"id":"2","type":1}'
    key = nacl.signing.SigningKey(bytes.fromhex(ED_SEED))
    ts = str(int(NOW))
    signature = key.sign(ts.encode() + body).signature.hex()
    headers = {"x-signature-ed25519": signature, "x-signature-timestamp": ts}
    verdict = get("discord").verify(make_request(body, headers), [Secret("s", ED_PUBLIC)])
    assert (verdict.verified, verdict.scheme) == (True, "ed25519")


def test_nacl_signature_verifies_with_our_standard_v1a() -> None:
    """A Standard Webhooks v1a signature made by PyNaCl verifies with our whpk_ key."""
    body = b'{"type":"invoice.paid"}'
    key = nacl.signing.SigningKey(bytes.fromhex(ED_SEED))
    ts = str(int(NOW))
    signature = key.sign(f"msg_1.{ts}.".encode() + body).signature
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": ts,
        "webhook-signature": "v1a," + base64.b64encode(signature).decode(),
    }
    public = "whpk_" + base64.b64encode(bytes(key.verify_key)).decode()
    verdict = get("standard").verify(make_request(body, headers), [Secret("s", public)])
    assert (verdict.verified, verdict.scheme) == (True, "v1a")


def test_our_paddle_signature_verifies_with_sdk() -> None:
    """Our Paddle signature passes paddle-python-sdk's check, at the real time too."""
    case = next(c for c in CASES if c.id == "paddle")
    headers = get("paddle").sign(case.body, case.secret, now=time.time())
    header = headers["Paddle-Signature"]
    assert PaddleSignature().verify(header, case.body.decode(), PaddleSecret(case.secret))
    with pytest.raises(ConnectionRefusedError):
        PaddleSignature().verify(header, case.body.decode() + " ", [PaddleSecret(case.secret)])


# 8. Property tests over every provider (hypothesis)


@dataclass(frozen=True)
class Prop:
    """How to make a signed request for one provider from random bytes."""

    provider: str
    keys: Callable[[bytes], tuple[str, str]] = lambda seed: (seed.hex(), seed.hex())
    shape: Callable[[bytes], bytes] = lambda body: body
    url: Callable[[bytes], str] = lambda body: HOOK_URL
    covered: bool = True
    headers: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    def signed(self, body: bytes, seed: bytes) -> tuple[WebhookRequest, list[Secret]]:
        sign_secret, endpoint_secret = self.keys(seed)
        provider = get(self.provider)
        body = provider.sign_body(self.shape(body), sign_secret, now=NOW, options=self.options)
        url = self.url(body)
        headers = provider.sign(body, sign_secret, now=NOW, options={**self.options, "url": url})
        request = make_request(body, headers, url=url, options=self.options)
        return request, [Secret("s", endpoint_secret)]


def text_secret(seed: bytes) -> tuple[str, str]:
    text = base64.b64encode(seed).decode()
    return text, text


def ed25519_pair(seed: bytes) -> tuple[str, str]:
    private = hashlib.sha256(seed).hexdigest()
    return private, discord_public(private)


def whsk_pair(seed: bytes) -> tuple[str, str]:
    private = whsk(hashlib.sha256(seed).digest())
    return private, whpk_of(private)


def p256_pair(seed: bytes) -> tuple[str, str]:
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    key = ec.derive_private_key(
        int.from_bytes(hashlib.sha256(seed).digest()) % (n - 1) + 1, ec.SECP256R1()
    )
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return private, asymmetric.p256_public_text(key)


def linear_shape(body: bytes) -> bytes:
    return json.dumps({"type": "Issue", "data": body.decode("latin-1")}).encode()


PROPS = [
    Prop("standard", text_secret, headers=("webhook-signature", "webhook-id", "webhook-timestamp")),
    Prop("standard", whsk_pair, headers=("webhook-signature", "webhook-timestamp")),
    Prop("stripe", text_secret, headers=("stripe-signature",)),
    Prop("github", headers=("x-hub-signature-256",)),
    Prop("razorpay", headers=("x-razorpay-signature",)),
    Prop("shopify", headers=("x-shopify-hmac-sha256",)),
    Prop("slack", headers=("x-slack-signature", "x-slack-request-timestamp")),
    Prop("hmac", headers=("x-signature",)),
    Prop("twilio", covered=False, headers=("x-twilio-signature",)),
    Prop("twilio", url=lambda body: json_url(TWILIO_URL, body), headers=("x-twilio-signature",)),
    Prop("paddle", headers=("paddle-signature",)),
    Prop("square", headers=("x-square-hmacsha256-signature",)),
    Prop("linear", shape=linear_shape, headers=("linear-signature",)),
    Prop("zoom", headers=("x-zm-signature", "x-zm-request-timestamp")),
    Prop("sendgrid", p256_pair, headers=("x-twilio-email-event-webhook-signature",)),
    Prop("mailgun", covered=False),
    Prop("intercom", headers=("x-hub-signature",)),
    Prop("discord", ed25519_pair, headers=("x-signature-ed25519", "x-signature-timestamp")),
    Prop("typeform", headers=("typeform-signature",)),
    Prop("calendly", headers=("calendly-webhook-signature",)),
    Prop("lemonsqueezy", headers=("x-signature",)),
    Prop("xero", headers=("x-xero-signature",)),
]


def prop_params(props: list[Prop]) -> list[Any]:
    counts: dict[str, int] = {}
    params = []
    for p in props:
        counts[p.provider] = counts.get(p.provider, 0) + 1
        params.append(pytest.param(p, id=f"{p.provider}-{counts[p.provider]}"))
    return params


def test_properties_cover_the_registry() -> None:
    """Every provider but none and gitlab (no signature over anything) has a property spec."""
    assert {p.provider for p in PROPS} == set(REGISTRY) - {"none", "gitlab"}


@pytest.mark.parametrize("prop", prop_params(PROPS))
@PROPERTY
@given(body=st.binary(max_size=300), seed=st.binary(min_size=1, max_size=64))
def test_random_bodies_and_secrets_round_trip(prop: Prop, body: bytes, seed: bytes) -> None:
    """Any body signed with any secret verifies with that secret."""
    request, secrets = prop.signed(body, seed)
    assert get(prop.provider).verify(request, secrets).verified


@pytest.mark.parametrize("prop", prop_params([p for p in PROPS if p.covered]))
@PROPERTY
@given(
    body=st.binary(min_size=1, max_size=300),
    seed=st.binary(min_size=1, max_size=64),
    where=st.floats(min_value=0, max_value=1, exclude_max=True),
    flip=st.integers(min_value=1, max_value=255),
)
def test_any_single_byte_change_fails(
    prop: Prop, body: bytes, seed: bytes, where: float, flip: int
) -> None:
    """Changing any one byte of a signed body makes verification fail."""
    request, secrets = prop.signed(body, seed)
    changed = bytearray(request.body)
    changed[int(where * len(changed))] ^= flip
    tampered = make_request(bytes(changed), request.headers, url=request.url, options=prop.options)
    with pytest.raises(VerificationError):
        get(prop.provider).verify(tampered, secrets)


@pytest.mark.parametrize(
    ("prop", "header"),
    [pytest.param(p, h, id=f"{p.provider}-{h}") for p in PROPS for h in p.headers],
)
@PROPERTY
@given(value=st.text(max_size=200), seed=st.binary(min_size=1, max_size=16))
def test_header_parsers_raise_only_verification_error(
    prop: Prop, header: str, value: str, seed: bytes
) -> None:
    """Arbitrary text in a signed header is rejected with VerificationError and nothing else."""
    request, secrets = prop.signed(b'{"a":1}', seed)
    headers = {**request.headers, header: value}
    garbled = make_request(request.body, headers, url=request.url, options=prop.options)
    with pytest.raises(VerificationError):
        get(prop.provider).verify(garbled, secrets)


@PROPERTY
@given(
    body=st.binary(max_size=400),
    content_type=st.sampled_from(
        ["", "application/json", "multipart/form-data; boundary=b", "multipart/mixed"]
    ),
)
def test_mailgun_arbitrary_bodies_raise_only_verification_error(
    body: bytes, content_type: str
) -> None:
    """Mailgun's in-body fields parsed from arbitrary bytes give only VerificationError."""
    request = make_request(body, {"content-type": content_type})
    with pytest.raises(VerificationError):
        get("mailgun").verify(request, [Secret("s", MAILGUN_KEY)])
    assert isinstance(get("mailgun").identify(request), Identity)


@PROPERTY
@given(
    fields=st.dictionaries(
        st.sampled_from(["timestamp", "token", "signature", "event"]),
        st.one_of(st.text(max_size=80), st.integers(), st.none(), st.floats()),
    )
)
def test_mailgun_arbitrary_signature_fields(fields: dict[str, Any]) -> None:
    """Arbitrary values in Mailgun's JSON signature object give only VerificationError."""
    body = json.dumps({"signature": fields, "event-data": {}}).encode()
    with pytest.raises(VerificationError):
        get("mailgun").verify(make_request(body, {}), [Secret("s", MAILGUN_KEY)])


# 9. docs/providers.md


def test_providers_doc_is_generated() -> None:
    """docs/providers.md is exactly what `python -m bridge.providers.docs` renders."""
    assert DOCS.read_text() == render(), (
        "rerun: python -m bridge.providers.docs > docs/providers.md"
    )


def test_providers_doc_has_a_section_per_provider() -> None:
    """The doc has one section per registered provider, a table row each, and PayPal's reason."""
    text = DOCS.read_text()
    for name in REGISTRY:
        assert f"(`{name}`)\n" in text
        assert f"| `{name}` |" in text
    assert "## PayPal (not supported)" in text
    assert "certificate" in text
