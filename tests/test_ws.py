"""The WebSocket protocol of CONTRACT §5, against a real bridge under gunicorn."""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any

import pytest
import requests
import websocket

from tests.support import ADMIN_TOKEN, BridgeProcess, Connect, frames_until

AUTH = f"Bearer {ADMIN_TOKEN}"


def post(bridge: BridgeProcess, uid: str, n: int, event_type: str = "push") -> list[str]:
    """Deliver `n` signed webhooks; return their cursors."""
    ids = []
    for i in range(n):
        body = json.dumps({"n": i, "action": None}).encode()
        answer = bridge.post_signed(uid, body, event_id=uuid.uuid4().hex,
                                    event_type=event_type)  # fmt: skip
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["id"])
    return ids


@pytest.fixture
def endpoint(bridge: BridgeProcess, uid: str) -> str:
    bridge.create_endpoint(uid)
    return uid


def test_header_auth_subscribe_then_live_event(
    bridge: BridgeProcess, endpoint: str, connect: Connect
) -> None:
    """A socket authenticated by header receives a webhook posted after it subscribed."""
    client = connect(bridge)
    subscribed = client.subscribe(endpoint)
    assert subscribed["recovered"] is True
    assert subscribed["channel"] == endpoint
    (cursor,) = post(bridge, endpoint, 1)
    (event,) = client.events(1)
    assert event["id"] == cursor
    assert event["endpoint"] == endpoint
    assert event["body"] == {"n": 0, "action": None}
    assert event["verified"] is True


def test_first_frame_auth_for_browsers(
    bridge: BridgeProcess, endpoint: str, connect: Connect
) -> None:
    """A socket without an Authorization header authenticates with an auth frame."""
    client = connect(bridge, header_auth=False)
    client.subscribe(endpoint)
    post(bridge, endpoint, 1)
    assert len(client.events(1)) == 1


def test_subscribe_before_auth_is_refused_and_socket_stays(
    bridge: BridgeProcess, endpoint: str, connect: Connect
) -> None:
    """A subscribe sent before auth gets an unauthorized error, and auth still works after."""
    client = connect(bridge, token=None)
    client.send({"type": "subscribe", "channel": endpoint, "ref": 7})
    error = client.recv()
    assert error == {"type": "error", "code": "unauthorized", "message": error["message"],
                     "ref": 7}  # fmt: skip
    client.send({"type": "auth", "token": "test-admin-token-0123456789"})
    assert client.recv()["type"] == "authed"
    client.subscribe(endpoint)


def test_wrong_token_frame_closes_with_4001(bridge: BridgeProcess, connect: Connect) -> None:
    """A wrong token in the auth frame is answered with an error, then close code 4001."""
    client = connect(bridge, token=None)
    client.send({"type": "auth", "token": "nope"})
    assert client.recv()["code"] == "unauthorized"
    assert client.close_code() == 4001


@pytest.mark.parametrize("token", ["\ud800", "tok\u00e9n", "wbs1.x.y", 42, None])
def test_malformed_token_frame_closes_with_4001(
    bridge: BridgeProcess, connect: Connect, token: object
) -> None:
    """A token that is not even well-formed is refused like a wrong one, not a crash."""
    client = connect(bridge, token=None)
    client.send(json.dumps({"type": "auth", "token": token}))
    assert client.recv()["code"] == "unauthorized"
    assert client.close_code() == 4001


def test_auth_timeout_closes_with_4001(tight_bridge: BridgeProcess, connect: Connect) -> None:
    """A socket that never authenticates is closed with 4001 after the auth timeout."""
    client = connect(tight_bridge, token=None)
    assert client.recv()["code"] == "unauthorized"
    assert client.close_code() == 4001


def test_wrong_bearer_header_refused_before_upgrade(
    bridge: BridgeProcess, connect: Connect
) -> None:
    """A wrong bearer token on the upgrade request is answered 401 with the Bearer challenge
    every 401 of the admin API has, and no socket opens."""
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(bridge, token="wrong-token")
    assert refused.value.status_code == 401
    headers = refused.value.resp_headers or {}
    assert headers.get("www-authenticate") == 'Bearer realm="webhook-bridge"'


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1"])
def test_foreign_origin_refused_with_403(
    bridge: BridgeProcess, origin: str, connect: Connect
) -> None:
    """An upgrade from an Origin that is neither the bridge's own nor allowed gets 403."""
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(bridge, origin=origin)
    assert refused.value.status_code == 403


def test_own_origin_allowed(bridge: BridgeProcess, endpoint: str, connect: Connect) -> None:
    """An upgrade from the bridge's own origin is accepted."""
    client = connect(bridge, origin=bridge.url)
    client.subscribe(endpoint)


def test_subscriber_token_limited_to_its_channels(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A subscriber token may subscribe to its channel and gets `forbidden` for another."""
    bridge.create_endpoint(uid)
    bridge.create_endpoint(uid + "-other")
    minted = bridge.api("POST", "/api/tokens", json={"channels": [uid], "ttl": 60}).json()
    client = connect(bridge, token=minted["token"])
    client.send({"type": "subscribe", "channel": uid + "-other", "ref": "a"})
    assert client.recv() == {"type": "error", "code": "forbidden", "ref": "a",
                             "message": f"this token may not read '{uid}-other'"}  # fmt: skip
    client.subscribe(uid)
    post(bridge, uid, 1)
    assert client.events(1)[0]["endpoint"] == uid


BAD_FRAMES: list[tuple[Any, str]] = [
    ("not json", "bad_request"),
    ("[1, 2]", "bad_request"),
    ('{"no": "type"}', "bad_request"),
    ('{"type": "dance"}', "bad_request"),
    ('{"type": "subscribe"}', "bad_request"),
    ('{"type": "subscribe", "channel": "UPPER"}', "bad_request"),
    ('{"type": "subscribe", "channel": "nope-no-such-endpoint"}', "unknown_channel"),
    ('{"type": "unsubscribe", "channel": "never"}', "not_subscribed"),
    ('{"type": "auth", "token": "x"}', "bad_request"),
    ("\udcff".encode("utf-8", "surrogatepass").decode("latin-1"), "bad_request"),
]


@pytest.mark.parametrize(("frame", "code"), BAD_FRAMES)
def test_bad_frames_get_error_and_socket_stays_open(
    bridge: BridgeProcess, endpoint: str, frame: str, code: str, connect: Connect
) -> None:
    """Malformed or unknown frames get an error frame and the socket keeps working."""
    client = connect(bridge)
    client.send(frame)
    answer = client.recv()
    assert answer["type"] == "error"
    assert answer["code"] == code
    client.send({"type": "ping", "ref": 1})
    assert client.recv() == {"type": "pong", "ref": 1}


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"since": "yesterday"}, "since"), ({"since": 5}, "since"),
     ({"filter": {"event_type": 3}}, "filter"), ({"filter": "push"}, "filter")],
)  # fmt: skip
def test_bad_subscribe_options_name_the_field(
    bridge: BridgeProcess, endpoint: str, extra: dict[str, Any], field: str, connect: Connect
) -> None:
    """A subscribe with a bad since or filter is refused with a message naming it."""
    client = connect(bridge)
    client.send({"type": "subscribe", "channel": endpoint, **extra})
    answer = client.recv()
    assert answer["code"] == "bad_request"
    assert field in answer["message"]


@pytest.mark.parametrize(
    "channel",
    [{"channel": 5}, {"channel": ["x"]}, {}, {"channel": None}, {"channel": "UPPER"},
     {"channel": "x\n"}],
    ids=["number", "list", "missing", "null", "not-an-id", "newline"],
)  # fmt: skip
def test_unsubscribe_with_a_bad_channel_is_a_bad_request_naming_it(
    bridge: BridgeProcess, endpoint: str, channel: dict[str, Any], connect: Connect
) -> None:
    """An unsubscribe whose channel is no endpoint id or glob is answered as such a subscribe
    is, bad_request naming `channel` (not `not_subscribed` "not subscribed to None"), and
    the socket's own subscription keeps its events."""
    client = connect(bridge)
    client.subscribe(endpoint)
    for kind in ("subscribe", "unsubscribe"):
        client.send({"type": kind, **channel, "ref": kind})
        assert client.recv() == {"type": "error", "code": "bad_request", "ref": kind,
                                 "message": "channel: must be an endpoint id, or a glob such "
                                 "as stripe-*"}  # fmt: skip
    sent = post(bridge, endpoint, 1)
    assert [e["id"] for e in client.events(1)] == sent


def test_oversized_frame_closes_with_1009(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A client frame larger than the maximum message size closes the socket with 1009: 64
    KiB for a subscriber token, the longest glob subscribe (~1.1 MB) for the admin's."""
    bridge.create_endpoint(uid)
    token = bridge.api("POST", "/api/tokens", json={"channels": [uid], "ttl": 60}).json()
    reader = connect(bridge, token["token"])
    reader.send(json.dumps({"type": "ping", "pad": "x" * 70_000}))
    assert reader.close_code() == 1009
    admin = connect(bridge)
    # Only the head of a 2 MB text frame: it is refused as soon as that is read.
    sock = admin.ws.sock
    assert sock is not None
    sock.sendall(b"\x81\xff" + (2_000_000).to_bytes(8, "big") + b"mask")
    assert admin.close_code() == 1009


def test_since_sends_backlog_then_live_without_gap_or_duplicate(
    bridge: BridgeProcess, endpoint: str, connect: Connect
) -> None:
    """Subscribing with `since` gets every event after it, in order, then live ones, once."""
    first = post(bridge, endpoint, 3)
    client = connect(bridge)
    subscribed = client.subscribe(endpoint, since=first[0])
    assert subscribed["recovered"] is True
    assert subscribed["cursor"] == first[-1]
    later = post(bridge, endpoint, 3)
    ids = [e["id"] for e in client.events(5)]
    assert ids == first[1:] + later
    client.send({"type": "ping"})
    assert client.recv() == {"type": "pong"}  # nothing else was queued before the pong


@pytest.mark.parametrize("ahead", ["9999999999999-0", "future"])
def test_a_since_past_the_newest_event_is_not_recovered_and_live_events_follow(
    bridge: BridgeProcess, endpoint: str, connect: Connect, ahead: str
) -> None:
    """A `since` past the channel's newest event (one it never gave) is answered
    `recovered: false`, and every event stored afterwards is sent, none dropped as older."""
    (newest,) = post(bridge, endpoint, 1)
    if ahead == "future":  # a moment ahead: what a failover to a lagging replica leaves
        ms, _ = newest.split("-")
        ahead = f"{int(ms) + 60_000}-0"
    client = connect(bridge)
    subscribed = client.subscribe(endpoint, since=ahead)
    assert (subscribed["recovered"], subscribed["cursor"]) == (False, newest)
    later = post(bridge, endpoint, 2)
    assert [e["id"] for e in client.events(2)] == later


def test_without_since_only_live_events(
    bridge: BridgeProcess, endpoint: str, connect: Connect
) -> None:
    """Subscribing without `since` sends no history, only events posted afterwards."""
    post(bridge, endpoint, 2)
    client = connect(bridge)
    client.subscribe(endpoint)
    (later,) = post(bridge, endpoint, 1)
    assert [e["id"] for e in client.events(1)] == [later]


def test_filter_by_event_type_glob(bridge: BridgeProcess, endpoint: str, connect: Connect) -> None:
    """A subscription with an event_type glob receives only matching events."""
    client = connect(bridge)
    client.subscribe(endpoint, filter={"event_type": "pull_*"})
    post(bridge, endpoint, 2, event_type="push")
    (wanted,) = post(bridge, endpoint, 1, event_type="pull_request")
    (event,) = client.events(1)
    assert event["id"] == wanted
    assert event["event_type"] == "pull_request"


def test_unsubscribe_stops_events(bridge: BridgeProcess, endpoint: str, connect: Connect) -> None:
    """After unsubscribe, the socket receives no more events of that channel."""
    client = connect(bridge)
    client.subscribe(endpoint)
    client.send({"type": "unsubscribe", "channel": endpoint, "ref": "u"})
    assert client.recv() == {"type": "unsubscribed", "channel": endpoint, "ref": "u"}
    post(bridge, endpoint, 1)
    client.send({"type": "ping"})
    assert client.recv() == {"type": "pong"}


def test_plain_get_on_ws_is_json_error(bridge: BridgeProcess) -> None:
    """A plain HTTP GET of /ws (no upgrade) is a JSON 400, not an HTML page."""
    answer = requests.get(bridge.url + "/ws", timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/ws", {}),  # no upgrade at all
        ("/ws", {"Upgrade": "websocket", "Connection": "keep-alive"}),  # Connection lacks it
        ("/ws", {"Upgrade": "websocket, h2c", "Connection": "Upgrade"}),
        ("/healthz", {"Upgrade": "websocket", "Connection": "Upgrade"}),  # not the socket's
        # a path another method's route shares (POST /api/endpoints): werkzeug said 405
        ("/api/endpoints", {"Upgrade": "websocket", "Connection": "Upgrade"}),
        (
            "/api/endpoints",
            {"Upgrade": "websocket", "Connection": "Upgrade", "Authorization": AUTH},
        ),
    ],
    ids=[
        "plain GET of /ws",
        "no Connection: upgrade",
        "two upgrades",
        "upgrade elsewhere",
        "upgrade of a path with a POST route",
        "the same with the admin token",
    ],
)
def test_a_get_that_is_not_a_websocket_upgrade_of_ws_says_what_is_wrong(
    bridge: BridgeProcess, path: str, headers: dict[str, str]
) -> None:
    """A GET of /ws that is not a WebSocket upgrade, or an upgrade of any other path, is a
    400 bad_request whose message says /ws takes WebSocket upgrades only (not werkzeug's
    generic sentence)."""
    answer = requests.get(bridge.url + path, headers=headers, timeout=5)
    assert answer.status_code == 400
    error = answer.json()
    assert error["error"] == "bad_request"
    assert "WebSocket upgrade" in error["message"], error
    assert "/ws" in error["message"], error
    if path != "/ws":
        assert error["message"] == (
            f"a WebSocket upgrade is accepted only on /ws; GET {path} is plain HTTP: "
            "send it without Upgrade: websocket"
        )


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_an_upgrade_with_a_method_no_route_takes_is_still_405(
    bridge: BridgeProcess, method: str
) -> None:
    """An upgrade asking /api/endpoints with a method it has no route for is a JSON 405
    naming the methods it takes."""
    answer = requests.request(
        method,
        bridge.url + "/api/endpoints",
        headers={"Upgrade": "websocket", "Connection": "Upgrade", "Authorization": AUTH},
        timeout=5,
    )
    assert answer.status_code == 405
    assert answer.json()["error"] == "method_not_allowed"
    assert {"GET", "POST"} <= {m.strip() for m in answer.headers["Allow"].split(",")}


KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's own sample: 16 bytes in base64
BAD_HANDSHAKES = {
    "no version": ({"Sec-WebSocket-Key": KEY}, 426, "unsupported_websocket_version"),
    "version 8": (
        {"Sec-WebSocket-Key": KEY, "Sec-WebSocket-Version": "8"}, 426,
        "unsupported_websocket_version",
    ),
    "two versions": (
        {"Sec-WebSocket-Key": KEY, "Sec-WebSocket-Version": "13, 8"}, 426,
        "unsupported_websocket_version",
    ),
    "no key": ({"Sec-WebSocket-Version": "13"}, 400, "bad_request"),
    "key not base64": (
        {"Sec-WebSocket-Key": "!!", "Sec-WebSocket-Version": "13"}, 400, "bad_request",
    ),
    "key of 15 bytes": (
        {"Sec-WebSocket-Key": "YWJjZGVmZ2hpamtsbW5v", "Sec-WebSocket-Version": "13"}, 400,
        "bad_request",
    ),
    "key not ASCII": (
        {"Sec-WebSocket-Key": "cl\u00e9 \u00e0 seize octets", "Sec-WebSocket-Version": "13"}, 400,
        "bad_request",
    ),
    "subprotocol not ASCII": (
        {"Sec-WebSocket-Key": KEY, "Sec-WebSocket-Version": "13",
         "Sec-WebSocket-Protocol": "chat, caf\u00e9"}, 400, "bad_request",
    ),
    "connection not ASCII": (
        {"Sec-WebSocket-Key": KEY, "Sec-WebSocket-Version": "13",
         "Connection": "Upgrade, \u00e9"}, 400, "bad_request",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "status", "code"), BAD_HANDSHAKES.values(), ids=list(BAD_HANDSHAKES)
)
def test_a_malformed_upgrade_is_refused_with_a_json_error(
    bridge: BridgeProcess, headers: dict[str, str], status: int, code: str
) -> None:
    """An upgrade without version 13 is 426 naming the version (RFC 6455 4.4); one without a
    16-byte base64 key, or with a byte past ASCII in the headers wsproto parses, is 400; all
    JSON, none a 500."""
    answer = requests.get(
        bridge.url + "/ws",
        headers={"Upgrade": "websocket", "Connection": "Upgrade", **headers},
        timeout=5,
    )
    assert answer.status_code == status
    assert answer.json()["error"] == code
    if status == 426:
        assert answer.headers["Sec-WebSocket-Version"] == "13"


def test_a_head_upgrade_is_refused(bridge: BridgeProcess) -> None:
    """A WebSocket upgrade asked with HEAD is a 400, not a socket: RFC 6455 4.1 has the
    opening handshake be a GET (Flask routes HEAD wherever it routes GET)."""
    answer = requests.head(
        bridge.url + "/ws",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": KEY,
            "Sec-WebSocket-Version": "13",
            "Authorization": f"Bearer {bridge.token}",
        },
        timeout=5,
    )
    assert answer.status_code == 400
    assert "Upgrade" not in answer.headers


def test_an_http_1_0_upgrade_is_refused(bridge: BridgeProcess) -> None:
    """A WebSocket upgrade over HTTP/1.0 is a JSON 400, not a socket (RFC 6455 4.1)."""
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=10) as raw:
        raw.sendall(
            b"GET /ws HTTP/1.0\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY.encode() + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        answer = b""
        while chunk := raw.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"400"
    assert json.loads(body)["error"] == "bad_request"


def test_compression_is_not_negotiated(bridge: BridgeProcess) -> None:
    """A client offering permessage-deflate gets an uncompressed socket (no zlib per socket)."""
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=10) as raw:
        raw.sendall(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            b"Authorization: Bearer test-admin-token-0123456789\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += raw.recv(4096)
    assert head.startswith(b"HTTP/1.1 101")
    assert b"permessage-deflate" not in head.lower()


def test_socket_is_closed_when_its_subscriber_token_expires(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A socket opened with a subscriber token is closed with 4001 once the token expires."""
    bridge.create_endpoint(uid)
    minted = bridge.api("POST", "/api/tokens", json={"channels": [uid], "ttl": 2}).json()
    client = connect(bridge, token=minted["token"])
    client.subscribe(uid)
    assert client.close_code(timeout=10) == 4001


def test_a_misspelt_subscribe_member_is_named_in_subscribed(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """`sinse` instead of `since` subscribes from now, and `subscribed` names it as ignored,
    so the client can tell why no backlog came; a correct frame carries no such field."""
    bridge.create_endpoint(uid)
    post(bridge, uid, 1)
    client = connect(bridge)
    answer = client.subscribe(uid, sinse="0-0")
    assert answer["ignored"] == ["sinse"]
    client.send({"type": "unsubscribe", "channel": uid})
    assert client.recv()["type"] == "unsubscribed"
    assert "ignored" not in client.subscribe(uid, since="0-0")
    assert len(client.events(1)) == 1
    follower = connect(bridge)  # a glob: named on its own `subscribed`, after its channels'
    follower.send({"type": "subscribe", "channel": f"{uid}*", "filters": {}})
    frames = frames_until(follower, lambda frame: frame.get("channel") == f"{uid}*")
    assert frames[-1]["ignored"] == ["filters"]
