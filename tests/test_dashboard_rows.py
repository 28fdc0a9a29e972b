"""The dashboard's event rows in a real browser (Chromium, Playwright) on a laptop-wide
window: what a row is read by, its event type, is shown whole, never cut to an ellipsis."""

from __future__ import annotations

import json
import uuid

from playwright.sync_api import Page, expect

from tests.browser import needs_chromium
from tests.dashboard_support import open_dashboard
from tests.support import BridgeProcess

pytestmark = needs_chromium

SECRET = "whsec_dGVzdC1zZWNyZXQtMTIzNDU2"
LONG_TYPES = [
    "customer.subscription.trial_will_end",
    "invoice.payment_action_required",
    "payment_intent.succeeded",
]


def test_long_event_types_are_shown_whole_and_the_endpoint_named_on_hover(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """At 1,400 px each long type is shown whole, wrapped only after a `.` or `_`; the
    endpoint, cut to fit, carries its whole id as the cell's title."""
    endpoint = f"{uid}-payments-production"
    bridge.create_endpoint(endpoint, "stripe", SECRET)
    page.set_viewport_size({"width": 1400, "height": 900})
    open_dashboard(page, bridge)
    for event_type in LONG_TYPES:  # Stripe's type is the body's, as its events carry it
        body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": event_type}).encode()
        answer = bridge.post_signed(endpoint, body, provider_name="stripe", secret=SECRET)
        assert answer.status_code == 202, answer.text
    types = page.locator(f'button.row[data-endpoint="{endpoint}"] .c-type')
    expect(types).to_have_text(LONG_TYPES[::-1])
    cut = types.evaluate_all("cells => cells.filter((c) => c.scrollWidth > c.clientWidth).length")
    assert cut == 0
    # Where a line starts, the character before it: a `.` or `_` wherever it wrapped.
    breaks = types.evaluate_all(
        """cells => cells.map((cell) => {
          const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
          const before = [];
          let top = null, last = "";
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (let i = 0; i < node.length; i++) {
              const range = document.createRange();
              range.setStart(node, i);
              range.setEnd(node, i + 1);
              const y = range.getBoundingClientRect().top;
              if (top !== null && y > top + 2) before.push(last);
              top = y;
              last = node.data[i];
            }
          }
          return before;
        })"""
    )
    assert any(breaks), breaks  # the longest types did need a second line at this width
    assert all(char in "._" for cell_breaks in breaks for char in cell_breaks), breaks
    cell = page.locator(f'button.row[data-endpoint="{endpoint}"] .c-endpoint').first
    expect(cell).to_have_attribute("title", endpoint)
