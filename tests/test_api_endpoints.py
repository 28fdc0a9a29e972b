"""Listing, showing and deleting endpoints through the admin API
(Flask test client, real Redis)."""

from __future__ import annotations

import pytest
import redis
from flask.testing import FlaskClient

from bridge import keys
from tests.api_support import assert_json_error, created
from tests.ingest_support import SECRET, deliver, history


def test_list_and_show_endpoints(client: FlaskClient, auth: dict[str, str], uid: str) -> None:
    """GET /api/endpoints lists created endpoints; GET /api/endpoints/<id> shows one."""
    first = created(client, auth, uid + "-a", "github")
    second = created(client, auth, uid + "-b", "stripe", secret=SECRET)
    listed = client.get("/api/endpoints", headers=auth)
    assert listed.status_code == 200
    by_id = {e["id"]: e for e in listed.get_json()["endpoints"]}
    assert by_id[uid + "-a"] == first
    assert by_id[uid + "-b"] == second
    shown = client.get(f"/api/endpoints/{uid}-b", headers=auth)
    assert shown.status_code == 200
    assert shown.get_json() == second


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("endpoint_id", ["no-such-endpoint-here", "Not-Valid"])
def test_unknown_endpoint_is_404(
    client: FlaskClient, auth: dict[str, str], method: str, endpoint_id: str
) -> None:
    """Showing or deleting an endpoint that does not exist answers 404 unknown_endpoint."""
    answer = client.open(f"/api/endpoints/{endpoint_id}", method=method, headers=auth)
    assert_json_error(answer, 404, "unknown_endpoint")


def test_delete_removes_the_endpoint_and_its_events(
    client: FlaskClient, auth: dict[str, str], uid: str, redis_client: redis.Redis
) -> None:
    """DELETE answers 204 (no body, so no type); the endpoint is then 404 everywhere and its
    stored events are gone."""
    created(client, auth, uid, secret=SECRET)
    assert deliver(client, uid, b'{"n": 1}').status_code == 202
    assert redis_client.xlen(keys.stream(uid)) == 1

    answer = client.delete(f"/api/endpoints/{uid}", headers=auth)
    assert answer.status_code == 204
    assert answer.get_data() == b""
    assert "Content-Type" not in answer.headers  # it was Flask's text/html
    assert_json_error(client.get(f"/api/endpoints/{uid}", headers=auth), 404, "unknown_endpoint")
    assert_json_error(
        client.get(f"/api/endpoints/{uid}/events", headers=auth), 404, "unknown_endpoint"
    )
    assert_json_error(deliver(client, uid, b'{"n": 2}'), 404, "unknown_endpoint")
    assert uid not in [
        e["id"] for e in client.get("/api/endpoints", headers=auth).get_json()["endpoints"]
    ]
    assert redis_client.exists(keys.stream(uid), keys.endpoint(uid)) == 0
    assert not redis_client.sismember(keys.ENDPOINT_INDEX, uid)


def test_recreated_endpoint_does_not_inherit_the_old_dedup_memory(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """After delete and re-create, an event id seen before the delete is stored anew."""
    created(client, auth, uid, secret=SECRET)
    assert deliver(client, uid, b'{"n": 1}', event_id="delivery-1").status_code == 202
    assert client.delete(f"/api/endpoints/{uid}", headers=auth).status_code == 204
    created(client, auth, uid, secret=SECRET)
    again = deliver(client, uid, b'{"n": 1}', event_id="delivery-1")
    assert again.status_code == 202, again.get_json()
    (event,) = history(client, auth, uid)
    assert event["id"] == again.get_json()["id"]
