"""bridge/wire/adapter.py, the one place that bends simple-websocket, wsproto and gevent:
on a real upgrade every internal it uses is where it expects, an upgrade that moves one is
named, and the versions it was checked against are the ones pinned and installed."""

from __future__ import annotations

import gc
import re
import socket
import weakref
from collections.abc import Iterator
from importlib.metadata import version

import pytest
import simple_websocket
from wsproto.connection import Connection
from wsproto.frame_protocol import FrameDecoder

from bridge.errors import LibraryChanged
from bridge.wire import adapter
from tests.support import ROOT
from tests.wire_support import client_frame, upgrade

Upgraded = tuple[simple_websocket.Server, socket.socket]


@pytest.fixture
def upgraded() -> Iterator[Upgraded]:
    """A simple-websocket server socket after a real handshake over a socket pair, and the
    client's end (the 101 answer read off it)."""
    server_end, client_end = socket.socketpair()
    yield upgrade(server_end, client_end), client_end
    server_end.close()
    client_end.close()


def test_every_internal_the_adapter_uses_is_there_after_a_real_upgrade(
    upgraded: Upgraded,
) -> None:
    """check() passes on a real upgraded socket, and adopt() leaves wsproto's public
    Connection in place of the handshake wrapper (which is then freed, with its HTTP parser
    and the upgrade request) and hands over its frame decoder."""
    ws, _ = upgraded
    adapter.check(ws)
    adapter.check_gevent()
    handshake = weakref.ref(ws.ws.handshake)
    decoder = adapter.adopt(ws)
    assert isinstance(decoder, FrameDecoder)
    assert isinstance(ws.ws, Connection)
    gc.collect()
    assert handshake() is None
    adapter.check(ws)  # still true of the adopted socket


def test_the_adopted_socket_still_parses_messages_and_answers_pings(
    upgraded: Upgraded,
) -> None:
    """After adopt(), simple-websocket's event handling on wsproto's bare Connection buffers a
    text message, answers a ping with a pong, and sees the frame header in the decoder."""
    ws, client = upgraded
    decoder = adapter.adopt(ws)
    ws.ws.receive_data(client_frame(0x1, b'{"type":"ping"}') + client_frame(0x9, b"hi"))
    assert adapter.handle_events(ws) is True
    assert ws.input_buffer == ['{"type":"ping"}']
    assert client.recv(4096) == b"\x8a\x02hi"  # the pong, echoing the ping's payload
    ws.ws.receive_data(client_frame(0x1, b"x" * 100)[:6])  # a header and its mask only
    assert adapter.handle_events(ws) is True
    assert decoder.header is not None
    assert decoder.header.payload_len == 100


@pytest.mark.parametrize(
    ("owner", "name", "named"),
    [
        ("server", "input_buffer", "simple_websocket.Server.input_buffer"),
        ("server", "incoming_message_len", "simple_websocket.Server.incoming_message_len"),
        ("protocol", "_frame_decoder", "wsproto.frame_protocol.FrameProtocol._frame_decoder"),
        ("connection", "_proto", "wsproto.connection.Connection._proto"),
    ],
)
def test_a_moved_internal_fails_loudly_naming_it(
    upgraded: Upgraded, owner: str, name: str, named: str
) -> None:
    """An internal gone from a real socket (as an upgrade would leave it) raises
    LibraryChanged naming that attribute, from check() and from adopt()."""
    ws, _ = upgraded
    connection = ws.ws.connection
    target = {"server": ws, "connection": connection, "protocol": connection._proto}[owner]
    delattr(target, name)
    with pytest.raises(LibraryChanged) as raised:
        adapter.adopt(ws)
    assert raised.value.attribute == named
    assert named in str(raised.value)


def test_the_versions_checked_are_the_ones_pinned_and_installed() -> None:
    """The adapter's docstring names the versions it was checked against; requirements.txt
    pins exactly those and they are the ones installed, so an upgrade fails here first."""
    doc = adapter.__doc__ or ""
    checked = dict(re.findall(r"(simple-websocket|wsproto|gevent) ([0-9][0-9.]*[0-9])", doc))
    assert set(checked) == {"simple-websocket", "wsproto", "gevent"}
    requirements = (ROOT / "requirements.txt").read_text()
    pinned = dict(re.findall(r"^([a-z-]+)(?:\[[a-z]+\])?==(\S+)$", requirements, re.M))
    for package, expected in checked.items():
        assert (package, pinned.get(package)) == (package, expected)
        assert (package, version(package)) == (package, expected)
