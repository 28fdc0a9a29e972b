"""Request-to-frame trace: one id per delivery, in the answer, the envelope, the rejection
record, the access log and the frame a browser receives."""

from __future__ import annotations

import re

import requests
from flask.testing import FlaskClient

from tests.ingest_support import create, deliver, history
from tests.support import BridgeProcess, Connect, exchange, metric, socket_owner, wait_until

TRACE = re.compile(r"[0-9a-f]{16}")


def test_every_answer_names_its_trace_and_a_rejection_keeps_it(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """A rejected delivery's 401 carries X-Bridge-Trace, and its rejection record the same id."""
    create(client, auth, uid, "github")
    refused = client.post(f"/hooks/{uid}", data=b"{}", headers={"X-Hub-Signature-256": "x"})
    assert refused.status_code == 401
    trace = refused.headers["X-Bridge-Trace"]
    assert TRACE.fullmatch(trace)
    kept = client.get(f"/api/endpoints/{uid}/rejections", headers=auth).get_json()
    assert [r["trace"] for r in kept["rejections"]] == [trace]


def test_each_delivery_gets_its_own_trace_and_a_replay_a_new_one(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    """Two deliveries have two traces; a replay of one is traced apart from the original."""
    create(client, auth, uid, "github")
    first = deliver(client, uid, b'{"n":1}', event_id="t1").get_json()
    second = deliver(client, uid, b'{"n":2}', event_id="t2").get_json()
    assert first["trace"] != second["trace"]
    replayed = client.post(f"/api/endpoints/{uid}/events/{first['id']}/replay", headers=auth)
    assert replayed.status_code == 201, replayed.get_data(as_text=True)
    traces = [e["trace"] for e in history(client, auth, uid)]
    assert traces[:2] == [first["trace"], second["trace"]]
    assert TRACE.fullmatch(traces[2])
    assert traces[2] not in traces[:2]


def test_trace_follows_a_webhook_to_the_socket_frame_and_the_access_log(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """The 202's trace is in the frame the socket receives and in the request's access log line."""
    bridge.create_endpoint(uid)
    socket = connect(bridge)
    socket.subscribe(uid)
    answer = bridge.post_signed(uid, b'{"traced":true}', event_id="traced-1")
    assert answer.status_code == 202
    trace = answer.json()["trace"]
    assert answer.headers["X-Bridge-Trace"] == trace
    (event,) = socket.events(1)
    assert event["trace"] == trace
    line = wait_until(
        lambda: next((ln for ln in bridge.log().splitlines() if f"trace={trace}" in ln), None)
    )
    assert f'"POST /hooks/{uid}" 202' in line


def test_unknown_endpoint_answer_is_traced_too(bridge: BridgeProcess) -> None:
    """A 404 for an unknown endpoint still names a trace, so the log line can be found."""
    answer = requests.post(f"{bridge.url}/hooks/no-such-endpoint", data=b"{}", timeout=10)
    assert answer.status_code == 404
    assert TRACE.fullmatch(answer.headers["X-Bridge-Trace"])


def test_a_webhook_the_screening_refuses_is_traced_too(bridge: BridgeProcess, uid: str) -> None:
    """A declared body over the limit and a Host that is no host[:port] are refused before
    the view: their answers name a trace all the same, and the access log's line ends with
    it."""
    bridge.create_endpoint(uid)
    for host, length, status in (("h", 10**9, b"413"), ("a b", 2, b"400")):
        request = (
            f"POST /hooks/{uid} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n\r\n{{}}"
        )
        head = exchange(bridge, request.encode()).partition(b"\r\n\r\n")[0].decode()
        assert head.startswith(f"HTTP/1.1 {status.decode()} "), head
        (trace,) = re.findall(r"\r\nX-Bridge-Trace: ([0-9a-f]{16})", head)
        wait_until(lambda t=trace: any(f"trace={t}" in ln for ln in bridge.log().splitlines()))


def test_delivery_histogram_counts_each_event_once_per_worker_not_per_socket(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """Three sockets on the endpoint get an event; bridge_delivery_seconds counts it once for
    each worker that delivered it, labelled by endpoint."""
    bridge.create_endpoint(uid)
    clients = [connect(bridge) for _ in range(3)]
    for client in clients:
        client.subscribe(uid)
    owners = {socket_owner(bridge, c) for c in clients}
    assert bridge.post_signed(uid, b"{}", event_id="timed").status_code == 202
    for client in clients:
        client.events(1)
    sample = f'bridge_delivery_seconds_count{{endpoint="{uid}"}}'
    assert wait_until(lambda: metric(bridge, sample) == len(owners))
