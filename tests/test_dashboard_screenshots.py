"""The dashboard's main views rendered in a real browser (Debian's Chromium driven by Playwright,
against a real bridge under gunicorn): login, the event list and detail, "How it works" and
Webhook vs WebSocket. Set `DASHBOARD_SCREENSHOTS=docs/screenshots` to write the documentation
screenshots there (a relative path is taken from the repository root); unset, they go to the
test's tmp_path.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser import needs_chromium
from tests.dashboard_support import open_create_form, open_dashboard, post, rows
from tests.support import ROOT, BridgeProcess

pytestmark = needs_chromium


def test_documentation_screenshots(page: Page, fresh_bridge: BridgeProcess, tmp_path: Path) -> None:
    """The main views render (written to docs/ when DASHBOARD_SCREENSHOTS is set)."""
    bridge = fresh_bridge
    target = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path)
    if not target.is_absolute():
        target = ROOT / target
    target.mkdir(parents=True, exist_ok=True)
    page.goto(bridge.url + "/")
    expect(page.get_by_label("Token", exact=True)).to_be_focused()
    page.screenshot(path=str(target / "login.png"))

    github, stripe = "github-ci", "stripe-prod"
    bridge.create_endpoint(github, description="Repository events from GitHub")
    bridge.create_endpoint(stripe, "stripe", secret="whsec_3f9c0e7d2b8a41")
    open_dashboard(page, bridge)
    page.get_by_label("Endpoint", exact=True).select_option(github)
    for n, kind in enumerate(["push", "pull_request", "issues", "push", "workflow_run"]):
        post(
            bridge, github, {"ref": "refs/heads/main", "n": n, "sender": {"login": "octocat"}}, kind
        )
    stripe_body = json.dumps(
        {"id": "evt_1Q", "type": "payment_intent.succeeded", "data": {"object": {"amount": 2000}}}
    ).encode()
    answer = bridge.post_signed(
        stripe, stripe_body, provider_name="stripe", secret="whsec_3f9c0e7d2b8a41",
        event_id="evt_1Q", event_type="payment_intent.succeeded",
    )  # fmt: skip
    assert answer.status_code == 202, answer.text
    expect(rows(page, github)).to_have_count(5)
    page.get_by_label("Endpoint", exact=True).select_option("")
    expect(rows(page, stripe)).to_have_count(1)
    expect(page.locator("#rate")).to_have_text("6 / min")
    page.locator(f'details.ep[data-endpoint="{stripe}"] summary').click()
    rows(page, github).first.click()
    expect(page.locator("#detail .json")).to_contain_text("octocat")
    page.screenshot(path=str(target / "dashboard.png"))

    rows(page, stripe).click()
    page.get_by_role("tab", name=re.compile("Headers")).click()
    expect(page.locator("#latency-text")).to_contain_text("6 deliveries to all endpoints")
    page.locator("#how-title").evaluate("el => el.scrollIntoView({block: 'start'})")
    page.locator(f'details.ep[data-endpoint="{stripe}"] summary').click()
    open_create_form(page)
    page.get_by_label("Endpoint id", exact=True).fill("shop-orders")
    page.get_by_label("Provider").select_option("shopify")
    expect(page.locator("#ep-url-preview")).to_have_text(
        f"Webhook URL: {bridge.url}/hooks/shop-orders"
    )
    page.screenshot(path=str(target / "how-it-works.png"))

    rows(page, github).first.click()
    versus = page.get_by_role("region", name="Webhook vs WebSocket")
    expect(versus.locator(".versus-trace")).to_have_count(1)
    page.locator("#versus-title").evaluate("el => el.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(target / "webhook-vs-websocket.png"))
