"""Signature providers: published vectors, sign/verify round trips, hostile headers, SDK oracles."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import standardwebhooks
from slack_sdk.signature import Clock, SignatureVerifier

from bridge.errors import InvalidInput, VerificationError
from bridge.providers import REGISTRY, get
from bridge.providers.base import Identity, Secret, WebhookRequest

NOW = 1_732_590_000.0
VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "official.json"
OUR_NAME = {
    "github": "github",
    "standard-webhooks": "standard",
    "svix": "standard",
    "slack": "slack",
    "razorpay": "razorpay",
}
MISSING, BAD, STALE = VerificationError.MISSING, VerificationError.BAD, VerificationError.STALE


def make_request(
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float = NOW,
    options: Mapping[str, Any] | None = None,
) -> WebhookRequest:
    return WebhookRequest(
        body=body,
        headers={k.lower(): v for k, v in headers.items()},
        now=now,
        tolerance=300,
        options=dict(options or {}),
    )


def hex_to_b64(sig: str) -> str:
    return base64.b64encode(bytes.fromhex(sig)).decode()


def b64_to_hex(sig: str) -> str:
    return base64.b64decode(sig).hex()


def after(prefix: str, recode: Callable[[str], str]) -> Callable[[str], str]:
    """Recode the signature that follows `prefix` in a header value."""
    return lambda value: prefix + recode(value.removeprefix(prefix))


@dataclass(frozen=True)
class Case:
    """One provider configuration, with the header mutations its scheme must reject."""

    id: str
    provider: str
    secret: str
    body: bytes
    signature_header: str
    other_encoding: Callable[[str], str]
    prefix_variants: tuple[tuple[str, Callable[[str], str], str], ...]
    signed_headers: tuple[str, ...] = ()
    timestamped: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    drop: tuple[str, ...] = ()

    def headers(
        self, body: bytes | None = None, *, now: float = NOW, secret: str = ""
    ) -> dict[str, str]:
        signed = get(self.provider).sign(
            self.body if body is None else body,
            secret or self.secret,
            now=now,
            event_id="evt-roundtrip",
            options=self.options,
        )
        return {k.lower(): v for k, v in signed.items() if k.lower() not in self.drop}

    def request(self, headers: Mapping[str, str], body: bytes | None = None) -> WebhookRequest:
        return make_request(self.body if body is None else body, headers, options=self.options)


CASES = [
    Case(
        id="standard",
        provider="standard",
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        body=b'{"type":"invoice.paid","data":{"id":"in_1","amount":4200}}',
        signature_header="webhook-signature",
        other_encoding=after("v1,", b64_to_hex),
        prefix_variants=(
            ("no-version", lambda v: v.removeprefix("v1,"), MISSING),
            ("v2-only", lambda v: "v2," + v.removeprefix("v1,"), MISSING),
            ("v1a-only", lambda v: "v1a," + v.removeprefix("v1,"), MISSING),
        ),
        signed_headers=("webhook-id", "webhook-timestamp"),
        timestamped=True,
    ),
    Case(
        id="stripe",
        provider="stripe",
        secret="whsec_test_5f3c9a7e1b2d4c6e8f0a1b2c3d4e5f60",
        body=b'{"id":"evt_1Q2w3e","object":"event","type":"payment_intent.succeeded"}',
        signature_header="stripe-signature",
        other_encoding=lambda v: re.sub(r"v1=(\w+)", lambda m: "v1=" + hex_to_b64(m[1]), v),
        prefix_variants=(
            ("v0-only", lambda v: v.replace("v1=", "v0="), MISSING),
            ("no-key", lambda v: v.replace("v1=", ""), MISSING),
            ("no-t", lambda v: re.sub(r"^t=\d+,", "", v), BAD),
        ),
        timestamped=True,
    ),
    Case(
        id="github",
        provider="github",
        secret="It's a Secret to Everybody",
        body=b'{"action":"opened","number":7,"pull_request":{"title":"Fix \\u001B[34m"}}',
        signature_header="x-hub-signature-256",
        other_encoding=after("sha256=", hex_to_b64),
        prefix_variants=(
            ("no-prefix", lambda v: v.removeprefix("sha256="), MISSING),
            ("sha1-prefix", lambda v: "sha1=" + v.removeprefix("sha256="), MISSING),
        ),
    ),
    Case(
        id="github-legacy-sha1",
        provider="github",
        secret="It's a Secret to Everybody",
        body=b'{"zen":"Design for failure.","hook_id":1}',
        signature_header="x-hub-signature",
        other_encoding=after("sha1=", hex_to_b64),
        prefix_variants=(
            ("no-prefix", lambda v: v.removeprefix("sha1="), MISSING),
            ("sha256-prefix", lambda v: "sha256=" + v.removeprefix("sha1="), MISSING),
        ),
        options={"legacy_sha1": True},
        drop=("x-hub-signature-256",),
    ),
    Case(
        id="razorpay",
        provider="razorpay",
        secret="rzp_webhook_secret_42",
        body=b'{"entity":"event","event":"payment.captured","payload":{},"created_at":1}\n',
        signature_header="x-razorpay-signature",
        other_encoding=hex_to_b64,
        prefix_variants=(("sha256-prefix", lambda v: "sha256=" + v, BAD),),
    ),
    Case(
        id="shopify",
        provider="shopify",
        secret="shpss_0123456789abcdef0123456789abcdef",
        body=b'{"id":820982911946154508,"email":"jon@example.com","total_price":"10.00"}',
        signature_header="x-shopify-hmac-sha256",
        other_encoding=b64_to_hex,
        prefix_variants=(("sha256-prefix", lambda v: "sha256=" + v, BAD),),
    ),
    Case(
        id="slack",
        provider="slack",
        secret="8f742231b10e8888abcd99yyyzzz85a5",
        body=b'{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}',
        signature_header="x-slack-signature",
        other_encoding=after("v0=", hex_to_b64),
        prefix_variants=(
            ("no-prefix", lambda v: v.removeprefix("v0="), MISSING),
            ("v1-prefix", lambda v: "v1=" + v.removeprefix("v0="), MISSING),
        ),
        signed_headers=("x-slack-request-timestamp",),
        timestamped=True,
    ),
    Case(
        id="hmac",
        provider="hmac",
        secret="generic-shared-secret",
        body=b'{"type":"order.created","id":1}',
        signature_header="x-signature",
        other_encoding=hex_to_b64,
        prefix_variants=(("unexpected-prefix", lambda v: "sha256=" + v, BAD),),
    ),
    Case(
        id="hmac-sha512-base64-prefixed",
        provider="hmac",
        secret="generic-shared-secret",
        body=b'{"meta":{"event_name":"order_created"},"data":{"id":"1"}}',
        signature_header="x-webhook-signature",
        other_encoding=after("sha512=", b64_to_hex),
        prefix_variants=(
            ("no-prefix", lambda v: v.removeprefix("sha512="), MISSING),
            ("other-prefix", lambda v: "sha256=" + v.removeprefix("sha512="), MISSING),
        ),
        options={
            "header": "X-Webhook-Signature",
            "algorithm": "sha512",
            "encoding": "base64",
            "prefix": "sha512=",
            "id_header": "X-Webhook-Id",
            "type_field": "meta.event_name",
        },
    ),
]
TIMESTAMPED = [c for c in CASES if c.timestamped]


def case_params(cases: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.id) for c in cases]


def load_vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]
    return [v for v in vectors if v["provider"] in OUR_NAME]


# 1. Published vectors


VECTOR_IDENTITY = {
    "github-docs-hello-world": Identity("72d3162e-cc78-11e3-81ab-4c9367dc0958", "ping"),
    "stdwh-sign-function": Identity("msg_p5jXN8AQM9LWM0D4loKWxJek", None),
    "svix-branded-headers": Identity("msg_p5jXN8AQM9LWM0D4loKWxJek", None),
    "slack-docs-slash-command": Identity(None, "/webhook-collect"),
    "razorpay-sdk-payment-authorized": Identity("illustrative", "payment.authorized"),
}


@pytest.mark.parametrize("vector", [pytest.param(v, id=v["id"]) for v in load_vectors()])
def test_official_vector(vector: dict[str, Any]) -> None:
    """A published vector is accepted exactly when it is marked valid."""
    provider = get(OUR_NAME[vector["provider"]])
    request = make_request(
        vector["body"].encode(), vector["headers"], now=float(vector.get("now", NOW))
    )
    secrets = [Secret("other", "whsec_" + base64.b64encode(b"x" * 24).decode())]
    secrets.append(Secret("vector", vector["secret"]))
    if vector["valid"]:
        verdict = provider.verify(request, secrets)
        assert (verdict.verified, verdict.secret_id) == (True, "vector")
    else:
        with pytest.raises(VerificationError):
            provider.verify(request, secrets)


def test_official_vectors_cover_every_scheme() -> None:
    """The vector file holds valid and invalid vectors for each provider we check against it."""
    seen = {(v["provider"], v["valid"]) for v in load_vectors()}
    assert {p for p, valid in seen if valid} == set(OUR_NAME)
    assert {p for p, valid in seen if not valid} >= {"standard-webhooks", "slack"}


@pytest.mark.parametrize("vector_id", sorted(VECTOR_IDENTITY))
def test_official_vector_identity(vector_id: str) -> None:
    """identify() takes the event id and type from where each provider puts them."""
    vector = next(v for v in load_vectors() if v["id"] == vector_id)
    request = make_request(vector["body"].encode(), vector["headers"])
    assert get(OUR_NAME[vector["provider"]]).identify(request) == VECTOR_IDENTITY[vector_id]


# 2. Round trips and the negatives every scheme must reject


def reason_of(case: Case, headers: Mapping[str, str], body: bytes | None = None) -> str:
    with pytest.raises(VerificationError) as caught:
        get(case.provider).verify(case.request(headers, body), [Secret("s", case.secret)])
    assert caught.value.provider == get(case.provider).name
    return caught.value.reason


@pytest.mark.parametrize("case", case_params(CASES))
def test_round_trip_accepts_with_second_secret(case: Case) -> None:
    """A signed request verifies, and the verdict names the one secret that matched."""
    provider = get(case.provider)
    secrets = [Secret("old", provider.new_secret()), Secret("new", case.secret)]
    verdict = provider.verify(case.request(case.headers()), secrets)
    assert (verdict.verified, verdict.secret_id) == (True, "new")


@pytest.mark.parametrize("case", case_params(CASES))
def test_tampered_body_rejected(case: Case) -> None:
    """Changing one byte of the body gives bad_signature."""
    body = bytearray(case.body)
    body[len(body) // 2] ^= 1
    assert reason_of(case, case.headers(), bytes(body)) == BAD


@pytest.mark.parametrize("case", case_params(CASES))
def test_wrong_secret_rejected(case: Case) -> None:
    """A request signed with another secret gives bad_signature."""
    other = get(case.provider).new_secret()
    assert reason_of(case, case.headers(secret=other)) == BAD


@pytest.mark.parametrize("case", case_params(CASES))
def test_missing_signature_header(case: Case) -> None:
    """Removing the signature header gives missing_signature."""
    headers = case.headers()
    del headers[case.signature_header]
    assert reason_of(case, headers) == MISSING


@pytest.mark.parametrize("case", case_params(CASES))
def test_wrong_encoding_rejected(case: Case) -> None:
    """The right digest in the other encoding (hex for base64, base64 for hex) is rejected."""
    headers = case.headers()
    headers[case.signature_header] = case.other_encoding(headers[case.signature_header])
    assert reason_of(case, headers) == BAD


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
    headers = case.headers()
    headers[case.signature_header] = mutate(headers[case.signature_header])
    assert reason_of(case, headers) == reason


@pytest.mark.parametrize("case", case_params(CASES))
def test_reserialised_body_rejected(case: Case) -> None:
    """A body re-serialised through json.loads/json.dumps no longer verifies."""
    body = json.dumps(json.loads(case.body)).encode()
    assert body != case.body
    assert reason_of(case, case.headers(), body) == BAD


@pytest.mark.parametrize("offset", [-301, 301])
@pytest.mark.parametrize("case", case_params(TIMESTAMPED))
def test_timestamp_outside_window_is_stale(case: Case, offset: int) -> None:
    """A correctly signed timestamp 301 s in the past or future gives stale_timestamp."""
    assert reason_of(case, case.headers(now=NOW + offset)) == STALE


@pytest.mark.parametrize("offset", [-299, 299])
@pytest.mark.parametrize("case", case_params(TIMESTAMPED))
def test_timestamp_inside_window_accepted(case: Case, offset: int) -> None:
    """A correctly signed timestamp 299 s in the past or future is accepted."""
    verdict = get(case.provider).verify(
        case.request(case.headers(now=NOW + offset)), [Secret("s", case.secret)]
    )
    assert verdict.verified


@pytest.mark.parametrize(
    ("case_id", "combine"),
    [
        ("standard", lambda bad, good: f"v1a,{bad} v1,{bad} v2,{good} {good}"),
        # t=<ts>,v1=<wrong>,v0=00,v1=<right>
        ("stripe", lambda bad, good: f"{bad},v0=00,{good.split(',')[1]}"),
        ("hmac", lambda bad, good: f"{bad},{good}"),
        ("hmac-sha512-base64-prefixed", lambda bad, good: f"{bad} {good}"),
    ],
)
def test_one_good_signature_among_several_accepted(
    case_id: str, combine: Callable[[str, str], str]
) -> None:
    """A header listing several signatures verifies when any one of them matches."""
    case = next(c for c in CASES if c.id == case_id)
    good = case.headers()
    bad = case.headers(secret=get(case.provider).new_secret())[case.signature_header]
    good[case.signature_header] = combine(bad, good[case.signature_header])
    assert get(case.provider).verify(case.request(good), [Secret("s", case.secret)]).verified


# 3. Hostile header values


NASTY = [
    "",
    " ",
    "t=",
    "v1=",
    "v0=",
    "t=abc,v1=zz",
    "t=1732590000",
    "\x00\xff",
    "a" * 100_000,
    "v1," + "A" * 100_000,
    "sha256=",
    "sha256=" + "g" * 64,
    "sha1=" + "0" * 40,
    "v1,",
    "v1,!!!",
    "v1,====",
    "v0=zz",
    "9" * 400,
    "9" * 5000,
    "t=" + "9" * 400 + ",v1=00",
    "t=" + "9" * 5000 + ",v1=00",
    "=,=,=",
    ",,, ",
    "ünïcødé ✓ 签名",
    "\ud800\udfff",
    "".join(chr(0xFF10 + int(d)) for d in "1732590000"),  # full-width digits
]


@pytest.mark.parametrize("value", NASTY, ids=[f"nasty{i}" for i in range(len(NASTY))])
@pytest.mark.parametrize(
    ("case", "header"),
    [
        pytest.param(c, h, id=f"{c.id}-{h}")
        for c in CASES
        for h in (c.signature_header, *c.signed_headers)
    ],
)
def test_garbage_header_raises_only_verification_error(case: Case, header: str, value: str) -> None:
    """Any junk in a signed header is rejected with VerificationError and nothing else."""
    headers = case.headers()
    headers[header] = value
    with pytest.raises(VerificationError) as caught:
        get(case.provider).verify(case.request(headers), [Secret("s", case.secret)])
    assert caught.value.reason in {MISSING, BAD, STALE}


@pytest.mark.parametrize("value", NASTY, ids=[f"nasty{i}" for i in range(len(NASTY))])
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_garbage_everywhere_never_crashes(name: str, value: str) -> None:
    """Junk in every header and a non-UTF-8 body never raise anything but VerificationError."""
    provider = get(name)
    names = {h.lower() for c in CASES for h in c.headers()} | {"x-github-event", "svix-id"}
    request = make_request(
        b"\xff\xfe{" + value.encode("utf-8", "surrogatepass"), dict.fromkeys(names, value)
    )
    with contextlib.suppress(VerificationError):
        provider.verify(request, [Secret("s", "whsec_" + base64.b64encode(b"k" * 24).decode())])
    assert isinstance(provider.identify(request), Identity)
    assert provider.handshake(request) is None


# 4. Identity, handshakes, options


SLACK_INTERACTION = (
    b"payload=" + quote(json.dumps({"type": "block_actions", "actions": []})).encode()
)
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
    request = make_request(body, headers, options=options)
    assert get(name).identify(request) == Identity(*expected)


@pytest.mark.parametrize(
    ("case_id", "event_type", "expected_type"),
    [
        ("standard", None, "invoice.paid"),
        ("github", "pull_request.opened", "pull_request.opened"),
        ("razorpay", None, "payment.captured"),
        ("shopify", "orders/create", "orders/create"),
        ("hmac-sha512-base64-prefixed", None, "order_created"),
    ],
)
def test_sign_puts_id_and_type_where_provider_does(
    case_id: str, event_type: str | None, expected_type: str
) -> None:
    """sign() puts the event id and type where the provider sends them, for identify() to find."""
    case = next(c for c in CASES if c.id == case_id)
    headers = get(case.provider).sign(
        case.body,
        case.secret,
        now=NOW,
        event_id="evt-7",
        event_type=event_type,
        options=case.options,
    )
    assert get(case.provider).identify(case.request(headers)) == Identity("evt-7", expected_type)


def test_sign_makes_fresh_ids_when_none_given() -> None:
    """Without an event id, sign() invents a different one for each delivery."""
    for name in ("standard", "github", "razorpay", "shopify"):
        ids = {
            get(name).identify(make_request(b"{}", get(name).sign(b"{}", "k", now=NOW))).event_id
            for _ in range(3)
        }
        assert len(ids) == 3
        assert None not in ids


def test_slack_handshake_returns_challenge() -> None:
    """Slack's url_verification is answered with its challenge; other events get no handshake."""
    slack = get("slack")
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"token": "t", "challenge": challenge, "type": "url_verification"})
    assert slack.handshake(make_request(body.encode(), {})) == {"challenge": challenge}
    assert slack.handshake(make_request(CASES[6].body, {})) is None
    assert slack.handshake(make_request(b"command=%2Fweather", {})) is None


def test_github_legacy_sha1_needs_option() -> None:
    """A delivery signed only with legacy sha1 is rejected unless the option legacy_sha1 is on."""
    github = get("github")
    headers = {k.lower(): v for k, v in github.sign(b'{"zen":"z"}', "s3", now=NOW).items()}
    del headers["x-hub-signature-256"]
    with pytest.raises(VerificationError) as caught:
        github.verify(make_request(b'{"zen":"z"}', headers), [Secret("a", "s3")])
    assert caught.value.reason == MISSING
    verdict = github.verify(
        make_request(b'{"zen":"z"}', headers, options={"legacy_sha1": True}), [Secret("a", "s3")]
    )
    assert (verdict.verified, verdict.scheme) == (True, "sha1")


def test_github_bad_sha256_does_not_fall_back_to_sha1() -> None:
    """With legacy_sha1 on, a wrong sha256 signature is still rejected even if sha1 matches."""
    github = get("github")
    headers = {k.lower(): v for k, v in github.sign(b"{}", "s3", now=NOW).items()}
    headers["x-hub-signature-256"] = "sha256=" + "0" * 64
    with pytest.raises(VerificationError) as caught:
        github.verify(
            make_request(b"{}", headers, options={"legacy_sha1": True}), [Secret("a", "s3")]
        )
    assert caught.value.reason == BAD


@pytest.mark.parametrize(
    ("options", "field_name"),
    [
        ({"algorithm": "md5"}, "options.algorithm"),
        ({"encoding": "base32"}, "options.encoding"),
        ({"prefix": "v1, "}, "options.prefix"),
        ({"header": 7}, "options.header"),
        ({"color": "red"}, "options.color"),
    ],
)
def test_hmac_options_rejected(options: dict[str, Any], field_name: str) -> None:
    """Generic HMAC options are checked at creation and a bad one is named."""
    with pytest.raises(InvalidInput) as caught:
        get("hmac").validate_options(options)
    assert caught.value.field == field_name


def test_hmac_options_accepted() -> None:
    """Valid generic HMAC options come back as given."""
    options = dict(CASES[-1].options, tolerance=60)
    assert get("hmac").validate_options(options) == options


def test_github_option_must_be_bool() -> None:
    """GitHub's legacy_sha1 option accepts only a boolean."""
    assert get("github").validate_options({"legacy_sha1": True}) == {"legacy_sha1": True}
    with pytest.raises(InvalidInput) as caught:
        get("github").validate_options({"legacy_sha1": "yes"})
    assert caught.value.field == "options.legacy_sha1"


def test_unverified_accepts_anything_unverified() -> None:
    """The none provider accepts every request, flags it unverified and signs nothing."""
    none = get("none")
    verdict = none.verify(make_request(b"anything", {}), [])
    assert (verdict.verified, verdict.secret_id, verdict.scheme) == (False, None, "none")
    assert none.sign(b"x", "", now=NOW) == {}
    assert (none.generates_secret, none.requires_secret) == (False, False)


def test_registry_names_and_secret_policy() -> None:
    """The registry holds every contract provider, and only receiver-chosen schemes generate
    secrets."""
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
    assert all(REGISTRY[name].name == name for name in REGISTRY)


def test_standard_new_secret_format() -> None:
    """A generated Standard Webhooks secret is whsec_ plus base64 of 24 random bytes."""
    secret = get("standard").new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
    assert secret != get("standard").new_secret()


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_setup_steps_are_short_and_name_the_url(name: str) -> None:
    """Each provider gives 3 to 6 plain-text setup steps, one of them showing the URL."""
    url = "https://bridge.example.com/hooks/ep-1"
    steps = get(name).setup_steps(url)
    assert 3 <= len(steps) <= 6
    assert all(isinstance(s, str) and s and "\n" not in s for s in steps)
    assert any(url in s for s in steps)


# 5. Official SDKs as independent oracles


class FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


BODY = b'{"type":"user.created","data":{"id":"user_29w83sxmDNGwOuEthce5gg56FcC"}}'


@pytest.mark.parametrize("prefixed", [True, False], ids=["whsec", "bare"])
def test_standardwebhooks_sdk_signature_verifies_with_ours(prefixed: bool) -> None:
    """A signature made by the standardwebhooks SDK verifies with our provider."""
    secret = get("standard").new_secret()
    key = secret if prefixed else secret.removeprefix("whsec_")
    signature = standardwebhooks.Webhook(key).sign(
        "msg_1", datetime.fromtimestamp(NOW, UTC), BODY.decode()
    )
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(NOW)),
        "webhook-signature": signature,
    }
    verdict = get("standard").verify(make_request(BODY, headers), [Secret("s", key)])
    assert verdict.verified


def test_our_standard_signature_verifies_with_sdk() -> None:
    """Our Standard Webhooks signature verifies with the standardwebhooks SDK (at the real time)."""
    secret = get("standard").new_secret()
    headers = get("standard").sign(BODY, secret, now=time.time(), event_id="msg_2")
    assert standardwebhooks.Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_slack_sdk_signature_verifies_with_ours() -> None:
    """A signature made by slack_sdk verifies with our provider."""
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    ts = str(int(NOW))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=BODY)
    assert signature is not None
    headers = {"x-slack-request-timestamp": ts, "x-slack-signature": signature}
    assert get("slack").verify(make_request(BODY, headers), [Secret("s", secret)]).verified


def test_our_slack_signature_verifies_with_sdk() -> None:
    """Our Slack signature verifies with slack_sdk, and a tampered body fails there too."""
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    headers = get("slack").sign(BODY, secret, now=NOW)
    verifier = SignatureVerifier(secret, clock=FixedClock(NOW))
    assert verifier.is_valid_request(BODY, headers)
    assert not verifier.is_valid_request(BODY + b" ", headers)
