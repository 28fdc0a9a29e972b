"""Sensitive-field masking: `options.mask` paths are `"***"` in every envelope, once per event,
while the raw bytes stay as received and still verify."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from bridge import masking
from bridge.errors import InvalidInput
from bridge.providers import get as provider
from tests.ingest_support import create, deliver, history
from tests.support import BridgeProcess, Connect

STRIPE_SECRET = "whsec_masking_test_secret"
CHARGE = {
    "id": "evt_mask_1",
    "type": "charge.succeeded",
    "data": {
        "object": {
            "id": "ch_1",
            "amount": 1200,
            "receipt_email": "buyer@example.com",
            "billing_details": {"email": "buyer@example.com", "phone": "+1 555 0100"},
            "payment_method_details": {"card": {"last4": "4242", "brand": "visa"}},
        }
    },
}


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("data.object.customer_email", ("data", "object", "customer_email")),
        ("*.card.last4", (None, "card", "last4")),
        ("payload[*].email", ("payload", None, "email")),
        ("items[0].card", ("items", 0, "card")),
        ("[*].email", (None, "email")),
        ("a.*.b", ("a", None, "b")),
    ],
)
def test_mask_paths_parse(path: str, segments: tuple[masking.Segment, ...]) -> None:
    """Dotted keys, `*` and `[N]`/`[*]` parse into the segments they name."""
    assert masking.parse_path(path) == segments


@pytest.mark.parametrize(
    "path",
    ["", ".a", "a.", "a..b", "a[", "a[x]", "a]", "a b", "a\n", "x" * 201, "a.[0]", "[-1]"],
)
def test_bad_mask_paths_are_refused_naming_the_option(path: str) -> None:
    """Empty, malformed, whitespace-bearing or over-long paths are InvalidInput(options.mask)."""
    with pytest.raises(InvalidInput) as raised:
        masking.parse_path(path)
    assert raised.value.field == "options.mask"


def test_wildcards_mask_every_match_and_count_them() -> None:
    """`*` and `[*]` reach every key and index; a named object is masked whole."""
    body: Any = {
        "payload": [{"email": "a@x", "n": 1}, {"email": "b@x"}, "not-an-object"],
        "acct": {"card": {"last4": "1111"}},
        "other": {"card": {"last4": "2222"}, "address": {"city": "X"}},
    }
    count = masking.mask_body(body, ["payload[*].email", "*.card.last4", "other.address"])
    assert count == 5
    assert body == {
        "payload": [{"email": "***", "n": 1}, {"email": "***"}, "not-an-object"],
        "acct": {"card": {"last4": "***"}},
        "other": {"card": {"last4": "***"}, "address": "***"},
    }


@pytest.mark.parametrize(
    "mask",
    [["ok", 3], "data.email", ["a b"], [f"k{i}" for i in range(51)], ["a\n"]],
)
def test_endpoint_with_a_bad_mask_option_is_400(
    client: FlaskClient, auth: dict[str, str], uid: str, mask: Any
) -> None:
    """An endpoint whose `options.mask` is not a list of at most 50 paths is refused."""
    answer = client.post(
        "/api/endpoints",
        json={"id": uid, "provider": "github", "options": {"mask": mask}},
        headers=auth,
    )
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["field"] == "options.mask"


def test_history_shows_masked_values_and_raw_keeps_the_bytes(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """History has `***` where the paths point; `/raw` returns the bytes exactly as signed."""
    paths = ["data.object.receipt_email", "data.object.billing_details", "*.*.*.card.last4"]
    create(client, auth, uid, "stripe", secret=STRIPE_SECRET, options={"mask": paths})
    body = json.dumps(CHARGE).encode()
    assert (
        deliver(client, uid, body, provider_name="stripe", secret=STRIPE_SECRET).status_code == 202
    )
    (event,) = history(client, auth, uid)
    charge = event["body"]["data"]["object"]
    assert charge["receipt_email"] == "***"
    assert charge["billing_details"] == "***"
    assert charge["payment_method_details"]["card"] == {"last4": "***", "brand": "visa"}
    assert charge["amount"] == 1200
    raw = client.get(f"/api/endpoints/{uid}/events/{event['id']}/raw", headers=auth)
    assert raw.get_data() == body


@pytest.mark.parametrize(
    "body",
    [
        b'\xef\xbb\xbf{"x": "SECRET-1"}',  # a BOM
        b'{"x": "SECRET-2", "n": NaN}',
        b'{"x": "SECRET-3", "n": 1e400}',
        b'{"x": "SECRET-4"}\x00',
        b"x=SECRET-5&y=1",  # a form
        b'{"x": "SECRET-6", "bad": "\xff"}',  # not UTF-8: once body_base64
        b"[" * 200 + b'{"x": "SECRET-7"}' + b"]" * 200,  # deeper than the bridge parses
    ],
)
def test_a_body_the_mask_cannot_reach_into_is_withheld_whole(
    client: FlaskClient, auth: dict[str, str], uid: str, body: bytes
) -> None:
    """With mask paths set, a body that is not JSON for the bridge (each of these was once
    carried as it came, the masked value in the clear) is `***` in the envelope, and
    `/raw` still has the bytes."""
    create(client, auth, uid, "github", options={"mask": ["x", "*.x"]})
    assert deliver(client, uid, body).status_code == 202
    (event,) = history(client, auth, uid)
    assert event["body"] == "***"
    assert "body_base64" not in event
    assert b"SECRET" not in json.dumps(event).encode()
    raw = client.get(f"/api/endpoints/{uid}/events/{event['id']}/raw", headers=auth)
    assert raw.get_data() == body


def test_without_mask_paths_a_text_body_is_carried_as_it_came(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """No mask, nothing withheld: a NaN body is its text, a non-UTF-8 one base64."""
    create(client, auth, uid, "github")
    assert deliver(client, uid, b'{"n": NaN}').status_code == 202
    assert deliver(client, uid, b"\xff\xfe").status_code == 202
    events = history(client, auth, uid)
    assert {e["body"] for e in events if e["body"] is not None} == {'{"n": NaN}'}
    assert [e["body_base64"] for e in events if e["body"] is None] == ["//4="]


def test_subscriber_socket_gets_the_masked_envelope_and_raw_still_verifies(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """Over a real socket a subscriber sees `***`; the raw bytes verify with Stripe's scheme."""
    bridge.create_endpoint(
        uid,
        "stripe",
        secret=STRIPE_SECRET,
        options={"mask": list(provider("stripe").mask_defaults)},
    )
    minted = bridge.api("POST", "/api/tokens", json={"channels": [uid], "ttl": 60}).json()
    socket = connect(bridge, token=minted["token"], header_auth=False)
    socket.subscribe(uid)
    body = json.dumps(CHARGE).encode()
    signed = provider("stripe").sign(body, STRIPE_SECRET, now=time.time())
    answer = requests.post(f"{bridge.url}/hooks/{uid}", data=body, headers=signed, timeout=10)
    assert answer.status_code == 202, answer.text
    (event,) = socket.events(1)
    assert event["body"]["data"]["object"]["receipt_email"] == "***"
    assert event["body"]["data"]["object"]["billing_details"] == "***"
    raw = bridge.api("GET", f"/api/endpoints/{uid}/events/{event['id']}/raw").content
    assert raw == body
    # The bytes the admin can read are the signed ones: they pass the provider's own check.
    check = requests.post(f"{bridge.url}/hooks/{uid}", data=raw, headers=signed, timeout=10)
    assert check.status_code == 200
    assert check.json()["duplicate"] is True


def test_raw_bytes_are_admin_only(bridge: BridgeProcess, uid: str) -> None:
    """A subscriber token cannot read the unmasked raw bytes."""
    bridge.create_endpoint(uid)
    stored = bridge.post_signed(uid, b'{"email":"a@x"}', event_id="r1").json()
    minted = bridge.api("POST", "/api/tokens", json={"channels": [uid], "ttl": 60}).json()
    answer = requests.get(
        f"{bridge.url}/api/endpoints/{uid}/events/{stored['id']}/raw",
        headers={"Authorization": f"Bearer {minted['token']}"},
        timeout=10,
    )
    assert answer.status_code == 401


def test_providers_propose_their_mask_defaults(client: FlaskClient, auth: dict[str, str]) -> None:
    """`GET /api/providers` proposes Stripe's and Shopify's defaults, and every default parses."""
    listed = client.get("/api/providers", headers=auth).get_json()["providers"]
    proposed = {p["name"]: p["mask_defaults"] for p in listed}
    assert "data.object.customer_email" in proposed["stripe"]
    assert "customer.email" in proposed["shopify"]
    assert proposed["github"] == []
    for paths in proposed.values():
        masking.validate(paths)
