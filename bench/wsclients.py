"""A socket-client process: many WebSockets on one asyncio (uvloop) loop, driven over stdin.

The orchestrator (bench/clients.py) starts a few of these, each in its own process, as
`python -m bench.wsclients`, so the clients' CPU never counts as the server's and is
reported on its own. The sockets and the two protocols they speak are bench/wsconn.py's;
this module is the command loop.

Commands are JSON lines on stdin, each answered by one JSON line on stdout:
`open`, `reset`, `wait`, `report`, `await_closed`, `close`, `storm` (reconnect.py).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

import uvloop
from picows import ws_connect

from bench.common import cpu_seconds, raise_nofile
from bench.reconnect import drop_and_return
from bench.wsconn import Conn, Follower, Pool

now = time.monotonic


class Process:
    def __init__(self) -> None:
        self.pool = Pool()
        self.subscribed: Counter[str] = Counter()

    async def open(self, cmd: dict[str, Any]) -> dict[str, Any]:
        url, proto, token = cmd["url"], cmd["proto"], cmd["token"]
        offset, count = cmd["offset"], cmd["count"]
        # [[channel, upto], ...]: sockets with a global index below `upto` follow it;
        # [[channel, lo, upto], ...]: those from `lo` on (a partition of the sockets).
        plan = [entry if len(entry) == 3 else [entry[0], 0, entry[1]] for entry in cmd["channels"]]
        headers = {"Authorization": f"Bearer {token}"} if proto == "bridge" else None
        gate = asyncio.Semaphore(cmd.get("concurrency", 100))
        track = cmd.get("track", False)
        errors: Counter[str] = Counter()
        opened = 0

        async def one(index: int) -> None:
            nonlocal opened
            channels = [name for name, lo, upto in plan if lo <= index < upto]
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
            self.pool.followers.append(listener.follower)
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
            "disorder": pool.disorder,
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
        self.pool.followers.clear()
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
            answer = await drop_and_return(process.pool, cmd)
        else:
            answer = {"error": f"unknown command {name!r}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        if name == "close" and cmd.get("exit", True):
            break
    await asyncio.sleep(0.05)  # let the resets leave


if __name__ == "__main__":
    uvloop.run(main())
