"""A delivery verified against a worker's cached copy of an endpoint record that another
worker changed a moment ago: the append script finds the record changed and stores nothing,
and the delivery is verified again against the record as it is now (real Redis)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.endpoints import Endpoint
from bridge.errors import RecordChanged, VerificationError
from bridge.ingest import RECORD_READS, Outcome, receive
from bridge.services import Services
from tests.api_support import OTHER_SECRET
from tests.ingest_support import SECRET, create, history, signed_headers


@pytest.fixture
def services(app: Flask) -> Services:
    found: Services = app.extensions["bridge"]
    return found


def add_secret(client: FlaskClient, auth: dict[str, str], uid: str, secret: str) -> None:
    """Change the record through the API (as another worker would)."""
    added = client.post(f"/api/endpoints/{uid}/secrets", json={"secret": secret}, headers=auth)
    assert added.status_code == 201, added.get_json()


def refused_appends(client: FlaskClient) -> float:
    """The /metrics count of appends refused because the record had changed."""
    sample = 'bridge_store_failures_total{operation="append",reason="endpoint_changing"}'
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        name, _, value = line.rpartition(" ")
        if name == sample:
            return float(value)
    return 0.0


def deliver(
    services: Services, stale: Endpoint, secret: str, *, reread: bool = True, n: int = 0
) -> Outcome:
    """Receive one delivery signed with `secret`, verified first against `stale`."""
    body = b'{"n": %d}' % n
    headers = signed_headers(body, secret=secret, event_id=f"stale-{n}")

    def current() -> tuple[Endpoint, str]:
        return services.endpoints.get(stale.id, fresh=True), ""

    return receive(
        services.store,
        stale,
        body,
        headers,
        url="",
        default_tolerance=300,
        reread=current if reread else None,
    )


def test_removed_secret_stores_nothing_through_a_copy_that_still_has_it(
    services: Services, client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A delivery signed with a secret removed since the worker's copy was read is refused."""
    create(client, auth, uid, secret=SECRET)
    add_secret(client, auth, uid, OTHER_SECRET)
    stale = services.endpoints.get(uid, fresh=True)
    assert client.delete(f"/api/endpoints/{uid}/secrets/s1", headers=auth).status_code == 200
    with pytest.raises(VerificationError):
        deliver(services, stale, SECRET)
    assert history(client, auth, uid) == []
    assert deliver(services, stale, OTHER_SECRET, n=1).appended is not None


def test_append_refuses_a_changed_record_without_a_reread(
    services: Services, client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Without a way to read the record again, the append raises RecordChanged, storing nothing."""
    create(client, auth, uid, secret=SECRET)
    stale = services.endpoints.get(uid, fresh=True)
    add_secret(client, auth, uid, OTHER_SECRET)
    with pytest.raises(RecordChanged):
        deliver(services, stale, SECRET, reread=False)
    assert history(client, auth, uid) == []


def test_recreated_endpoint_takes_nothing_signed_with_its_predecessors_secret(
    services: Services, client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """An endpoint deleted and created again with another secret refuses the old one's."""
    create(client, auth, uid, secret=SECRET)
    stale = services.endpoints.get(uid, fresh=True)
    assert client.delete(f"/api/endpoints/{uid}", headers=auth).status_code == 204
    create(client, auth, uid, secret=OTHER_SECRET)
    with pytest.raises(VerificationError):
        deliver(services, stale, SECRET)
    assert history(client, auth, uid) == []


def test_secret_added_a_moment_ago_verifies_through_a_copy_without_it(
    services: Services, client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A delivery signed with a secret added since the copy was read is stored, naming it."""
    create(client, auth, uid, secret=SECRET)
    stale = services.endpoints.get(uid, fresh=True)
    add_secret(client, auth, uid, OTHER_SECRET)
    outcome = deliver(services, stale, OTHER_SECRET)
    assert outcome.appended is not None
    assert not outcome.appended.duplicate
    assert [e["verification"]["secret_id"] for e in history(client, auth, uid)] == ["s2"]


def test_record_changing_at_every_read_gives_up_storing_nothing(
    services: Services, client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A record changed again after each read ends in RecordChanged (a 503) after RECORD_READS
    refused appends, each counted in bridge_store_failures_total."""
    create(client, auth, uid, secret=SECRET)
    refused = refused_appends(client)
    stale = services.endpoints.get(uid, fresh=True)
    reads = []

    def changing() -> tuple[Endpoint, str]:
        current = services.endpoints.get(uid, fresh=True)
        reads.append(current.digest)
        add_secret(client, auth, uid, f"another-secret-{len(reads):04d}")
        return current, ""

    changing()  # the copy in hand is already behind
    body = b'{"n": 1}'
    with pytest.raises(RecordChanged):
        receive(
            services.store,
            stale,
            body,
            signed_headers(body, secret=SECRET, event_id="changing"),
            url="",
            default_tolerance=300,
            reread=changing,
        )
    assert len(reads) == RECORD_READS  # the one above, then one per retry
    assert len(set(reads)) == RECORD_READS
    assert history(client, auth, uid) == []
    assert refused_appends(client) == refused + RECORD_READS


def test_record_changed_is_answered_503_naming_it(app: Flask) -> None:
    """RecordChanged reaching the HTTP layer is a 503 with Retry-After that says to retry."""
    with app.test_request_context("/hooks/x", method="POST"):
        answer = app.make_response(app.handle_user_exception(RecordChanged("x")))
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
    assert answer.get_json() == {
        "error": "unavailable",
        "reason": "endpoint_changing",
        "message": "the endpoint changed while this delivery was stored; retry",
    }
