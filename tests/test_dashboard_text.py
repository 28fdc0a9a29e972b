"""Payload text on the dashboard in a real browser (Debian's Chromium driven by Playwright,
against a real bridge under gunicorn): `<img onerror>` and `<script>` stay inert text, and bidi
and control characters show as visible escapes that reorder nothing (checked by where each
character is drawn).
"""

from __future__ import annotations

import json
import uuid
from itertools import pairwise
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser import needs_chromium
from tests.dashboard_support import open_dashboard, post, rows
from tests.support import BridgeProcess

pytestmark = needs_chromium


def test_hostile_payload_is_shown_as_inert_text(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """<img onerror> and <script> in a payload show as literal text and never run."""
    bridge.create_endpoint(uid)
    open_dashboard(page, bridge)
    img = '<img src=x onerror="window.__pwned=1">'
    script = "<script>window.__pwned=1</script>"
    post(bridge, uid, {"title": img, "html": script, img: script}, "<i>push</i>")
    row = rows(page, uid)
    expect(row.locator(".c-type")).to_have_text("<i>push</i>")
    row.click()
    detail = page.locator("#detail")
    expect(detail.locator(".j-string").first).to_have_text(json.dumps(img))
    expect(detail.locator(".json")).to_contain_text(script)
    detail.get_by_role("tab", name="Raw").click()
    expect(detail.locator("pre.code")).to_contain_text("onerror")
    assert page.locator("img").count() == 0
    assert page.locator("body script").count() == 0
    assert page.evaluate("window.__pwned") is None


# The left edge of each character of `text` where it is drawn in `el`, found in the text of
# its text nodes joined (a row's type is split into several at its break points).
CHAR_LEFTS = """(el, text) => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const chars = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (let i = 0; i < node.length; i++) chars.push([node, i]);
    }
    const at = chars.map(([node, i]) => node.data[i]).join("").indexOf(text);
    if (at < 0) return null;
    return [...text].map((_, i) => {
        const [node, offset] = chars[at + i];
        const range = document.createRange();
        range.setStart(node, offset);
        range.setEnd(node, offset + 1);
        return range.getBoundingClientRect().left;
    });
}"""


def assert_drawn_in_order(element: Any, text: str) -> None:
    """`text` is drawn left to right as written: not reversed by a bidi override before it."""
    lefts = element.evaluate(CHAR_LEFTS, text)
    assert lefts is not None, f"{text!r} is not in the text of {element}"
    assert all(a < b for a, b in pairwise(lefts)), lefts


def test_bidi_and_control_characters_show_as_escapes_and_reorder_nothing(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """A U+202E, a C0 and a C1 character in a payload show as visible escapes (list row, tree,
    raw view), and the text after the U+202E is drawn in the order it was written."""
    secret = "typeform-secret-123456"
    bridge.create_endpoint(uid, "typeform", secret=secret)
    open_dashboard(page, bridge)
    payload = {
        "event_id": uuid.uuid4().hex,
        "event_type": "form\u202eyb.exe",
        "file": "a\u202eevil.exe",
        "bell": "x\u0007y",
        "next_line": "p\u0085q",
    }
    answer = bridge.post_signed(
        uid, json.dumps(payload).encode(), provider_name="typeform", secret=secret
    )
    assert answer.status_code == 202, answer.text
    hidden = ["\u202e", "\u0007", "\u0085"]

    row = rows(page, uid)
    expect(row.locator(".c-type")).to_have_text("form\\u202Eyb.exe")
    expect(row.locator(".c-type .ctl")).to_have_text("\\u202E")
    assert_drawn_in_order(row.locator(".c-type"), "yb.exe")
    row.click()
    tree = page.locator("#detail .json")
    leaf = tree.locator(".j-leaf", has_text='"file"').locator(".j-string")
    expect(leaf).to_have_text('"a\\u202Eevil.exe"')
    assert_drawn_in_order(leaf, "evil.exe")
    expect(tree.locator(".ctl")).to_have_text(["\\u202E", "\\u202E", "\\u0007", "\\u0085"])
    ctl = leaf.locator(".ctl")
    style = "el => [getComputedStyle(el).color, getComputedStyle(el.closest('.j-string')).color]"
    mark_colour, text_colour = ctl.evaluate(style)
    assert mark_colour != text_colour
    assert not any(c in tree.inner_text() for c in hidden)

    page.locator("#detail").get_by_role("tab", name="Raw").click()
    raw = page.locator("#detail pre.code")
    expect(raw).to_contain_text('"file": "a\\u202Eevil.exe"')
    expect(raw.locator(".ctl")).to_have_text(["\\u202E"] * 3 + ["\\u0007", "\\u0085"])
    assert_drawn_in_order(raw, "evil.exe")
    assert not any(c in raw.inner_text() for c in hidden)
