"""The dashboard's live event list in a real browser (Debian's Chromium driven by Playwright,
against real bridges under gunicorn): pause, history at sign-in and "load older", the 500-row
window under 10,000 events, one glob subscription for 250 endpoints, and the events a bridge
dropped while the page stalled fetched and shown exactly once.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from playwright.sync_api import Page, WebSocketRoute, expect

from bridge.embedded import EmbeddedRedis
from tests.browser import needs_chromium
from tests.dashboard_support import open_dashboard, post, rows
from tests.support import BridgeProcess, metric, spread_history

pytestmark = needs_chromium


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
