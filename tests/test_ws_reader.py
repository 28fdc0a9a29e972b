"""The socket reader that runs in the request greenlet (bridge/wire/reader.py): server pings,
the pong deadline, and descriptors past select()'s 1024, against a real bridge."""

from __future__ import annotations

import contextlib
import resource
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import websocket

from bridge import closecodes
from bridge.embedded import EmbeddedRedis
from tests.support import BridgeProcess, Client, Connect, RawSocket, server_side, wait_until

pytestmark = pytest.mark.gunicorn

PING_INTERVAL = 0.3


@pytest.fixture(scope="module")
def pinging_bridge(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BridgeProcess]:
    """One worker that pings every socket every 0.3 s."""
    process = BridgeProcess(
        tmp_path_factory.mktemp("pinging"),
        redis_server.url,
        BRIDGE_WORKERS="1",
        BRIDGE_WS_PING_INTERVAL=str(PING_INTERVAL),
    ).start()
    yield process
    process.stop()


def next_frame(client: Client, *, answer_pings: bool = True) -> tuple[int, bytes]:
    """The next frame of any kind, control frames included; websocket-client answers a ping
    with a pong unless told not to."""
    client.ws.settimeout(5)
    if answer_pings:
        frame = client.ws.recv_data_frame(control_frame=True)[1]
    else:
        frame = client.ws.recv_frame()  # type: ignore[no-untyped-call]
    return frame.opcode, frame.data


def test_server_pings_and_a_client_that_answers_stays_open(
    pinging_bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """An idle socket is pinged again and again and stays open while its client answers."""
    pinging_bridge.create_endpoint(uid)
    client = connect(pinging_bridge)
    client.subscribe(uid)
    for _ in range(4):  # a pong is overdue after one interval: four rounds prove the answers count
        opcode, _ = next_frame(client)  # reading answers each ping with a pong
        assert opcode == websocket.ABNF.OPCODE_PING
    answer = pinging_bridge.post_signed(uid, b'{"after":"pings"}', event_id=uuid.uuid4().hex)
    assert answer.status_code == 202
    while (frame := next_frame(client))[0] == websocket.ABNF.OPCODE_PING:
        pass
    assert frame[0] == websocket.ABNF.OPCODE_TEXT
    assert b'"after":"pings"' in frame[1]


def test_a_client_that_never_answers_a_ping_is_closed_with_1008(
    pinging_bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """A socket whose client leaves a ping unanswered past the next interval is closed, 1008."""
    pinging_bridge.create_endpoint(uid)
    client = connect(pinging_bridge)
    client.subscribe(uid)
    time.sleep(4 * PING_INTERVAL)  # not reading: websocket-client sends no pong
    opcodes = []
    while True:
        opcode, data = next_frame(client, answer_pings=False)
        opcodes.append(opcode)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
    assert opcodes[0] == websocket.ABNF.OPCODE_PING
    assert int.from_bytes(data[:2], "big") == 1008


def test_a_socket_past_descriptor_1024_reads_and_answers(
    pinging_bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """With over 1024 connections open in the worker, a new socket still reads client frames."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard >= 2048, f"this test needs 2048 open files, the hard limit is {hard}"
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    pinging_bridge.create_endpoint(uid)
    fillers: list[socket.socket] = []
    try:
        for _ in range(1100):  # plain TCP connections: each holds a descriptor in the worker
            fillers.append(socket.create_connection(("127.0.0.1", pinging_bridge.port)))
        (pid,) = pinging_bridge.worker_pids()
        wait_until(lambda: psutil.Process(pid).num_fds() > 1100, timeout=20)
        client = connect(pinging_bridge)
        # Looked up in a thread while this one keeps the socket talking: an idle client
        # misses the 0.3 s pings (websocket-client answers them only inside recv) and is
        # closed 1008, and a scan of 1,100 connections under load can take longer than that.
        with ThreadPoolExecutor(1) as pool:
            lookup = pool.submit(wait_until, lambda: server_side(pinging_bridge, client), 10)
            ref = 0
            while not lookup.done():
                ref += 1
                client.send({"type": "ping", "ref": ref})
                assert client.recv() == {"type": "pong", "ref": ref}
                time.sleep(0.1)  # 10 frames/s: well under BRIDGE_WS_RATE, well inside a ping
            found = lookup.result()
        assert found[1] > 1024
        client.subscribe(uid)  # the server read this frame on a descriptor past 1024
        client.send({"type": "ping", "ref": "last"})
        assert client.recv() == {"type": "pong", "ref": "last"}
    finally:
        for filler in fillers:
            with contextlib.suppress(OSError):
                filler.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_peer_that_never_answers_our_close_frame_is_cut(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """When the server closes (here: the token expired) and the client never answers the close
    frame, the server drops the connection within seconds rather than at the next ping."""
    bridge.create_endpoint(uid)
    minted = bridge.api("POST", "/api/tokens", json={"channels": [uid], "ttl": 2}).json()
    client = connect(bridge, token=minted["token"])
    client.subscribe(uid)
    assert server_side(bridge, client) is not None
    # Not reading: the 4001 close frame sits unanswered in this client's buffer. The ping
    # interval is 25 s, so only the close-answer deadline (2 s, checked each second) ends it.
    wait_until(lambda: server_side(bridge, client) is None, timeout=10)
    opcode, data = next_frame(client, answer_pings=False)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(data[:2], "big") == 4001


def test_a_fragmented_message_left_unfinished_is_dropped_though_pings_are_answered(
    pinging_bridge: BridgeProcess,
) -> None:
    """A client that sends the first fragment of a message and then only answers pings is
    closed 1008 within a ping interval of the fragment, not kept open forever."""
    raw = RawSocket(pinging_bridge)
    try:
        raw.send(RawSocket.frame(b'{"type": "pi', fin=False))
        # Pongs are allowed between fragments, so the pong deadline alone never ends this.
        assert raw.close_code(answer_pings=True, max_frames=20) == (1008, "frame incomplete")
    finally:
        raw.close()


def test_a_frame_stalled_after_part_of_its_payload_is_dropped(
    pinging_bridge: BridgeProcess,
) -> None:
    """A frame whose header and first bytes arrive, and then nothing, is closed 1008."""
    raw = RawSocket(pinging_bridge)
    try:
        raw.send(RawSocket.frame(b'{"type": "ping", "pad": "' + b"x" * 100 + b'"}')[:20])
        code, _ = raw.close_code(max_frames=20)
        assert code == 1008
    finally:
        raw.close()


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (RawSocket.frame(b'{"type": "ping", "ref": "\xff"}'), "invalid UTF-8 in a text frame"),
        (RawSocket.frame(b"\x03\xe8bye \xc3\x28", 0x8), "invalid UTF-8 in a close reason"),
    ],
    ids=["text-frame", "close-reason"],
)
def test_invalid_utf8_closes_with_1007_and_a_short_fixed_reason(
    bridge: BridgeProcess, frame: bytes, reason: str
) -> None:
    """A text frame (or a close reason) that is not UTF-8 closes the socket with 1007 and a
    fixed phrase, not Python's decode error ("'utf-8' codec can't decode byte 0xff ...")."""
    raw = RawSocket(bridge)
    try:
        raw.send(frame)
        assert raw.close_code() == (1007, reason)
    finally:
        raw.close()


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (bytes((0x81, 2)) + b"{}", "server received unexpected unmasked frame"),
        (bytes((0xC1,)) + RawSocket.frame(b"{}")[1:], "Reserved bit set unexpectedly"),
        (RawSocket.frame(b"{}", 0x3), "Invalid opcode 0x3"),
        (RawSocket.frame(b"ab", 0x9, fin=False), "Invalid attempt to fragment control frame"),
        (RawSocket.frame(b"{}", 0x0), "unexpected CONTINUATION"),
    ],
    ids=["unmasked", "reserved-bit", "reserved-opcode", "fragmented-ping", "lone-continuation"],
)
def test_a_frame_that_breaks_the_protocol_closes_with_1002_from_the_catalogue(
    bridge: BridgeProcess, frame: bytes, reason: str
) -> None:
    """A frame no WebSocket client may send closes the socket with 1002 and wsproto's reason,
    the catalogue's `protocol_error`, whose advice is not to reconnect."""
    raw = RawSocket(bridge)
    try:
        raw.send(frame)
        assert raw.close_code() == (closecodes.PROTOCOL_ERROR.code, reason)
    finally:
        raw.close()
    assert closecodes.gives_up(closecodes.PROTOCOL_ERROR.code)
