"""An endpoint's event history through the admin API: pagination and bad queries
(Flask test client, real Redis)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.api_support import as_cursor, assert_json_error, created
from tests.ingest_support import SECRET, deliver
from tests.support import NOT_WHOLE


def test_events_are_paginated_oldest_first(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """GET events?since=&limit= pages through history oldest first, `next` chaining the pages."""
    created(client, auth, uid, secret=SECRET)
    ids = []
    for n in range(5):
        answer = deliver(client, uid, f'{{"n": {n}}}'.encode())
        assert answer.status_code == 202
        ids.append(answer.get_json()["id"])
    assert [as_cursor(i) for i in ids] == sorted({as_cursor(i) for i in ids})

    pages = []
    since = None
    while True:
        query = {"limit": 2} if since is None else {"limit": 2, "since": since}
        answer = client.get(f"/api/endpoints/{uid}/events", query_string=query, headers=auth)
        assert answer.status_code == 200
        page = answer.get_json()
        pages.append([e["id"] for e in page["events"]])
        if page["next"] is None:
            break
        assert page["next"] == page["events"][-1]["id"]
        since = page["next"]
        assert len(pages) < 10
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]

    middle = client.get(
        f"/api/endpoints/{uid}/events", query_string={"since": ids[1]}, headers=auth
    ).get_json()
    assert [e["id"] for e in middle["events"]] == ids[2:]
    assert [e["body"]["n"] for e in middle["events"]] == [2, 3, 4]
    assert middle["next"] is None


def test_events_of_a_new_endpoint_are_empty(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """An endpoint with no deliveries has an empty history and no next page."""
    created(client, auth, uid)
    body = client.get(f"/api/endpoints/{uid}/events", headers=auth).get_json()
    assert body["events"] == []
    assert body["next"] is None


@pytest.mark.parametrize("since", ["abc", "-1", "1-2-3", "1-", "x-0", "1.5", " "])
def test_events_with_a_bad_since_is_400(
    client: FlaskClient, auth: dict[str, str], uid: str, since: str
) -> None:
    """A `since` that is not a cursor is refused with 400 naming `since`."""
    created(client, auth, uid)
    answer = client.get(f"/api/endpoints/{uid}/events", query_string={"since": since}, headers=auth)
    assert assert_json_error(answer, 400, "invalid_request")["field"] == "since"


@pytest.mark.parametrize(
    "limit", ["0", "-1", "1001", "ten", "1.5", "", "\u0663", "0" * 7, *NOT_WHOLE]
)
def test_events_with_a_bad_limit_is_400(
    client: FlaskClient, auth: dict[str, str], uid: str, limit: str
) -> None:
    """A `limit` that is not a whole number from 1 to 1000 is refused with 400 naming `limit`."""
    created(client, auth, uid)
    answer = client.get(f"/api/endpoints/{uid}/events", query_string={"limit": limit}, headers=auth)
    assert assert_json_error(answer, 400, "invalid_request")["field"] == "limit"


def test_a_page_of_large_events_stops_at_the_read_limit_and_next_goes_on(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Large events come in pages under the store's READ_BYTES, `next` leading to the rest."""
    created(client, auth, uid, secret=SECRET)
    pad = "x" * (3 * 1024 * 1024)  # three of these pass READ_BYTES (8 MiB)
    ids = []
    for n in range(3):
        answer = deliver(client, uid, f'{{"n": {n}, "pad": "{pad}"}}'.encode())
        assert answer.status_code == 202
        ids.append(answer.get_json()["id"])
    url = f"/api/endpoints/{uid}/events"
    first = client.get(url, query_string={"limit": 100}, headers=auth).get_json()
    assert [e["id"] for e in first["events"]] == ids[:2]
    assert first["next"] == ids[1]
    rest = client.get(url, query_string={"since": first["next"]}, headers=auth).get_json()
    assert ([e["id"] for e in rest["events"]], rest["next"]) == (ids[2:], None)
    newest = client.get(url, query_string={"before": "9999999999999-0"}, headers=auth).get_json()
    assert ([e["id"] for e in newest["events"]], newest["next"]) == (ids[1:], ids[1])
