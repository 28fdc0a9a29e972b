"""Webhooks over bridge/offload.py's LARGE are verified, parsed and diagnosed in gevent's
thread pool on a real bridge: stored, identified and rejected exactly as small ones are."""

from __future__ import annotations

import json
import time

import requests

from bridge import offload
from bridge.endpoints import Endpoint, StoredSecret
from bridge.offload import LARGE
from bridge.providers import get
from bridge.providers.base import Secret, SignRequest, WebhookRequest
from bridge.store import READ_BYTES
from tests.support import BridgeProcess, Connect

STRIPE_SECRET = "whsec_bGFyZ2UtYm9keS1zZWNyZXQtMTIzNA=="


def large_json(event_id: str) -> bytes:
    """A Stripe-shaped event padded past LARGE with many small objects."""
    items = [{"n": n, "s": "abcdefgh"} for n in range(LARGE // 20)]
    body = {"id": event_id, "type": "invoice.paid", "data": {"items": items}}
    encoded = json.dumps(body).encode()
    assert len(encoded) > LARGE
    return encoded


def test_large_signed_webhook_is_stored_parsed_and_identified(
    bridge: BridgeProcess, uid: str
) -> None:
    """A large Stripe event is stored with its body as JSON and its own id and type."""
    bridge.create_endpoint(uid, "stripe", secret=STRIPE_SECRET)
    body = large_json(f"evt_{uid}")
    answer = bridge.post_signed(uid, body, provider_name="stripe", secret=STRIPE_SECRET)
    assert answer.status_code == 202, answer.text
    again = bridge.post_signed(uid, body, provider_name="stripe", secret=STRIPE_SECRET)
    assert again.json()["duplicate"] is True  # the same event id, read from the large body
    events = bridge.api("GET", f"/api/endpoints/{uid}/events").json()["events"]
    assert len(events) == 1
    assert events[0]["event_id"] == f"evt_{uid}"
    assert events[0]["event_type"] == "invoice.paid"
    assert events[0]["body"]["data"]["items"][-1] == {"n": LARGE // 20 - 1, "s": "abcdefgh"}


def test_large_webhook_with_a_bad_signature_is_refused_and_kept_as_a_rejection(
    bridge: BridgeProcess, uid: str
) -> None:
    """A large body signed with another secret is 401 and kept with its diagnosis."""
    bridge.create_endpoint(uid, "stripe", secret=STRIPE_SECRET)
    body = large_json(f"evt_{uid}")
    answer = bridge.post_signed(
        uid, body, provider_name="stripe", secret="whsec_c29tZW9uZS1lbHNlcy1zZWNyZXQ="
    )
    assert answer.status_code == 401
    assert answer.json()["reason"] == "bad_signature"
    kept = bridge.api("GET", f"/api/endpoints/{uid}/rejections").json()["rejections"]
    assert kept[0]["body_bytes"] == len(body)
    assert kept[0]["diagnosis"]["reason"] == "bad_signature"
    assert kept[0]["diagnosis"]["body"]["json"] is None  # too large to parse for a stranger
    assert bridge.api("GET", f"/api/endpoints/{uid}/events").json()["events"] == []


MAILGUN_KEY = "key-6c61726765206d61696c67756e2062"


def test_large_mailgun_event_signed_in_its_body_is_stored_and_a_forged_one_refused(
    bridge: BridgeProcess, uid: str
) -> None:
    """A large Mailgun event is stored with its token and type; the same body forged is 401."""
    bridge.create_endpoint(uid, "mailgun", secret=MAILGUN_KEY)
    items = [{"n": n, "s": "abcdefgh"} for n in range(LARGE // 20)]
    event = json.dumps({"event-data": {"event": "delivered", "items": items}}).encode()
    mailgun = get("mailgun")
    signed = mailgun.sign_body(event, MAILGUN_KEY, now=time.time(), event_id=f"tok-{uid}")
    forged = mailgun.sign_body(event, "key-" + "f" * 32, now=time.time())
    url = f"{bridge.url}/hooks/{uid}"
    json_type = {"Content-Type": "application/json"}
    assert requests.post(url, data=signed, headers=json_type, timeout=30).status_code == 202
    refused = requests.post(url, data=forged, headers=json_type, timeout=30)
    assert (refused.status_code, refused.json()["reason"]) == (401, "bad_signature")
    (stored,) = bridge.api("GET", f"/api/endpoints/{uid}/events").json()["events"]
    assert (stored["event_id"], stored["event_type"]) == (f"tok-{uid}", "delivered")
    assert stored["body"]["event-data"]["items"][-1] == items[-1]


def test_a_resume_over_more_than_one_read_of_large_events_gets_each_once(
    bridge: BridgeProcess, connect: Connect, uid: str
) -> None:
    """Subscribed from the start, a socket gets large events past READ_BYTES, each once."""
    bridge.create_endpoint(uid)
    pad = "x" * (READ_BYTES // 3)
    ids = []
    for n in range(4):
        body = json.dumps({"n": n, "pad": pad}).encode()
        ids.append(bridge.post_signed(uid, body, event_id=f"{uid}-{n}").json()["id"])
    client = connect(bridge)
    client.subscribe(uid, since="0")
    assert [e["id"] for e in client.events(4, timeout=30)] == ids
    client.send({"type": "ping"})
    assert client.recv()["type"] == "pong"  # nothing more came before it


def test_a_small_body_of_many_containers_weighs_as_a_large_one() -> None:
    """offload.weight counts each JSON container as CONTAINER_BYTES: brackets go off the loop."""
    nested = b"[" + b",".join([b"[" * 100 + b"]" * 100] * 1200) + b"]"  # 241 KB
    text = json.dumps({"text": "x" * len(nested)}).encode()
    assert len(nested) < LARGE <= offload.weight(nested)
    assert offload.weight(text) == len(text) + offload.CONTAINER_BYTES < LARGE


def test_a_forged_large_delivery_logs_no_traceback_and_no_secret(
    bridge: BridgeProcess, uid: str
) -> None:
    """Refused in the thread pool, a large forged body leaves the log without the secret."""
    secret = f"secret-of-{uid}"
    bridge.create_endpoint(uid, secret=secret)
    before = len(bridge.log())
    body = large_json(f"evt_{uid}")
    answer = bridge.post_signed(uid, body, secret="someone-elses-secret")
    assert (answer.status_code, answer.json()["reason"]) == (401, "bad_signature")
    assert bridge.post_signed(uid, body, secret=secret).status_code == 202
    written = bridge.log()[before:]
    assert secret not in written
    assert "Traceback" not in written


def test_the_reprs_that_carry_a_secret_leave_its_value_out() -> None:
    """Secrets, signing requests, endpoints and deliveries print without a secret's value."""
    value = "a-secret-value-0123456789"
    stored = StoredSecret("s1", value, 0.0)
    shown = [
        Secret("s1", value),
        stored,
        SignRequest(b"{}", value, 0.0),
        Endpoint("e", "github", (stored,)),
        WebhookRequest(b"{}", {"x-gitlab-token": value}),
    ]
    assert all(value not in repr(thing) for thing in shown)
    assert "s1" in repr(shown[0])
