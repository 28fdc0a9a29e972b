"""The browser client `/client.js` (docs/client.md) and the embed example that uses it
(docs/examples/embed/), in Debian's Chromium against real bridges under gunicorn."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect

from bridge.embedded import EmbeddedRedis
from tests.browser import RECONNECT_WAIT, needs_chromium
from tests.support import ROOT, BridgeProcess, free_port, wait_until

EMBED_APP = ROOT / "docs" / "examples" / "embed" / "app.py"
STATE = "#feed-state"


def test_client_module_and_types_are_served_for_cross_origin_import(client: FlaskClient) -> None:
    """/client.js and /client.d.ts answer with CORS for any origin, a script type, revalidation."""
    served = (("/client.js", "text/javascript"), ("/client.d.ts", "application/typescript"))
    for path, media in served:
        answer = client.get(path, buffered=True)
        assert answer.status_code == 200
        assert answer.mimetype == media
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        assert answer.headers["Cache-Control"] == "no-cache"
        again = client.get(path, headers={"If-None-Match": answer.headers["ETag"]}, buffered=True)
        assert again.status_code == 304
    assert b'from "./close-codes.js"' in client.get("/client.js", buffered=True).get_data()


def post(bridge: BridgeProcess, endpoint: str, n: int, event_type: str = "push") -> str:
    """Deliver one signed webhook; return its cursor."""
    body = json.dumps({"n": n, "amount": 100 * n, "currency": "eur"}).encode()
    answer = bridge.post_signed(endpoint, body, event_id=uuid.uuid4().hex, event_type=event_type)
    assert answer.status_code == 202, answer.text
    cursor: str = answer.json()["id"]
    return cursor


class EmbedApp:
    """docs/examples/embed/app.py as a subprocess on its own port: its own origin."""

    def __init__(
        self, bridge: BridgeProcess, endpoint: str, log: Path, port: int, **env: str
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {
            **os.environ,
            "BRIDGE_SERVER": bridge.url,
            "BRIDGE_ADMIN_TOKEN": bridge.token,
            "EMBED_ENDPOINT": endpoint,
            "EMBED_PORT": str(self.port),
            **env,
        }
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(EMBED_APP)], env=environment, stdout=out, stderr=out
            )
        try:
            wait_until(self.answers, timeout=20)
        except BaseException:
            self.stop()
            raise

    def answers(self) -> bool:
        try:
            return requests.get(self.url + "/", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def start_embed(tmp_path: Path) -> Iterator[Callable[..., EmbedApp]]:
    started: list[EmbedApp] = []

    def start(
        bridge: BridgeProcess, endpoint: str, port: int | None = None, **env: str
    ) -> EmbedApp:
        app = EmbedApp(bridge, endpoint, tmp_path / "embed.log", port or free_port(), **env)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


@pytest.fixture
def embed_bridge(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[BridgeProcess]:
    """A bridge of this test's own (it is restarted) that lets the example's origins in."""
    origins = ",".join(f"http://127.0.0.1:{port}" for port in EMBED_PORTS)
    process = BridgeProcess(
        tmp_path / "bridge", redis_server.url, BRIDGE_ALLOWED_ORIGINS=origins
    ).start()
    yield process
    process.stop()


EMBED_PORTS = (free_port(), free_port())  # the origins the embed bridge allows


def rows(page: Page) -> Any:
    return page.locator("#payments tr")


@needs_chromium
def test_embed_example_shows_payments_live_and_survives_a_bridge_restart_without_a_gap(
    page: Page,
    embed_bridge: BridgeProcess,
    bridge: BridgeProcess,
    start_embed: Callable[..., EmbedApp],
    uid: str,
) -> None:
    """The example page on its own origin shows events live, and those sent while its bridge
    was down appear once each after the restart."""
    embed_bridge.create_endpoint(uid)
    app = start_embed(embed_bridge, uid, EMBED_PORTS[0])
    page.goto(app.url + "/")
    expect(page.locator(STATE)).to_have_attribute("data-state", "live")
    first = post(embed_bridge, uid, 1)
    expect(page.locator(f'tr[data-cursor="{first}"]')).to_contain_text("1.00 EUR")

    embed_bridge.stop(signal.SIGTERM)
    expect(page.locator(STATE)).to_have_attribute("data-state", "offline")
    meanwhile = [post(bridge, uid, n) for n in (2, 3, 4)]  # another bridge, same Redis
    embed_bridge.start()
    expect(page.locator(STATE)).to_have_attribute("data-state", "live", timeout=RECONNECT_WAIT)
    for cursor in meanwhile:
        expect(page.locator(f'tr[data-cursor="{cursor}"]')).to_have_count(1)
    expect(rows(page)).to_have_count(4)
    expect(page.locator("#gap")).to_be_hidden()


@needs_chromium
def test_page_on_a_foreign_origin_loads_the_client_but_its_socket_is_refused(
    page: Page, embed_bridge: BridgeProcess, start_embed: Callable[..., EmbedApp], uid: str
) -> None:
    """A page on an origin the bridge does not allow imports client.js, but never goes live."""
    embed_bridge.create_endpoint(uid)
    foreign = start_embed(embed_bridge, uid)  # a port of its own, not in the allowed list
    upgrades: list[int] = []
    page.on("response", lambda r: upgrades.append(r.status) if r.url.endswith("/ws") else None)
    page.goto(foreign.url + "/")
    expect(page.locator(STATE)).to_have_attribute("data-state", "offline")
    assert page.evaluate("typeof window.feed.subscribe") == "function"  # the module loaded
    refused = requests.get(
        embed_bridge.url + "/ws",
        headers={
            "Origin": foreign.url,
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
        timeout=10,
    )
    assert refused.status_code == 403
    post(embed_bridge, uid, 1)
    expect(page.locator(STATE)).not_to_have_attribute("data-state", "live")
    expect(rows(page)).to_have_count(0)


@needs_chromium
def test_embed_example_refreshes_its_token_before_it_expires(
    page: Page, embed_bridge: BridgeProcess, start_embed: Callable[..., EmbedApp], uid: str
) -> None:
    """With 3-second tokens, the page fetches new ones before each expires: the bridge never
    closes it 4001, and events keep arriving after the first token's expiry."""
    embed_bridge.create_endpoint(uid)
    app = start_embed(embed_bridge, uid, EMBED_PORTS[1], EMBED_TOKEN_TTL="3")
    page.goto(app.url + "/")
    expect(page.locator(STATE)).to_have_attribute("data-state", "live")
    page.evaluate("window.codes = []; feed.on('state', (s) => window.codes.push(s.code))")
    for _ in range(3):  # three refreshes: past two expiries
        with page.expect_request(lambda r: r.url.endswith("/bridge-token"), timeout=10_000):
            pass
    expect(page.locator(STATE)).to_have_attribute("data-state", "live")
    cursor = post(embed_bridge, uid, 7)
    expect(page.locator(f'tr[data-cursor="{cursor}"]')).to_have_count(1)
    assert 4001 not in page.evaluate("window.codes")


# Semantics the example does not show, on a blank page of the bridge's own origin.

OPEN_FEED = """async ([token, withGetToken, channel, since, filter]) => {
  const { connect } = await import("/client.js");
  window.seen = []; window.gaps = []; window.states = []; window.errors = []; window.asked = 0;
  const getToken = withGetToken ? async () => { window.asked += 1; return withGetToken; } : null;
  const backoff = { base: 50, max: 200 };
  window.feed = connect({ token, getToken, storage: sessionStorage, backoff });
  feed.on("state", (s) => window.states.push(s));
  feed.subscribe(channel, {
    since: since || undefined,
    filter: filter || undefined,
    onEvent: (e) => window.seen.push(e.id),
    onGap: (g) => window.gaps.push(g),
    onError: (e) => window.errors.push(e),
  });
}"""


def open_feed(
    page: Page, bridge: BridgeProcess, token: str, channel: str, *, get_token: str = "",
    since: str = "", event_type: str = "",
) -> None:  # fmt: skip
    """Open a feed on `channel` in the page (loaded from the bridge's own origin first)."""
    if not page.url.startswith(bridge.url):
        page.goto(bridge.url + "/healthz")
    where = {"event_type": event_type} if event_type else None
    page.evaluate(OPEN_FEED, [token, get_token, channel, since, where])


def feed_state(page: Page) -> Any:
    return page.evaluate("feed.state")


@needs_chromium
def test_a_close_the_catalogue_marks_not_worth_retrying_ends_the_feed(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """Closed 4001 (wrong token) with no getToken, the feed goes offline for good: no retry."""
    bridge.create_endpoint(uid)
    open_feed(page, bridge, "not-the-token-at-all", uid)
    page.wait_for_function("feed.state === 'offline' && window.states.at(-1).fatal")
    final = page.evaluate("window.states.at(-1)")
    assert final["code"] == 4001
    assert page.evaluate("feed.ws === null && feed.timers.size === 0")  # nothing scheduled
    openings = page.evaluate("window.states.filter((s) => s.state === 'connecting').length")
    assert openings == 1


@needs_chromium
def test_a_refused_token_is_replaced_through_get_token(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """After a 4001 the feed asks getToken() for another token and goes live with it."""
    bridge.create_endpoint(uid)
    open_feed(page, bridge, "not-the-token-at-all", uid, get_token=bridge.token)
    page.wait_for_function("feed.state === 'live'")
    assert page.evaluate("window.asked") == 1
    assert 4001 in page.evaluate("window.states.map((s) => s.code)")


@needs_chromium
def test_a_new_feed_resumes_from_the_cursor_kept_in_session_storage(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """A feed opened after another closed delivers exactly the events sent in between."""
    bridge.create_endpoint(uid)
    open_feed(page, bridge, bridge.token, uid)
    page.wait_for_function("feed.state === 'live'")
    before = [post(bridge, uid, n) for n in (1, 2)]
    page.wait_for_function("window.seen.length === 2")
    page.evaluate("feed.close()")
    between = [post(bridge, uid, n) for n in (3, 4)]
    open_feed(page, bridge, bridge.token, uid)  # a fresh feed: only sessionStorage remembers
    page.wait_for_function("window.seen.length >= 2 && feed.state === 'live'")
    after = post(bridge, uid, 5)
    page.wait_for_function("window.seen.length >= 3")
    assert page.evaluate("window.seen") == [*between, after]
    assert before[-1] < between[0]


@needs_chromium
def test_a_deleted_endpoint_is_reported_and_its_subscription_and_cursor_dropped(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """When the endpoint a feed watches is deleted, onError gets `deleted`, the feed forgets
    the channel's cursor (memory and sessionStorage), and an endpoint created again under the
    id sends it nothing: the exact subscription does not carry over."""
    bridge.create_endpoint(uid)
    open_feed(page, bridge, bridge.token, uid)
    page.wait_for_function("feed.state === 'live'")
    first = post(bridge, uid, 1)
    page.wait_for_function("window.seen.length === 1")
    assert page.evaluate(f"feed.cursor({uid!r})") == first
    gone = requests.delete(
        f"{bridge.url}/api/endpoints/{uid}",
        headers={"Authorization": f"Bearer {bridge.token}"},
        timeout=10,
    )
    assert gone.status_code == 204, gone.text
    page.wait_for_function("window.errors.length === 1")
    assert page.evaluate("window.errors[0]") == {
        "channel": uid,
        "code": "deleted",
        "message": f"endpoint {uid} was deleted",
    }
    assert page.evaluate(f"feed.cursor({uid!r})") in (None, "")
    assert uid not in page.evaluate("sessionStorage.getItem(feed.storageKey)")
    bridge.create_endpoint(uid)
    post(bridge, uid, 2)
    watcher = f"{uid}-w"
    bridge.create_endpoint(watcher)
    page.evaluate(
        f"feed.subscribe({watcher!r}, {{onEvent: (e) => window.seen.push(e.id),"
        " onSubscribed: () => { window.watching = true; }})"
    )
    page.wait_for_function("window.watching === true")  # its events from now on come
    last = post(bridge, watcher, 3)
    # The watcher's event came after the recreated endpoint's: that one would be in first.
    page.wait_for_function("window.seen.length === 2")
    assert page.evaluate("window.seen") == [first, last]


@needs_chromium
def test_recovered_false_is_reported_to_on_gap(
    page: Page, tight_bridge: BridgeProcess, uid: str
) -> None:
    """A `since` older than the bridge keeps is reported through onGap with recovered: false."""
    tight_bridge.create_endpoint(uid)
    cursors = [post(tight_bridge, uid, n) for n in range(8)]  # it keeps the newest 5
    open_feed(page, tight_bridge, tight_bridge.token, uid, since=cursors[0])
    # `subscribed` (the gap, then "live") comes before the retained events it announces.
    page.wait_for_function("window.gaps.length === 1 && window.seen.length >= 5")
    assert feed_state(page) == "live"
    gap = page.evaluate("window.gaps[0]")
    assert gap["recovered"] is False
    assert gap["since"] == cursors[0]
    assert page.evaluate("window.seen") == cursors[-5:]


@needs_chromium
def test_the_filter_goes_to_the_bridge_and_only_matching_events_arrive(
    page: Page, bridge: BridgeProcess, uid: str
) -> None:
    """`filter: {event_type}` is the subscribe frame's filter: other event types never arrive."""
    bridge.create_endpoint(uid)
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda f: frames.append(str(f))))
    open_feed(page, bridge, bridge.token, uid, event_type="release*")
    page.wait_for_function("feed.state === 'live'")
    post(bridge, uid, 1, event_type="push")
    wanted = post(bridge, uid, 2, event_type="release")
    page.wait_for_function("window.seen.length >= 1")
    assert page.evaluate("window.seen") == [wanted]
    subscribes = [json.loads(f) for f in frames if '"subscribe"' in f]
    assert [f["filter"] for f in subscribes] == [{"event_type": "release*"}]
