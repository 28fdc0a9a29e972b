"""A socket-client process: many WebSockets on one asyncio (uvloop) loop, driven over stdin.

The orchestrator (run.py) starts a few of these, each in its own process, so the clients'
CPU never counts as the server's and is reported on its own. Sockets are picows
connections (a Cython WebSocket client: callbacks per frame, no task per message), with
TCP_NODELAY, and every client frame is one write. On receipt a frame costs a `find` for the
bench mark and a few appends, so a client process can take tens of thousands of frames per
second without distorting the figure.

Two protocols over the same client:
- `bridge`: the bridge's own (docs/protocol.md): `Authorization` header, `subscribe` frames,
  `event` frames.
- `sio`: Socket.IO v5 over the Engine.IO v4 websocket transport, spoken directly
  (`/socket.io/?EIO=4&transport=websocket`): server `0{...}` (open), client `40{auth}`
  (connect), server `40{...}`; client `42N["subscribe",{...}]` with ack id N, server
  `43N[...]`; events `42["event",{...}]`; server ping `2`, client pong `3`.

Commands are JSON lines on stdin, each answered by one JSON line on stdout:
`open`, `reset`, `wait`, `report`, `await_closed`, `close`, `storm` (storm.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import sys
import time
from collections import Counter
from typing import Any

import uvloop
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from bench import storm
from bench.common import cpu_seconds, raise_nofile, read_mark

now = time.monotonic


class Pool:
    """Every socket of this process, and what they received."""

    def __init__(self) -> None:
        self.conns: set[Conn] = set()
        self.reset()
        self.last_disconnect = 0.0
        self.closes: Counter[int] = Counter()

    def reset(self) -> None:
        self.latencies: list[float] = []
        self.seqs: dict[int, list[float]] = {}  # seq -> [count, first receipt, last receipt]
        self.dups = 0
        self.other: Counter[str] = Counter()
        self.cpu_mark = cpu_seconds()
        self.wall_mark = now()

    def record(self, conn: Conn, payload: bytes, at: float) -> None:
        mark = read_mark(payload)
        if mark is None:
            self.other["event without mark"] += 1
            return
        seq, sent = mark
        # Events may be stored (and so delivered) in another order than sent, when two sends
        # overlap: a set, not the last seq, tells a duplicate.
        follower = conn.follower
        if follower.track:
            follower.last = read_id(payload)
        if seq in follower.seen:
            self.dups += 1
            return
        follower.seen.add(seq)
        self.latencies.append(at - sent)
        entry = self.seqs.get(seq)
        if entry is None:
            self.seqs[seq] = [1, at, at]
        else:
            entry[0] += 1
            entry[2] = at


class Follower:
    """One client across its connections: the events it has seen (a duplicate after a
    reconnect counts as one) and, when `track`, the cursor it resumes from (`since`)."""

    __slots__ = ("channels", "last", "seen", "track")

    def __init__(self, channels: list[str], track: bool = False) -> None:
        self.channels = channels
        self.seen: set[int] = set()
        self.last: str | None = None
        self.track = track


def read_id(payload: bytes) -> str | None:
    """The event's cursor: the envelope's first field (bridge/store.py writes it first)."""
    at = payload.find(b'"event":{"id":"')
    if at < 0:
        return None
    start = at + 15
    return payload[start : payload.index(b'"', start)].decode()


class Conn(WSListener):
    def __init__(
        self,
        pool: Pool,
        proto: str,
        channels: list[str],
        token: str,
        follower: Follower | None = None,
    ) -> None:
        super().__init__()
        self.pool = pool
        self.proto = proto
        self.channels = channels
        self.token = token
        self.pending = len(channels)
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.follower = follower or Follower(channels)
        self.transport: WSTransport | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.pool.conns.add(self)
        if self.proto == "bridge":
            since = self.follower.last
            for channel in self.channels:
                subscribe = {"type": "subscribe", "channel": channel}
                if since is not None:  # the storm's followers follow one channel
                    subscribe["since"] = since
                transport.send(WSMsgType.TEXT, json.dumps(subscribe).encode())
            if not self.channels:
                self._set_ready()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        at = now()
        kind = frame.msg_type
        if kind == WSMsgType.TEXT:
            payload = frame.get_payload_as_bytes()
            if self.proto == "bridge":
                self._bridge_frame(transport, payload, at)
            else:
                self._sio_frame(transport, payload, at)
        elif kind == WSMsgType.CLOSE:
            code: int = frame.get_close_code().value  # any code, not only the named ones
            self.pool.closes[code] += 1
            transport.send_close(WSCloseCode(code) if code in _CODES else WSCloseCode.OK)
            transport.disconnect()

    def _bridge_frame(self, transport: WSTransport, payload: bytes, at: float) -> None:
        if payload.startswith(b'{"type":"event"'):
            self.pool.record(self, payload, at)
        elif payload.startswith(b'{"type":"subscribed"'):
            self.pending -= 1
            if self.pending == 0:
                self._set_ready()
        else:
            self.pool.other[payload[:60].decode(errors="replace")] += 1
            if not self.ready.done():
                self.ready.set_exception(RuntimeError(payload[:200].decode(errors="replace")))

    def _sio_frame(self, transport: WSTransport, payload: bytes, at: float) -> None:
        if payload.startswith(b"42"):
            self.pool.record(self, payload, at)
        elif payload == b"2":
            transport.send(WSMsgType.TEXT, b"3")
        elif payload.startswith(b"43"):
            self.pending -= 1
            if self.pending == 0:
                self._set_ready()
        elif payload.startswith(b"40"):
            for ack, channel in enumerate(self.channels):
                frame = f"42{ack}" + json.dumps(["subscribe", {"channel": channel}])
                transport.send(WSMsgType.TEXT, frame.encode())
            if not self.channels:
                self._set_ready()
        elif payload.startswith(b"0{"):
            transport.send(WSMsgType.TEXT, b"40" + json.dumps({"token": self.token}).encode())
        else:
            self.pool.other[payload[:60].decode(errors="replace")] += 1
            if not self.ready.done():
                self.ready.set_exception(RuntimeError(payload[:200].decode(errors="replace")))

    def _set_ready(self) -> None:
        if not self.ready.done():
            self.ready.set_result(None)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.pool.conns.discard(self)
        self.pool.last_disconnect = now()
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("disconnected before subscribed"))

    def abort(self) -> None:
        """Drop the connection with a reset: no TIME_WAIT left behind for the next scenario."""
        if self.transport is None:
            return
        raw = self.transport.underlying_transport
        sock = raw.get_extra_info("socket")
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.abort()


_CODES: set[int] = {c.value for c in WSCloseCode}


class Process:
    def __init__(self) -> None:
        self.pool = Pool()
        self.subscribed: Counter[str] = Counter()

    async def open(self, cmd: dict[str, Any]) -> dict[str, Any]:
        url, proto, token = cmd["url"], cmd["proto"], cmd["token"]
        offset, count = cmd["offset"], cmd["count"]
        plan = cmd["channels"]  # [[channel, sockets with a global index below this], ...]
        headers = {"Authorization": f"Bearer {token}"} if proto == "bridge" else None
        gate = asyncio.Semaphore(cmd.get("concurrency", 100))
        track = cmd.get("track", False)
        errors: Counter[str] = Counter()
        opened = 0

        async def one(index: int) -> None:
            nonlocal opened
            channels = [name for name, upto in plan if index < upto]
            async with gate:
                try:
                    _, listener = await ws_connect(
                        lambda: Conn(self.pool, proto, channels, token, Follower(channels, track)),
                        url,
                        extra_headers=headers,
                        websocket_handshake_timeout=60,
                        read_buffer_init_size=4096,
                        use_aiofastnet=False,
                    )
                    assert isinstance(listener, Conn)
                    await asyncio.wait_for(listener.ready, 60)
                except Exception as exc:
                    errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
                    return
            opened += 1
            for name in channels:
                self.subscribed[name] += 1

        started, cpu = now(), cpu_seconds()
        await asyncio.gather(*(one(offset + i) for i in range(count)))
        return {
            "opened": opened,
            "failed": count - opened,
            "errors": dict(errors.most_common(5)),
            "seconds": now() - started,
            "cpu": cpu_seconds() - cpu,
            "subscribed": dict(self.subscribed),
        }

    async def wait(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Until every seq in `expect` reached its count here (or `timeout`)."""
        expect = {int(k): v for k, v in cmd["expect"].items()}
        deadline = now() + cmd.get("timeout", 10.0)
        seqs = self.pool.seqs
        while now() < deadline:
            if all(seqs.get(s, (0,))[0] >= n for s, n in expect.items()):
                return {"done": True}
            await asyncio.sleep(0.005)
        return {"done": False}

    def report(self, cmd: dict[str, Any]) -> dict[str, Any]:
        pool = self.pool
        answer = {
            "open": len(pool.conns),
            "seqs": {str(k): v for k, v in pool.seqs.items()},
            "dups": pool.dups,
            "other": dict(pool.other.most_common(5)),
            "cpu": cpu_seconds() - pool.cpu_mark,
            "wall": now() - pool.wall_mark,
            "closes": {str(k): v for k, v in pool.closes.items()},
        }
        if cmd.get("latencies", True):
            answer["latencies_us"] = [round(x * 1e6) for x in pool.latencies]
        return answer

    async def await_closed(self, cmd: dict[str, Any]) -> dict[str, Any]:
        deadline = now() + cmd.get("timeout", 30.0)
        while self.pool.conns and now() < deadline:
            await asyncio.sleep(0.01)
        return {
            "remaining": len(self.pool.conns),
            "last_disconnect": self.pool.last_disconnect,
            "closes": {str(k): v for k, v in self.pool.closes.items()},
        }

    def close(self) -> dict[str, Any]:
        conns = list(self.pool.conns)
        for conn in conns:
            conn.abort()
        self.pool.conns.clear()
        self.subscribed.clear()
        return {"aborted": len(conns)}


async def main() -> None:
    raise_nofile()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    process = Process()
    while line := await reader.readline():
        cmd = json.loads(line)
        name = cmd["cmd"]
        if name == "open":
            answer = await process.open(cmd)
        elif name == "reset":
            process.pool.reset()
            answer = {"ok": True}
        elif name == "wait":
            answer = await process.wait(cmd)
        elif name == "report":
            answer = process.report(cmd)
        elif name == "await_closed":
            answer = await process.await_closed(cmd)
        elif name == "close":
            answer = process.close()
        elif name == "storm":
            answer = await storm.drop_and_return(process.pool, cmd, Conn)
        else:
            answer = {"error": f"unknown command {name!r}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        if name == "close" and cmd.get("exit", True):
            break
    await asyncio.sleep(0.05)  # let the resets leave


if __name__ == "__main__":
    uvloop.run(main())
