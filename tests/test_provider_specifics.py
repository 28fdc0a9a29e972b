"""One provider's own rules: where it departs from the checks over every provider.

Published vectors used beyond accept/reject, GitHub's legacy sha1, provider options,
time windows, Mailgun's in-body signature, handshakes, URL-signing schemes, public-key secrets,
Twilio's URL and parameter rules, and the providers' official SDKs as independent oracles.
The table-driven checks over every provider are in test_providers.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import nacl.signing
import pytest
import standardwebhooks
from discord_interactions import verify_key
from hypothesis import given
from hypothesis import strategies as st
from paddle_billing.Notifications import Secret as PaddleSecret
from paddle_billing.Notifications.PaddleSignature import PaddleSignature
from sendgrid.helpers.eventwebhook import EventWebhook
from slack_sdk.signature import Clock, SignatureVerifier
from twilio.request_validator import RequestValidator

from bridge.errors import InvalidInput, VerificationError
from bridge.providers import asymmetric, get
from bridge.providers.base import Identity, Secret
from bridge.providers.discord import public_key_hex
from bridge.providers.twilio import json_url
from tests.provider_cases import (
    BAD,
    BY_ID,
    ED_PUBLIC,
    ED_SEED,
    MAILGUN_KEY,
    MISSING,
    NASTY,
    NOW,
    P256_PRIVATE,
    P256_PUBLIC,
    PROPERTY,
    STALE,
    TWILIO_FORM,
    TWILIO_JSON,
    TWILIO_URL,
    XERO_ITR,
    Case,
    case_params,
    make_request,
    reason_of,
    vector_by_id,
    whsk,
)

# 1. Published vectors, beyond accept and reject


@pytest.mark.parametrize(
    "vector_id",
    ["twilio-docs-example", "twilio-sdk-port-443", "twilio-sdk-json-bodySHA256"],
)
def test_twilio_vector_fails_at_another_url(vector_id: str) -> None:
    """A Twilio vector checked against a URL other than the one signed is rejected."""
    vector = vector_by_id(vector_id)
    request = make_request(
        vector["body"].encode(), vector["headers"], url=vector["url"].replace("bar=2", "bar=3")
    )
    with pytest.raises(VerificationError) as caught:
        get("twilio").verify(request, [Secret("s", vector["secret"])])
    assert caught.value.reason == BAD


def test_twilio_json_vector_rejects_changed_body() -> None:
    """Twilio's JSON vector with one byte of the body changed fails its bodySHA256 check."""
    vector = vector_by_id("twilio-sdk-json-bodySHA256")
    request = make_request(
        vector["body"].replace("true", "True").encode(), vector["headers"], url=vector["url"]
    )
    with pytest.raises(VerificationError) as caught:
        get("twilio").verify(request, [Secret("s", vector["secret"])])
    assert caught.value.reason == BAD
    assert "bodySHA256" in caught.value.detail


def test_paddle_vector_outside_window_is_stale() -> None:
    """Paddle's vector checked 301 s after its timestamp gives stale_timestamp."""
    vector = vector_by_id("paddle-sdk-standard-payload")
    request = make_request(vector["body"].encode(), vector["headers"], now=vector["now"] + 301)
    with pytest.raises(VerificationError) as caught:
        get("paddle").verify(request, [Secret("s", vector["secret"])])
    assert caught.value.reason == STALE


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


# 2. Standard Webhooks, GitHub and none


def test_standard_new_secret_format() -> None:
    """A generated Standard Webhooks secret is whsec_ plus base64 of 24 random bytes."""
    secret = get("standard").new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
    assert secret != get("standard").new_secret()


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


def test_unverified_accepts_anything_unverified() -> None:
    """The none provider accepts every request, flags it unverified and signs nothing."""
    none = get("none")
    verdict = none.verify(make_request(b"anything", {}), [])
    assert (verdict.verified, verdict.secret_id, verdict.scheme) == (False, None, "none")
    assert none.sign(b"x", "", now=NOW) == {}
    assert (none.generates_secret, none.requires_secret) == (False, False)


# 3. Time windows


@pytest.mark.parametrize("offset", [-86_400 * 30, 86_400 * 30])
def test_sendgrid_has_no_window_by_default(offset: int) -> None:
    """Without the tolerance option SendGrid, like its SDKs, accepts any signed timestamp."""
    case = BY_ID["sendgrid"]
    body, headers = case.signed(now=NOW + offset)
    assert get("sendgrid").verify(case.request(body, headers), [Secret("s", P256_PUBLIC)]).verified


@pytest.mark.parametrize("tolerance", [30, 3600])
def test_linear_window_follows_tolerance_option(tolerance: int) -> None:
    """Linear's 60 s window gives way to the endpoint's tolerance option."""
    case = BY_ID["linear"]
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
    case = BY_ID["linear"]
    body, headers = case.signed(now=NOW - 3600, secret="another")
    assert reason_of(case, body, headers) == BAD


# 4. Mailgun (signature in the body) and GitLab (a token, no signature)


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


# 5. Handshakes


def test_slack_handshake_returns_challenge() -> None:
    """Slack's url_verification is answered with its challenge; other events get no handshake."""
    slack = get("slack")
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"token": "t", "challenge": challenge, "type": "url_verification"})
    assert slack.handshake(make_request(body.encode(), {})) == {"challenge": challenge}
    assert slack.handshake(make_request(BY_ID["slack"].body, {})) is None
    assert slack.handshake(make_request(b"command=%2Fweather", {})) is None


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


XERO_KEY = BY_ID["xero"].secret


def test_xero_intent_to_receive_answered_empty() -> None:
    """A correctly signed Xero intent-to-receive is answered with an empty handshake."""
    headers = get("xero").sign(XERO_ITR, XERO_KEY, now=NOW)
    request = make_request(XERO_ITR, headers)
    assert get("xero").verify(request, [Secret("s", XERO_KEY)]).verified
    assert get("xero").handshake(request) == {}
    events = BY_ID["xero"].body
    assert get("xero").handshake(make_request(events, {})) is None


def test_xero_intent_to_receive_with_wrong_signature_is_rejected() -> None:
    """Xero's deliberately mis-signed intent-to-receive is rejected (401), not answered."""
    headers = get("xero").sign(XERO_ITR, "not-the-key", now=NOW)
    with pytest.raises(VerificationError) as caught:
        get("xero").verify(make_request(XERO_ITR, headers), [Secret("s", XERO_KEY)])
    assert caught.value.reason == BAD


# 6. URLs, options and secrets


def test_twilio_json_identity_uses_body_type() -> None:
    """A Twilio JSON delivery (URL with bodySHA256) takes its type from the JSON body."""
    request = make_request(TWILIO_JSON, {}, url=json_url(TWILIO_URL, TWILIO_JSON))
    assert get("twilio").identify(request).event_type == "com.twilio.messaging.message.delivered"


@pytest.mark.parametrize("name", ["twilio", "square"])
def test_url_signing_providers_need_a_url_to_sign(name: str) -> None:
    """Twilio and Square refuse to sign without the URL the request will be posted to."""
    with pytest.raises(InvalidInput) as caught:
        get(name).sign(b"{}", "secret", now=NOW)
    assert caught.value.field == "options.url"


@pytest.mark.parametrize("case", case_params([BY_ID["twilio-form"], BY_ID["square"]]))
def test_url_signing_providers_reject_unknown_url(case: Case) -> None:
    """Without a public URL, Twilio and Square deliveries are rejected and the detail says why."""
    body, headers = case.signed()
    request = make_request(body, headers, url="")
    with pytest.raises(VerificationError) as caught:
        get(case.provider).verify(request, [Secret("s", case.secret)])
    assert caught.value.reason == BAD
    assert "URL" in caught.value.detail


def test_square_notification_url_option_overrides_request_url() -> None:
    """Square checks against the notification_url option, not the URL the bridge saw."""
    case = BY_ID["square-notification-url"]
    body, headers = case.signed()
    request = make_request(body, headers, url=case.options["notification_url"])
    assert get("square").verify(request, [Secret("s", case.secret)]).verified
    without = make_request(body, headers, url=case.url)
    with pytest.raises(VerificationError):
        get("square").verify(without, [Secret("s", case.secret)])


@pytest.mark.parametrize(
    ("name", "options", "field_name"),
    [
        ("github", {"legacy_sha1": "yes"}, "options.legacy_sha1"),
        ("hmac", {"algorithm": "md5"}, "options.algorithm"),
        ("hmac", {"encoding": "base32"}, "options.encoding"),
        ("hmac", {"prefix": "v1, "}, "options.prefix"),
        ("hmac", {"header": 7}, "options.header"),
        ("hmac", {"header": "X Signature"}, "options.header"),
        ("hmac", {"header": "X-Sig:"}, "options.header"),
        ("hmac", {"header": "X-Sig\u00e9"}, "options.header"),
        ("hmac", {"id_header": "X-Id\x00"}, "options.id_header"),
        ("hmac", {"color": "red"}, "options.color"),
        ("square", {"notification_url": "ftp://x"}, "options.notification_url"),
        ("square", {"notification_url": 7}, "options.notification_url"),
        ("square", {"url": "https://x"}, "options.url"),
    ],
)
def test_provider_options_rejected(name: str, options: dict[str, Any], field_name: str) -> None:
    """A provider's own options are checked when the endpoint is created and a bad one is named."""
    with pytest.raises(InvalidInput) as caught:
        get(name).validate_options(options)
    assert caught.value.field == field_name


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("github", {"legacy_sha1": True}),
        ("hmac", dict(BY_ID["hmac-sha512-base64-prefixed"].options, tolerance=60)),
        ("square", {"notification_url": "https://pay.example.com/square", "tolerance": 60}),
        ("hmac", {"header": " X-Sig\n", "id_header": "X-Delivery_Id"}),
    ],
)
def test_provider_options_accepted(name: str, options: dict[str, Any]) -> None:
    """A provider's valid options come back from validation as given."""
    assert get(name).validate_options(options) == options


def test_a_blank_hmac_header_option_means_the_default() -> None:
    """A `header` of spaces reads x-signature, as an empty one does, not a header named ""."""
    from bridge.providers.generic_hmac import Settings

    assert Settings.of({"header": "   "}).header == "x-signature"
    assert Settings.of({"id_header": " "}).id_header is None


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


def test_lemonsqueezy_secret_fits_its_limit() -> None:
    """A generated Lemon Squeezy secret fits its 6-to-40-character limit."""
    secret = get("lemonsqueezy").new_secret()
    assert 6 <= len(secret) <= 40
    assert secret != get("lemonsqueezy").new_secret()


# 7. Twilio's URL and parameter rules


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
    "changed",
    [
        b"Digits=2&From=%2B14155550100",  # a value
        b"Digit=1&From=%2B14155550100",  # a name
        b"Digits=1&From=%2B14155550100&To=x",  # a parameter added
        b"Digits=1",  # a parameter removed
    ],
    ids=["value", "name", "added", "removed"],
)
def test_twilio_form_with_a_changed_parameter_is_rejected(changed: bytes) -> None:
    """A form whose parameters differ from the signed ones in any way does not verify."""
    url = "https://example.com/hook"
    headers = {"x-twilio-signature": twilio_signature(url, "Digits1From+14155550100")}
    signed = make_request(b"Digits=1&From=%2B14155550100", headers, url=url)
    assert get("twilio").verify(signed, [Secret("s", "12345")]).verified
    with pytest.raises(VerificationError) as caught:
        get("twilio").verify(make_request(changed, headers, url=url), [Secret("s", "12345")])
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
    case = BY_ID["twilio-form"]
    body, headers = case.signed()
    headers["x-twilio-webhooks-signature-settings"] = "algorithm=HMAC_MD5"
    assert reason_of(case, body, headers) == BAD


# 8. Official SDKs as independent oracles


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


@pytest.mark.parametrize(
    "ts",
    ["+{now}", "{now}_0", "\uff11{now}", "\u0661{now}", "\u00a0{now}", "{now}\u2028", "-0", "0x1f"],
)
def test_timestamp_must_be_ascii_digits(ts: str) -> None:
    """A correctly signed Slack request whose timestamp is not plain ASCII digits (a sign,
    an underscore, fullwidth or Arabic-Indic digits, Unicode spaces) is rejected as bad."""
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    stamp = ts.format(now=int(NOW))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=BODY)
    assert signature is not None
    headers = {"x-slack-request-timestamp": stamp, "x-slack-signature": signature}
    with pytest.raises(VerificationError) as caught:
        get("slack").verify(make_request(BODY, headers), [Secret("s", secret)])
    assert caught.value.reason == BAD


@pytest.mark.parametrize("stamp", ["99999999999999999999", "1" + "0" * 400])
def test_a_timestamp_past_any_int64_is_stale_not_bad(stamp: str) -> None:
    """A correctly signed Slack request whose timestamp is digits past any int64 is far in
    the future: stale_timestamp, as every other future timestamp, not a bad signature."""
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=BODY)
    assert signature is not None
    headers = {"x-slack-request-timestamp": stamp, "x-slack-signature": signature}
    with pytest.raises(VerificationError) as caught:
        get("slack").verify(make_request(BODY, headers), [Secret("s", secret)])
    assert caught.value.reason == VerificationError.STALE


def test_timestamp_may_carry_http_whitespace() -> None:
    """Spaces and tabs around a Slack timestamp are HTTP whitespace, ignored as before."""
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    stamp = f" {int(NOW)}\t"
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=BODY)
    assert signature is not None
    headers = {"x-slack-request-timestamp": stamp, "x-slack-signature": signature}
    assert get("slack").verify(make_request(BODY, headers), [Secret("s", secret)]).verified


def test_our_slack_signature_verifies_with_sdk() -> None:
    """Our Slack signature verifies with slack_sdk, and a tampered body fails there too."""
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    headers = get("slack").sign(BODY, secret, now=NOW)
    verifier = SignatureVerifier(secret, clock=FixedClock(NOW))
    assert verifier.is_valid_request(BODY, headers)
    assert not verifier.is_valid_request(BODY + b" ", headers)


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
    body = BY_ID["sendgrid"].body
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
    case = BY_ID["paddle"]
    headers = get("paddle").sign(case.body, case.secret, now=time.time())
    header = headers["Paddle-Signature"]
    assert PaddleSignature().verify(header, case.body.decode(), PaddleSecret(case.secret))
    with pytest.raises(ConnectionRefusedError):
        PaddleSignature().verify(header, case.body.decode() + " ", [PaddleSecret(case.secret)])


TRICKY_FORM = (
    b"Body=%25%%41%4%zz+%2B%+\xff%C3%A9%E2%82&From=%F0%9F%98%80\\x41&To=" + b"%" * 70_000 + b"%41"
)


def test_twilio_sdk_signature_over_escapes_and_lone_percent_signs_verifies_with_ours() -> None:
    """Lone and cut-short %, +, bytes that are not UTF-8: decoded as the SDK's params are."""
    params = dict(parse_qsl(TRICKY_FORM.decode("utf-8", "replace"), keep_blank_values=True))
    signature = RequestValidator("sdk-token").compute_signature(TWILIO_URL, params)
    request = make_request(TRICKY_FORM, {"X-Twilio-Signature": signature}, url=TWILIO_URL)
    assert get("twilio").verify(request, [Secret("s", "sdk-token")]).verified


def test_mailgun_form_fields_with_escapes_and_lone_percent_signs_verify() -> None:
    """A Mailgun form whose token holds escapes and lone % is signed over the decoded token."""
    token = "t%k+n" + "%" * 70_000 + "A€"
    body = b"token=t%25k%2Bn" + b"%" * 70_000 + b"%41%E2%82%AC&timestamp=" + str(int(NOW)).encode()
    signature = hmac.new(MAILGUN_KEY.encode(), f"{int(NOW)}{token}".encode(), "sha256").hexdigest()
    form = body + b"&signature=" + signature.encode()
    request = make_request(form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert get("mailgun").verify(request, [Secret("s", MAILGUN_KEY)]).verified
    assert get("mailgun").identify(request).event_id == token
