"""The dashboard's filters in a real browser (Debian's Chromium driven by Playwright, against
real bridges under gunicorn): the event type glob and body text, the page's matching agreeing
with the bridge's history search and with Python's, and the history search itself (older
matches, a refused term, the scan budget's "more…", a newer query winning over a slow one).
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import uuid
from fnmatch import fnmatchcase
from typing import Any

import redis
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Route, expect

from bridge.embedded import EmbeddedRedis
from bridge.search import body_holds
from tests.browser import needs_chromium
from tests.dashboard_support import open_dashboard, post, rows
from tests.support import BridgeProcess

pytestmark = needs_chromium


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
