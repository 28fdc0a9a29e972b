"""The signature debugger: rejected deliveries are kept and explained, secrets never shown."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from functools import partial
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge import jsontext
from bridge.debugger import MAX_VARIANT_BODY, Budget, body_variants, diagnose
from bridge.errors import VerificationError
from bridge.providers import Secret, WebhookRequest
from bridge.providers import get as provider

SECRET = "debugger-secret-123456"
BODY = b'{"action": "opened", "number": 7}\n'


def create(client: FlaskClient, auth: dict[str, str], uid: str, **extra: Any) -> None:
    body = {"id": uid, "provider": "github", "secret": SECRET, **extra}
    assert client.post("/api/endpoints", json=body, headers=auth).status_code == 201


def send(client: FlaskClient, uid: str, body: bytes, headers: dict[str, str]) -> int:
    return client.post(f"/hooks/{uid}", data=body, headers=headers).status_code


def last_rejection(client: FlaskClient, auth: dict[str, str], uid: str) -> dict[str, Any]:
    answer = client.get(f"/api/endpoints/{uid}/rejections", headers=auth)
    assert answer.status_code == 200
    entries: list[dict[str, Any]] = answer.get_json()["rejections"]
    assert entries, "no rejection was kept"
    return entries[0]


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return provider("github").sign(body, secret, now=time.time(), event_id="d-1")


COMPACT = b'{"action":"opened","number":7}'
WHSEC = "whsec_ZGVidWdnZXItc2VjcmV0"  # base64 of "debugger-secret"
WRONG_WHSEC = "whsec_aW50cnVkZXItc2VjcmV0"  # base64 of "intruder-secret"


@pytest.mark.parametrize(
    ("original", "sent", "variant"),
    [
        (BODY, BODY.rstrip(b"\n"), "trailing newline added"),
        (
            COMPACT,
            json.dumps(json.loads(COMPACT), indent=4).encode(),
            "JSON re-serialised compactly",
        ),
    ],
)
def test_reencoded_body_is_named(
    client: FlaskClient, auth: dict[str, str], uid: str, original: bytes, sent: bytes, variant: str
) -> None:
    """A body changed on the way is rejected, and the debugger names the change that undoes it."""
    create(client, auth, uid)
    assert send(client, uid, sent, signed(original)) == 401
    entry = last_rejection(client, auth, uid)
    assert entry["reason"] == "bad_signature"
    assert entry["diagnosis"]["body"]["verifies_as"] == variant
    assert any("changed the body" in hint for hint in entry["diagnosis"]["hints"])


def test_a_forged_body_with_a_lone_surrogate_is_a_401_and_kept(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A forged delivery whose JSON holds a lone surrogate escape is a 401 and its rejection
    is kept: re-encoding it as raw UTF-8 for the diagnosis raised, a 500."""
    create(client, auth, uid)
    body = b'{"action": "\\ud800"}'
    assert send(client, uid, body, signed(b"{}")) == 401
    entry = last_rejection(client, auth, uid)
    assert entry["reason"] == "bad_signature"
    assert entry["body_preview"] == body.decode()


def test_wrong_encoding_is_explained(client: FlaskClient, auth: dict[str, str], uid: str) -> None:
    """A base64 signature where GitHub sends hex is shown as received vs expected encoding."""
    create(client, auth, uid)
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()
    headers = {**signed(BODY), "X-Hub-Signature-256": "sha256=" + base64.b64encode(digest).decode()}
    assert send(client, uid, BODY, headers) == 401
    shapes = last_rejection(client, auth, uid)["diagnosis"]["signature_headers"]
    received = shapes["x-hub-signature-256"]["received"]["first"][0]
    expected = shapes["x-hub-signature-256"]["expected"]["first"][0]
    assert received == {"prefix": "sha256=", "encoding": "base64", "bytes": 32}
    assert expected == {"prefix": "sha256=", "encoding": "hex", "bytes": 32}


def test_missing_header_is_listed(client: FlaskClient, auth: dict[str, str], uid: str) -> None:
    """A delivery without the signature header is diagnosed with that header's name."""
    create(client, auth, uid)
    headers = {k: v for k, v in signed(BODY).items() if k != "X-Hub-Signature-256"}
    assert send(client, uid, BODY, headers) == 401
    diagnosis = last_rejection(client, auth, uid)["diagnosis"]
    assert diagnosis["reason"] == "missing_signature"
    assert "x-hub-signature-256" in diagnosis["missing_headers"]


def test_github_rejection_does_not_ask_for_the_legacy_sha1_header(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A GitHub delivery with only a wrong X-Hub-Signature-256 lists no header as missing:
    the legacy X-Hub-Signature is not required, nor are the event and delivery headers."""
    create(client, auth, uid)
    headers = {"X-Hub-Signature-256": "sha256=" + "0" * 64, "Content-Type": "application/json"}
    assert send(client, uid, BODY, headers) == 401
    diagnosis = last_rejection(client, auth, uid)["diagnosis"]
    assert diagnosis["missing_headers"] == []
    assert not any("Missing header" in hint for hint in diagnosis["hints"])


@pytest.mark.parametrize(
    ("provider_name", "secret", "required"),
    [
        ("github", SECRET, ["x-hub-signature-256"]),
        ("stripe", "whsec_debugger", ["stripe-signature"]),
        ("slack", SECRET, ["x-slack-request-timestamp", "x-slack-signature"]),
        ("standard", "whsec_ZGVidWdnZXItc2VjcmV0", ["webhook-id", "webhook-signature",
                                                    "webhook-timestamp"]),
    ],
)  # fmt: skip
def test_missing_headers_are_exactly_those_verification_needs(
    client: FlaskClient,
    auth: dict[str, str],
    uid: str,
    provider_name: str,
    secret: str,
    required: list[str],
) -> None:
    """A delivery with no headers at all is told exactly the provider's signature headers."""
    body = {"id": uid, "provider": provider_name, "secret": secret}
    assert client.post("/api/endpoints", json=body, headers=auth).status_code == 201
    assert send(client, uid, BODY, {"Content-Type": "application/json"}) == 401
    assert last_rejection(client, auth, uid)["diagnosis"]["missing_headers"] == required


@pytest.mark.parametrize(
    ("provider_name", "secret", "template", "signed_head"),
    [
        ("stripe", "whsec_debugger", "{t}.{body}", "{ts}."),
        ("slack", SECRET, "v0:{x-slack-request-timestamp}:{body}", "v0:{ts}:"),
        ("paddle", SECRET, "{ts}:{body}", "{ts}:"),
        ("standard", WHSEC, "{webhook-id}.{webhook-timestamp}.{body}", "msg_debug.{ts}."),
    ],
)  # fmt: skip
def test_work_shows_the_signed_string_and_signatures_by_their_first_8_characters(
    client: FlaskClient,
    auth: dict[str, str],
    uid: str,
    provider_name: str,
    secret: str,
    template: str,
    signed_head: str,
) -> None:
    """A wrongly signed delivery's diagnosis shows the provider's signed string (template
    and this request's own), each live secret's signature and the received one, 8 characters
    each, and never a whole signature made with the secret."""
    body = {"id": uid, "provider": provider_name, "secret": secret}
    assert client.post("/api/endpoints", json=body, headers=auth).status_code == 201
    now = int(time.time())
    sign = provider(provider_name).sign
    intruder = WRONG_WHSEC if secret == WHSEC else secret + "-intruder"
    wrong = sign(BODY, intruder, now=now, event_id="msg_debug")
    right = sign(BODY, secret, now=now, event_id="msg_debug")
    assert send(client, uid, BODY, wrong) == 401
    entry = last_rejection(client, auth, uid)
    work = entry["diagnosis"]["work"]
    assert work["template"] == template
    assert work["signed"] == signed_head.format(ts=now) + f"{{body: {len(BODY)} bytes}}"
    assert work["signed_bytes"] == len(signed_head.format(ts=now)) + len(BODY)
    (name,) = {k for k in right if k.lower() in entry["diagnosis"]["signature_headers"]}
    right_digest, wrong_digest = (_digest(h[name]) for h in (right, wrong))
    assert work["expected"] == {"s1": right_digest[:8]}
    assert work["received"] == [wrong_digest[:8]]
    assert right_digest not in json.dumps(entry)
    assert entry["diagnosis"]["first_difference"]["kind"] == "signature"


def _digest(header: str) -> str:
    """The digest ending a signature header: after `v1=`, `v0=`, `h1=` or `v1,`."""
    found = re.search(r"(?:v1=|v0=|h1=|v1,)([^,;]+)$", header)
    assert found, header
    return found.group(1)


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        (lambda h, b: ({**h, "X-Hub-Signature-256": h["X-Hub-Signature-256"][7:]}, b), "prefix"),
        (lambda h, b: (h, b.rstrip(b"\n")), "body"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "X-Hub-Signature-256"}, b),
         "missing_header"),
    ],
)  # fmt: skip
def test_first_difference_names_what_changed(
    client: FlaskClient, auth: dict[str, str], uid: str, change: Any, kind: str
) -> None:
    """The first difference is the specific change: the prefix, the body, a missing header."""
    create(client, auth, uid)
    headers, body = change(signed(BODY), BODY)
    assert send(client, uid, body, headers) == 401
    assert last_rejection(client, auth, uid)["diagnosis"]["first_difference"]["kind"] == kind


def test_secret_with_stray_spaces_is_spotted(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """An endpoint secret pasted with surrounding spaces is pointed out."""
    body = {"id": uid, "provider": "github", "secret": f"  {SECRET} "}
    assert client.post("/api/endpoints", json=body, headers=auth).status_code == 201
    assert send(client, uid, BODY, signed(BODY)) == 401
    hint = last_rejection(client, auth, uid)["diagnosis"]["secret_hint"]
    assert "surrounding spaces" in hint


def test_stale_timestamp_gets_a_clock_hint(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A stale Stripe delivery is explained with its skew and a hint about clocks."""
    secret = "whsec_stripe-debugger-123"
    assert client.post("/api/endpoints", json={"id": uid, "provider": "stripe", "secret": secret},
                       headers=auth).status_code == 201  # fmt: skip
    body = b'{"id": "evt_1", "type": "charge.succeeded"}'
    headers = provider("stripe").sign(body, secret, now=time.time() - 900)
    assert send(client, uid, body, headers) == 401
    diagnosis = last_rejection(client, auth, uid)["diagnosis"]
    assert diagnosis["reason"] == "stale_timestamp"
    assert any("clock" in hint for hint in diagnosis["hints"])


def test_rejection_never_reveals_the_secret_or_a_valid_digest(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """The kept rejection holds neither the secret nor the digest that would verify the body."""
    create(client, auth, uid)
    tampered = BODY.replace(b"7", b"8")
    assert send(client, uid, tampered, signed(BODY)) == 401
    text = json.dumps(last_rejection(client, auth, uid))
    assert SECRET not in text
    assert hmac.new(SECRET.encode(), tampered, hashlib.sha256).hexdigest() not in text


def test_rejections_are_capped_and_newest_first(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Only the newest 50 rejections are kept, newest first."""
    create(client, auth, uid)
    for n in range(55):
        assert send(client, uid, b'{"n": %d}' % n, {"X-Hub-Signature-256": "sha256=00"}) == 401
    entries = client.get(f"/api/endpoints/{uid}/rejections", headers=auth).get_json()["rejections"]
    assert len(entries) == 50
    assert entries[0]["body_preview"] == '{"n": 54}'
    assert entries[-1]["body_preview"] == '{"n": 5}'


def test_rejections_need_the_admin_token(client: FlaskClient, uid: str) -> None:
    """The rejection list is admin-only."""
    assert client.get(f"/api/endpoints/{uid}/rejections").status_code == 401


def test_accepted_delivery_is_not_a_rejection(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A valid delivery leaves the rejection list empty."""
    create(client, auth, uid)
    assert send(client, uid, BODY, signed(BODY)) == 202
    answer = client.get(f"/api/endpoints/{uid}/rejections", headers=auth)
    assert answer.get_json() == {"rejections": []}


def test_large_rejected_body_is_not_parsed_only_measured(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A stranger's body over MAX_VARIANT_BODY is diagnosed without being parsed as JSON."""
    create(client, auth, uid)
    small = b'{"n": [1, 2, 3]}'
    large = b'{"n": [' + b"1, " * (MAX_VARIANT_BODY // 3) + b"1]}"
    for body in (small, large):
        assert send(client, uid, body, signed(body, secret="someone-elses-secret")) == 401
        kept = last_rejection(client, auth, uid)["diagnosis"]["body"]
        assert kept["bytes"] == len(body)
        assert kept["json"] is (True if body is small else None)


INDENTED = "JSON re-serialised with indentation"


@pytest.mark.parametrize(
    "body",
    [
        b"[" + b",".join([b"[" * 100 + b"]" * 100] * 1200) + b"]",  # 24 MB once indented
        b"[" + b"[0]," * 10_001 + b"0]",  # past debugger.MAX_INDENT_CONTAINERS
    ],
    ids=["deep", "many-containers"],
)
def test_a_body_whose_indentation_would_outgrow_it_gets_no_indented_variant(body: bytes) -> None:
    """A stranger's body nested deep, or of many small containers, is not re-encoded with
    indentation (a 240 KB one came to 24 MB, a second of the worker's loop); every variant
    stays within a few times the body."""
    variants = dict(body_variants(body, jsontext.loads(body)))
    assert INDENTED not in variants
    assert "JSON re-serialised with spaces" in variants
    # debugger.MAX_INDENT_GROWTH times the body, plus 4096
    assert max(len(v) for v in variants.values()) <= 4 * len(body) + 4096


def test_an_indented_original_is_still_named(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A body signed indented and compacted on the way is still named as re-indented."""
    create(client, auth, uid)
    original = json.dumps({"a": [{"b": 1}, {"c": [2, 3]}]}, indent=2).encode()
    assert send(client, uid, json.dumps(json.loads(original)).encode(), signed(original)) == 401
    assert last_rejection(client, auth, uid)["diagnosis"]["body"]["verifies_as"] == INDENTED


def test_the_budget_refills_at_its_share_of_a_core_up_to_its_burst() -> None:
    """A Budget allows body work while any is left, may be overdrawn by the last diagnosis,
    and refills at `share` CPU seconds a second, never past `burst`."""
    now = [100.0]
    budget = Budget(share=0.05, burst=2.0, clock=lambda: now[0])
    assert budget.allows()
    budget.spend(2.5)  # one costly diagnosis overdraws it
    assert not budget.allows()
    now[0] += 9.0  # 0.45 s back: still overdrawn
    assert not budget.allows()
    now[0] += 2.0  # 0.55 s back in all: 0.05 left
    assert budget.allows()
    now[0] += 10_000.0
    budget.spend(2.0)
    assert not budget.allows()  # full again at 2.0, not at 500


FLOATS = b"[" + b",".join([b"1e308"] * 40_000) + b"]"  # 234 KiB, ~140 ms of body work


def test_a_flood_of_costly_forged_deliveries_spends_the_budget_then_is_diagnosed_without_the_body(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Forged deliveries whose re-encodings cost the most (floats, under MAX_VARIANT_BODY) are
    diagnosed in full until the worker's budget is spent; later ones are still kept, 401, with
    the header shapes, the missing headers and the signatures but `limited`, no re-encodings
    tried, and a hint."""
    create(client, auth, uid)
    headers = {**signed(FLOATS), "X-Hub-Signature-256": "sha256=" + "0" * 64}
    assert send(client, uid, FLOATS, headers) == 401
    first = last_rejection(client, auth, uid)["diagnosis"]
    assert first["limited"] is False
    assert first["body"] == {"bytes": len(FLOATS), "json": True, "verifies_as": None}
    for _ in range(60):  # 2 s of burst at ~0.14 s each, and a little refill
        assert send(client, uid, FLOATS, headers) == 401
        diagnosis = last_rejection(client, auth, uid)["diagnosis"]
        if diagnosis["limited"]:
            break
    else:
        raise AssertionError("60 costly diagnoses never spent the budget")
    assert diagnosis["body"] == {"bytes": len(FLOATS), "json": None}
    assert "secret_hint" not in diagnosis
    assert diagnosis["work"]["expected"]  # the signature each secret gives: still shown
    assert diagnosis["first_difference"]["kind"] == "signature"
    assert any("were not tried for this one" in hint for hint in diagnosis["hints"])
    unsigned = {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"}
    assert send(client, uid, FLOATS, unsigned) == 401
    diagnosis = last_rejection(client, auth, uid)["diagnosis"]
    assert diagnosis["limited"] is True
    assert diagnosis["missing_headers"] == ["x-hub-signature-256"]  # learnt from a small body


def test_a_url_signing_provider_s_bad_signature_names_the_url_as_what_may_have_changed(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A Twilio delivery signed for another URL is told the URL (or body) may have changed on
    the way and how to set the one registered, where GitHub's hint speaks of the body only."""
    body = {"id": uid, "provider": "twilio", "secret": SECRET}
    assert client.post("/api/endpoints", json=body, headers=auth).status_code == 201
    form = b"MessageSid=SM1&Body=hi"
    headers = provider("twilio").sign(
        form, SECRET, now=time.time(), options={"url": "https://elsewhere.example/hooks/x"}
    )
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    assert send(client, uid, form, headers) == 401
    hints = last_rejection(client, auth, uid)["diagnosis"]["hints"]
    assert any("the URL it called (set the endpoint's `public_url`)" in h for h in hints), hints
    create(client, auth, uid + "-gh")
    assert send(client, uid + "-gh", BODY, signed(BODY, "another-secret-1234")) == 401
    hints = last_rejection(client, auth, uid + "-gh")["diagnosis"]["hints"]
    assert any("If it is, the body changed on the way" in h for h in hints), hints


def test_a_large_forged_mailgun_form_is_diagnosed_from_the_decode_its_verification_made() -> None:
    """The work section of a rejected Mailgun form comes from the fields verify decoded once."""
    mailgun, now = provider("mailgun"), time.time()
    secrets = [Secret("s", "mailgun-key-1234")]
    body = (
        b"signature=" + b"%" * (2 * MAX_VARIANT_BODY) + f"&timestamp={int(now)}&token=t1".encode()
    )
    headers = {"content-type": "application/x-www-form-urlencoded"}
    seeded = {"timestamp": str(int(now)), "token": "decoded-once", "signature": "ab" * 32}
    for fields, token in ((None, "t1"), (seeded, "decoded-once")):
        request = WebhookRequest(body=body, headers=headers, now=now)
        if fields is not None:
            request.memo("mailgun.form", partial(dict, fields))
        with pytest.raises(VerificationError) as refused:
            mailgun.verify(request, secrets)
        report = diagnose(mailgun, request, secrets, refused.value, Budget(0.05, 2.0))
        assert report["work"]["signed"] == f"{int(now)}{token}"
        assert (report["limited"], report["body"]["json"]) == (False, None)
