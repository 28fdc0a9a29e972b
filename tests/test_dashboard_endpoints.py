"""The dashboard's endpoints panel in a real browser (Debian's Chromium driven by Playwright,
against real bridges under gunicorn): the "New endpoint" form (its webhook URL, masked secret
and setup steps, the providers' secret rules and mask defaults, the API's error message), and
an endpoint card's rejected deliveries with the signature debugger's diagnosis, live.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import requests
from playwright.sync_api import Page, expect

from bridge.providers import get as provider
from tests.browser import needs_chromium
from tests.dashboard_support import open_create_form, open_dashboard, rows
from tests.support import BridgeProcess

pytestmark = needs_chromium


def test_create_endpoint_through_the_form_shows_url_secret_and_steps(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """Creating an endpoint in the form shows its webhook URL, a masked secret and setup steps."""
    open_dashboard(page, bridge)
    open_create_form(page)
    page.get_by_label("Endpoint id", exact=True).fill(uid)
    page.get_by_label("Provider").select_option("github")
    expect(page.locator("#ep-secret-hint")).to_contain_text("leave it empty")
    page.get_by_role("button", name="Create endpoint").click()
    card = page.locator(f'details.ep[data-endpoint="{uid}"]')
    expect(card.locator("code.url")).to_have_text(f"{bridge.url}/hooks/{uid}")
    expect(card.locator("ol.steps li").first).to_be_visible()
    secret = card.locator("code.secret")
    expect(secret).to_have_text(re.compile("^•+$"))
    card.get_by_role("button", name=re.compile("Reveal secret")).click()
    created = bridge.api("GET", f"/api/endpoints/{uid}").json()
    expect(secret).to_have_text(created["secrets"][0]["value"])


def test_create_form_lists_the_bridges_providers_with_their_secret_rules(
    page: Page, bridge: BridgeProcess
) -> None:
    """The provider picker comes from GET /api/providers: labels, and who holds the secret."""
    open_dashboard(page, bridge)
    open_create_form(page)
    picker = page.get_by_label("Provider")
    expect(picker.locator("option[value=sendgrid]")).to_have_text("SendGrid Event Webhook")
    expect(picker.locator("option[value=none]")).to_have_count(0)  # not allowed on this bridge
    picker.select_option("sendgrid")
    expect(page.locator("#ep-secret-hint")).to_contain_text("public key")
    picker.select_option("github")
    expect(page.locator("#ep-secret-hint")).to_contain_text("leave it empty")


def test_new_endpoint_form_proposes_the_providers_mask_and_the_detail_shows_it_masked(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """Picking Stripe proposes its `mask_defaults`; the endpoint made with them lists its mask
    paths, and a signed Stripe event's `data.object.receipt_email` shows as `***`."""
    open_dashboard(page, bridge)
    open_create_form(page)
    page.get_by_label("Endpoint id", exact=True).fill(uid)
    page.get_by_label("Provider").select_option("stripe")
    defaults = list(provider("stripe").mask_defaults)
    # Exactly the form's field: the cards of other tests' masked endpoints have "Masked" labels.
    mask = page.get_by_role("textbox", name="Mask (JSON paths, one a line)")
    expect(mask).to_have_value("\n".join(defaults))
    secret = "whsec_masking0123456789"
    page.locator("#ep-secret").fill(secret)
    page.get_by_role("button", name="Create endpoint").click()
    card = page.locator(f'details.ep[data-endpoint="{uid}"]')
    paths = card.get_by_role("list", name=f"Masked paths of {uid}").get_by_role("listitem")
    expect(paths).to_have_text(defaults)
    record = bridge.api("GET", f"/api/endpoints/{uid}").json()
    assert record["options"]["mask"] == defaults

    body = {
        "id": "evt_mask",
        "type": "charge.succeeded",
        "data": {"object": {"id": "ch_1", "amount": 1200, "receipt_email": "buyer@example.com"}},
    }
    answer = bridge.post_signed(
        uid, json.dumps(body).encode(), provider_name="stripe", secret=secret,
        event_id="evt_mask", event_type="charge.succeeded",
    )  # fmt: skip
    assert answer.status_code == 202, answer.text
    rows(page, uid).click()
    tree = page.locator("#detail .json")
    expect(tree).to_contain_text('"receipt_email": "***"')
    expect(tree).not_to_contain_text("buyer@example.com")


def test_create_form_shows_the_api_error_message(page: Page, bridge: BridgeProcess) -> None:
    """A 4xx from the API shows its field and message next to the form."""
    open_dashboard(page, bridge)
    open_create_form(page)
    page.get_by_label("Endpoint id", exact=True).fill("Not An Id!")
    page.get_by_role("button", name="Create endpoint").click()
    expect(page.locator("#create-error")).to_contain_text("id:")
    page.get_by_label("Provider").select_option("stripe")
    expect(page.locator("#ep-secret-hint")).to_contain_text("issues the signing secret")


def post_rejected(
    bridge: BridgeProcess, endpoint: str, signed: bytes, sent: bytes, secret: str
) -> None:
    """Deliver `sent` with GitHub's signature of `signed` under `secret`: the bridge refuses it."""
    headers = provider("github").sign(
        signed, secret, now=time.time(), event_id=uuid.uuid4().hex, event_type="push"
    )
    headers["Content-Type"] = "application/json"
    answer = requests.post(f"{bridge.url}/hooks/{endpoint}", data=sent, headers=headers, timeout=10)
    assert answer.status_code == 401, answer.text


def open_rejections(page: Page, bridge: BridgeProcess, uid: str, secret: str) -> Any:
    """Create a GitHub endpoint, open the dashboard, unfold its card: its (empty) rejections."""
    bridge.create_endpoint(uid, secret=secret)
    open_dashboard(page, bridge)
    card = page.locator(f'details.ep[data-endpoint="{uid}"]')
    card.locator("summary").click()
    section = card.get_by_role("region", name="Rejected deliveries")
    expect(section).to_contain_text(
        "No rejected deliveries (the bridge keeps the last 50 for a week)"
    )
    return section


def test_rejected_deliveries_show_the_diagnosis_and_payloads_as_inert_text(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """An endpoint's rejected deliveries show newest first with the debugger's hints, as text."""
    secret = "known-secret-0123456789"
    section = open_rejections(page, bridge, uid, secret)

    post_rejected(bridge, uid, b'{"a": 1}\n', b'{"a": 1}', secret)
    img = '<img src=x onerror="window.__pwned=1">'
    hostile = json.dumps({"title": img}).encode()
    post_rejected(bridge, uid, hostile, hostile, "not-the-endpoint-secret")
    section.get_by_role("button", name=f"Refresh rejected deliveries of {uid}").click()
    entries = section.locator("li.rejection")
    expect(entries).to_have_count(2)
    expect(section.get_by_role("status")).to_contain_text("2 rejected deliveries")

    newest, newline = entries.nth(0), entries.nth(1)
    expect(newline.locator(".rej-reason")).to_have_text("bad_signature")
    expect(newline.locator(".rej-size")).to_have_text("8 bytes")
    expect(newline.locator(".rej-secrets")).to_have_text("s1")
    expect(newline.get_by_role("list", name="Hints")).to_contain_text(
        "The signature matches the body with the trailing newline added"
    )
    toggle = newest.get_by_role("button", name=re.compile("^Details of the rejection"))
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    shapes = newest.get_by_role("row", name=re.compile("^x-hub-signature-256 "))
    expect(shapes.get_by_role("cell")).to_have_text(["prefix 'sha256=', hex (32 bytes)"] * 2)
    expect(newest.locator("pre.rej-body")).to_have_text(hostile.decode())
    assert page.locator("img").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_rejections_appear_live_with_the_debuggers_work_and_first_difference(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """A delivery refused while the card is open appears at once, without Refresh, with the
    first difference and the debugger's work (template, signed string, 8-character starts)."""
    secret = "known-secret-0123456789"
    section = open_rejections(page, bridge, uid, secret)
    hostile = b'{"title": "<img src=x onerror=\\"window.__pwned=1\\">"}'
    post_rejected(bridge, uid, hostile + b"\n", hostile, secret)
    entries = section.locator("li.rejection")
    expect(entries).to_have_count(1)  # pushed: nobody clicked Refresh
    record = bridge.api("GET", f"/api/endpoints/{uid}/rejections").json()["rejections"][0]
    diagnosis = record["diagnosis"]
    first = diagnosis["first_difference"]
    expect(entries.locator(".rej-first-kind")).to_have_text(first["kind"])
    expect(entries.locator(".rej-first-detail")).to_have_text(first["detail"])
    entries.get_by_role("button", name=re.compile("^Details of the rejection")).click()
    done = diagnosis["work"]
    expect(entries.locator(".rej-template")).to_have_text(done["template"])
    expect(entries.locator(".rej-signed")).to_have_text(done["signed"])
    [(secret_id, start)] = done["expected"].items()
    assert len(start) == 8
    expect(entries.locator(".rej-expected")).to_have_text(f"{secret_id}: {start}")
    expect(entries.locator(".rej-received")).to_have_text(", ".join(done["received"]))
    expect(entries.locator("pre.rej-body")).to_have_text(hostile.decode())

    post_rejected(bridge, uid, b"{}", b"{}", "not-the-endpoint-secret")
    expect(entries).to_have_count(2)
    expect(entries.nth(0).locator(".rej-first-kind")).to_have_text("signature")
    assert page.locator("img").count() == 0
    assert page.evaluate("window.__pwned") is None
