"""The limits of /ws against a real bridge (one gunicorn worker): lying frame headers, floods,
subscribers that stop reading, sockets that never authenticate, the worst client frames."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import websocket

from bridge.embedded import EmbeddedRedis
from bridge.wire.queue import SLOW_CONSUMER
from tests.support import BridgeProcess, Connect, RawSocket, metric

pytestmark = pytest.mark.gunicorn

AUTH_TIMEOUT = 5.0
QUEUE_BYTES = 64 * 1024
MAX_MESSAGE = 64 * 1024  # the default


@pytest.fixture(scope="module")
def limited(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BridgeProcess]:
    """One worker (so every socket of a test shares it), a 64 KiB outbox, bursts of 50.
    The send timeout is long so that only the outbox bounds cut a slow consumer here."""
    process = BridgeProcess(
        tmp_path_factory.mktemp("limited"),
        redis_server.url,
        BRIDGE_WORKERS="1",
        BRIDGE_WS_AUTH_TIMEOUT=str(AUTH_TIMEOUT),
        BRIDGE_WS_QUEUE_BYTES=str(QUEUE_BYTES),
        BRIDGE_WS_BURST="50",
        BRIDGE_WS_SEND_TIMEOUT="60",
    ).start()
    yield process
    process.stop()


@pytest.fixture
def raw(limited: BridgeProcess, uid: str) -> Iterator[RawSocket]:
    """A hand-spoken socket of a subscriber token: the admin's takes larger messages."""
    limited.create_endpoint(uid)
    token = limited.api("POST", "/api/tokens", json={"channels": [uid], "ttl": 60}).json()
    opened = RawSocket(limited, token["token"])
    yield opened
    opened.close()


def post(bridge: BridgeProcess, uid: str, body: bytes = b'{"n": 0}') -> str:
    answer = bridge.post_signed(uid, body, event_id=uuid.uuid4().hex)
    assert answer.status_code == 202, answer.text
    cursor: str = answer.json()["id"]
    return cursor


# -- frame headers -----------------------------------------------------------------------


@pytest.mark.parametrize("declared", [2**63 - 1, MAX_MESSAGE + 1])
def test_a_header_declaring_more_than_the_limit_is_refused_from_the_header(
    raw: RawSocket, declared: int
) -> None:
    """A frame header announcing more than the message limit, with no payload after it, is
    answered 1009 at once (not at the ping timeout, 1008)."""
    raw.send(RawSocket.header(declared))
    assert raw.close_code() == (1009, "Message is too big")


def test_a_fragment_that_would_take_the_message_past_the_limit_is_refused(raw: RawSocket) -> None:
    """A continuation header that would take a fragmented message past the limit is
    answered 1009 before its payload arrives."""
    raw.send(RawSocket.frame(b'{"type": "ping", "pad": "' + b"x" * 60_000, fin=False))
    raw.send(RawSocket.header(MAX_MESSAGE - 60_000, opcode=0x0))
    assert raw.close_code() == (1009, "Message is too big")


def test_a_header_within_the_limit_is_read_to_its_end(raw: RawSocket) -> None:
    """A large frame under the limit, sent header first and payload later, is answered."""
    payload = json.dumps({"type": "ping", "ref": 5, "pad": "x" * 60_000}).encode()
    frame = RawSocket.frame(payload)
    raw.send(frame[:14])
    raw.send(frame[14:])
    opcode, data = raw.read_frame()
    assert (opcode, json.loads(data)) == (0x1, {"type": "pong", "ref": 5})


# -- inbound rate --------------------------------------------------------------------------


def test_a_flooding_socket_is_warned_once_then_closed_and_its_neighbour_is_served(
    limited: BridgeProcess, uid: str, connect: Connect
) -> None:
    """400 pings at once: the flooder gets at most a burst of pongs plus what the rate refills,
    one rate_limited error, then close 1008; a socket on the same worker gets every pong and
    its event."""
    limited.create_endpoint(uid)
    flooder = connect(limited)
    neighbour = connect(limited)
    neighbour.subscribe(uid)
    flood = b"".join(
        websocket.ABNF.create_frame(json.dumps({"type": "ping", "ref": n}), 0x1).format()
        for n in range(400)
    )
    assert flooder.ws.sock is not None
    flooder.ws.sock.sendall(flood)
    for n in range(10):
        neighbour.send({"type": "ping", "ref": n})
        assert neighbour.recv() == {"type": "pong", "ref": n}
    cursor = post(limited, uid)
    assert [event["id"] for event in neighbour.events(1)] == [cursor]

    frames, code = flooder.until_close(max_frames=401)
    assert code == 1008
    pongs = sum(frame["type"] == "pong" for frame in frames)
    assert [f["code"] for f in frames if f["type"] != "pong"] == ["rate_limited"]
    assert 50 <= pongs < 200  # a burst of 50, plus what 20/s refilled while the flood was read


def _frames_until_close(raw: RawSocket, max_frames: int) -> tuple[list[int], list[str], int]:
    """The opcodes the server sent, the codes of its error frames, and its close code."""
    opcodes: list[int] = []
    errors: list[str] = []
    for _ in range(max_frames):
        opcode, payload = raw.read_frame()
        if opcode == 0x8:
            assert payload[2:].decode() == "rate limit exceeded"
            return opcodes, errors, int.from_bytes(payload[:2], "big")
        opcodes.append(opcode)
        if opcode == 0x1:
            errors.append(json.loads(payload)["code"])
    raise AssertionError(f"no close frame among {max_frames} frames")


def test_a_flood_of_websocket_pings_is_limited_like_one_of_ping_frames(raw: RawSocket) -> None:
    """400 control pings at once: at most a burst of pongs plus what the rate refills, one
    rate_limited error, then close 1008; pings bypassed the limit and were all answered."""
    raw.send(RawSocket.frame(b"", 0x9) * 400)
    opcodes, errors, code = _frames_until_close(raw, max_frames=401)
    assert (errors, code) == (["rate_limited"], 1008)
    assert 50 <= opcodes.count(0xA) < 200


def test_a_message_of_many_empty_fragments_is_limited_like_as_many_frames(
    raw: RawSocket,
) -> None:
    """A message cut into 400 empty fragments is warned once, then closed 1008: each
    fragment costs the worker a frame's work, and none of them reached the rate limit."""
    fragments = RawSocket.frame(b"", 0x0, fin=False) * 400
    raw.send(RawSocket.frame(b'{"type": ', fin=False) + fragments)
    raw.send(RawSocket.frame(b'"ping"}', 0x0))
    _, errors, code = _frames_until_close(raw, max_frames=10)
    assert (errors, code) == (["rate_limited"], 1008)


def test_a_fragmented_message_within_the_limit_is_answered(raw: RawSocket) -> None:
    """A ping message in ten fragments, and a control ping between them, are answered."""
    text = b'{"type": "ping", "ref": 7}'
    parts = [text[n : n + 3] for n in range(0, len(text), 3)]
    raw.send(RawSocket.frame(parts[0], fin=False) + RawSocket.frame(b"hi", 0x9))
    for part in parts[1:-1]:
        raw.send(RawSocket.frame(part, 0x0, fin=False))
    raw.send(RawSocket.frame(parts[-1], 0x0))
    assert raw.read_frame() == (0xA, b"hi")
    opcode, payload = raw.read_frame()
    assert (opcode, json.loads(payload)) == (0x1, {"type": "pong", "ref": 7})


# -- slow consumers ----------------------------------------------------------------------


def test_a_subscriber_that_stops_reading_is_cut_after_a_bounded_backlog(
    limited: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A subscriber that never reads (small receive buffer) is closed as a slow consumer
    (4008) after a few hundred 1 KB events, not thousands; a subscriber that reads gets all."""
    limited.create_endpoint(uid)
    stalled = connect(limited, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    stalled.subscribe(uid)
    reader = connect(limited)
    reader.subscribe(uid)
    closes_before = metric(limited, "bridge_slow_consumer_closes_total")
    body = json.dumps({"pad": "x" * 1000}).encode()
    posted: list[str] = []
    # Today's bound without the fix: 1000 queued frames plus megabytes of kernel buffers.
    while len(posted) < 600:
        posted.append(post(limited, uid, body))
        assert [event["id"] for event in reader.events(1)] == posted[-1:]
        if len(posted) % 10 == 0 and (
            metric(limited, "bridge_slow_consumer_closes_total") > closes_before
        ):
            break
    assert metric(limited, "bridge_slow_consumer_closes_total") == closes_before + 1
    assert len(posted) <= 400  # 64 KiB queued + 2 x 64 KiB SO_SNDBUF + 8 KiB SO_RCVBUF
    frames, code = stalled.until_close()
    assert code == SLOW_CONSUMER
    received = [frame["event"]["id"] for frame in frames]
    assert received == posted[: len(received)]  # in order, no gap: resume with since works


# -- authentication ----------------------------------------------------------------------


def test_a_socket_that_never_authenticates_gets_no_event_and_is_closed_at_the_deadline(
    limited: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A socket with no token that never sends auth receives no event frame while webhooks
    arrive on a channel, and is closed 4001 by the auth deadline."""
    limited.create_endpoint(uid)
    watcher = connect(limited)
    watcher.subscribe(uid)
    anonymous = connect(limited, token=None)
    anonymous.send({"type": "subscribe", "channel": uid})
    assert anonymous.recv()["code"] == "unauthorized"
    cursors = [post(limited, uid) for _ in range(3)]
    assert [event["id"] for event in watcher.events(3)] == cursors
    anonymous.send({"type": "ping", "ref": 1})  # still open after the events were delivered
    assert anonymous.recv() == {
        "type": "error",
        "code": "unauthorized",
        "message": 'send {"type": "auth", "token": ...} first',
        "ref": 1,
    }
    frames, code = anonymous.until_close(max_frames=10, timeout=AUTH_TIMEOUT + 5)
    assert code == 4001
    assert [f["type"] for f in frames] == ["error"]
    assert frames[0]["message"] == "no auth frame in time"


# -- the worst client frames, through a socket ---------------------------------------------

WORST = [
    "[" * 60_000,
    "[" * 10_000 + "]" * 10_000,
    '{"type": "ping", "ref": ' + "9" * 5000 + "}",
    '{"type": "subscribe", "channel": "CHANNEL\\n"}',
    '{"type": "subscribe", "channel": "CHANNEL", "since": "1-1\\n"}',
    '{"type": "subscribe", "channel": "CHANNEL", "since": {"CHANNEL": "0-0"}}',
    '{"type": ' + "[" * 20_000 + "]" * 20_000 + "}",
]


def test_the_worst_frames_get_bad_request_and_the_socket_stays(
    limited: BridgeProcess, uid: str, connect: Connect
) -> None:
    """Deep nesting, huge numbers, a channel or since with a trailing newline: each gets a
    bad_request error frame, the socket keeps working, and the log has no traceback."""
    limited.create_endpoint(uid)
    client = connect(limited)
    for n, frame in enumerate(WORST):
        client.send(frame.replace("CHANNEL", uid))
        answer = client.recv()
        assert (answer["type"], answer["code"]) == ("error", "bad_request"), (n, answer)
        client.send({"type": "ping", "ref": n})
        assert client.recv() == {"type": "pong", "ref": n}
    assert "Traceback" not in limited.log()


def test_a_fragment_past_the_rate_limit_drops_its_whole_message(bridge: BridgeProcess) -> None:
    """A fragmented message one of whose fragments is dropped by the rate limit is dropped
    whole, never assembled from the fragments kept; the next message is answered as sent."""
    ws = websocket.create_connection(
        bridge.ws_url, header=[f"Authorization: Bearer {bridge.token}"], timeout=5
    )
    try:
        ws.send_frame(websocket.ABNF.create_frame('{"type":"ping","ref":"', 0x1, 0))
        sent = "".join(str(i % 10) for i in range(260))
        for char in sent:  # past the burst of 200: some of these are dropped
            ws.send_frame(websocket.ABNF.create_frame(char, 0x0, 0))
        time.sleep(1.5)  # the bucket refills
        ws.send_frame(websocket.ABNF.create_frame('"}', 0x0, 1))
        ws.send(json.dumps({"type": "ping", "ref": "after"}))
        answers: list[dict[str, Any]] = []
        while not answers or answers[-1].get("ref") != "after":
            answers.append(json.loads(ws.recv()))
    finally:
        ws.close()
    assert [a["type"] for a in answers] == ["error", "pong"], answers
    assert answers[0]["code"] == "rate_limited"
