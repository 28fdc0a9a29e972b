"""The dashboard's session in a real browser (Debian's Chromium driven by Playwright, against
real bridges under gunicorn on the session's valkey-server): signing in by the #token= link and
by the form, a subscriber token's read-only view, and what the page says of its bridge: a
reconnect after a restart, the missed-events banner, a deleted endpoint's banner.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bridge.embedded import EmbeddedRedis
from tests.browser import RECONNECT_WAIT, needs_chromium
from tests.dashboard_support import open_dashboard, post, rows
from tests.support import BridgeProcess

pytestmark = needs_chromium


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


@pytest.fixture
def own_bridge(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[BridgeProcess]:
    """A bridge of this test's own on the session Redis, so the test may stop and restart it."""
    process = BridgeProcess(tmp_path / "own-bridge", redis_server.url).start()
    yield process
    process.stop()


def showing_one_event_then_stopped(page: Page, own_bridge: BridgeProcess, uid: str) -> None:
    """The page live on `own_bridge` with one event of a new endpoint, then the bridge gone."""
    own_bridge.create_endpoint(uid)
    open_dashboard(page, own_bridge)
    post(own_bridge, uid, {"n": 0})
    expect(rows(page, uid)).to_have_count(1)
    own_bridge.stop(signal.SIGTERM)


def test_bridge_restart_resumes_with_the_events_posted_meanwhile_exactly_once(
    own_bridge: BridgeProcess, bridge: BridgeProcess, page: Page, uid: str
) -> None:
    """After its bridge restarts, the page reconnects and shows each event posted meanwhile once."""
    showing_one_event_then_stopped(page, own_bridge, uid)
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
    showing_one_event_then_stopped(page, own_bridge, uid)
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
