"""The bridge's own clients read every event it stores as JSON, however deep: a body nested
up to jsontext.MAX_DEPTH sits 2 levels deeper in an event frame and 3 in a history page, and
`listen`, `listen --forward-to` with its checkpoint, `replay` and `Feed` each get it (real
bridge, real subprocesses). A frame a client cannot parse stops it, said as its own failure,
with its checkpoint before that frame."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_sock import Sock
from werkzeug.serving import BaseWSGIServer, make_server

from bridge import jsontext
from bridge.client import CliError, Feed
from bridge.envelope import FRAME_DEPTH, PAGE_DEPTH
from tests.cli_support import SECRET, Listen, Receiver, deliver, events, run
from tests.support import BridgeProcess

pytestmark = pytest.mark.gunicorn


def nested(levels: int) -> bytes:
    """A JSON object `levels` deep: {"a": {"a": ... {"a": 1}}}."""
    return b'{"a":' * (levels - 1) + b'{"a":1}' + b"}" * (levels - 1)


# Normal events around the depths the clients lost (a page's from 2 under the limit, a
# frame's from 1 under it) and the limit itself.
DEEP = [nested(jsontext.MAX_DEPTH - n) for n in (2, 1, 0)]
BODIES = [b'{"n":0}', *DEEP, b'{"n":1}']


@pytest.fixture
def stored(bridge: BridgeProcess, uid: str) -> list[str]:
    """An endpoint `uid` holding BODIES, each stored as JSON; their cursors."""
    bridge.create_endpoint(uid, "github", SECRET)
    cursors = [deliver(bridge, uid, body)[0] for body in BODIES]
    assert all(isinstance(e["body"], dict) for e in events(bridge, uid))
    return cursors


def test_the_depth_limits_are_the_frames_and_pages_the_bridge_writes(
    bridge: BridgeProcess, uid: str, stored: list[str]
) -> None:
    """A history page holding a body at the limit nests exactly PAGE_DEPTH levels, and its
    event frame FRAME_DEPTH: each parses at its limit and not one level below it."""
    page = bridge.api("GET", f"/api/endpoints/{uid}/events?since={stored[-3]}&limit=1").content
    event = json.loads(page)["events"][0]
    frame = json.dumps({"type": "event", "channel": uid, "event": event})
    for text, depth in ((page, PAGE_DEPTH), (frame.encode(), FRAME_DEPTH)):
        assert jsontext.loads(text, depth=depth)
        with pytest.raises(jsontext.TooDeep):
            jsontext.loads(text, depth=depth - 1)


def test_listen_prints_every_deep_event(
    bridge: BridgeProcess, uid: str, stored: list[str], listen: Listen
) -> None:
    """`listen --since 0 --json` prints all five events, the deep ones with their bodies."""
    listener = listen(uid, "--since", "0", "--json", "--server", bridge.url)
    lines = listener.wait_for(listener.out, '"type":"event"', count=len(BODIES))
    frames = [json.loads(line) for line in lines]
    assert [f["event"]["id"] for f in frames] == stored
    assert [json.dumps(f["event"]["body"], separators=(",", ":")).encode() for f in frames] == (
        BODIES
    )
    assert not any("bad_frame" in line or "could not parse" in line for line in listener.err)


def test_forward_with_a_checkpoint_forwards_every_deep_event(
    bridge: BridgeProcess,
    uid: str,
    stored: list[str],
    listen: Listen,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    """`listen --forward-to --checkpoint` hands the app all five, raw and signed, and the
    checkpoint ends at the last."""
    path = tmp_path / "cp.json"
    listener = listen(uid, "--since", "0", "--forward-to", receiver.url, "--checkpoint",
                      str(path), "--server", bridge.url)  # fmt: skip
    got = receiver.wait_accepted(len(BODIES))
    assert [r.body for r in got] == BODIES
    assert all(r.signature_ok for r in got)
    assert [r.headers["x-bridge-cursor"] for r in got] == stored
    listener.wait_for(listener.out, "-> 200", count=len(BODIES))
    assert listener.interrupt() == 0
    assert json.loads(path.read_text())["cursors"] == {uid: stored[-1]}


def test_replay_sends_every_deep_event(
    bridge: BridgeProcess, uid: str, stored: list[str], receiver: Receiver
) -> None:
    """`replay --since 0` reads the history page holding the deep events and sends all five."""
    result = run("replay", uid, "--since", "0", "--to", receiver.url, "--server", bridge.url)
    assert result.returncode == 0, result
    assert [r.body for r in receiver.accepted()] == BODIES
    assert [r.headers["x-bridge-cursor"] for r in receiver.accepted()] == stored


def test_feed_yields_every_deep_event(bridge: BridgeProcess, uid: str, stored: list[str]) -> None:
    """`Feed` from 0-0 yields all five events, each once, in order."""
    feed = Feed(bridge.url, bridge.token, [uid], since={uid: "0-0"})
    try:
        got = list(itertools.islice(iter(feed), len(BODIES)))
    finally:
        feed.close()
    assert [e["id"] for e in got] == stored
    assert [e["body"] for e in got] == [json.loads(body) for body in BODIES]


# -- a frame the client cannot parse --------------------------------------------------------


def stand_in(frames: list[str]) -> BaseWSGIServer:
    """A WebSocket server that answers each subscribe and then sends `frames` as they are,
    serving in a thread of its own (shut it down after)."""
    app = Flask(__name__)

    def ws(sock: Any) -> None:
        frame = json.loads(sock.receive(timeout=5))
        channel = frame["channel"]
        sock.send(json.dumps({"type": "subscribed", "channel": channel, "ref": frame["ref"],
                              "cursor": "0-0"}))  # fmt: skip
        for text in frames:
            sock.send(text.replace("CHANNEL", channel))
        sock.receive(timeout=10)  # until the client closes

    Sock(app).route("/ws")(ws)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def event_frame(cursor: str) -> str:
    event = {"id": cursor, "endpoint": "CHANNEL", "event_type": "push", "body": {}}
    return json.dumps({"type": "event", "channel": "CHANNEL", "event": event})


UNPARSABLE = [event_frame("1-0"), '{"type":"event","channel":', event_frame("3-0")]


def test_a_frame_feed_cannot_parse_ends_it_after_the_events_before() -> None:
    """A frame that is not JSON ends the iteration with a CliError saying the client could
    not parse it (not that the bridge said so), after the event before it and never with
    the one after it; the cursor stays at the event before it."""
    server = stand_in(UNPARSABLE)
    feed = Feed(f"http://127.0.0.1:{server.server_port}", "token", ["orders"])
    try:
        events = iter(feed)
        assert next(events)["id"] == "1-0"
        with pytest.raises(CliError, match=r"this client could not parse a frame") as raised:
            next(events)
        assert "the bridge said" not in raised.value.message
        assert feed.cursors == {"orders": "1-0"}
    finally:
        feed.close()
        server.shutdown()
        server.server_close()


def test_a_frame_listen_cannot_parse_leaves_its_checkpoint_before_it(
    listen: Listen, tmp_path: Path
) -> None:
    """`listen --checkpoint` given an unparsable frame between two events exits 1 with one
    line saying it could not parse it, having printed only the first event, and its
    checkpoint holds that event: a restart resumes before the frame it could not read."""
    server = stand_in(UNPARSABLE)
    path = tmp_path / "cp.json"
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        listener = listen("orders", "--checkpoint", str(path), "--server", url)
        assert listener.finish() == 1
    finally:
        server.shutdown()
        server.server_close()
    assert [line.split()[0] for line in listener.out] == ["1-0"]
    errors = [line for line in listener.err if not line.startswith("bridge: listening to")]
    assert len(errors) == 1, listener.err
    assert errors[0].startswith(f"bridge: this client could not parse a frame from {url}")
    assert json.loads(path.read_text())["cursors"] == {"orders": "1-0"}
