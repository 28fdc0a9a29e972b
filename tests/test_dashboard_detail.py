"""The dashboard's event detail and "How it works" in a real browser (Debian's Chromium driven
by Playwright, against real bridges under gunicorn): headers and body, copy as curl (run, and
verified by the bridge), the fixture download, the verification badge, the trace id and both
legs' times, the Webhook vs WebSocket table, replay, and the latency histogram read from
/metrics (with a metrics token, and the Prometheus parser's escapes).
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import Page, expect

from bridge.embedded import EmbeddedRedis
from tests.browser import needs_chromium
from tests.dashboard_support import open_dashboard, post, rows
from tests.support import BridgeProcess, metric

pytestmark = needs_chromium


RAW_ROUTE = "/api/endpoints/{endpoint_id}/events/{cursor}/raw"


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
