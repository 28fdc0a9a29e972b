"""History search on the server: `event_type` (glob), `q` (text in the body), `verified`,
paged by `next` forwards (`since`) and backwards (`before`), each request bounded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.search import SCAN_BUDGET
from tests.ingest_support import create, deliver
from tests.support import MakeApp

Answer = dict[str, Any]


def search(client: FlaskClient, auth: dict[str, str], uid: str, **params: Any) -> Answer:
    answer = client.get(f"/api/endpoints/{uid}/events", query_string=params, headers=auth)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    found: Answer = answer.get_json()
    return found


def bodies(answer: Answer) -> list[Any]:
    return [e["body"] for e in answer["events"]]


def test_event_type_glob_and_body_text_find_their_events(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """`event_type` is a glob over the event type; `q` finds text in the body, whatever
    its case or script, and `scanned` says how much was looked at."""
    create(client, auth, uid, "github")
    sent = [
        ("push", {"msg": "Café au lait"}),
        ("pull_request", {"action": "opened", "n": 1}),
        ("pull_request", {"action": "closed", "n": 2}),
        ("issues", {"msg": "CAFÉ"}),
    ]
    for n, (kind, body) in enumerate(sent):
        answer = deliver(client, uid, json.dumps(body).encode(), event_id=f"s{n}", event_type=kind)
        assert answer.status_code == 202
    prs = search(client, auth, uid, event_type="pull_request.*")
    assert [b["n"] for b in bodies(prs)] == [1, 2]
    assert prs["scanned"] == 4
    assert bodies(search(client, auth, uid, q="café")) == [{"msg": "Café au lait"}, {"msg": "CAFÉ"}]
    assert bodies(search(client, auth, uid, q="café", event_type="issues")) == [{"msg": "CAFÉ"}]
    assert search(client, auth, uid, q="nothing like it")["events"] == []


def test_q_finds_a_json_bodys_text_as_sent_not_the_json_written_again(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """`q` matches a key or value of a JSON body as the sender meant it (quotes and
    backslashes as they are, a number by its digits), not the escapes or the `": "`
    separators of the JSON the bridge writes out again."""
    create(client, auth, uid, "github")
    body = b'{"msg":"fix \\"quoted\\" bug","path":"C:\\\\temp","amount":4242,"paid":true}'
    assert json.loads(body)["path"] == "C:\\temp"
    assert deliver(client, uid, body, event_id="j1").status_code == 202
    assert deliver(client, uid, b"plain text, not JSON", event_id="j2").status_code == 202
    for found in ('fix "quoted" bug', "C:\\temp", "4242", "PAID", "TRUE", "not json"):
        assert len(search(client, auth, uid, q=found)["events"]) == 1, found
    for absent in ('\\"quoted', "C:\\\\temp", '": "', "null"):
        assert search(client, auth, uid, q=absent)["events"] == [], absent


def test_masked_values_cannot_be_found(client: FlaskClient, auth: dict[str, str], uid: str) -> None:
    """A search runs over the masked envelope: the masked text is not found, `***` is."""
    create(client, auth, uid, "github", options={"mask": ["email"]})
    body = json.dumps({"email": "buyer@example.com", "plan": "pro"}).encode()
    assert deliver(client, uid, body, event_id="m1").status_code == 202
    assert search(client, auth, uid, q="buyer@example")["events"] == []
    assert bodies(search(client, auth, uid, q="***")) == [{"email": "***", "plan": "pro"}]


@pytest.fixture
def open_app(make_app: MakeApp) -> Flask:
    return make_app(allow_unverified=True)


def test_verified_separates_signed_from_unverified_endpoints(
    open_app: Flask, auth: dict[str, str], uid: str
) -> None:
    """`verified=false` finds the events of a `none` endpoint only, `true` the signed ones."""
    client = open_app.test_client()
    create(client, auth, f"{uid}-none", "none", secret=None)
    create(client, auth, f"{uid}-gh", "github")
    assert client.post(f"/hooks/{uid}-none", data=b'{"x":1}').status_code == 202
    assert deliver(client, f"{uid}-gh", b'{"x":2}', event_id="v").status_code == 202
    assert bodies(search(client, auth, f"{uid}-none", verified="false")) == [{"x": 1}]
    assert search(client, auth, f"{uid}-none", verified="true")["events"] == []
    assert bodies(search(client, auth, f"{uid}-gh", verified="true")) == [{"x": 2}]


@pytest.mark.parametrize("direction", ["forwards", "backwards"])
def test_search_pages_by_next_and_finds_every_match_once(
    client: FlaskClient, auth: dict[str, str], uid: str, direction: str
) -> None:
    """Ten matches among thirty events, three a page: following `next` finds all ten, once."""
    create(client, auth, uid, "github")
    for n in range(30):
        kind = "deploy" if n % 3 == 0 else "push"
        body = json.dumps({"n": n}).encode()
        assert deliver(client, uid, body, event_id=f"p{n}", event_type=kind).status_code == 202
    found: list[int] = []
    params: dict[str, Any] = {"event_type": "deploy", "limit": 3}
    if direction == "backwards":  # from the newest, back
        params["before"] = "9999999999999999999-0"
    while True:
        page = search(client, auth, uid, **params)
        numbers = [b["n"] for b in bodies(page)]
        assert numbers == sorted(numbers)  # each page oldest first
        found = found + numbers if direction == "forwards" else numbers + found
        if page["next"] is None:
            break
        params["since" if direction == "forwards" else "before"] = page["next"]
    assert found == list(range(0, 30, 3))


def test_a_search_that_finds_little_stops_at_its_budget_and_says_where(
    client: FlaskClient, app: Flask, auth: dict[str, str], uid: str
) -> None:
    """Past SCAN_BUDGET entries one request answers with what it found and `next`: the next
    request goes on from there and finds the match beyond."""
    create(client, auth, uid, "github")
    store = app.extensions["bridge"].store
    for n in range(SCAN_BUDGET + 10):
        kind = "rare" if n == SCAN_BUDGET + 5 else "common"
        tail = json.dumps({"endpoint": uid, "event_type": kind, "verified": True, "body": {"n": n}})
        store.append(uid, f"b{n}", kind, tail, b"{}")
    first = search(client, auth, uid, event_type="rare")
    assert (first["events"], first["scanned"]) == ([], SCAN_BUDGET)
    assert first["next"] is not None
    second = search(client, auth, uid, event_type="rare", since=first["next"])
    assert bodies(second) == [{"n": SCAN_BUDGET + 5}]
    assert second["next"] is None


@pytest.mark.parametrize(
    ("param", "value"),
    [("verified", "yes"), ("verified", ""), ("q", ""), ("q", "x" * 201), ("event_type", "a\nb"),
     ("q", "\x00")],
)  # fmt: skip
def test_bad_search_parameters_are_400_naming_them(
    client: FlaskClient, auth: dict[str, str], uid: str, param: str, value: str
) -> None:
    """A search parameter out of its shape is 400 naming it, never a 500."""
    create(client, auth, uid, "github")
    answer = client.get(f"/api/endpoints/{uid}/events", query_string={param: value}, headers=auth)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["field"] == param
