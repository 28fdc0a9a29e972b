"""Live rejections: an admin socket subscribed with `"rejections": true` gets each failed
delivery of its channels as a `rejected` frame, the record the rejections API keeps."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.support import BridgeProcess, Client, Connect

pytestmark = pytest.mark.gunicorn


def forge(bridge: BridgeProcess, channel: str) -> requests.Response:
    return requests.post(
        f"{bridge.url}/hooks/{channel}",
        data=b'{"forged":true}',
        headers={"X-Hub-Signature-256": "sha256=" + "0" * 64, "Authorization": "Basic c2VjcmV0"},
        timeout=10,
    )


def next_of(client: Client, kind: str) -> dict[str, Any]:
    while (frame := client.recv(15))["type"] != kind:
        pass
    return frame


def test_rejected_delivery_arrives_live_as_the_api_keeps_it(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """The frame carries the same record as GET .../rejections: reason, masked headers, body
    preview and the debugger's diagnosis; a socket that did not ask gets nothing."""
    bridge.create_endpoint(uid)
    watching, plain = connect(bridge), connect(bridge)
    watching.subscribe(uid, rejections=True)
    plain.subscribe(uid)
    answer = forge(bridge, uid)
    assert answer.status_code == 401
    frame = next_of(watching, "rejected")
    kept = bridge.api("GET", f"/api/endpoints/{uid}/rejections").json()["rejections"][0]
    assert frame == {"type": "rejected", "channel": uid, "rejection": kept}
    assert frame["rejection"]["trace"] == answer.headers["X-Bridge-Trace"]
    assert frame["rejection"]["headers"]["authorization"] == "***"
    assert frame["rejection"]["diagnosis"]["reason"] == "bad_signature"
    plain.send({"type": "ping"})
    assert plain.recv()["type"] == "pong"  # no rejected frame came before it


def test_a_glob_with_rejections_hears_every_matching_endpoint(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """An admin glob subscription with rejections gets those of an endpoint created later."""
    client = connect(bridge)
    client.send({"type": "subscribe", "channel": f"{uid}-*", "rejections": True})
    assert next_of(client, "subscribed")["channel"] == f"{uid}-*"
    bridge.create_endpoint(f"{uid}-new")
    assert forge(bridge, f"{uid}-new").status_code == 401
    assert next_of(client, "rejected")["channel"] == f"{uid}-new"


def test_rejections_are_for_the_admin_token(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A subscriber token asking for rejections is `forbidden`, and not subscribed."""
    bridge.create_endpoint(uid)
    minted = bridge.api("POST", "/api/tokens", json={"channels": [uid], "ttl": 60}).json()
    client = connect(bridge, token=minted["token"], header_auth=False)
    client.send({"type": "subscribe", "channel": uid, "rejections": True})
    answer = client.recv()
    assert (answer["type"], answer["code"]) == ("error", "forbidden")
    client.subscribe(uid)


def test_a_flood_of_forged_deliveries_does_not_close_a_watching_admin(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """Rejections queue one per channel for an admin who lags: 300 forged deliveries later
    the socket is open and its latest rejection is the newest one."""
    bridge.create_endpoint(uid)
    client = connect(bridge)
    client.subscribe(uid, rejections=True)
    traces = [forge(bridge, uid).headers["X-Bridge-Trace"] for _ in range(300)]
    frames = [client.recv(15)]
    while frames[-1].get("rejection", {}).get("trace") != traces[-1]:
        frames.append(client.recv(15))  # raises if the socket was closed
    assert {f["type"] for f in frames} == {"rejected"}
    seen = [f["rejection"]["trace"] for f in frames]
    assert seen == [t for t in traces if t in set(seen)]  # in order, none twice


def test_a_rejection_keeps_a_preview_of_each_long_header(bridge: BridgeProcess, uid: str) -> None:
    """A forged delivery with 80 headers of 8,000 characters is kept with each value cut to
    1,024 characters and its length, not as a record of 640 KB a stranger can make 50 of."""
    bridge.create_endpoint(uid)
    junk = {f"X-Junk-{n}": "v" * 8000 for n in range(80)}
    headers = {**junk, "X-Hub-Signature-256": "sha256=" + "0" * 64}
    answer = requests.post(f"{bridge.url}/hooks/{uid}", data=b"{}", headers=headers, timeout=10)
    assert answer.status_code == 401, answer.text
    response = bridge.api("GET", f"/api/endpoints/{uid}/rejections")
    (kept,) = response.json()["rejections"]
    assert kept["headers"]["x-junk-0"] == "v" * 1024 + "… (8000 characters)"
    assert kept["headers"]["x-hub-signature-256"] == "sha256=" + "0" * 64
    assert kept["diagnosis"]["reason"] == "bad_signature"
    assert len(response.content) < 100_000
