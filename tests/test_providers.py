"""Checks run over every signature provider: published vectors, round trips, the negatives
every scheme must reject, hostile headers, identity, the registry, properties (hypothesis),
and docs/providers.md.

The table of cases is tests/provider_cases.py; one provider's own rules, handshakes and SDK
oracles are in test_provider_specifics.py.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from bridge.errors import VerificationError
from bridge.providers import REGISTRY, asymmetric, get
from bridge.providers.base import Identity, Secret, WebhookRequest
from bridge.providers.docs import render
from bridge.providers.guides import GUIDES, guide, parse
from bridge.providers.twilio import json_url
from tests.provider_cases import (
    BAD,
    BY_ID,
    CASES,
    HOOK_URL,
    MISSING,
    NASTY,
    NOW,
    OUR_NAME,
    P256_PUBLIC,
    PROPERTY,
    STALE,
    TWILIO_FORM,
    TWILIO_URL,
    XERO_ITR,
    Case,
    case_params,
    discord_public,
    load_vectors,
    make_request,
    reason_of,
    vector_by_id,
    vector_request,
    whpk_of,
    whsk,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "providers.md"


# 1. Published vectors


VECTOR_IDENTITY = {
    "github-docs-hello-world": Identity("72d3162e-cc78-11e3-81ab-4c9367dc0958", "ping"),
    "stdwh-sign-function": Identity("msg_p5jXN8AQM9LWM0D4loKWxJek", None),
    "svix-branded-headers": Identity("msg_p5jXN8AQM9LWM0D4loKWxJek", None),
    "slack-docs-slash-command": Identity(None, "/webhook-collect"),
    "razorpay-sdk-payment-authorized": Identity("illustrative", "payment.authorized"),
    "paddle-sdk-standard-payload": Identity("ntf_01hs0tqfrhgkyp39x4wyvy7h6n", "customer.created"),
    "square-sdk-test-notification": Identity(
        "ac3ac95b-f97d-458c-a6e6-18981597e05f", "webhooks.test_notification"
    ),
    "sendgrid-sdk-dropped": Identity(None, "dropped"),
    "twilio-docs-example": Identity(None, None),
}
# Why each invalid vector fails: bad_signature unless named here.
INVALID_REASON = {"stdwh-wrong-version-only": MISSING}


@pytest.mark.parametrize("vector", [pytest.param(v, id=v["id"]) for v in load_vectors()])
def test_official_vector(vector: dict[str, Any]) -> None:
    """A published vector is accepted exactly when it is marked valid, at its `now` and URL."""
    name = OUR_NAME[vector["provider"]]
    other = P256_PUBLIC if name == "sendgrid" else "whsec_" + base64.b64encode(b"x" * 24).decode()
    secrets = [Secret("other", other), Secret("vector", vector["secret"])]
    if vector["valid"]:
        verdict = get(name).verify(vector_request(vector), secrets)
        assert (verdict.verified, verdict.secret_id) == (True, "vector")
    else:
        with pytest.raises(VerificationError) as caught:
            get(name).verify(vector_request(vector), secrets)
        assert caught.value.reason == INVALID_REASON.get(vector["id"], BAD)


def test_official_vectors_cover_every_scheme() -> None:
    """The vector file holds valid vectors for each provider we check, and invalid ones too."""
    seen = {(v["provider"], v["valid"]) for v in load_vectors()}
    assert {p for p, valid in seen if valid} == set(OUR_NAME)
    invalid = {p for p, valid in seen if not valid}
    assert invalid >= {"standard-webhooks", "slack", "square", "sendgrid"}


@pytest.mark.parametrize("vector_id", sorted(VECTOR_IDENTITY))
def test_official_vector_identity(vector_id: str) -> None:
    """identify() takes the event id and type from where each provider puts them."""
    vector = vector_by_id(vector_id)
    provider = get(OUR_NAME[vector["provider"]])
    assert provider.identify(vector_request(vector)) == VECTOR_IDENTITY[vector_id]


# 2. Round trips and the negatives every scheme must reject


HEADER_CASES = [c for c in CASES if c.signature_header]
COVERED = [c for c in CASES if c.covered]
ENCODED = [c for c in CASES if c.other_encoding is not None]
TIMED = [c for c in CASES if c.window is not None]


def test_cases_cover_every_provider() -> None:
    """Every provider in the registry but none (which checks nothing) has a case in the table."""
    assert {c.provider for c in CASES} == set(REGISTRY) - {"none"}
    assert len({c.id for c in CASES}) == len(CASES)


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


@pytest.mark.parametrize("case", case_params([c for c in CASES if not get(c.provider).signs_url]))
def test_a_provider_not_signing_the_url_verifies_without_it(case: Case) -> None:
    """The ingest works the URL out only for providers with signs_url; every other one
    verifies a request that carries none."""
    body, headers = case.signed()
    request = make_request(body, headers, url="", options=case.options)
    verdict = get(case.provider).verify(request, [Secret("s", case.endpoint_secret)])
    assert verdict.secret_id == "s"


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


@pytest.mark.parametrize(
    ("case_id", "combine"),
    [
        ("standard", lambda bad, good: f"v1a,{bad} v1,{bad} v2,{good} {good}"),
        ("standard-v1a", lambda bad, good: f"v1,{bad[4:]} {bad} v2,x {good}"),
        # t=<ts>,v1=<wrong>,v0=00,v1=<right>
        ("stripe", lambda bad, good: f"{bad},v0=00,{good.split(',')[1]}"),
        ("hmac", lambda bad, good: f"{bad},{good}"),
        ("hmac-sha512-base64-prefixed", lambda bad, good: f"{bad} {good}"),
        ("paddle", lambda bad, good: f"{good};h1=dummy;{bad.split(';')[1]}"),
        ("calendly", lambda bad, good: f"{good},{bad.split(',')[1]}"),
    ],
)
def test_one_good_signature_among_several_accepted(
    case_id: str, combine: Callable[[str, str], str]
) -> None:
    """A header listing several signatures verifies when any one of them matches."""
    case = BY_ID[case_id]
    body, good = case.signed()
    _, bad = case.signed(secret=case.new_secret())
    header = case.signature_header
    good[header] = combine(bad[header], good[header])
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


# Every header the table's cases send, and two that identify() reads.
EVERY_HEADER = sorted({h for c in CASES for h in c.signed()[1]} | {"x-github-event", "svix-id"})


@pytest.mark.parametrize("value", NASTY, ids=[f"nasty{i}" for i in range(len(NASTY))])
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_garbage_everywhere_never_crashes(name: str, value: str) -> None:
    """Junk in every header and a non-UTF-8 body never raise anything but VerificationError."""
    provider = get(name)
    request = make_request(
        b"\xff\xfe{" + value.encode("utf-8", "surrogatepass"), dict.fromkeys(EVERY_HEADER, value)
    )
    with contextlib.suppress(VerificationError):
        provider.verify(request, [Secret("s", "whsec_" + base64.b64encode(b"k" * 24).decode())])
    assert isinstance(provider.identify(request), Identity)
    assert provider.handshake(request) is None


# 4. Identity


SLACK_INTERACTION = (
    b"payload=" + quote(json.dumps({"type": "block_actions", "actions": []})).encode()
)
XERO_BATCH = (
    b'{"events":[{"eventCategory":"CONTACT","eventType":"CREATE"},'
    b'{"eventCategory":"INVOICE","eventType":"UPDATE"}]}'
)
# (provider, endpoint options, headers, body, (event id, event type))
IDENTIFY = [
    (
        "standard",
        {},
        {"webhook-id": "msg_2b"},
        b'{"type":"invoice.paid"}',
        ("msg_2b", "invoice.paid"),
    ),
    ("standard", {}, {"svix-id": "msg_9", "svix-signature": "v1,x"}, b"{}", ("msg_9", None)),
    ("stripe", {}, {}, b'{"id":"evt_1Q","type":"charge.refunded"}', ("evt_1Q", "charge.refunded")),
    (
        "github",
        {},
        {"x-github-event": "pull_request", "x-github-delivery": "d-1"},
        b'{"action":"opened","number":7}',
        ("d-1", "pull_request.opened"),
    ),
    (
        "github",
        {},
        {"x-github-event": "ping", "x-github-delivery": "d-2"},
        b'{"zen":"Keep it logically awesome.","hook_id":1}',
        ("d-2", "ping"),
    ),
    (
        "github",
        {},
        {"x-github-event": "push", "x-github-delivery": "d-3"},
        b'{"ref":"x"}',
        ("d-3", "push"),
    ),
    ("github", {}, {"x-github-event": "push"}, b'{"action":7}', (None, "push")),
    (
        "razorpay",
        {},
        {"x-razorpay-event-id": "Hh6N"},
        b'{"event":"order.paid"}',
        ("Hh6N", "order.paid"),
    ),
    (
        "shopify",
        {},
        {
            "x-shopify-webhook-id": "w-1",
            "x-shopify-event-id": "e-1",
            "x-shopify-topic": "orders/paid",
        },
        b'{"id":1}',
        ("w-1", "orders/paid"),
    ),
    (
        "shopify",
        {},
        {"x-shopify-event-id": "e-2", "x-shopify-topic": "app/uninstalled"},
        b"{}",
        ("e-2", "app/uninstalled"),
    ),
    (
        "slack",
        {},
        {},
        b'{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","text":"hi"}}',
        ("Ev1", "app_mention"),
    ),
    ("slack", {}, {}, b'{"type":"url_verification","challenge":"c4"}', (None, "url_verification")),
    ("slack", {}, {}, b"token=x&command=%2Fweather&text=oslo", (None, "/weather")),
    ("slack", {}, {}, SLACK_INTERACTION, (None, "block_actions")),
    ("slack", {}, {}, b"payload=%7Bnot+json", (None, None)),
    ("slack", {}, {}, b"token=x&text=hi", (None, None)),
    ("hmac", {}, {"x-delivery": "d"}, b'{"type":"order.created"}', (None, "order.created")),
    (
        "hmac",
        {"id_header": "X-Delivery", "type_field": "meta.event_name"},
        {"x-delivery": "d-9"},
        b'{"meta":{"event_name":"order_created"}}',
        ("d-9", "order_created"),
    ),
    ("none", {}, {}, b'{"type":"thing.happened"}', (None, "thing.happened")),
    ("none", {}, {}, b"plain text", (None, None)),
    (
        "twilio",
        {},
        {"i-twilio-idempotency-token": "itk-1"},
        TWILIO_FORM,
        ("itk-1", "message.received"),
    ),
    ("twilio", {}, {}, b"CallSid=CA1&CallStatus=completed", (None, "call.completed")),
    (
        "twilio",
        {},
        {},
        b"MessageSid=SM1&MessageStatus=delivered&SmsStatus=sent",
        (None, "message.delivered"),
    ),
    ("twilio", {}, {}, b"Foo=bar", (None, None)),
    ("paddle", {}, {}, b'{"event_id":"evt_1","event_type":"x.y"}', ("evt_1", "x.y")),
    ("square", {}, {}, b'{"event_id":"e","type":"payment.created"}', ("e", "payment.created")),
    (
        "linear",
        {},
        {"linear-delivery": "d-1"},
        b'{"type":"Issue","action":"update"}',
        ("d-1", "Issue.update"),
    ),
    ("linear", {}, {}, b'{"type":"Comment"}', (None, "Comment")),
    ("zoom", {}, {}, b'{"event":"meeting.ended","payload":{}}', (None, "meeting.ended")),
    (
        "sendgrid",
        {},
        {},
        b'[{"event":"open"},{"event":"delivered"},{"event":"open"}]',
        (None, "delivered,open"),
    ),
    ("sendgrid", {}, {}, b'{"event":"bounce"}', (None, "bounce")),
    ("sendgrid", {}, {}, b"[]", (None, None)),
    (
        "mailgun",
        {},
        {},
        b'{"signature":{"token":"tk"},"event-data":{"event":"failed"}}',
        ("tk", "failed"),
    ),
    ("mailgun", {}, {}, b"token=tk2&event=clicked", ("tk2", "clicked")),
    ("intercom", {}, {}, b'{"id":"notif_9","topic":"ping"}', ("notif_9", "ping")),
    (
        "gitlab",
        {},
        {"idempotency-key": "ik", "x-gitlab-event-uuid": "u", "x-gitlab-event": "Push Hook"},
        b"{}",
        ("ik", "Push Hook"),
    ),
    (
        "gitlab",
        {},
        {"x-gitlab-event-uuid": "u"},
        b'{"object_kind":"merge_request"}',
        ("u", "merge_request"),
    ),
    (
        "discord",
        {},
        {},
        b'{"id":"9","type":2,"data":{"name":"weather"}}',
        ("9", "application_command.weather"),
    ),
    (
        "discord",
        {},
        {},
        b'{"id":"8","type":3,"data":{"custom_id":"b"}}',
        ("8", "message_component"),
    ),
    ("discord", {}, {}, b'{"id":"7","type":99}', ("7", None)),
    (
        "typeform",
        {},
        {},
        b'{"event_id":"01H","event_type":"form_response"}',
        ("01H", "form_response"),
    ),
    ("calendly", {}, {}, b'{"event":"invitee.canceled"}', (None, "invitee.canceled")),
    (
        "lemonsqueezy",
        {},
        {"x-event-name": "order_refunded"},
        b'{"meta":{"event_name":"x"}}',
        (None, "order_refunded"),
    ),
    (
        "lemonsqueezy",
        {},
        {},
        b'{"meta":{"event_name":"subscription_created"}}',
        (None, "subscription_created"),
    ),
    ("xero", {}, {}, XERO_BATCH, (None, "contact.create,invoice.update")),
    ("xero", {}, {}, XERO_ITR, (None, None)),
]


@pytest.mark.parametrize(("name", "options", "headers", "body", "expected"), IDENTIFY)
def test_identify_sample(
    name: str,
    options: dict[str, Any],
    headers: dict[str, str],
    body: bytes,
    expected: tuple[str | None, str | None],
) -> None:
    """identify() reads the provider's own event id and type from a realistic delivery."""
    request = make_request(body, headers, url=HOOK_URL, options=options)
    assert get(name).identify(request) == Identity(*expected)


@pytest.mark.parametrize(
    ("case_id", "event_type", "expected"),
    [
        ("standard", None, ("evt-7", "invoice.paid")),
        ("github", "pull_request.opened", ("evt-7", "pull_request.opened")),
        ("razorpay", None, ("evt-7", "payment.captured")),
        ("shopify", "orders/create", ("evt-7", "orders/create")),
        ("hmac-sha512-base64-prefixed", None, ("evt-7", "order_created")),
        ("twilio-form", None, ("evt-7", "message.received")),
        ("linear", "Issue.create", ("evt-7", "Issue.create")),
        ("gitlab", "Merge Request Hook", ("evt-7", "Merge Request Hook")),
        ("lemonsqueezy", "order_created", (None, "order_created")),
    ],
)
def test_sign_puts_id_and_type_where_provider_does(
    case_id: str, event_type: str | None, expected: tuple[str | None, str | None]
) -> None:
    """sign() puts the event id and type where the provider sends them, for identify() to find."""
    case = BY_ID[case_id]
    body, headers = case.signed(event_id="evt-7", event_type=event_type)
    assert get(case.provider).identify(case.request(body, headers)) == Identity(*expected)


def test_sign_makes_fresh_ids_when_none_given() -> None:
    """Without an event id, sign() invents a different one for each delivery."""
    for name in ("standard", "github", "razorpay", "shopify"):
        ids = {
            get(name).identify(make_request(b"{}", get(name).sign(b"{}", "k", now=NOW))).event_id
            for _ in range(3)
        }
        assert len(ids) == 3
        assert None not in ids


# 5. The registry


def test_registry_names_and_secret_policy() -> None:
    """The registry holds every contract provider, only receiver-case schemes generate
    secrets, and only none needs no secret."""
    generated = {name for name, p in REGISTRY.items() if p.generates_secret}
    assert set(REGISTRY) == set(
        [
            "standard",
            "stripe",
            "github",
            "razorpay",
            "shopify",
            "slack",
            "twilio",
            "paddle",
            "square",
            "linear",
            "zoom",
            "sendgrid",
            "mailgun",
            "intercom",
            "gitlab",
            "discord",
            "typeform",
            "calendly",
            "lemonsqueezy",
            "xero",
            "hmac",
            "none",
        ]
    )
    assert generated == set(
        ["standard", "github", "razorpay", "hmac", "gitlab", "typeform", "calendly", "lemonsqueezy"]
    )
    assert {name for name, p in REGISTRY.items() if not p.requires_secret} == {"none"}
    assert all(REGISTRY[name].name == name for name in REGISTRY)


def test_every_registered_provider_has_a_guide_and_no_other() -> None:
    """The documentation table (guides.py) names exactly the registry's providers."""
    assert list(GUIDES) == list(REGISTRY)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_setup_steps_are_short_and_name_the_url(name: str) -> None:
    """Each provider gives 3 to 6 plain-text setup steps, one of them showing the URL."""
    url = "https://bridge.example.com/hooks/ep-1"
    steps = guide(name).setup_steps(url)
    assert 3 <= len(steps) <= 6
    assert all(isinstance(s, str) and s and "\n" not in s for s in steps)
    assert any(url in s for s in steps)


# 6. Property tests over every provider (hypothesis)


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


# 7. docs/providers.md


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


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[acme]\ntitle = "Acme"\ntable = "x"\n', r"\[acme\]: exactly title, table and steps"),
        ('[acme]\ntitle = ""\ntable = "x"\nsteps = ["a"]\n', r"\[acme\] title"),
        ('[acme]\ntitle = "A"\ntable = 3\nsteps = ["a"]\n', r"\[acme\] table"),
        ('[acme]\ntitle = "A"\ntable = "x"\nsteps = []\n', r"\[acme\] steps: a non-empty"),
        ('[acme]\ntitle = "A"\ntable = "x"\nsteps = ["a", 2]\n', r"\[acme\] steps\[1\]"),
        ('[acme]\ntitle = "A"\ntable = "x"\nsteps = ["a"]\nextra = 1\n', r"\[acme\]: exactly"),
        ("acme = 1\n", r"\[acme\]: exactly"),
    ],
)
def test_a_malformed_guide_is_refused_naming_the_provider_and_field(text: str, named: str) -> None:
    """guides.toml entries that are not exactly a non-empty title, table and list of step
    strings are refused with the provider and the field named."""
    with pytest.raises(ValueError, match=named):
        parse(text)


def test_a_well_formed_guide_fills_the_url_into_its_steps() -> None:
    """parse() of a well-formed entry gives its steps with the URL filled in."""
    parsed = parse('[acme]\ntitle = "Acme"\ntable = "x"\nsteps = ["Paste {url} there"]\n')
    assert parsed["acme"].setup_steps("https://h/hooks/a") == ["Paste https://h/hooks/a there"]
