"""The dashboard (issue 4) in a real browser: Debian's Chromium driven by Playwright, against
real bridges under gunicorn on the session's valkey-server.

Set `DASHBOARD_SCREENSHOTS=docs/screenshots` to write the documentation screenshots.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from fnmatch import fnmatchcase
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import (
    Page,
    Route,
    WebSocketRoute,
    expect,
)

from bridge.embedded import EmbeddedRedis
from bridge.providers import get as provider
from bridge.search import body_holds
from tests.browser import RECONNECT_WAIT, needs_chromium
from tests.support import ROOT, BridgeProcess, metric, spread_history

RAW_ROUTE = "/api/endpoints/{endpoint_id}/events/{cursor}/raw"

pytestmark = needs_chromium


@pytest.fixture
def own_bridge(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[BridgeProcess]:
    """A bridge of this test's own on the session Redis, so the test may stop and restart it."""
    process = BridgeProcess(tmp_path / "own-bridge", redis_server.url).start()
    yield process
    process.stop()


def open_dashboard(page: Page, bridge: BridgeProcess) -> None:
    page.goto(f"{bridge.url}/#token={bridge.token}")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")


def post(
    bridge: BridgeProcess, endpoint: str, body: Any, event_type: str = "push"
) -> tuple[str, str]:
    """Deliver one signed GitHub webhook; return (cursor, provider event id)."""
    event_id = uuid.uuid4().hex
    answer = bridge.post_signed(
        endpoint, json.dumps(body).encode(), event_id=event_id, event_type=event_type
    )
    assert answer.status_code == 202, answer.text
    return answer.json()["id"], event_id


def open_create_form(page: Page) -> None:
    """Unfold "New endpoint" (it starts unfolded when there is no endpoint yet)."""
    box = page.locator("#create-box")
    if box.get_attribute("open") is None:
        box.locator("summary").click()
    expect(page.get_by_label("Endpoint id", exact=True)).to_be_visible()


def rows(page: Page, endpoint: str) -> Any:
    return page.locator(f'button.row[data-endpoint="{endpoint}"]')


def test_token_link_signs_in_and_leaves_the_address_bar(page: Page, bridge: BridgeProcess) -> None:
    """The #token= link signs in, leaves the URL, survives a reload, and log out forgets it."""
    open_dashboard(page, bridge)
    assert "token" not in page.url
    stored = page.evaluate("sessionStorage.getItem('webhook-bridge.token')")
    assert stored == bridge.token
    expect(page.locator("#who")).to_have_text("admin")
    page.reload()
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator("#login-view")).to_be_hidden()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("Token", exact=True)).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_login_form_refuses_a_wrong_token_then_accepts_the_admin_token(
    page: Page, bridge: BridgeProcess
) -> None:
    """A pasted wrong token gets a message on the form; the admin token opens the dashboard."""
    page.goto(bridge.url + "/")
    page.get_by_label("Token", exact=True).fill("not-the-token")
    page.get_by_role("button", name="Open dashboard").click()
    expect(page.locator("#login-error")).to_contain_text("not the admin token")
    page.get_by_label("Token", exact=True).fill(bridge.token)
    page.get_by_role("button", name="Open dashboard").click()
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")


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


def test_signed_webhook_appears_live_and_its_detail_shows_headers_and_body(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """A signed webhook appears live, and its detail shows headers and body."""
    bridge.create_endpoint(uid)
    open_dashboard(page, bridge)
    cursor, event_id = post(bridge, uid, {"greeting": f"hello-{uid}"}, "push")
    row = rows(page, uid)
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-cursor", cursor)
    expect(row.locator(".badge.ok")).to_have_text("verified")
    row.click()
    detail = page.locator("#detail")
    expect(detail.locator(".json")).to_contain_text(f'"hello-{uid}"')
    detail.get_by_role("tab", name=re.compile("Headers")).click()
    expect(detail.locator("table.headers")).to_contain_text("x-github-delivery")
    expect(detail.locator("table.headers")).to_contain_text(event_id)
    detail.get_by_role("tab", name="Verification").click()
    expect(detail).to_contain_text("sha256")
    expect(page.locator("#how")).to_contain_text("latency")

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    detail.get_by_role("button", name="Copy as curl").click()
    expect(detail.get_by_role("button", name="Copied")).to_be_visible()
    curl = page.evaluate("navigator.clipboard.readText()")
    assert curl.splitlines()[-1].startswith("  --data-binary")
    assert f"curl -sS -X POST '{bridge.url}/hooks/{uid}'" in curl
    assert f"-H 'x-github-delivery: {event_id}'" in curl
    assert "-H 'x-hub-signature-256: sha256=" in curl
    if RAW_ROUTE in bridge.api("GET", "/api/openapi.json").json()["paths"]:
        # With the raw bytes the command re-sends the delivery exactly: the signature verifies
        # (a bad one would be 401) and the bridge knows it as a duplicate of the same delivery.
        sent = subprocess.run(
            ["bash", "-c", curl + " -w '\\n%{http_code}'"],
            capture_output=True,
            text=True,
            check=True,
        )
        answer, status = sent.stdout.rsplit("\n", 1)
        assert status == "200"
        duplicate = json.loads(answer)
        assert duplicate.pop("trace")  # this delivery's own; the event keeps the first's
        assert duplicate == {"id": cursor, "endpoint": uid, "duplicate": True}
    with page.expect_download() as download:
        detail.get_by_role("button", name="Download fixture").click()
    assert download.value.suggested_filename == f"{uid}-{cursor}.json"
    fixture = json.loads(Path(download.value.path()).read_text())
    assert fixture["id"] == cursor
    assert fixture["body"] == {"greeting": f"hello-{uid}"}


def test_gitlab_events_are_flagged_token_not_verified(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """A GitLab event (a token compared, no signature) shows a "token" badge that says the body
    is not signed, where a signed GitHub event shows "verified"."""
    gitlab, secret = f"{uid}-gl", "gitlab-secret-token-789"
    bridge.create_endpoint(gitlab, "gitlab", secret=secret)
    bridge.create_endpoint(uid)
    open_dashboard(page, bridge)
    body = b'{"object_kind": "push"}'
    answer = bridge.post_signed(gitlab, body, provider_name="gitlab", secret=secret)
    assert answer.status_code == 202, answer.text
    post(bridge, uid, {"signed": True})

    token = rows(page, gitlab).locator(".badge").first
    expect(token).to_have_text("token")
    expect(token).to_have_attribute(
        "title", re.compile("the sender proved it knows the secret; the body is not signed")
    )
    expect(rows(page, uid).locator(".badge").first).to_have_text("verified")
    rows(page, gitlab).click()
    detail = page.locator("#detail")
    expect(detail.locator(".flags .badge")).to_have_text(["token"])
    detail.get_by_role("tab", name="Verification").click()
    expect(detail).to_contain_text("the body is not signed")
    expect(page.locator("#how")).to_contain_text("no signature: a token matched")


def test_detail_shows_the_trace_id_and_how_it_works_times_both_legs(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """The detail names the event's trace id, the one of the X-Bridge-Trace answer header, and
    "how it works" shows when the bridge received it and when the frame reached the page."""
    bridge.create_endpoint(uid)
    open_dashboard(page, bridge)
    answer = bridge.post_signed(uid, b'{"n": 1}', event_id=uuid.uuid4().hex)
    assert answer.status_code == 202, answer.text
    trace = answer.headers["X-Bridge-Trace"]
    rows(page, uid).click()
    line = page.locator("#detail .detail-trace")
    expect(line.locator(".trace-id")).to_have_text(trace)
    expect(line).to_contain_text("X-Bridge-Trace header")
    expect(line).to_contain_text("access-log line")
    webhook = page.get_by_role("region", name="Leg 1: the webhook")
    expect(webhook).to_contain_text(f"X-Bridge-Trace: {trace}")
    push = page.get_by_role("region", name="Leg 2: the WebSocket push")
    expect(push).to_contain_text("when the frame reached this page")
    at = r"\d\d:\d\d:\d\d\.\d{3}"
    path = f"received {at} → stored → pushed → in this browser {at}"
    expect(push).to_contain_text(re.compile(path))
    expect(push).to_contain_text(re.compile(r"latency\s*\d"))


def test_webhook_vs_websocket_view_follows_the_selected_event_through_both_legs(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """The "Webhook vs WebSocket" view shows, for the selected event, each leg's facts (ids,
    times, proof, size) side by side and names the doc that tells the story."""
    bridge.create_endpoint(uid)
    open_dashboard(page, bridge)
    view = page.get_by_role("region", name="Webhook vs WebSocket")
    expect(view).to_contain_text("Select an event")
    expect(view).to_contain_text("docs/webhooks-vs-websockets.md")
    body = b'{"n": 1}'
    answer = bridge.post_signed(uid, body, event_id=uuid.uuid4().hex)
    assert answer.status_code == 202, answer.text
    rows(page, uid).click()
    table = view.get_by_role("table")
    expect(table.locator(".versus-trace")).to_have_text(answer.json()["trace"])
    expect(table.locator(".versus-cursor")).to_have_text(answer.json()["id"])

    def row(label: str) -> Any:
        return table.get_by_role("row", name=re.compile(f"^{label}"))

    expect(row("the connection")).to_contain_text(f"one POST /hooks/{uid}, closed after its 202")
    expect(row("the connection")).to_contain_text("pushed without being asked for")
    expect(row("proof")).to_contain_text("matched by secret s1")
    expect(row("size")).to_contain_text(f"{len(body)} bytes of body")
    expect(row("size")).to_contain_text(re.compile(r"\d+ characters of JSON in one frame"))
    expect(row("when")).to_contain_text(re.compile(r"received \d\d:\d\d:\d\d\.\d{3}"))
    expect(row("when")).to_contain_text(re.compile(r"arrived \d\d:\d\d:\d\d\.\d{3}, .+ later"))


def test_replay_from_the_detail_shows_a_marked_copy_live(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """Replay in the event detail re-publishes the event; the copy arrives live, flagged."""
    bridge.create_endpoint(uid)
    open_dashboard(page, bridge)
    cursor, _ = post(bridge, uid, {"replay": "me"})
    row = rows(page, uid)
    expect(row).to_have_count(1)
    row.click()
    detail = page.locator("#detail")
    detail.get_by_role("button", name="Replay").click()
    expect(detail).to_contain_text("Re-published as")
    expect(row).to_have_count(2)
    copy = row.first  # newest first
    expect(copy.locator(".badge.info")).to_have_text("replay")
    assert copy.get_attribute("data-cursor") != cursor


def test_filter_by_event_type_glob_and_body_text(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """The event type glob and the body text filter hide the rows that do not match."""
    bridge.create_endpoint(uid)
    open_dashboard(page, bridge)
    post(bridge, uid, {"n": 1, "note": "alpha"}, "push")
    post(bridge, uid, {"n": 2, "note": "beta"}, "issues")
    post(bridge, uid, {"n": 3, "note": "gamma"}, "issue_comment")
    expect(rows(page, uid)).to_have_count(3)
    page.get_by_label("Event type").fill("issue*")
    expect(rows(page, uid)).to_have_count(2)
    expect(rows(page, uid).locator(".c-type")).to_have_text(["issue_comment", "issues"])
    page.get_by_label("Text in body").fill("GAMMA")
    expect(rows(page, uid)).to_have_count(1)
    page.get_by_label("Event type").fill("")
    page.get_by_label("Text in body").fill("")
    expect(rows(page, uid)).to_have_count(3)


# Events and terms where a browser's own matching could part from bridge/search.py's: case,
# glob brackets and metacharacters, escapes inside JSON strings, Python's JSON spacing and
# floats, full case folding (ß/ẞ, ﬁ, dotless i), a text body.
AGREEMENT_EVENTS: list[tuple[str, Any]] = [
    ("push", {"city": "Straße", "n": 1}),
    ("Push", {"note": 'say "hi"\n', "path": "C:\\temp"}),
    ("issue_comment", {"a": 1, "small": 0.00001, "ratio": 1.5, "list": [1, "x"]}),
    ("pull_request", {"file": "ﬁle", "tr": "\u0131"}),
    ("weird[x]*?", b"form=1&q=%20STRASSE"),
]
AGREEMENT_TERMS = [
    *(
        ("event_type", glob)
        for glob in [
            "push", "Push", "PUSH", "p*", "*[!a-m]*", "[pP]u?h", "weird[[]x]*", "weird[x]*",
            "weird[x][*][?]", "[z-a]*", "issue?comment", "*_*", "[!]*", "[]-]*", "we[!-]*",
        ]
    ),
    *(
        ("q", text)
        for text in [
            "strasse", "STRAẞE", "straße", '\\"hi\\"', '"hi"', "\\n", "C:\\\\temp", "C:\\temp",
            '"a": 1', '"a":1', "1e-05", '[1, "x"]', "FILE", "%20", "\u0131", "I", "null",
        ]
    ),
]  # fmt: skip


def test_filters_pick_exactly_the_events_the_history_search_returns(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """For type globs and body texts where a browser could match otherwise than the bridge,
    the dashboard's filter picks exactly the events the history search answers."""
    bridge.create_endpoint(uid)
    for event_type, body in AGREEMENT_EVENTS:
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        answer = bridge.post_signed(uid, raw, event_id=uuid.uuid4().hex, event_type=event_type)
        assert answer.status_code == 202, answer.text
    envelopes = bridge.api("GET", f"/api/endpoints/{uid}/events").json()["events"]
    server = []
    for field, term in AGREEMENT_TERMS:
        found = bridge.api("GET", f"/api/endpoints/{uid}/events", params={field: term}).json()
        server.append([event["id"] for event in found["events"]])
    page.goto(bridge.url + "/")
    picked = page.evaluate(
        """async ([envelopes, terms]) => {
            const { Filter } = await import("/static/events.js");
            return terms.map(([field, term]) => {
                const filter = new Filter(field === "q" ? { text: term } : { type: term });
                const items = envelopes.map((event) => ({ endpoint: event.endpoint, event }));
                return items.filter((item) => filter.matches(item)).map((item) => item.event.id);
            });
        }""",
        [envelopes, AGREEMENT_TERMS],
    )
    assert dict(zip(map(tuple, AGREEMENT_TERMS), picked, strict=True)) == dict(
        zip(map(tuple, AGREEMENT_TERMS), server, strict=True)
    )
    assert {len(ids) for ids in server} >= {0, 1, 2}  # the terms tell the events apart


def random_json(rng: random.Random, text: Any, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 3 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-(10**15), 10**15)
    if kind == 2:  # floats as JSON.parse gives them back: not integral
        return rng.choice([0.5, 1.5e-5, -2.25e-7, 123.456, 0.0001, 3.14159e-10, 12345.678])
    if kind in (3, 4):
        return text()
    if kind == 5:
        return [random_json(rng, text, depth + 1) for _ in range(rng.randrange(4))]
    return {"k" + text(): random_json(rng, text, depth + 1) for _ in range(rng.randrange(4))}


def test_page_matching_agrees_with_python_on_random_globs_bodies_and_cases(
    page: Page, bridge: BridgeProcess
) -> None:
    """On seeded random globs, type names, JSON bodies, texts to find and strings, match.js
    gives what the bridge's search computes with Python: fnmatchcase, body_holds and casefold
    (a lone surrogate, U+2028, DEL, ß/ẞ, Cherokee and dotless i among the characters)."""
    rng = random.Random(20261202)
    glob_chars = [*"*?[]!-^\\ab.z|&~(){}$+/", "é", "\U0001f600", "\n"]
    globs = ["".join(rng.choices(glob_chars, k=rng.randint(1, 8))) for _ in range(1000)]
    names = ["".join(rng.choices([*"ab.z-^]![\\*?é\n"], k=rng.randint(0, 5))) for _ in range(30)]
    points = [*range(0x80), 0xDF, 0x1E9E, 0xFB01, 0x131, 0x130, 0x3A3, 0x3C2, 0x13A0, 0xAB70]
    letters = [chr(c) for c in [*points, 0x2028, 0x85, 0xC9, 0x1F600, 0xD800]]

    def text() -> str:
        return "".join(rng.choices(letters, k=rng.randint(0, 6)))

    values = [random_json(rng, text) for _ in range(500)]
    # What to look for in each value: a random text, often one of its own pieces.
    needles = [json.dumps(v)[2:5] if rng.random() < 0.5 else text() for v in values]
    needles = [(n or "k").casefold() for n in needles]
    strings = [text() * 2 for _ in range(1000)]
    encoded = [json.dumps(value) for value in values]  # as the page receives envelopes
    page.goto(bridge.url + "/")
    # JSON both ways, ASCII-escaped, so lone surrogates cross between Python and the page intact.
    answer = page.evaluate(
        """async (input) => {
            const m = await import("/static/match.js");
            const { globs, names, values, needles, strings } = JSON.parse(input);
            return JSON.stringify({
                globs: globs.map((g) => {
                    const re = m.globToRegExp(g);
                    return names.map((n) => re.test(m.storedType(n)));
                }),
                holds: values.map((v, i) => m.bodyHolds(JSON.parse(v), needles[i])),
                strings: strings.map((s) => m.casefold(s)),
            });
        }""",
        json.dumps(
            {
                "globs": globs,
                "names": names,
                "strings": strings,
                "values": encoded,
                "needles": needles,
            }
        ),
    )
    found = json.loads(answer)
    flat = [name.replace("\n", " ") for name in names]
    assert found["globs"] == [[fnmatchcase(n, g) for n in flat] for g in globs]
    holds = [body_holds(v, n) for v, n in zip(values, needles, strict=True)]
    assert found["holds"] == holds
    assert 50 < sum(holds) < 450  # both answers are well represented
    assert found["strings"] == [s.casefold() for s in strings]


def search_status(page: Page) -> Any:
    return page.get_by_role("status", name="History search")


def test_filter_finds_a_matching_event_older_than_the_loaded_page(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """A filter searches the bridge's history: a matching event older than every event the page
    loaded shows up once, and the status says what was searched, back to the first event."""
    bridge.create_endpoint(uid)
    needle, _ = post(bridge, uid, {"note": f"needle-{uid}"}, "release")
    for n in range(60):  # more than the 50 the page loads at sign-in
        post(bridge, uid, {"n": n, "note": "hay"}, "push")
    open_dashboard(page, bridge)
    page.get_by_label("Endpoint", exact=True).select_option(uid)
    expect(page.locator(f'button.row[data-cursor="{needle}"]')).to_have_count(0)
    page.get_by_label("Event type").fill("rel*se")
    page.get_by_label("Text in body").fill(f"NEEDLE-{uid.upper()}")
    expect(rows(page, uid)).to_have_count(1)
    expect(rows(page, uid)).to_have_attribute("data-cursor", needle)
    expect(search_status(page)).to_contain_text(
        re.compile(rf"1 older match in \d+ older events of {uid}, back to the first event")
    )
    page.get_by_label("Text in body").fill("")
    page.get_by_label("Event type").fill("")
    expect(search_status(page)).to_be_hidden()
    expect(page.locator(f'button.row[data-cursor="{needle}"]')).to_have_count(1)


def test_a_term_the_bridge_refuses_shows_its_reason_and_the_list_still_filters(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """A text over the bridge's 200 characters gets the history search's 400 message on the
    status line, with a way to try again, while the page still filters what it holds."""
    bridge.create_endpoint(uid)
    long_text = "x" * 201
    for n in range(60):  # older ones than the page loads, so there is history to search
        post(bridge, uid, {"n": n})
    open_dashboard(page, bridge)
    page.get_by_label("Endpoint", exact=True).select_option(uid)
    held, _ = post(bridge, uid, {"note": long_text})  # live: held whatever history was loaded
    expect(page.locator(f'button.row[data-cursor="{held}"]')).to_have_count(1)
    page.get_by_label("Text in body").fill(long_text)
    expect(search_status(page)).to_contain_text(f"could not search {uid}: expected 1 to 200")
    expect(search_status(page).get_by_role("button", name=f"Search {uid} again")).to_be_visible()
    expect(rows(page, uid)).to_have_count(1)


def test_search_says_where_the_bridges_scan_budget_stopped_and_goes_on_from_there(
    page: Page, fresh_bridge: BridgeProcess, own_redis: EmbeddedRedis
) -> None:
    """A search the bridge's scan budget stops says "searched 5,000 older events in <endpoint>;
    more…", and "more…" goes on from the cursor it answered, to the match behind them."""
    from bridge import keys
    from bridge.search import SCAN_BUDGET

    bridge = fresh_bridge
    bridge.create_endpoint("budget")
    needle, _ = post(bridge, "budget", {"note": "needle"}, "push")
    post(bridge, "budget", {"note": "hay"}, "push")
    with redis.Redis.from_url(own_redis.url) as client:
        (_, hay), *_ = client.xrevrange(keys.stream("budget"), count=1)
        with client.pipeline(transaction=False) as pipe:
            for _ in range(SCAN_BUDGET + 100):  # copies of the real "hay" entry, newer ids
                pipe.xadd(keys.stream("budget"), hay)
            pipe.execute()
    open_dashboard(page, bridge)
    expect(rows(page, "budget")).to_have_count(50)  # the newest 50, at sign-in
    page.get_by_label("Text in body").fill("needle")
    status = search_status(page)
    expect(status).to_contain_text(f"searched {SCAN_BUDGET:,} older events in budget; more…")
    expect(status).to_contain_text(f"0 older matches in {SCAN_BUDGET:,} older events of budget.")
    expect(rows(page, "budget")).to_have_count(0)
    status.get_by_role("button", name="Search more of budget").click()
    expect(rows(page, "budget")).to_have_count(1)
    expect(rows(page, "budget")).to_have_attribute("data-cursor", needle)
    older = SCAN_BUDGET + 100 + 2 - 50  # all but the 50 the page holds
    expect(status).to_contain_text(
        f"1 older match in {older:,} older events of budget, back to the first event"
    )


def test_a_newer_query_wins_over_a_slow_older_one(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """While the search for a first query is still unanswered, a second query replaces it:
    the page cancels the first, shows the second's match and never merges the first's."""
    bridge.create_endpoint(uid)
    first, _ = post(bridge, uid, {"word": f"first-{uid}"})
    second, _ = post(bridge, uid, {"word": f"second-{uid}"})
    for n in range(60):
        post(bridge, uid, {"n": n})
    held: list[Route] = []
    failed: list[str] = []

    def hold_first(route: Route) -> None:
        if f"first-{uid}" in route.request.url:
            held.append(route)  # answered only after the second query (or never)
        else:
            route.continue_()

    page.route(re.compile(r"/api/endpoints/[^/]+/events\?"), hold_first)
    page.on("requestfailed", lambda request: failed.append(request.url))
    open_dashboard(page, bridge)
    page.get_by_label("Endpoint", exact=True).select_option(uid)
    text = page.get_by_label("Text in body")
    with page.expect_request(lambda request: f"first-{uid}" in request.url):
        text.fill(f"first-{uid}")
    expect(search_status(page)).to_contain_text(f"searching {uid}…")
    text.fill(f"second-{uid}")
    expect(rows(page, uid)).to_have_count(1)
    expect(rows(page, uid)).to_have_attribute("data-cursor", second)
    expect(search_status(page)).to_contain_text("1 older match in")
    assert [url for url in failed if f"first-{uid}" in url]  # cancelled by the page
    with contextlib.suppress(PlaywrightError):
        held[0].continue_()  # too late: the page already dropped that request
    text.fill("")
    expect(page.locator(f'button.row[data-cursor="{second}"]')).to_have_count(1)
    expect(page.locator(f'button.row[data-cursor="{first}"]')).to_have_count(0)


def test_latency_histogram_counts_the_deliveries_made_while_the_panel_is_open(
    page: Page, fresh_bridge: BridgeProcess
) -> None:
    """With the page's socket open, webhooks sent show in "How it works" as that many
    deliveries in the latency histogram read from /metrics, in all and per endpoint."""
    bridge = fresh_bridge
    bridge.create_endpoint("lat-a")
    bridge.create_endpoint("lat-b")
    open_dashboard(page, bridge)
    text = page.locator("#latency-text")
    expect(text).to_contain_text("0 deliveries to all endpoints since")  # the baseline poll
    for n in range(7):
        post(bridge, "lat-a", {"n": n})
    for n in range(3):
        post(bridge, "lat-b", {"n": n})
    expect(rows(page, "lat-a")).to_have_count(7)
    expect(rows(page, "lat-b")).to_have_count(3)
    expect(text).to_contain_text(re.compile(r"^10 deliveries to all endpoints since .*: p50 ≈ "))
    page.get_by_label("Endpoint", exact=True).select_option("lat-a")
    expect(text).to_contain_text("7 deliveries to lat-a since")
    page.locator("#latency summary", has_text="Per bucket").click()
    counts = page.locator("#latency-table td").all_inner_texts()
    assert sum(int(count) for count in counts) == 7
    assert metric(bridge, 'bridge_delivery_seconds_count{endpoint="lat-a"}') == 7


def test_the_latency_panel_reads_metrics_a_metrics_token_guards(
    page: Page, own_redis: EmbeddedRedis, tmp_path: Path
) -> None:
    """On a bridge with BRIDGE_METRICS_TOKEN, /metrics refuses a stranger while the admin
    dashboard's latency panel, reading it with the admin token, still counts deliveries."""
    bridge = BridgeProcess(
        tmp_path / "guarded", own_redis.url, BRIDGE_METRICS_TOKEN="metrics-token-for-tests-0123"
    ).start()
    try:
        assert requests.get(bridge.url + "/metrics", timeout=5).status_code == 401
        bridge.create_endpoint("lat-guarded")
        open_dashboard(page, bridge)
        text = page.locator("#latency-text")
        expect(text).to_contain_text("0 deliveries to all endpoints since")
        for n in range(4):
            post(bridge, "lat-guarded", {"n": n})
        expect(rows(page, "lat-guarded")).to_have_count(4)
        expect(text).to_contain_text(re.compile(r"^4 deliveries to all endpoints since "))
    finally:
        bridge.stop()


EXPOSITION = r"""# HELP bridge_delivery_seconds_bucket a comment, not a sample: x{le="1"} 9
# TYPE bridge_delivery_seconds histogram
bridge_delivery_seconds_bucket{endpoint="a\"b\\c\nd",le="0.001"} 2.0
bridge_delivery_seconds_bucket{le="+Inf",endpoint="a\"b\\c\nd"} 5.0 1733170000000
  bridge_delivery_seconds_bucket{endpoint="x,y}z",le="1e-05"} 1e+00
bridge_delivery_seconds_bucket{endpoint="broken,le="1"} 7
bridge_delivery_seconds_bucket{endpoint="nan",le="+Inf"} NaN
bridge_delivery_seconds_count{endpoint="a"} 5.0
"""


def test_latency_panel_reads_the_prometheus_text_format_with_its_escapes(
    page: Page, bridge: BridgeProcess
) -> None:
    """The dashboard's Prometheus parser unescapes label values, reads +Inf, exponents and NaN,
    ignores timestamps, comments and other metrics, and skips a broken line alone."""
    page.goto(bridge.url + "/")
    parsed = page.evaluate(
        """async (text) => {
            const { samples } = await import("/static/prom.js");
            return samples(text, "bridge_delivery_seconds_bucket")
                .map(({ labels, value }) => [labels.endpoint, labels.le, String(value)]);
        }""",
        EXPOSITION,
    )
    assert parsed == [
        ['a"b\\c\nd', "0.001", "2"],
        ['a"b\\c\nd', "+Inf", "5"],
        ["x,y}z", "1e-05", "1"],
        ["nan", "+Inf", "NaN"],
    ]


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


# Where each character of `text` (in one text node of `el`) is drawn: left edges, in order.
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


def test_pause_holds_new_events_without_dropping_them(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """While paused, new events are counted and kept; resuming shows them all."""
    bridge.create_endpoint(uid)
    open_dashboard(page, bridge)
    post(bridge, uid, {"n": 0})
    expect(rows(page, uid)).to_have_count(1)
    page.get_by_role("button", name="Pause").click()
    post(bridge, uid, {"n": 1})
    post(bridge, uid, {"n": 2})
    expect(page.locator("#list-notice")).to_contain_text("2 new events held")
    expect(rows(page, uid)).to_have_count(1)
    page.get_by_role("button", name="Resume").click()
    expect(rows(page, uid)).to_have_count(3)


def test_subscriber_token_is_read_only_and_sees_its_channel(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """A subscriber token pasted in the form watches its channel without any admin call."""
    bridge.create_endpoint(uid)
    minted = bridge.api("POST", "/api/tokens", json={"channels": [uid], "ttl": 600}).json()
    admin_calls: list[str] = []
    page.on("request", lambda r: admin_calls.append(r.url) if "/api/" in r.url else None)
    page.goto(bridge.url + "/")
    page.get_by_label("Token", exact=True).fill(minted["token"])
    page.get_by_role("button", name="Open dashboard").click()
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator("#who")).to_contain_text(uid)
    expect(page.locator("#endpoints-panel")).to_be_hidden()
    post(bridge, uid, {"n": 1})
    expect(rows(page, uid)).to_have_count(1)
    assert admin_calls == []


def test_bridge_restart_resumes_with_the_events_posted_meanwhile_exactly_once(
    own_bridge: BridgeProcess, bridge: BridgeProcess, page: Page, uid: str
) -> None:
    """After its bridge restarts, the page reconnects and shows each event posted meanwhile once."""
    own_bridge.create_endpoint(uid)
    open_dashboard(page, own_bridge)
    post(own_bridge, uid, {"n": 0})
    expect(rows(page, uid)).to_have_count(1)

    own_bridge.stop(signal.SIGTERM)
    expect(page.locator("#conn")).to_have_attribute(
        "data-state", re.compile("reconnecting|connecting")
    )
    expect(page.locator("#conn-text")).to_contain_text("Reconnecting in")
    meanwhile = [post(bridge, uid, {"n": n}) for n in (1, 2, 3)]  # another bridge, same Redis
    own_bridge.start()

    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=RECONNECT_WAIT)
    for cursor, event_id in meanwhile:
        expect(page.locator(f'button.row[data-event-id="{event_id}"]')).to_have_count(1)
        expect(page.locator(f'button.row[data-cursor="{cursor}"]')).to_have_count(1)
    expect(rows(page, uid)).to_have_count(4)
    expect(page.locator("#banners")).not_to_contain_text("Missed events")
    post(own_bridge, uid, {"n": 4})  # and live delivery goes on
    expect(rows(page, uid)).to_have_count(5)


def test_recovered_false_shows_the_missed_events_banner(
    own_bridge: BridgeProcess, tight_bridge: BridgeProcess, page: Page, uid: str
) -> None:
    """When more events than the bridge keeps arrive while away, a banner says some were missed."""
    own_bridge.create_endpoint(uid)
    open_dashboard(page, own_bridge)
    post(own_bridge, uid, {"n": 0})
    expect(rows(page, uid)).to_have_count(1)

    own_bridge.stop(signal.SIGTERM)
    # tight_bridge keeps only the newest 5 events of a stream: 7 posts trim past our cursor.
    away = [post(tight_bridge, uid, {"n": n}) for n in range(1, 8)]
    own_bridge.start()

    banner = page.locator(".banner", has_text="Missed events")
    expect(banner).to_contain_text(uid, timeout=RECONNECT_WAIT)
    for cursor, _ in away[-5:]:
        expect(page.locator(f'button.row[data-cursor="{cursor}"]')).to_have_count(1)
    for cursor, _ in away[:2]:
        expect(page.locator(f'button.row[data-cursor="{cursor}"]')).to_have_count(0)
    banner.get_by_role("button", name="Dismiss").click()
    expect(banner).to_have_count(0)


def test_history_loads_recent_events_then_older_ones_on_demand(
    fresh_bridge: BridgeProcess, own_redis: EmbeddedRedis, page: Page
) -> None:
    """Sign-in shows the newest 50 of history, and "load older" walks back to the first event,
    however far apart the events are (here 90 s, more than any one-minute window)."""
    fresh_bridge.create_endpoint("history")
    with redis.Redis.from_url(own_redis.url) as client:
        cursors = spread_history(fresh_bridge, client, "history", 260, gap_ms=90_000)
    open_dashboard(page, fresh_bridge)
    expect(rows(page, "history")).to_have_count(50)  # a few endpoints: recent history at sign-in
    assert shown_cursors(page, "history") == cursors[::-1][:50]
    load = page.get_by_role("button", name="Load older from history")
    load.click()
    expect(rows(page, "history")).to_have_count(250)
    load.click()
    expect(rows(page, "history")).to_have_count(260)
    expect(page.get_by_role("button", name="No older events in history")).to_be_disabled()
    assert shown_cursors(page, "history") == cursors[::-1]


def shown_cursors(page: Page, endpoint: str) -> list[str]:
    """The cursors of the rows on the page, top to bottom."""
    found: list[str] = rows(page, endpoint).evaluate_all("els => els.map(e => e.dataset.cursor)")
    return found


def test_ten_thousand_events_keep_the_page_capped_and_usable(
    bridge: BridgeProcess, page: Page, uid: str
) -> None:
    """10,000 events pushed down the socket leave at most 500 rows in the DOM and a usable page."""
    bridge.create_endpoint(uid)
    sockets: list[WebSocketRoute] = []

    def relay(ws: WebSocketRoute) -> None:
        ws.connect_to_server()  # frames pass through both ways; the test adds its own
        sockets.append(ws)

    page.route_web_socket(re.compile(r"/ws$"), relay)
    open_dashboard(page, bridge)
    page.get_by_label("Endpoint", exact=True).select_option(uid)
    start = 1_700_000_000_000
    for n in range(10_000):
        envelope = {
            "id": f"{start + n}-0",
            "endpoint": uid,
            "provider": "github",
            "event_id": f"delivery-{n}",
            "event_type": "push" if n % 2 else "issues",
            "received_at": f"2023-11-14T22:13:{20 + n // 1000:02d}.{n % 1000:03d}Z",
            "verified": True,
            "verification": {"scheme": "sha256", "secret_id": "s1"},
            "headers": {"content-type": "application/json", "x-github-event": "push"},
            "body": {"n": n, "order": f"order-{n:05d}"},
            "replay_of": None,
        }
        sockets[0].send(json.dumps({"type": "event", "channel": uid, "event": envelope}))
    summary = page.locator("#list-summary")
    expect(summary).to_contain_text("of 10,000 matching events", timeout=60_000)
    assert page.locator("button.row").count() == 500
    expect(rows(page, uid).first).to_have_attribute("data-cursor", f"{start + 9_999}-0")
    page.get_by_label("Text in body").fill("order-00042")
    expect(rows(page, uid)).to_have_count(1)
    rows(page, uid).click()
    expect(page.locator("#detail .json")).to_contain_text('"order-00042"')
    page.get_by_label("Text in body").fill("")
    page.get_by_label("Event type").fill("push")
    expect(summary).to_contain_text("of 5,000 matching events")
    page.get_by_role("button", name="Older").click()
    expect(summary).to_contain_text("Showing 501\u20131,000 of 5,000")  # en dash


@pytest.fixture
def fresh_bridge(own_redis: EmbeddedRedis, tmp_path: Path) -> Iterator[BridgeProcess]:
    """A bridge on a Redis of the test's own: no endpoints but the ones the test makes."""
    process = BridgeProcess(tmp_path / "fresh-bridge", own_redis.url).start()
    yield process
    process.stop()


def test_one_glob_subscription_follows_250_endpoints_and_those_created_later(
    page: Page, fresh_bridge: BridgeProcess
) -> None:
    """With 250 endpoints the page opens one socket with one subscribe to "*", shows the 250th's
    event live, and shows live the event of an endpoint created after it loaded."""
    bridge = fresh_bridge
    names = [f"many-{n:03d}" for n in range(250)]
    for name in names:
        bridge.create_endpoint(name)
    sent: list[dict[str, Any]] = []
    sockets: list[str] = []

    def watch(ws: Any) -> None:
        sockets.append(ws.url)
        ws.on("framesent", lambda payload: sent.append(json.loads(payload)))

    page.on("websocket", watch)
    open_dashboard(page, bridge)
    expect(page.locator("#conn-text")).to_have_text("Live · 250 channels")
    post(bridge, names[-1], {"n": 250})
    expect(rows(page, names[-1])).to_have_count(1)

    bridge.create_endpoint("late-comer")
    post(bridge, "late-comer", {"n": "late"})
    expect(rows(page, "late-comer")).to_have_count(1)
    expect(page.locator('details.ep[data-endpoint="late-comer"]')).to_have_count(1)
    subscribes = [frame for frame in sent if frame.get("type") == "subscribe"]
    assert len(sockets) == 1
    assert [(f["channel"], f["on_slow"], f["rejections"]) for f in subscribes] == [
        ("*", "drop_oldest", True)
    ]


@pytest.fixture
def lagging_bridge(own_redis: EmbeddedRedis, tmp_path: Path) -> Iterator[BridgeProcess]:
    """A bridge whose sockets queue at most 8 frames: a reader that stalls gets `dropped`
    frames soon (nothing else cuts it: long send timeout, queue age and ping interval)."""
    process = BridgeProcess(
        tmp_path / "lagging-bridge",
        own_redis.url,
        BRIDGE_WS_QUEUE_SIZE="8",
        BRIDGE_WS_SEND_BUFFER="4096",
        BRIDGE_WS_SEND_TIMEOUT="600",
        BRIDGE_WS_QUEUE_AGE="600",
        BRIDGE_WS_PING_INTERVAL="600",
    ).start()
    yield process
    process.stop()


def our_renderers() -> list[int]:
    """The pids of the Chromium renderer processes this test process started (not another's)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    ours, found = {os.getpid()}, True
    while found:
        found = False
        for pid, parent in parents.items():
            if parent in ours and pid not in ours:
                ours.add(pid)
                found = True
    renderers = []
    for pid in ours:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"--type=renderer" in cmdline:
            renderers.append(pid)
    return renderers


def test_events_dropped_while_the_page_stalls_are_fetched_and_shown_exactly_once(
    page: Page, lagging_bridge: BridgeProcess
) -> None:
    """While the page's renderer is stopped, the bridge drops queued events (`dropped`); once it
    runs again the page fetches that gap from the history and lists every event exactly once."""
    bridge = lagging_bridge
    bridge.create_endpoint("busy")
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    open_dashboard(page, bridge)
    cursors = [post(bridge, "busy", {"n": 0})[0]]
    expect(rows(page, "busy")).to_have_count(1)
    renderers = our_renderers()
    assert renderers
    filler = "x" * 12_000
    for pid in renderers:
        os.kill(pid, signal.SIGSTOP)
    try:
        # Count, don't time: post until the bridge has dropped events for this socket.
        for n in range(1, 2001):
            cursors.append(post(bridge, "busy", {"n": n, "filler": filler})[0])
            if n % 20 == 0 and metric(bridge, "bridge_events_dropped_total") >= 20:
                break
        assert metric(bridge, "bridge_events_dropped_total") >= 20
    finally:
        for pid in renderers:
            os.kill(pid, signal.SIGCONT)
    cursors.append(post(bridge, "busy", {"n": "after"})[0])
    expect(rows(page, "busy")).to_have_count(len(cursors))
    assert shown_cursors(page, "busy") == cursors[::-1]
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    assert len(sockets) == 1  # the gap was filled from the history, not by a reconnect


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


def test_a_deleted_endpoint_is_announced_and_the_notice_goes_when_it_is_back(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """Deleting an endpoint the page follows shows a banner saying it was deleted (not a
    refused watch) and marks its listed events "deleted"; once it is created again and
    followed anew, the banner goes and its new events are listed unmarked."""
    bridge.create_endpoint(uid)
    open_dashboard(page, bridge)
    post(bridge, uid, {"n": 1})
    expect(rows(page, uid)).to_have_count(1)
    deleted = page.locator(f'.row[data-endpoint="{uid}"][data-deleted="true"]')
    expect(deleted).to_have_count(0)
    assert bridge.api("DELETE", f"/api/endpoints/{uid}").status_code == 204
    banner = page.locator(".banner", has_text=f"Endpoint {uid} was deleted on the bridge")
    expect(banner).to_have_count(1)
    expect(page.locator("#banners")).not_to_contain_text("Cannot watch")
    expect(deleted).to_have_count(1)
    expect(deleted.locator(".badge.deleted")).to_have_text("deleted")
    bridge.create_endpoint(uid)
    post(bridge, uid, {"n": 2})
    expect(rows(page, uid)).to_have_count(2)
    expect(banner).to_have_count(0)
    expect(deleted).to_have_count(1)  # the first life's event only
    expect(rows(page, uid).first.locator(".badge.deleted")).to_have_count(0)
    # The card counts the new endpoint's events, not both lives'.
    expect(page.locator(f'details.ep[data-endpoint="{uid}"] .ep-count')).to_have_text("1 event")
